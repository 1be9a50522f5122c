"""Orchestration overhead per turn (graph + tracker + memory commit + mask encode).

Runs 20-turn sessions on the lite backend against a SQLite file and reports, per turn, the
turn latency minus the time spent inside the backend (segment + explain). Prints one JSON
object: median overhead over all turns, median of turn 2 and turn 20 across repeats, and their
ratio (cost must not grow with history). Turns run inline (``Runtime.run_turn_sync``, as the CLI,
replay and eval do); ``streamed`` measures the same turns through the ``run_turn`` generator (the
app's path, LangGraph's custom stream) in the same run, and ``inline_vs_streamed`` is the ratio
of their medians. ``recorded_backend`` replays lite's recorded answers with no backend time at
all: the same orchestration work without the CPU caches a real backend evicts.
Usage: ``python bench/bench_turn.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agent.images import load_image_file
from agent.memory import Memory
from agent.types import MaskOut
from graphs.runtime import Runtime
from tools.backends.base import ExplainRequest, SegmentRequest, SegmentResult
from tools.backends.lite import LiteBackend

SCRIPT = [
    "find the HDMI label",
    "no, the one on the right",
    "what does it say?",
    "now the port next to it",
    "the bigger one",
    "why is it important?",
]
"""Six messages, so turn 2 and turn 20 (indices 1 and 19) are the same kind of turn."""


class TimedBackend:
    """Measures the wall time spent inside the real backend's calls."""

    def __init__(self, inner: LiteBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.spent_ms = 0.0

    def segment(self, request: SegmentRequest) -> SegmentResult:
        start = time.perf_counter()
        try:
            return self.inner.segment(request)
        finally:
            self.spent_ms += (time.perf_counter() - start) * 1000

    def explain(self, request: ExplainRequest):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            yield from self.inner.explain(request)
        finally:
            self.spent_ms += (time.perf_counter() - start) * 1000

    def forget_session(self, session_id: str) -> None:
        self.inner.forget_session(session_id)


class RecordedBackend:
    """Answers each turn of the script with what lite answered there, instantly."""

    name = "recorded"

    def __init__(self) -> None:
        self.segments: dict[str, SegmentResult] = {}
        self.explanations: dict[str, list[str]] = {}
        self.spent_ms = 0.0

    @classmethod
    def record(cls, runtime: Runtime, backend: TimedBackend, image_path: Path) -> RecordedBackend:
        """Run the script once through lite and keep its answers by user text."""
        recorded = cls()
        original_segment, original_explain = backend.segment, backend.explain

        def segment(request: SegmentRequest) -> SegmentResult:
            result = original_segment(request)
            recorded.segments[request.dialogue[-1].text] = result
            return result

        def explain(request: ExplainRequest):  # type: ignore[no-untyped-def]
            chunks = list(original_explain(request))
            recorded.explanations[request.dialogue[-1].text] = chunks
            yield from chunks

        backend.segment, backend.explain = segment, explain  # type: ignore[method-assign]
        try:
            run_session(runtime, backend, image_path, len(SCRIPT))
        finally:
            del backend.segment, backend.explain
        return recorded

    def segment(self, request: SegmentRequest) -> SegmentResult:
        result = self.segments[request.dialogue[-1].text]
        masks = [MaskOut(out.mask, label=out.label, score=out.score) for out in result.masks]
        return SegmentResult(masks=masks, text=result.text, evidence=result.evidence)

    def explain(self, request: ExplainRequest):  # type: ignore[no-untyped-def]
        yield from self.explanations.get(request.dialogue[-1].text, [])

    def forget_session(self, session_id: str) -> None:
        pass


def run_session(
    runtime: Runtime, backend: TimedBackend | RecordedBackend, image_path: Path, turns: int, *, streamed: bool = False
) -> list[float]:
    """One session of ``turns`` turns; returns the per-turn overhead in ms.

    ``streamed`` consumes the :meth:`Runtime.run_turn` generator (events through LangGraph's
    custom stream, as the app does) instead of the inline :meth:`Runtime.run_turn_sync`.
    """
    image = load_image_file(image_path)
    sid = runtime.new_session()
    overheads = []
    for i in range(turns):
        backend.spent_ms = 0.0
        start = time.perf_counter()
        text, attach = SCRIPT[i % len(SCRIPT)], image if i == 0 else None
        if streamed:
            for _event in runtime.run_turn(sid, text, image=attach):
                pass
        else:
            runtime.run_turn_sync(sid, text, image=attach)
        total = (time.perf_counter() - start) * 1000
        overheads.append(total - backend.spent_ms)
    return overheads


def summarise(runs: list[list[float]], turns: int) -> dict[str, object]:
    """Median overhead over all turns, per turn across repeats, and turn-last vs turn-2."""
    per_turn = [statistics.median(run[i] for run in runs) for i in range(turns)]
    turn2, turn_last = per_turn[1], per_turn[-1]
    return {
        "median_overhead_ms": round(statistics.median(x for run in runs for x in run), 2),
        "turn2_overhead_ms": round(turn2, 2),
        f"turn{turns}_overhead_ms": round(turn_last, 2),
        "ratio_last_vs_turn2": round(turn_last / turn2, 3) if turn2 else None,
        "per_turn_median_ms": [round(x, 2) for x in per_turn],
    }


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--image", type=Path, default=Path(__file__).resolve().parents[1] / "data/photos/textcaps_hdmi.jpg")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        backend = TimedBackend(LiteBackend())
        runtime = Runtime(memory=Memory(f"sqlite:///{tmp}/bench.db"), backend=backend)  # type: ignore[arg-type]
        run_session(runtime, backend, args.image, 3)  # warm-up: OCR engine, caches, imports
        recorded = RecordedBackend.record(runtime, backend, args.image)
        replaying = Runtime(memory=Memory(f"sqlite:///{tmp}/recorded.db"), backend=recorded)  # type: ignore[arg-type]
        run_session(replaying, recorded, args.image, 3)
        lite_runs, streamed_runs, recorded_runs = [], [], []
        for _ in range(args.repeats):  # interleaved, so machine noise hits all alike
            lite_runs.append(run_session(runtime, backend, args.image, args.turns))
            streamed_runs.append(run_session(runtime, backend, args.image, args.turns, streamed=True))
            recorded_runs.append(run_session(replaying, recorded, args.image, args.turns))
        runtime.close()
        replaying.close()
    result = {
        "benchmark": "orchestration_overhead_per_turn",
        "backend": "lite",
        "db": "sqlite",
        "turns": args.turns,
        "repeats": args.repeats,
        **summarise(lite_runs, args.turns),
        "recorded_backend": summarise(recorded_runs, args.turns),
        "streamed": summarise(streamed_runs, args.turns),
        "inline_vs_streamed": round(
            statistics.median(x for r in lite_runs for x in r) / statistics.median(x for r in streamed_runs for x in r), 3
        ),
        "target": {"median_overhead_ms": 15, "ratio_last_vs_turn2": 1.2},
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
