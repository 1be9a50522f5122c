"""Parity of pixelrs's MIRAS / LISA with the authors' own code, on tiny random weights (CPU, fp32).

    python scripts/parity/run.py --model miras --authors /path/to/PixelRIST --venv ~/.cache/pixelrs-parity/miras
    python scripts/parity/run.py --model lisa  --authors /path/to/LISA      --venv ~/.cache/pixelrs-parity/lisa

1. builds the authors' environment in ``--venv`` when it has no python (``setup_venv.sh``; their pins);
2. copies the checkout to ``WORK/checkout`` and applies the CPU patches of ``patches.py``;
3. runs ``authors_<model>.py`` with the venv's python: tiny model built with their classes, saved in
   their checkpoint layouts, their computations written to ``WORK/authors_<model>.pt``;
4. loads those checkpoints into pixelrs, redoes every computation and prints the table (also written
   to ``WORK/parity_<model>.md``). Exit status 0 when every row is within its tolerance, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from patches import PATCHES, apply_patches  # noqa: E402

DEFAULT_IMAGE = REPO / "data" / "photos" / "bus.jpg"


def table(rows, model: str, meta: dict, seconds: float) -> str:  # type: ignore[no-untyped-def]
    """Markdown table of the rows plus the versions each side ran."""
    import torch
    import transformers

    mark = {True: "ok", False: "FAIL", None: "info"}
    lines = [f"### {model.upper()} parity (tiny random weights, CPU, fp32; {seconds:.0f} s)", "",
             "| check | layout | value | tolerance | result |", "|---|---|---|---|---|"]
    lines += [f"| {r.check} | {r.layout} | {r.value} | {r.tolerance} | {mark[r.ok]} |" for r in rows]
    theirs = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    lines += ["", f"Authors' side: {theirs}.", f"pixelrs side: torch {torch.__version__}, "
              f"transformers {transformers.__version__}.",
              f"Patches to their code: {len(PATCHES[model])} (scripts/parity/patches.py)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(PATCHES), required=True)
    parser.add_argument("--authors", type=Path, required=True,
                        help="work tree of the authors' repository (PixelRIST for miras, LISA for lisa)")
    parser.add_argument("--venv", type=Path, required=True, help="the authors' virtualenv (built when missing)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: VENV/../parity-MODEL)")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reuse", action="store_true", help="compare against an earlier authors' run in WORK")
    args = parser.parse_args(argv)
    work = (args.work or args.venv.parent / f"parity-{args.model}").resolve()
    start = time.perf_counter()
    if not args.reuse:
        python = args.venv / "bin" / "python"
        if not python.exists():
            subprocess.run(["bash", str(HERE / "setup_venv.sh"), args.model, str(args.venv)], check=True)
        checkout = work / "checkout"
        apply_patches(args.authors.resolve(), checkout, args.model)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_CONSTRAINT")}
        env["CUDA_VISIBLE_DEVICES"] = ""  # the authors' side runs on the CPU
        log = work / f"authors_{args.model}.log"
        with open(log, "w") as out:
            done = subprocess.run([str(python), str(HERE / f"authors_{args.model}.py"), "--checkout", str(checkout),
                                   "--work", str(work / "out"), "--image", str(args.image.resolve()),
                                   "--seed", str(args.seed)], stdout=out, stderr=subprocess.STDOUT, env=env)
        if done.returncode:
            print(f"the authors' side failed (exit {done.returncode}); see {log}", file=sys.stderr)
            return 2

    from pixelrs_side import compare

    rows, meta = compare(args.model, work / "out", args.image)
    text = table(rows, args.model, meta, time.perf_counter() - start)
    print(text)
    (work / f"parity_{args.model}.md").write_text(text + "\n")
    (work / f"parity_{args.model}.json").write_text(json.dumps([r.__dict__ for r in rows], indent=2))
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
