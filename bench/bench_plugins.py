"""What answering through a plug-in costs: the tool runner's guard (injected arguments, a worker
thread with a timeout, the checked answer) against calling the same tool directly, and whole
turns answered by the example plug-ins (measure, zoom) on the lite backend.

Prints one JSON object: medians over ``--runs`` calls in ms, and ``runner_vs_direct``, the ratio
of the guarded call to the direct one measured in the same run.
Usage: ``python bench/bench_plugins.py [--runs 30]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "examples" / "measure"), str(REPO / "examples" / "zoom")]

from pixelrs_measure import SPEC as MEASURE_SPEC  # noqa: E402
from pixelrs_measure import MeasureTool  # noqa: E402
from pixelrs_zoom import zoom  # noqa: E402

from agent.images import load_image_file  # noqa: E402
from agent.memory import Memory  # noqa: E402
from agent.types import Act  # noqa: E402
from graphs.runtime import Runtime  # noqa: E402
from graphs.tool_runner import injected_args, run_extra_tool  # noqa: E402
from tools.backends.lite import LiteBackend  # noqa: E402
from tools.contract import ToolContext  # noqa: E402


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    image = load_image_file(REPO / "data" / "photos" / "coffee.png")
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(memory=Memory(f"sqlite:///{tmp}/bench.db"), backend=LiteBackend(), tools=[MeasureTool(), zoom])
        sid = runtime.new_session()
        first = runtime.run_turn_sync(sid, "find the cup", image=image)
        history = runtime.history(sid)
        context = ToolContext(
            session_id=sid, turn_index=2, user_text="how big is it?", act=Act.EXPLAIN,
            intent=first.intent, image=image, mask=history.current_mask.mask(),
        )
        tool = MeasureTool()
        direct, guarded = [], []
        for _ in range(args.runs):  # interleaved, so both see the same machine load
            call = {"type": "tool_call", "id": uuid.uuid4().hex, "name": "measure",
                    "args": {"question": "how big is it?", **injected_args(tool, context)}}
            start = time.perf_counter()
            tool.invoke(call)
            direct.append(time.perf_counter() - start)
            start = time.perf_counter()
            run_extra_tool(tool, {"question": "how big is it?"}, context, MEASURE_SPEC)
            guarded.append(time.perf_counter() - start)
        turns: dict[str, list[float]] = {"measure": [], "zoom": [], "explain": []}
        for _ in range(max(3, args.runs // 5)):
            for kind, text in (("measure", "how big is it?"), ("zoom", "zoom in"), ("explain", "what colour is it?")):
                start = time.perf_counter()
                runtime.run_turn_sync(sid, text)
                turns[kind].append(time.perf_counter() - start)
        runtime.close()
    print(json.dumps({
        "benchmark": "plugins",
        "runs": args.runs,
        "measure_direct_ms": median_ms(direct),
        "measure_runner_ms": median_ms(guarded),
        "runner_vs_direct": round(statistics.median(guarded) / statistics.median(direct), 3),
        "turn_ms": {kind: median_ms(values) for kind, values in turns.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
