"""Latency of the openvocab backend: the first turn on an image vs later turns on the same image.

The first turn on an image runs lite's per-image analysis (OCR, superpixels), the detector's
vision tower and SAM's image encoder; later turns reuse all three and cost a text query, the
class head and the mask decoder for new boxes. Each run uses a different photo (they ship inside
scikit-image) so its first turn is really first.

Weights, never downloaded:
  --size tiny   random tiny OWLv2 + SAM built here (default; measures the wiring, not the models)
  --size full   random weights at the published sizes (OWLv2 base/16 at 960 px, SAM ViT-B at 1024 px)
  --model DIR_OR_ID [--sam PATH]   your own weights (a model id must already be in the HF cache)
  --no-sam      mask boxes with lite's packaged U²-Net-p instead of SAM (the CPU-friendly setting)

Run from the repository root: ``python bench/bench_openvocab.py [--size full] [--runs 3]
[--device cpu] [--dtype fp32]``; prints one JSON object (medians over runs).
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
import skimage.data  # noqa: E402

from agent.types import DialogueTurn, ImageRef, Intent, Relation  # noqa: E402
from tools.backends.base import SegmentRequest  # noqa: E402
from tools.backends.openvocab import OpenVocabBackend, testing  # noqa: E402
from tools.backends.promptable.testing import CallCounter, save_sam_checkpoint  # noqa: E402

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "cat")
FIRST = Intent(target="person")
LATER = {
    "new_phrase": Intent(target="cup"),
    "new_phrase_position": Intent(target="cat", attributes={"position": "left"}),
    "all_instances": Intent(target="people", attributes={"count": "all"}),
    "relation_to_detection": Intent(target="cup", relations=[Relation(kind="left_of", anchor="the person")]),
}


def photo(name: str, run: int) -> tuple[np.ndarray, ImageRef]:
    """Return a packaged scikit-image photo (flipped on odd passes, so every run has a new image)."""
    rgb = np.ascontiguousarray(getattr(skimage.data, name)()[:, :, :3])
    if run // len(PHOTOS) % 2:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    sha = hashlib.sha256(rgb.tobytes()).hexdigest()
    return rgb, ImageRef(sha256=sha, width=rgb.shape[1], height=rgb.shape[0])


CPU_MS: list[float] = []
"""Process CPU time of each turn (all threads), to tell a busy machine from a slow turn."""


def turn(backend: OpenVocabBackend, rgb: np.ndarray, ref: ImageRef, intent: Intent) -> tuple[float, dict]:
    """Run one segment turn; return its wall time (ms) and evidence."""
    start, cpu = time.perf_counter(), time.process_time()
    result = backend.segment(
        SegmentRequest(image=rgb, image_ref=ref, dialogue=[DialogueTurn(role="user", text=intent.target or "")],
                       intent=intent)  # fmt: skip
    )
    CPU_MS.append((time.process_time() - cpu) * 1000)
    return (time.perf_counter() - start) * 1000, result.evidence


def med(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=["tiny", "full"], default="tiny")
    ap.add_argument("--model", help="detector directory or cached model id (instead of --size)")
    ap.add_argument("--sam", help="SAM checkpoint file, or transformers SAM directory / cached id")
    ap.add_argument("--no-sam", action="store_true", help="mask boxes with lite's packaged U²-Net-p instead of SAM")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    with tempfile.TemporaryDirectory() as tmp:
        model, sam = args.model, args.sam
        if model is None:
            start = time.perf_counter()
            model = str(testing.save_owlv2(Path(tmp) / "owl", size=args.size))
            if not args.no_sam:
                sam = sam or str(save_sam_checkpoint(Path(tmp) / "sam.pth", size=args.size))
            build_ms = (time.perf_counter() - start) * 1000
        else:
            build_ms = 0.0
        backend = OpenVocabBackend(model, sam=sam, device=args.device, dtype=args.dtype, progress=False)
        start = time.perf_counter()
        source = backend.load()
        load_ms = (time.perf_counter() - start) * 1000

        vision = CallCounter(source.detector.vision_module)
        sam_calls = CallCounter(source.masker.vision_module) if source.masker is not None else None
        first, later, repeat = [], [], []
        first_cpu: list[float] = []
        by_kind: dict[str, list[float]] = {k: [] for k in LATER}
        encode, sam_embed, analysis = [], [], []
        for run in range(args.runs):
            rgb, ref = photo(PHOTOS[run % len(PHOTOS)], run)
            ms, ev = turn(backend, rgb, ref, FIRST)
            first.append(ms)
            first_cpu.append(CPU_MS[-1])
            info = ev.get("openvocab", {})
            encode.append(info.get("encode_ms", 0.0))
            sam_embed.append(info.get("sam_embed_ms", 0.0))
            analysis.append(sum(v for k, v in ev.get("timings_ms", {}).items() if k != "total_ms"))
            for kind, intent in LATER.items():
                later.append(turn(backend, rgb, ref, intent)[0])
                by_kind[kind].append(later[-1])
            for intent in LATER.values():
                repeat.append(turn(backend, rgb, ref, intent)[0])
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
    print(json.dumps({
        "weights": "user" if args.model else f"random-{args.size}",
        "model": args.model or f"owlv2 ({args.size})",
        "sam": sam if args.model or args.no_sam else f"segment-anything ({'vit_b' if args.size == 'full' else 'tiny'})",
        "detector": source.detector.family,
        "device": args.device,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "runs": args.runs,
        "build_ms": round(build_ms, 1),
        "load_ms": round(load_ms, 1),
        "first_turn_ms": med(first),
        "first_turn_parts_ms": {
            "detector_encode": med(encode),
            "sam_embed": med(sam_embed),
            "lite_analysis": med(analysis),
        },
        "first_turn_cpu_ms": med(first_cpu),
        "later_turn_new_query_ms": med(later),
        "later_turn_by_kind_ms": {k: med(v) for k, v in by_kind.items()},
        "later_turn_repeated_query_ms": med(repeat),
        "later_over_first": round(med(later) / med(first), 4) if first else None,
        "vision_tower_calls": vision.n,
        "sam_encoder_calls": sam_calls.n if sam_calls else 0,
        "images": args.runs,
        "source_calls": {**source.calls, **(source.masker.calls if source.masker is not None else {})},
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
