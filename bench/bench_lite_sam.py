"""Latency of lite with ``--sam``: the first turn on a photo (SAM's image encoder runs) vs later turns.

Each photo (from data/photos) gets a first turn naming a detected object, then later turns on the
same image: another object, several instances, a position among instances, and the first request
again. The same turns run on lite without SAM for comparison.

Weights, never downloaded:
  --size tiny   a random tiny segment-anything SAM built here (default; measures the wiring)
  --size full   random weights at SAM ViT-B's published size (1024-px input), for timing
  --sam PATH    your own checkpoint (a segment-anything .pth, or a transformers SAM directory / cached id)

Run from the repository root: ``python bench/bench_lite_sam.py [--size full] [--device cpu]
[--dtype fp32]``; prints one JSON object (medians over the photos).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from agent.types import DialogueTurn, ImageRef, Intent  # noqa: E402
from tools.backends.base import SegmentRequest  # noqa: E402
from tools.backends.lite import LiteBackend  # noqa: E402

TURNS: dict[str, list[Intent]] = {
    "bus.jpg": [
        Intent(target="the bus"),
        Intent(target="people", attributes={"count": "all"}),
        Intent(target="the man on the left", attributes={"position": "left"}),
        Intent(target="the bus"),
    ],
    "coffee.png": [
        Intent(target="the cup"),
        Intent(target="the table"),
        Intent(target="the spoon"),
        Intent(target="the cup"),
    ],
    "zidane.jpg": [
        Intent(target="the man on the right", attributes={"position": "right"}),
        Intent(target="people", attributes={"count": "all"}),
        Intent(target="his tie"),
        Intent(target="the man on the right", attributes={"position": "right"}),
    ],
}


def photo(name: str) -> tuple[np.ndarray, ImageRef]:
    """Return a photo of data/photos and its content reference."""
    rgb = np.asarray(Image.open(REPO / "data" / "photos" / name).convert("RGB"))
    return rgb, ImageRef(sha256=hashlib.sha256(rgb.tobytes()).hexdigest(), width=rgb.shape[1], height=rgb.shape[0])


def turns(backend: LiteBackend) -> dict[str, list[tuple[float, dict]]]:
    """Run every photo's turns; return per photo the wall time (ms) and evidence of each turn."""
    out: dict[str, list[tuple[float, dict]]] = {}
    for name, intents in TURNS.items():
        rgb, ref = photo(name)
        out[name] = []
        for intent in intents:
            start = time.perf_counter()
            result = backend.segment(SegmentRequest(
                image=rgb, image_ref=ref, intent=intent,
                dialogue=[DialogueTurn(role="user", text=intent.target or "")],
            ))  # fmt: skip
            out[name].append(((time.perf_counter() - start) * 1000, result.evidence))
    return out


def med(values: list[float]) -> float:
    """Median rounded to 0.1 (0 when empty)."""
    return round(statistics.median(values), 1) if values else 0.0


def summary(runs: dict[str, list[tuple[float, dict]]]) -> dict[str, object]:
    """First-turn and later-turn medians over the photos, with SAM's share of the first turn."""
    first = [turns[0][0] for turns in runs.values()]
    later = [ms for turns in runs.values() for ms, _ in turns[1:]]
    embed = [turns[0][1].get("sam", {}).get("embed_ms", 0.0) for turns in runs.values()]
    return {
        "first_turn_ms": med(first),
        "first_turn_sam_embed_ms": med(embed),
        "later_turn_ms": med(later),
        "later_turn_max_ms": round(max(later), 1) if later else 0.0,
        "per_photo_ms": {name: [round(ms, 1) for ms, _ in turns] for name, turns in runs.items()},
    }


def main() -> None:
    """Time lite with and without SAM and print the medians as JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=["tiny", "full"], default="tiny")
    ap.add_argument("--sam", help="SAM checkpoint file, or transformers SAM directory / cached id")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--no-baseline", action="store_true", help="skip lite without SAM")
    args = ap.parse_args()

    import torch

    from tools.backends.promptable.testing import CallCounter, save_sam_checkpoint

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        sam = args.sam or str(save_sam_checkpoint(Path(tmp) / "sam.pth", size=args.size))
        build_ms = 0.0 if args.sam else (time.perf_counter() - start) * 1000
        backend = LiteBackend(sam=sam, device=args.device, dtype=args.dtype, progress=False)
        start = time.perf_counter()
        backend.warm()
        warm_ms = (time.perf_counter() - start) * 1000
        masks = backend.load_sam()
        assert masks is not None
        encoder = CallCounter(masks.vision_module)
        with_sam = turns(backend)
    baseline = None
    if not args.no_baseline:
        plain = LiteBackend(progress=False)
        plain.warm()
        baseline = summary(turns(plain))
    print(json.dumps({
        "sam": args.sam or f"segment-anything ({'vit_b' if args.size == 'full' else 'tiny'}, random weights)",
        "device": args.device,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "build_ms": round(build_ms, 1),
        "load_sam_ms": round(backend.load_ms.get("sam_ms", 0.0), 1),
        "warm_ms": round(warm_ms, 1),
        "with_sam": summary(with_sam),
        "without_sam": baseline,
        "sam_encoder_calls": encoder.n,
        "photos": len(TURNS),
        "sam_calls": dict(masks.calls),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
