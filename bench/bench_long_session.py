"""A 200-turn session: does a turn get slower, and does the process grow, as the session gets long?

Runs one session of N turns (default 200) through the real runtime on the lite backend (the
TextCaps photo; a cycle of segmenting, refining, correcting and explaining requests), timing
every turn inline (``run_turn_sync``). Reports the median latency of the first and last 20
turns, their ratio, the least-squares slope of latency over the turn number (ms per turn), and
the resident memory after the first 20 turns and at the end (and the growth per 100 turns).
Prints one JSON object. Usage: ``python bench/bench_long_session.py [--turns 200] [--db URL]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agent.images import load_image_file  # noqa: E402
from agent.memory import Memory  # noqa: E402
from graphs.runtime import Runtime  # noqa: E402
from tools.backends.lite import LiteBackend  # noqa: E402

SCRIPT = [
    "find the HDMI label", "what does it say?", "now the port next to it", "no, the one on the right",
    "only the left half of it", "why is it important?", "find the HDMI label", "the bigger one",
]


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _slope(ys: list[float]) -> float:
    """Least-squares slope of ys over 0..n-1."""
    n = len(ys)
    mx, my = (n - 1) / 2, statistics.fmean(ys)
    num = sum((x - mx) * (y - my) for x, y in enumerate(ys))
    den = sum((x - mx) ** 2 for x in range(n))
    return num / den if den else 0.0


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--db", help="SQLAlchemy URL (default: a SQLite file in a temp folder)")
    parser.add_argument("--image", type=Path, default=REPO / "data/photos/textcaps_hdmi.jpg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{tmp}/long.db"
        runtime = Runtime(memory=Memory(url), backend=LiteBackend())
        try:
            warm = runtime.new_session()
            runtime.run_turn_sync(warm, "find the HDMI label", image=load_image_file(args.image))
            sid = runtime.new_session()
            image = load_image_file(args.image)
            latencies: list[float] = []
            acts: dict[str, int] = {}
            rss_early = float("nan")
            for i in range(args.turns):
                start = time.perf_counter()
                summary = runtime.run_turn_sync(sid, SCRIPT[i % len(SCRIPT)], image=image if i == 0 else None)
                latencies.append((time.perf_counter() - start) * 1000)
                acts[summary.act.value] = acts.get(summary.act.value, 0) + 1
                if i == 19:
                    gc.collect()
                    rss_early = _rss_mb()
            gc.collect()
            rss_end = _rss_mb()
            stored = len(runtime.history(sid).turns)
        finally:
            runtime.close()
    window = min(20, len(latencies) // 2)
    first, last = latencies[1 : window + 1], latencies[-window:]  # turn 0 analyses the photo
    result = {
        "benchmark": "long_session",
        "backend": "lite",
        "database": "postgresql" if (args.db or "").startswith("postgresql") else "sqlite",
        "turns": args.turns,
        "stored_messages": stored,
        "acts": acts,
        "latency_ms": {
            "first_turns_median": round(statistics.median(first), 1),
            "last_turns_median": round(statistics.median(last), 1),
            "last_over_first": round(statistics.median(last) / statistics.median(first), 3),
            "slope_ms_per_turn": round(_slope(latencies[1:]), 3),
        },
        "rss_mb": {
            "after_20_turns": round(rss_early, 1),
            "at_end": round(rss_end, 1),
            "growth_per_100_turns": round((rss_end - rss_early) / max(1, args.turns - 20) * 100, 1),
        },
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
