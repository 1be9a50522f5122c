"""Tiny random-weight MIRAS/LISA checkpoints in the authors' on-disk layout (tests, benchmarks).

Nothing here downloads anything: the tokenizer is a word-level ``tokenizers`` model built in
memory, and the weights are random.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

from .checkpoint import CLIP_PREFIX, CONVNEXT_PREFIX
from .config import SegVLMConfig, Variant
from .conversation import SYSTEM
from .modeling import SegVLMForCausalLM

WORDS = (
    "USER ASSISTANT : . , ? ! ' s the a an is it this that what where which who how why of on in to and "
    "port HDMI label laptop logo text word sign screen cable side left right top bottom near next "
    "Sure Yes No segment Please show me mask object here there red blue black white small big "
    "conversation above answers provided segmentation result identified area"
)


def tiny_tokenizer(extra_words: str = "") -> PreTrainedTokenizerFast:
    """Build a word-level tokenizer covering the llava_v1 template, with ``[SEG]`` and ``<im_*>`` added."""
    words: list[str] = []
    for w in (SYSTEM.replace(".", " . ").replace(",", " , ").replace("'", " ' ") + " " + WORDS + " " + extra_words).split():
        if w not in words:
            words.append(w)
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for w in words:
        vocab.setdefault(w, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                  pad_token="<unk>")
    tok.add_tokens(["[SEG]"])
    tok.add_tokens(["<im_start>", "<im_end>"], special_tokens=True)
    return tok


def sentencepiece_tokenizer(directory: str | os.PathLike[str], corpus: str) -> PreTrainedTokenizerBase:
    """Train a LLaMA-style sentencepiece model on ``corpus`` (BPE, byte fallback, ``▁`` prefix,
    unk/bos/eos = 0/1/2), save it as a slow-tokenizer checkpoint (``tokenizer.model`` only, like the
    authors' checkpoints) and load it the way :func:`.loader.load_tokenizer` does; ``[SEG]``,
    ``<im_start>`` and ``<im_end>`` are added as the authors' training scripts add them."""
    import sentencepiece as spm
    from transformers import AutoTokenizer

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus.txt").write_text(corpus)
    spm.SentencePieceTrainer.train(
        input=str(out / "corpus.txt"), model_prefix=str(out / "tokenizer"), vocab_size=300, model_type="bpe",
        byte_fallback=True, normalization_rule_name="identity", add_dummy_prefix=True,
        remove_extra_whitespaces=False, unk_id=0, bos_id=1, eos_id=2, pad_id=-1, character_coverage=1.0,
        hard_vocab_limit=False, minloglevel=2,
    )
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "add_bos_token": True, "add_eos_token": False, "legacy": False}))
    tok = AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    tok.add_tokens(["[SEG]"])
    tok.add_tokens(["<im_start>", "<im_end>"], special_tokens=True)
    return tok


def tiny_config_dict(variant: Variant, vocab_size: int, *, layers: int = 2, hidden: int = 64) -> dict[str, Any]:
    """Return a config.json in the authors' style (absolute tower paths that do not exist here) plus the
    ``"pixelrs"`` section with tiny tower sizes."""
    raw: dict[str, Any] = dict(
        architectures=["MgmsaForCausalLM" if variant == "miras" else "LISAForCausalLM"],
        model_type="mgm" if variant == "miras" else "llava",
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048, rms_norm_eps=1e-5,
        rope_theta=10000.0, bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=False,
        mm_hidden_size=32, mm_vision_select_layer=-2, mm_vision_select_feature="patch",
        mm_use_im_start_end=True, mm_use_im_patch_token=False, out_dim=32, use_cache=False,
        train_mask_decoder=True, tokenizer_model_max_length=1024,
    )
    towers: dict[str, Any] = {
        "clip": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                     image_size=56, patch_size=14, projection_dim=32),
        "sam": dict(name="vit_b", encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2,
                    encoder_global_attn_indexes=[1], image_size=64, patch_size=8, window_size=4,
                    prompt_embed_dim=32, mask_in_chans=8, decoder_mlp_dim=64, decoder_num_heads=2,
                    iou_head_hidden_dim=32),
        "authors_assumed_image_tokens": 4,
    }
    if variant == "miras":
        towers["convnext"] = dict(depths=[1, 1, 1, 1], dims=[8, 16, 24, 32], image_size=64, feature_size=8)
        raw.update(mm_projector_type="mlp2x_gelu", mm_hidden_size_aux=80, image_size_aux=64, image_grid=1,
                   image_global=False,
                   mm_vision_tower="/datas/clip-vit-large-patch14-336",
                   mm_vision_tower_aux="/datas/CLIP-convnext_large_d_320-laion2B-s29B-b131K-ft-soup")
    else:
        raw.update(mm_vision_tower="openai/clip-vit-large-patch14")
    raw["pixelrs"] = towers
    return raw


def build_tiny(variant: Variant, *, seed: int = 0, layers: int = 2, hidden: int = 64,
               tokenizer: PreTrainedTokenizerFast | None = None) -> tuple[SegVLMForCausalLM, PreTrainedTokenizerFast, dict[str, Any]]:
    """Build a random tiny model; return it, its tokenizer and its config.json content."""
    tok = tokenizer or tiny_tokenizer()
    raw = tiny_config_dict(variant, len(tok), layers=layers, hidden=hidden)
    cfg = SegVLMConfig.from_dict(raw, variant=variant)
    torch.manual_seed(seed)
    model = SegVLMForCausalLM(cfg).eval()
    with torch.no_grad():
        # Non-trivial norms/biases so that checkpoint round trips are really tested.
        for name, p in model.named_parameters():
            if p.dim() == 1 and ("norm" in name or "layernorm" in name):
                p.add_(0.1 * torch.randn_like(p))
    return model, tok, raw


def save_authors_layout(
    model: SegVLMForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    raw_config: dict[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    shards: int = 3,
    fmt: str = "safetensors",
    convnext_dir: str | os.PathLike[str] | None = None,
    clip_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Save like the authors' merge script: sharded weights + index json, ConvNeXt dropped from
    the main checkpoint (written, when ``convnext_dir`` is given, as an open_clip
    ``open_clip_pytorch_model.bin`` with ``visual.trunk.*`` keys plus unrelated text-tower keys).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    aux = {k: state.pop(k) for k in list(state) if k.startswith(CONVNEXT_PREFIX)}
    if convnext_dir is not None and aux:
        cdir = Path(convnext_dir)
        cdir.mkdir(parents=True, exist_ok=True)
        oc = {}
        for k, v in aux.items():
            rest = k[len(CONVNEXT_PREFIX):]
            rest = rest.replace("vision_stem.", "visual.trunk.stem.", 1).replace("vision_stages.", "visual.trunk.stages.", 1)
            oc[rest] = v
        oc["visual.head.proj.weight"] = torch.zeros(4, 4)
        oc["text.positional_embedding"] = torch.zeros(2, 4)
        oc["logit_scale"] = torch.tensor(1.0)
        torch.save(oc, cdir / "open_clip_pytorch_model.bin")
        (cdir / "open_clip_config.json").write_text(json.dumps({"model_cfg": {"tiny": True}}))
    if clip_dir is not None:
        # LISA's merge script drops every "vision_tower" key: CLIP then comes from an HF directory.
        cdir = Path(clip_dir)
        cdir.mkdir(parents=True, exist_ok=True)
        clip = {k[len(CLIP_PREFIX):]: state.pop(k) for k in list(state) if k.startswith(CLIP_PREFIX)}
        save_file(clip, str(cdir / "model.safetensors"), metadata={"format": "pt"})
        clip_cfg = model.config.clip.to_dict()
        clip_cfg["architectures"] = ["CLIPVisionModel"]
        (cdir / "config.json").write_text(json.dumps(clip_cfg, indent=2))
    names = list(state)
    per = max(1, -(-len(names) // shards))
    groups = [names[i : i + per] for i in range(0, len(names), per)]
    weight_map: dict[str, str] = {}
    ext = "safetensors" if fmt == "safetensors" else "bin"
    stem = "model" if fmt == "safetensors" else "pytorch_model"
    for i, group in enumerate(groups, start=1):
        fname = f"{stem}-{i:05d}-of-{len(groups):05d}.{ext}"
        part = {k: state[k] for k in group}
        if fmt == "safetensors":
            save_file(part, str(out / fname), metadata={"format": "pt"})
        else:
            torch.save(part, out / fname)
        weight_map.update({k: fname for k in group})
    total = sum(v.numel() * v.element_size() for v in state.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / f"{stem}.{ext}.index.json").write_text(json.dumps(index, indent=2))
    (out / "config.json").write_text(json.dumps(raw_config, indent=2))
    tokenizer.save_pretrained(str(out))
    return out


def make_tiny_checkpoint(root: str | os.PathLike[str], variant: Variant = "miras", *, seed: int = 0,
                         layers: int = 2, hidden: int = 64, fmt: str = "safetensors") -> dict[str, Any]:
    """Build and save a tiny checkpoint under ``root``; returns paths and the in-memory model."""
    root = Path(root)
    model, tok, raw = build_tiny(variant, seed=seed, layers=layers, hidden=hidden)
    conv = root / "convnext_tiny" if variant == "miras" else None
    clip = root / "clip_tiny" if variant == "lisa" else None
    model_dir = save_authors_layout(model, tok, raw, root / f"{variant}_tiny", fmt=fmt, convnext_dir=conv,
                                    clip_dir=clip)
    return {"model_dir": model_dir, "convnext": conv, "clip": clip, "model": model, "tokenizer": tok,
            "config": raw}


class ForceTokens:
    """Logits processor that forces ``token`` at chosen generated steps and bans it elsewhere.

    Used by tests and benchmarks to make random-weight models emit ``[SEG]`` where wanted.

    Arguments:
      token: the id to force (usually the ``[SEG]`` id).
      steps: 0-based generated steps at which ``token`` is forced (empty: never).
      ban: ids banned at every step (e.g. EOS, to get a fixed output length).
      vocab_used: ban ids at and above this (ids a tokenizer cannot decode); None keeps all.
    """

    def __init__(self, token: int, steps: set[int] | frozenset[int] = frozenset(), ban: tuple[int, ...] = (),
                 vocab_used: int | None = None) -> None:
        self.token, self.steps, self.ban, self.vocab_used, self.step = token, set(steps), ban, vocab_used, 0

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Return the adjusted scores for this step."""
        scores = scores.clone()
        if self.ban:
            scores[:, list(self.ban)] = -float("inf")
        if self.vocab_used is not None:
            scores[:, self.vocab_used:] = -float("inf")
        if self.step in self.steps:
            scores[:] = -float("inf")
            scores[:, self.token] = 0.0
        else:
            scores[:, self.token] = -float("inf")
        self.step += 1
        return scores
