"""A slice of the dev evaluation set through the real runtime: a regression guard on mask quality.

The full splits run with ``pixelrs eval --set`` / ``bench/bench_eval.py``; these dialogues cover a
COCO object, an everyday name, an absent category, a thing no model knows and a geometric half.
"""

from __future__ import annotations

from pathlib import Path

from graphs.evalset import load_evalset, run_evalset

DEV = Path(__file__).resolve().parents[1] / "data" / "eval" / "dev.json"
SLICE = {"coffee-cup", "coffee-mug", "moto-motorbike", "bus-absent", "china-pagoda"}


def test_dev_slice_quality(lite_runtime, tmp_path):
    evalset = load_evalset(DEV)
    metrics = run_evalset(lite_runtime, evalset, only=SLICE, out_dir=tmp_path)
    assert metrics["turns_scored"] == 7
    assert metrics["absent_answered_absent"] == 1.0 and metrics["false_absent"] == 0
    assert metrics["giou_coco_single"] >= 0.75
    assert metrics["giou_all_turns"] >= 0.8
    print({k: metrics[k] for k in ("giou_coco_single", "giou_all_turns", "absent_answered_absent")})
