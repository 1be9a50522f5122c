"""Helpers for the authors' side of the parity run (runs in the authors' venv, imports no pixelrs).

Tiny geometry substitutions (their code hard-codes full-size towers), a small LLaMA-style
sentencepiece tokenizer, deterministic random weights, and the exchange file format.
"""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import numpy as np
import torch

# Text the tiny sentencepiece model is trained on: the llava_v1 system prompt, the questions the
# run asks, and ordinary English so that BPE has merges to learn.
CORPUS = """A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful,
detailed, and polite answers to the human's questions.
USER: What is the label on the laptop next to the port? ASSISTANT: It is the HDMI label.
USER: Please segment the HDMI port on the left side of the laptop. ASSISTANT: Sure, it is [SEG].
Where is the red bus in this image? Which person is on the right? Can you segment the man in the
white shirt? The cup is on the table near the window. Show me the mask of the small dog.
The quick brown fox jumps over the lazy dog while the cat watches from the warm window sill.
Segmentation identifies the area of each object; the conversation above provides the answers.
"""

GEOMETRY = {
    "llm": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=4, max_position_embeddings=2048, rms_norm_eps=1e-5),
    "clip": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                 patch_size=14, projection_dim=32),
    "convnext": dict(depths=[1, 1, 1, 1], dims=[8, 16, 24, 32]),
    "sam": dict(encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=[1]),
}
"""Tiny widths at the real geometry (CLIP 336/14 or 224/14, ConvNeXt at 768, SAM at 1024)."""


def add_paths(*paths: Path) -> None:
    """Put the authors' source folders first on ``sys.path``."""
    for p in reversed(paths):
        sys.path.insert(0, str(p))


def alias_package(name: str, path: Path) -> None:
    """Make ``import name.x`` load from ``path`` (their scripts import a package name that is not the
    folder's name, G.2 item 5)."""
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(path)]  # type: ignore[attr-defined]
    sys.modules[name] = pkg


def train_tokenizer(out_dir: Path, *, legacy: bool | None) -> Path:
    """Train a LLaMA-style sentencepiece model (BPE, byte fallback, ``▁`` prefix, unk/bos/eos = 0/1/2)
    and save a slow ``LlamaTokenizer`` in ``out_dir``."""
    import sentencepiece as spm
    from transformers import LlamaTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    text = out_dir / "corpus.txt"
    text.write_text(CORPUS)
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(out_dir / "sp"), vocab_size=420, model_type="bpe",
        byte_fallback=True, normalization_rule_name="identity", add_dummy_prefix=True,
        remove_extra_whitespaces=False, split_digits=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
    )
    kwargs = {} if legacy is None else {"legacy": legacy}
    tok = LlamaTokenizer(vocab_file=str(out_dir / "sp.model"), **kwargs)
    tok.save_pretrained(str(out_dir))
    for name in ("corpus.txt", "sp.model", "sp.vocab"):
        (out_dir / name).unlink()
    return out_dir


def randomize_(state: dict[str, torch.Tensor], seed: int, *, skip: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """Add seeded noise to every floating tensor (norm weights and zero-initialised LoRA ``B`` too),
    keeping each tensor's scale, so that a checkpoint round trip really moves every value."""
    gen = torch.Generator().manual_seed(seed)
    for name in sorted(state):
        t = state[name]
        if not t.is_floating_point() or any(s in name for s in skip):
            continue
        std = float(t.float().std()) if t.numel() > 1 else 0.0
        scale = std if std > 1e-6 and math.isfinite(std) else 0.05
        noise = torch.randn(t.shape, generator=gen) * scale
        state[name] = (t.float() + noise).to(t.dtype)
    return state


def tiny_convnext_trunk() -> str:
    """Register a tiny timm ConvNeXt and point open_clip's ``convnext_large_d_320`` config at it (their
    ``OpenCLIPVisionTower`` builds that open_clip model by name); returns the timm model name."""
    import open_clip.factory as factory
    import timm
    from timm.models import register_model
    from timm.models.convnext import _create_convnext

    name = "convnext_parity_tiny"
    geo = GEOMETRY["convnext"]
    if name not in timm.list_models(name):
        def convnext_parity_tiny(pretrained: bool = False, **kwargs):
            args = dict(depths=tuple(geo["depths"]), dims=tuple(geo["dims"]))
            return _create_convnext(name, pretrained=pretrained, **dict(args, **kwargs))

        register_model(convnext_parity_tiny)
    cfg = factory._MODEL_CONFIGS["convnext_large_d_320"]
    cfg["embed_dim"] = 16
    cfg["vision_cfg"]["timm_model_name"] = name
    cfg["text_cfg"].update(width=16, heads=2, layers=1)
    return name


def save_exchange(path: Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Write the tensors (torch.save of plain tensors) and a JSON sidecar with ids, text and versions."""
    torch.save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, path)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, default=_jsonable))


def _jsonable(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(type(obj))


def versions() -> dict[str, str]:
    """Versions of the packages the authors' side ran with."""
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in ("torch", "transformers", "tokenizers", "sentencepiece", "peft", "timm", "open_clip_torch",
                "deepspeed", "accelerate", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out
