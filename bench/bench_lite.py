"""Latency of the lite backend on a 640x480 photo: first turn (fresh backend) and later turns (cached image).

Run from the repository root: ``python bench/bench_lite.py [--runs 5] [--image PATH]``; prints one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from agent.types import DialogueTurn, ImageRef, Intent, Relation  # noqa: E402
from tools.backends.base import ExplainRequest, SegmentRequest  # noqa: E402
from tools.backends.lite import LiteBackend  # noqa: E402

DEFAULT_IMAGE = REPO / "data" / "photos" / "textcaps_hdmi.jpg"
FIRST_TURN_TARGET_MS = 1500.0
LATER_TURN_TARGET_MS = 250.0

LATER_INTENTS = [
    Intent(
        target="port right of the HDMI label",
        relations=[Relation(kind="right_of", anchor="HDMI label")],
    ),
    Intent(target="the black part", attributes={"colour": "black"}),
    Intent(target="the one on the left", attributes={"position": "left"}),
    Intent(target="the biggest one", attributes={"size": "biggest"}),
    Intent(target="the other one", attributes={"other": "yes"}),
]


def load(path: Path) -> tuple[np.ndarray, ImageRef]:
    """Return the photo resized to 640x480 and its content reference."""
    img = Image.open(path).convert("RGB").resize((640, 480), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    rgb = np.asarray(img)
    return rgb, ImageRef(sha256=hashlib.sha256(buf.getvalue()).hexdigest(), width=640, height=480)


def request(rgb: np.ndarray, ref: ImageRef, intent: Intent, prev=None) -> SegmentRequest:
    """Build a segment request for one turn."""
    return SegmentRequest(
        image=rgb,
        image_ref=ref,
        dialogue=[DialogueTurn(role="user", text=intent.target or "")],
        intent=intent,
        previous_mask=prev,
    )


def main() -> None:
    """Time first and later turns and print the medians as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    args = parser.parse_args()
    rgb, ref = load(args.image)
    first_intent = Intent(target="HDMI label", attributes={"text": "HDMI"})

    cold, init, warm_engine = [], [], []
    process_cold_ms = None
    for i in range(args.runs):
        backend = LiteBackend()
        start = time.perf_counter()
        backend.segment(request(rgb, ref, first_intent))
        total = (time.perf_counter() - start) * 1000
        if i == 0:
            process_cold_ms = total  # includes importing onnxruntime/RapidOCR once per process
            continue
        cold.append(total)
        init.append(backend.ocr.init_ms)
        # the same with the OCR engine created beforehand (e.g. at app start)
        backend = LiteBackend()
        backend.warm()
        start = time.perf_counter()
        backend.segment(request(rgb, ref, first_intent))
        warm_engine.append((time.perf_counter() - start) * 1000)

    later, explain_ms = [], []
    backend = LiteBackend()
    prev = backend.segment(request(rgb, ref, first_intent)).best
    for _ in range(max(1, args.runs // 5)):
        for intent in LATER_INTENTS:
            start = time.perf_counter()
            result = backend.segment(request(rgb, ref, intent, prev.mask if prev else None))
            later.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            text = "".join(
                backend.explain(
                    ExplainRequest(
                        image=rgb,
                        image_ref=ref,
                        dialogue=[],
                        intent=intent,
                        mask=result.best.mask if result.best else None,
                        previous_mask=prev.mask if prev else None,
                        result=result,
                    )  # fmt: skip
                )
            )
            explain_ms.append((time.perf_counter() - start) * 1000)
            assert text
            prev = result.best or prev

    med = statistics.median
    first_turn_ms = med([c - i for c, i in zip(cold, init, strict=True)])
    out = {
        "backend": "lite",
        "image": f"{args.image.name} resized to 640x480",
        "cpu_count": os.cpu_count(),
        "runs": args.runs,
        "engine_init_ms": round(med(init), 1),
        "first_turn_ms": round(first_turn_ms, 1),
        "first_turn_warm_engine_ms": round(med(warm_engine), 1),
        "first_turn_cold_ms": round(med(cold), 1),
        "first_process_cold_ms": round(process_cold_ms or 0.0, 1),
        "later_turn_ms": round(med(later), 1),
        "later_turn_max_ms": round(max(later), 1),
        "later_turn_ms_all": [round(x, 1) for x in later],
        "explain_ms": round(med(explain_ms), 1),
        "targets_ms": {"first_turn": FIRST_TURN_TARGET_MS, "later_turn": LATER_TURN_TARGET_MS},
        "meets_targets": bool(
            med(cold) <= FIRST_TURN_TARGET_MS and med(later) <= LATER_TURN_TARGET_MS
        ),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
