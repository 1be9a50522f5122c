"""Benchmark memory overhead per turn: add_user_turn + complete_turn + history over a long session.

Usage (repo root): python -m bench.bench_memory [--url URL] [--turns 20]; prints per-turn milliseconds and the
ratio of the last five turns to the first five (should stay near 1: overhead is flat).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from agent.memory import Memory, ToolCallIn
from agent.types import Intent, IntentOp, Mask, MaskOut


def run(url: str, turns: int) -> list[float]:
    """Play ``turns`` turns with one 480x640 mask each and return the per-turn milliseconds."""
    arr = np.zeros((480, 640), dtype=bool)
    arr[100:300, 200:400] = True
    timings = []
    with Memory(url) as mem:
        sid = mem.create_session(title="bench").id
        intent = Intent(target="cup")
        for i in range(turns):
            start = time.perf_counter()
            user = mem.add_user_turn(sid, f"turn {i}: the cup on the left")
            intent = intent.revised(turn=user.index, op=IntentOp.REFINE)
            intent.mask_id = None
            mem.complete_turn(
                user.id, act="refine", reply="here it is", intent=intent,
                masks=[MaskOut(Mask(arr), "cup", 0.9)],
                tool_calls=[ToolCallIn("segment", {"target": "cup"}, 5.0)], latency_ms=5.0,
            )
            hist = mem.history(sid)
            _ = hist.current_mask, hist.dialogue()
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    """Parse arguments, run the benchmark and print the result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        timings = run(url, args.turns)
    for i, ms in enumerate(timings):
        print(f"turn {i:3d}: {ms:7.2f} ms")
    k = min(5, len(timings) // 2) or 1
    first, last = statistics.median(timings[:k]), statistics.median(timings[-k:])
    print(f"median first {k}: {first:.2f} ms, last {k}: {last:.2f} ms, ratio {last / first:.2f}")


if __name__ == "__main__":
    main()
