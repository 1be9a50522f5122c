"""The offline tracker on the blind scenario sets (tests/intent_scenarios_blind*.yaml).

Run from the repository root: ``python bench/bench_intent_blind.py [--show]`` (the first set),
``--set tests/intent_scenarios_blind2.yaml`` (or ``blind3`` to ``blind10``) for the others. Prints
one JSON object: turns right on act and target (the scenario suite's score) overall, per group
and per scripted act, and how often the scripted attributes/exclusions/relations hold; ``--show``
lists the misses too. All ten sets were written by people who never ran the tracker. The first
was report-only until stop 15, the second until stop 16, the third until stop 17, the fourth
until stop 18; all four have been tuned on since (``half: tune-blind``), so their scores are no
longer unseen checks; so is the sixth (written at stop 19, tuned on later in that stop). The
fifth (``half: blind``, written at stop 18), the seventh (stop 19), the eighth (stop 20), the
ninth (stop 21) and the tenth (stop 22) are report-only: nobody may tune on them, so list their misses only for a final
report."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.intent import RuleIntentTracker  # noqa: E402
from tests.test_intent_scenarios import run_scenario  # noqa: E402

BLIND = REPO / "tests" / "intent_scenarios_blind.yaml"


def main() -> None:
    """Score the blind set and print the JSON summary (and the misses with ``--show``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=BLIND, help="scenario file (default: the first blind set)")
    parser.add_argument("--show", action="store_true", help="list the misses too")
    args = parser.parse_args()
    tracker = RuleIntentTracker()
    right: list[bool] = []
    details: list[bool] = []
    groups: dict[str, list[bool]] = defaultdict(list)
    acts: dict[str, list[bool]] = defaultdict(list)
    misses = []
    for scenario in yaml.safe_load(args.set.read_text(encoding="utf-8")):
        for turn, outcome in zip(scenario["turns"], run_scenario(tracker, scenario), strict=True):
            right.append(outcome["ok"])
            groups[scenario["group"]].append(outcome["ok"])
            acts[turn["act"]].append(outcome["ok"])
            if outcome["details"] is not None:
                details.append(outcome["details"])
            if not outcome["ok"]:
                misses.append({"dialogue": scenario["name"], **{k: outcome[k] for k in ("said", "want", "got")}})

    def share(values: list[bool]) -> dict[str, float | int]:
        return {"right": sum(values), "turns": len(values), "score": round(sum(values) / max(1, len(values)), 3)}

    report = {
        "set": str(args.set.relative_to(REPO) if args.set.is_relative_to(REPO) else args.set),
        "overall": share(right),
        "details_hold": share(details),
        "by_group": {g: share(v) for g, v in sorted(groups.items())},
        "by_act": {a: share(v) for a, v in sorted(acts.items())},
    }
    if args.show:
        report["misses"] = misses
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
