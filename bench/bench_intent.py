"""Latency of the offline intent tracker per user turn, against spaCy's own parse of the same text.

Every user turn of the scripted scenario suite (tests/intent_scenarios.yaml) and, when the file
is there, of the PRIST dev dialogues (with their recorded answers) is tracked the way a session
tracks it: one tracker for the whole run (its parse cache warm only for text it has already
read). The baseline in the same run is the bare spaCy pipeline on the turn's new text (the
user's words and the first sentence of the answer before them), what a tracker that reads every
answer parses; the tracker reads an answer only when it can fill something in, so the ratio can
be below 1.

Run from the repository root: ``python bench/bench_intent.py [--runs 3] [--prist PATH]``;
prints one JSON object (medians over runs of per-turn medians and p90s, in milliseconds; wall
time, and the process's CPU time per turn, which other processes on the cores disturb less).
The parser loads once per process (``parser_load_ms``). Target: median <= 5 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from agent import nlp  # noqa: E402
from agent.intent import RuleIntentTracker  # noqa: E402
from agent.intent.grounding import first_sentence  # noqa: E402
from agent.prist import load_prist, tracker_turns  # noqa: E402
from agent.types import DialogueTurn, Intent  # noqa: E402

DEFAULT_PRIST = REPO / "data" / "prist" / "prist_dev.json"
if not DEFAULT_PRIST.exists():
    DEFAULT_PRIST = REPO.parent / "shared" / "data" / "prist_dev.json"
TARGET_MEDIAN_MS = 5.0


def dialogues(prist: Path | None) -> list[list[tuple[str, str | None]]]:
    """(user text, answer after it) per turn, per dialogue: the scenarios, then PRIST if present."""
    scenarios = yaml.safe_load((REPO / "tests" / "intent_scenarios.yaml").read_text(encoding="utf-8"))
    out = [[(t["user"], t.get("answer")) for t in s["turns"]] for s in scenarios]
    if prist is not None and prist.exists():
        out += [[(t.user, t.answer) for t in tracker_turns(item)] for item in load_prist(prist)]
    return out


def one_run(convs: list[list[tuple[str, str | None]]]) -> dict[str, list[float]]:
    """Track every turn with a fresh tracker; time each turn and the bare parse of its new text."""
    tracker = RuleIntentTracker()
    pipe = nlp.pipeline()
    track_ms: list[float] = []
    cpu_ms: list[float] = []
    parse_ms: list[float] = []
    for conv in convs:
        intent, dialogue = Intent(), []
        for k, (user, answer) in enumerate(conv):
            answer_before = dialogue[-1].text if dialogue and dialogue[-1].role == "assistant" else None
            new_text = [user] + ([first_sentence(answer_before)] if answer_before else [])
            start, cpu = time.perf_counter(), time.process_time()
            result = tracker.track(intent=intent, dialogue=list(dialogue), user_text=user, turn=k)
            track_ms.append((time.perf_counter() - start) * 1000)
            cpu_ms.append((time.process_time() - cpu) * 1000)
            start = time.perf_counter()
            list(pipe.pipe(new_text))
            parse_ms.append((time.perf_counter() - start) * 1000)
            intent = result.intent
            dialogue.append(DialogueTurn(role="user", text=user, act=result.act))
            if answer:
                dialogue.append(DialogueTurn(role="assistant", text=answer))
    return {"track": track_ms, "cpu": cpu_ms, "parse": parse_ms}


def p90(values: list[float]) -> float:
    """90th percentile."""
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def main() -> None:
    """Measure and print the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prist", type=Path, default=DEFAULT_PRIST)
    args = parser.parse_args()
    start = time.perf_counter()
    nlp.pipeline()
    load_ms = (time.perf_counter() - start) * 1000
    convs = dialogues(args.prist)
    one_run(convs[:5])  # warm up (first-call allocations, lazily built vocab sets)
    runs = [one_run(convs) for _ in range(max(1, args.runs))]
    track_median = statistics.median(statistics.median(r["track"]) for r in runs)
    parse_median = statistics.median(statistics.median(r["parse"]) for r in runs)
    print(json.dumps({
        "turns_per_run": len(runs[0]["track"]),
        "dialogues": len(convs),
        "runs": len(runs),
        "parser_load_ms": round(load_ms, 1),
        "track_turn_median_ms": round(track_median, 2),
        "track_turn_p90_ms": round(statistics.median(p90(r["track"]) for r in runs), 2),
        "track_turn_max_ms": round(max(max(r["track"]) for r in runs), 2),
        "track_turn_cpu_median_ms": round(statistics.median(statistics.median(r["cpu"]) for r in runs), 2),
        "spacy_parse_new_text_median_ms": round(parse_median, 2),
        "track_over_parse_ratio": round(track_median / parse_median, 2) if parse_median else None,
        "target_median_ms": TARGET_MEDIAN_MS,
        "meets_target": track_median <= TARGET_MEDIAN_MS,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
