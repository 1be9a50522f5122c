"""Random-weight open-vocabulary detectors saved to disk (tests, benchmarks); nothing is downloaded.

Tokenizers are built in memory: a byte-level CLIP BPE over the 256 byte symbols (plus a few
merges) for OWL, a word-level BERT vocabulary for Grounding DINO. ``size="full"`` builds the
published OWLv2 base/16 at 960 px with random weights, for timing. SAM checkpoints are built by
:mod:`tools.backends.promptable.testing`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from tools.backends.promptable.testing import Size

MERGES: list[tuple[str, str]] = [("c", "u"), ("cu", "p</w>"), ("p", "e"), ("d", "o"), ("do", "g</w>")]
WORDS = "[PAD] [UNK] [CLS] [SEP] [MASK] . a the cup person dog cat red blue left right of".split()


def clip_tokenizer() -> object:
    """Build a byte-level CLIP tokenizer with every byte symbol (so any text encodes) and a few merges."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    chars = sorted(ByteLevel.alphabet())
    vocab: dict[str, int] = {}
    for suffix in ("", "</w>"):
        for c in chars:
            vocab[c + suffix] = len(vocab)
    for a, b in MERGES:
        vocab.setdefault(a + b, len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=list(MERGES), pad_token="!")  # type: ignore[arg-type]


def save_owlv2(folder: str | os.PathLike[str], *, size: Size = "tiny", seed: int = 0) -> Path:
    """Save an OWLv2 detector (config, random weights, processor) loadable by ``from_pretrained``."""
    from transformers import (
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessor,
        Owlv2Processor,
    )

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tok = clip_tokenizer()
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)  # type: ignore[attr-defined]
    text: dict[str, int]
    vision: dict[str, int]
    if size == "tiny":
        text = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
        vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                      image_size=64, patch_size=8)  # fmt: skip
        projection, side = 32, 64
    else:  # google/owlv2-base-patch16-ensemble's architecture
        text = dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8)
        vision = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                      image_size=960, patch_size=16)  # fmt: skip
        projection, side = 512, 960
    config = Owlv2Config(
        text_config=dict(vocab_size=len(tok), max_position_embeddings=16, **text, **ids),  # type: ignore[arg-type]
        vision_config=vision,
        projection_dim=projection,
    )
    torch.manual_seed(seed)
    model = Owlv2ForObjectDetection(config)
    _small_init(model)
    with torch.no_grad():  # which boxes score best depends on the query's words, not on the patch
        model.class_head.logit_shift.weight.zero_()
        tower: Any = model.owlv2.text_model
        tower.embeddings.token_embedding.weight.normal_(0.0, 1.0)
        for layer in tower.encoder.layers:  # attention carries the words into the pooled EOS state
            layer.self_attn.v_proj.weight.normal_(0.0, 0.3)
            layer.self_attn.out_proj.weight.normal_(0.0, 0.3)
    model.save_pretrained(out)
    processor = Owlv2Processor(
        image_processor=Owlv2ImageProcessor(size={"height": side, "width": side}), tokenizer=tok
    )
    processor.save_pretrained(out)
    return out


def _small_init(model: torch.nn.Module, std: float = 0.02) -> None:
    """Re-draw linear and embedding weights from N(0, std) with zero biases, as a freshly
    initialised transformer has them: the box head then predicts boxes near each patch's grid
    cell (its built-in bias) and the class logits stay moderate, instead of the degenerate
    zero-size boxes and saturated scores of unit-variance weights."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
                module.weight.normal_(0.0, std)
                bias = getattr(module, "bias", None)
                if bias is not None:
                    bias.zero_()


def save_grounding_dino(folder: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Save a tiny Grounding DINO (Swin + BERT towers) with a word-level BERT tokenizer."""
    from transformers import (
        BertConfig,
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        SwinConfig,
    )

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    vocab = out / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n")
    config = GroundingDinoConfig(
        backbone_config=SwinConfig(
            embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4,
            image_size=64, out_features=["stage2", "stage3", "stage4"],
        ),  # type: ignore[call-arg]
        text_config=BertConfig(
            vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=64,
        ),
        num_queries=20, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        encoder_attention_heads=2, decoder_attention_heads=2, d_model=32, max_text_len=32,
        encoder_n_points=2, decoder_n_points=2,
    )  # fmt: skip
    torch.manual_seed(seed)
    GroundingDinoForObjectDetection(config).save_pretrained(out)
    GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}),
        tokenizer=BertTokenizer(str(vocab)),
    ).save_pretrained(out)
    return out
