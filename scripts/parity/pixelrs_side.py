"""pixelrs's side of the parity run: load the authors' checkpoints, redo their computations, compare.

Runs in pixelrs's environment and reads only files the authors' side wrote (``authors_<model>.pt``,
its JSON sidecar and the checkpoint directories); it imports nothing of the authors' code.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tools.backends.vlm_common.checkpoint import IGNORED_SUFFIXES  # noqa: E402
from tools.backends.vlm_common.config import SegVLMConfig  # noqa: E402
from tools.backends.vlm_common.engine import SegVLMPredictor  # noqa: E402
from tools.backends.vlm_common.generation import GenerationParams  # noqa: E402
from tools.backends.vlm_common.kv import KVCache  # noqa: E402
from tools.backends.vlm_common.loader import (  # noqa: E402
    LoadedModel,
    build_meta_model,
    expected_shapes,
    load_model,
)
from tools.backends.vlm_common.preprocess import preprocess_clip, preprocess_mgm, preprocess_sam  # noqa: E402
from tools.backends.vlm_common.testing import ForceTokens  # noqa: E402


@dataclass
class Row:
    """One line of the parity table."""

    check: str
    layout: str
    value: str
    tolerance: str
    ok: bool | None  # None = informational


def _maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        return float("inf")
    return float((a.float() - b.float()).abs().max())


def _close(check: str, layout: str, a: torch.Tensor, b: torch.Tensor, tol: float) -> Row:
    d = _maxdiff(a, b)
    shape = "" if a.shape == b.shape else f" (shapes {tuple(a.shape)} vs {tuple(b.shape)})"
    return Row(check, layout, f"max abs Δ {d:.2e}{shape}", f"≤ {tol:.0e}", d <= tol)


def _equal(check: str, layout: str, a: list[int], b: list[int]) -> Row:
    if a == b:
        return Row(check, layout, f"identical ({len(a)})", "exact", True)
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return Row(check, layout, f"differ at {first} (lengths {len(a)} / {len(b)})", "exact", False)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def _mask_row(ours: np.ndarray, their_logits: torch.Tensor, layout: str, band: float = 1e-5) -> Row:
    """IoU of the binarised masks. With random weights many mask logits sit within fp32 noise of 0,
    where the sign can flip between two correct implementations; such pixels are reported, and the
    IoU must be 1.0 outside that band."""
    theirs = (their_logits > 0).numpy()
    if ours.shape != theirs.shape:
        return Row("mask IoU (binarised)", layout, f"shapes {ours.shape} vs {theirs.shape}", "1.0", False)
    differ = ours != theirs
    worst = float(their_logits.abs().numpy()[differ].max()) if differ.any() else 0.0
    value = f"IoU {_iou(ours, theirs):.6f}, foreground {ours.mean():.1%}"
    if differ.any():
        value += f"; {int(differ.sum())} px differ, all abs(logit) ≤ {worst:.1e}"
    return Row("mask IoU (binarised)", layout, value, f"1.0 outside abs(logit) ≤ {band:.0e}", worst <= band)


def pixelrs_config(model_dir: Path, variant: str, meta: dict[str, Any], **kwargs: Any) -> SegVLMConfig:
    """Read the authors' config.json plus the tiny tower sizes that their code hard-codes (and their config
    cannot state); everything else -- including the runtime-value rules -- is pixelrs's own reading."""
    raw = json.loads((model_dir / "config.json").read_text())
    geo = meta["geometry"]
    sam = {"name": "vit_b", **geo["sam"]}
    towers: dict[str, Any] = {"sam": sam}
    if variant == "miras":
        towers["convnext"] = {"depths": geo["convnext"]["depths"], "dims": geo["convnext"]["dims"]}
    raw["pixelrs"] = towers
    return SegVLMConfig.from_dict(raw, variant=variant, clip_dir=meta["clip"], **kwargs)  # type: ignore[arg-type]


def load(model_dir: Path, variant: str, meta: dict[str, Any], **kwargs: Any) -> LoadedModel:
    """Load one of the authors' checkpoint directories with pixelrs's strict loader."""
    cfg_kwargs = {k: kwargs.pop(k) for k in ("im_start_end", "aux_image_size") if k in kwargs}
    config = pixelrs_config(model_dir, variant, meta, **cfg_kwargs)
    return load_model(model_dir, variant=variant, config=config, clip=meta["clip"], progress=False, **kwargs)  # type: ignore[arg-type]


def compare(variant: str, work: Path, image_path: Path) -> tuple[list[Row], dict[str, Any]]:
    """Every check of the table for one model; returns the rows and the authors' metadata."""
    theirs = torch.load(work / f"authors_{variant}.pt", weights_only=True)
    meta = json.loads((work / f"authors_{variant}.json").read_text())
    image = np.array(Image.open(image_path).convert("RGB"))
    rows: list[Row] = []
    main_dir = Path(meta["merged"])
    layout = "merged"
    extra = {"convnext": meta["convnext"]} if variant == "miras" else {}

    loaded = load(main_dir, variant, meta, **extra)
    ours = set(expected_shapes(build_meta_model(loaded.config)))
    names = set(meta["state_dict_keys"])
    recomputed = {n for n in names if n.endswith(IGNORED_SUFFIXES)}  # buffers pixelrs recomputes
    names -= recomputed
    note = f" ({len(recomputed)} recomputed buffers set aside)" if recomputed else ""
    rows.append(Row("state-dict names (their runtime model vs pixelrs)", layout,
                    f"{len(names & ours)}/{len(names)} shared, {len(names - ours)} missing, {len(ours - names)} extra"
                    + note, "all shared", names == ours))
    rows.append(Row("[SEG] token id", layout, f"{loaded.seg_token_idx} / {meta['seg_token_idx']}", "exact",
                    loaded.seg_token_idx == meta["seg_token_idx"]))

    cfg = loaded.config
    if variant == "miras":
        assert cfg.aux is not None
        clip_px, aux_px = preprocess_mgm(image, aux_size=cfg.aux.image_size, clip_size=cfg.clip_image_size)
        rows.append(_close("preprocessing: ConvNeXt input (768)", "-", aux_px[0], theirs["image_aux"], 1e-5))
        rows.append(_close("preprocessing: CLIP input (336)", "-", clip_px[0], theirs["image_clip"], 1e-5))
    else:
        clip_px, aux_px = preprocess_clip(image, clip_size=cfg.clip_image_size), None
        rows.append(_close("preprocessing: CLIP input (224)", "-", clip_px[0], theirs["image_clip"], 1e-5))
    sam_px, resize = preprocess_sam(image, size=cfg.sam.image_size)
    rows.append(_close("preprocessing: SAM input (1024)", "-", sam_px[0], theirs["image_sam"], 1e-5))
    rows.append(Row("preprocessing: SAM resize", "-", f"{list(resize)} / {meta['resize']}", "exact",
                    list(resize) == list(meta["resize"])))

    pred = SegVLMPredictor(loaded, decode="eager")
    d1 = [tuple(t) for t in meta["dialogue1"]]
    d2 = [tuple(t) for t in meta["dialogue2"]]
    ids1, ids2 = pred.prompt_ids(d1), pred.prompt_ids(d2)
    rows.append(_equal("prompt ids, turn 1 (template, image tokens, tokenizer)", layout, ids1, meta["ids1"]))
    rows.append(_equal("prompt ids, turn 2 (with history)", layout, ids2, meta["ids2"]))

    model = loaded.model
    tokens = model.encode_image(clip_px, aux_px)[0]
    rows.append(_close("image tokens (after projector)", layout, tokens, theirs["image_tokens"], 1e-4))
    logits1 = model.logits(model.forward_embeds(model.embed(ids1, tokens), None, 0))[0]
    rows.append(_close("logits, turn 1, every position (fp32)", layout, logits1, theirs["logits1"], 1e-4))
    agree = float((logits1.argmax(-1) == theirs["logits1"].argmax(-1)).float().mean()) if logits1.shape == theirs["logits1"].shape else 0.0
    rows.append(Row("argmax agreement, turn 1", layout, f"{agree:.1%}", "100 %", agree == 1.0))

    # Turn 2 through the KV cache: the turn-1 prefix is reused, only the rest is prefilled.
    keep = 0
    while keep < min(len(ids1), len(ids2) - 1) and ids1[keep] == ids2[keep]:
        keep += 1
    kv = KVCache()
    h_a = model.forward_embeds(model.embed(ids2[:keep], tokens), kv, 0)
    h_b = model.forward_embeds(model.embed(ids2[keep:], None), kv, kv.get_seq_length())
    logits2 = model.logits(torch.cat([h_a, h_b], dim=1))[0]
    rows.append(_close("logits, turn 2 with KV reuse, every position", layout, logits2, theirs["logits2"], 1e-4))

    seg = loaded.seg_token_idx
    eos = int(loaded.tokenizer.eos_token_id)
    params = GenerationParams(max_new_tokens=len(meta["generated"]),
                              logits_processor=(ForceTokens(seg, {meta["seg_step"]}, ban=(eos,)),))
    out = pred.start_turn(image, "parity", d1, params=params, use_cache=False).run()
    rows.append(_equal(f"greedy tokens ([SEG] forced at step {meta['seg_step']})", layout, out.token_ids, meta["generated"]))
    assert out.seg_hidden is not None
    seg_embed = model.seg_embeddings(out.seg_hidden)
    rule = f"[SEG] embedding ({out.position_rule} rule vs {meta.get('seg_source', 'their training forward')})"
    rows.append(_close(rule, layout, seg_embed, theirs["seg_embedding"], 1e-4))
    masks = pred.masks(image, "parity", out.seg_hidden)
    probs = torch.from_numpy(np.stack([m[1] for m in masks]))
    their_probs = theirs["mask_logits"].float().sigmoid()
    rows.append(_close("mask probabilities at the original size", layout, probs, their_probs, 1e-4))
    rows.append(_mask_row(np.stack([m[0] for m in masks]), theirs["mask_logits"], layout))

    rows += layout_rows(variant, meta, theirs, ids1, image)
    return rows, meta


def _turn1_logits(loaded: LoadedModel, meta: dict[str, Any], image: np.ndarray) -> tuple[list[int], torch.Tensor]:
    pred = SegVLMPredictor(loaded, decode="eager")
    ids = pred.prompt_ids([tuple(t) for t in meta["dialogue1"]])
    entry, _ = pred.image_entry(image, "parity", use_cache=False)
    model = loaded.model
    return ids, model.logits(model.forward_embeds(model.embed(ids, entry.tokens), None, 0))[0]


def layout_rows(variant: str, meta: dict[str, Any], theirs: dict[str, torch.Tensor], ids1: list[int],
                image: np.ndarray) -> list[Row]:
    """Check the full layout, and for MIRAS the merged config read literally (why pixelrs uses the runtime's
    values)."""
    rows = []
    ids, logits = _turn1_logits(load(Path(meta["full"]), variant, meta), meta, image)
    inside = "ConvNeXt" if variant == "miras" else "CLIP"
    rows.append(_equal("prompt ids, turn 1", "full", ids, meta["ids1"]))
    rows.append(_close(f"logits, turn 1 ({inside} inside the checkpoint)", "full", logits, theirs["logits1"], 1e-4))
    if variant != "miras":
        return rows
    literal = load(Path(meta["merged"]), "miras", meta, convnext=meta["convnext"], im_start_end=False, aux_image_size=320)
    ids, logits = _turn1_logits(literal, meta, image)
    last = logits[-1]
    d = _maxdiff(last, theirs["logits1"][-1])
    rows.append(Row("merged config.json read literally (no start/end, ConvNeXt 320): last logits",
                    "merged", f"{len(ids)} ids vs {len(ids1)}; max abs Δ {d:.2e}", "differs (informational)", None))
    return rows
