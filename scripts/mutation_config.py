"""Helper of scripts/mutation.sh: the mutmut config for some modules, and the score of a run.

``mutation_config.py MODULE ...`` prints a ``[tool.mutmut]`` section that mutates only those
modules and runs the tests that exercise them; ``mutation_config.py --score MODULE ...`` reads
``mutmut results --all true`` on stdin and prints the JSON summary.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter

TESTS = {
    "agent/memory": ["tests/test_memory.py", "tests/test_memory_recall.py", "tests/test_memory_schema.py", "tests/test_turn_lock.py"],
    "agent/types.py": ["tests/test_memory.py", "tests/test_knowable.py", "tests/test_intent.py", "tests/test_metrics.py"],
    "graphs/turn.py": ["tests/test_knowable.py", "tests/test_runtime.py"],
    "graphs/metrics.py": ["tests/test_metrics.py", "tests/test_evaluate.py"],
    "ui/links.py": ["tests/test_knowable.py", "tests/test_ui_render.py"],
    "ui/routes.py": ["tests/test_gradio_client_ui.py"],
}
"""The tests that exercise each core module (mutmut then runs, per mutant, only those that reach it).

Caveat for ui/routes.py: its tests share one live server per module, so mutmut credits the
route builder to the first test only and runs just that test for its mutants; most route
mutants then "survive" without the tests that check them ever running (measured: 11 of 144
killed). Measuring routes needs a server per test."""


def _pattern(module: str) -> str:
    return module if module.endswith(".py") else f"{module.rstrip('/')}/*"


def config(modules: list[str]) -> str:
    """Return the ``[tool.mutmut]`` section for ``modules``."""
    tests = sorted({t for m in modules for t in TESTS.get(m.rstrip("/"), ["tests"])})
    return "\n".join([
        "",
        "[tool.mutmut]",
        'source_paths = ["agent", "tools", "graphs", "ui"]',
        f"only_mutate = {json.dumps([_pattern(m) for m in modules])}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        'also_copy = ["app.py", "data", "tests"]',
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-m", "not postgres and not browser"]',
        "",
    ])


def score(lines: list[str], modules: list[str]) -> dict[str, object]:
    """Count mutant outcomes per module from ``mutmut results --all true`` lines."""
    per: dict[str, Counter[str]] = {m: Counter() for m in modules}
    for line in lines:
        found = re.match(r"\s*([\w.]+)\.x?ǁ?.*__mutmut_\d+: (.+)$", line) or re.match(r"\s*([\w.]+?)\.\w+__mutmut_\d+: (.+)$", line)
        if not found:
            continue
        dotted, status = found.group(1), found.group(2).strip()
        path = dotted.replace(".", "/")
        for m in modules:
            if path.startswith(m.removesuffix(".py").rstrip("/")):
                per[m][status] += 1
    out: dict[str, object] = {}
    for m, counts in per.items():
        total = sum(counts.values())
        out[m] = {**counts, "total": total, "score": round(counts["killed"] / total, 3) if total else None}
    killed = sum(c["killed"] for c in per.values())
    total = sum(sum(c.values()) for c in per.values())
    out["all"] = {"killed": killed, "total": total, "score": round(killed / total, 3) if total else None}
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--score":
        sys.stdout.write(json.dumps(score(sys.stdin.read().splitlines(), args[1:]), indent=2) + "\n")
    else:
        sys.stdout.write(config(args))
