"""Memory cost per turn on SQLite and PostgreSQL: what a chat turn pays, and whether it grows.

Each turn is what the turn graph does: ``begin_turn`` (commit the user's message and recall the
session) then ``complete_turn`` (answer, one 480x640 mask, intent, tool call, one transaction).
``history`` (everything, for the app's session view and exports) is timed after the first and the
last turn only: a turn never calls it, and reading a whole session between turns slows the next
turn down (caches), which the app does not pay.
Prints one JSON object per database: medians over repeats of turns 1-5 and of the last five,
their ratio (should stay near 1), and the history cost. PostgreSQL is measured when
``PIXELRS_TEST_POSTGRES_URL`` (or ``--postgres``) names a reachable server.
Usage: ``python bench/bench_memory.py [--turns 40] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from agent.memory import Memory, ToolCallIn
from agent.types import Intent, IntentOp, Mask, MaskOut


def run(memory: Memory, turns: int) -> tuple[list[float], list[float]]:
    """Play one session; return per-turn milliseconds of begin+complete, and of history after the
    first and the last turn."""
    arr = np.zeros((480, 640), dtype=bool)
    arr[100:300, 200:400] = True
    sid = memory.create_session(title="bench").id
    intent = Intent(target="cup")
    turn_ms, history_ms = [], []
    for i in range(turns):
        start = time.perf_counter()
        user, _recall = memory.begin_turn(sid, f"turn {i}: the cup on the left")
        intent = intent.revised(turn=user.index, op=IntentOp.REFINE)
        intent.mask_id = None
        memory.complete_turn(
            user.id, act="refine", reply="here it is, the cup on the left of the plate", intent=intent,
            masks=[MaskOut(Mask(arr), "cup", 0.9)],
            tool_calls=[ToolCallIn("segment", {"target": "cup"}, 5.0)], latency_ms=5.0,
        )
        turn_ms.append((time.perf_counter() - start) * 1000)
        if i in (0, turns - 1):
            start = time.perf_counter()
            memory.history(sid)
            history_ms.append((time.perf_counter() - start) * 1000)
    return turn_ms, history_ms


def measure(url: str, turns: int, repeats: int) -> dict[str, object]:
    """Run ``repeats`` sessions on ``url`` and summarise them."""
    with Memory(url) as memory:
        run(memory, 5)  # warm-up: connections, statement caches
        runs = [run(memory, turns) for _ in range(repeats)]
    per_turn = [statistics.median(r[0][i] for r in runs) for i in range(turns)]
    first, last = statistics.median(per_turn[1:6]), statistics.median(per_turn[-5:])
    history = [statistics.median(r[1][i] for r in runs) for i in range(2)]
    return {
        "turn_ms_turns_2_to_6": round(first, 2),
        f"turn_ms_last_5_of_{turns}": round(last, 2),
        "ratio_last_vs_first": round(last / first, 3),
        "history_ms_first": round(history[0], 2),
        f"history_ms_at_turn_{turns}": round(history[-1], 2),
    }


def main() -> None:
    """Parse arguments, run the benchmark on each database and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get("PIXELRS_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    result: dict[str, object] = {"benchmark": "memory_per_turn", "turns": args.turns, "repeats": args.repeats}
    with tempfile.TemporaryDirectory() as tmp:
        result["sqlite"] = measure(f"sqlite:///{Path(tmp) / 'bench.db'}", args.turns, args.repeats)
    if args.postgres:
        try:
            result["postgresql"] = measure(args.postgres, args.turns, args.repeats)
        except Exception as exc:  # noqa: BLE001 - report an unreachable server instead of failing
            result["postgresql"] = f"not measured: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    else:
        result["postgresql"] = "not measured: set PIXELRS_TEST_POSTGRES_URL or pass --postgres"
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
