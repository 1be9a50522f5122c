"""Offline evaluation commands: ``pixelrs track``, ``replay``, ``eval`` and ``score``.

They score the intent tracker on PRIST dialogues, replay stored sessions through a backend,
run a backend on an evaluation set (or PRIST with ground-truth masks) and compare PNG masks;
each prints its results as JSON.
"""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from agent.errors import BadInputError
from ui.cli_errors import EXIT_OK, writable_dir
from ui.cli_options import (
    add_backend_options,
    add_db_option,
    add_tracker_options,
    settings_from_args,
)


def add_evaluation_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``track``, ``replay``, ``eval`` and ``score`` (in that order) and their options."""
    track = sub.add_parser("track", help="run the intent tracker over PRIST dialogues (JSON lines)")
    track.add_argument("dialogues", help="PRIST-format JSON file")
    track.add_argument("--summary", action="store_true", help="end with a summary line: mean token F1 of the tracked target vs the focus")
    track.add_argument("--folds", nargs="?", const="default", metavar="FOLDS.json",
                       help="print mean token F1 per fold of a fixed split by image and the tuned-vs-unseen "
                            "gap (default: the split of prist_dev.json shipped in data/prist)")
    add_tracker_options(track)

    replay = sub.add_parser("replay", help="replay stored sessions through a backend and compare masks")
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("--session", help="replay this session id")
    target.add_argument("--all", action="store_true", help="replay every stored session")
    replay.add_argument("--out", required=True, help="folder for replayed masks, replay.json and plots")
    replay.add_argument("--copy-user-edits", action="store_true", help="carry user-edited masks into the replay")
    add_db_option(replay)
    add_backend_options(replay)

    evaluate = sub.add_parser(
        "eval",
        help="score a backend: an evaluation set with hand-drawn masks (--set), or PRIST dialogues",
    )
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--set", dest="evalset", metavar="JSON", help="evaluation set, e.g. data/eval/dev.json")
    source.add_argument("--dialogues", help="PRIST-format JSON (with --images)")
    evaluate.add_argument("--images", help="folder with the PRIST dialogues' images")
    evaluate.add_argument("--masks", help="ground truth: PNG masks or LabelMe JSON per image")
    evaluate.add_argument("--out", required=True, help="folder for masks, metrics.json and plots")
    evaluate.add_argument("--limit", type=int, help="evaluate only the first N dialogues")
    evaluate.add_argument("--db", metavar="URL", help="memory for the eval sessions (default: OUT/eval.db)")
    add_backend_options(evaluate)

    score = sub.add_parser("score", help="score PNG masks against ground truth, matched by file name")
    score.add_argument("--pred", required=True, help="folder of predicted PNG masks")
    score.add_argument("--gt", required=True, help="folder of ground-truth PNG masks with the same file names")


def cmd_track(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Run the chosen tracker over a PRIST file: one JSON line per dialogue, or per-fold scores."""
    from agent.intent import build_tracker
    from agent.prist import load_prist
    from graphs.track_eval import (
        DEFAULT_FOLDS,
        evaluate_folds,
        load_folds,
        token_f1,
        track_dialogues,
    )

    items = load_prist(args.dialogues)
    settings = settings_from_args(args)
    tracker = build_tracker(settings.tracker, llm=settings.llm, timeout_s=settings.llm_timeout_s)
    if args.folds:
        folds = load_folds(DEFAULT_FOLDS if args.folds == "default" else args.folds)
        print(json.dumps(evaluate_folds(tracker, items, folds)), file=stdout)
        return EXIT_OK
    scores = []
    for row in track_dialogues(tracker, items):
        print(json.dumps(row), file=stdout)
        if args.summary:
            scores.append(token_f1(row["target"], items[row["index"]].focus))
    if args.summary:
        mean = sum(scores) / len(scores) if scores else None
        print(json.dumps({"summary": {"n": len(scores), "mean_token_f1": mean}}), file=stdout)
    return EXIT_OK


def cmd_replay(args: argparse.Namespace, stdout: TextIO) -> int:
    """Replay one or all stored sessions through the chosen backend; print the summary JSON."""
    from graphs.replay import replay_all, replay_session
    from graphs.runtime import Runtime

    writable_dir(args.out)
    runtime = Runtime.from_settings(settings_from_args(args))
    try:
        if args.all:
            summary = replay_all(runtime.memory, runtime, out_dir=args.out, copy_user_edits=args.copy_user_edits)
        else:
            summary = replay_session(
                runtime.memory, args.session, runtime, out_dir=args.out, copy_user_edits=args.copy_user_edits
            ).to_dict()
    finally:
        runtime.close()
    print(json.dumps(summary, indent=2, default=str), file=stdout)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace, stdout: TextIO) -> int:
    """Evaluate a backend on an evaluation set or PRIST dialogues; print the overall metrics JSON."""
    from graphs.evalset import load_evalset, run_evalset
    from graphs.evaluate import evaluate_prist
    from graphs.runtime import Runtime

    out = writable_dir(args.out)
    if not args.db:
        args.db = f"sqlite:///{out.resolve() / 'eval.db'}"  # keep eval sessions out of the user's list
    if args.evalset is None and not args.images:
        raise BadInputError("--dialogues needs --images (the folder with the dialogues' images)")
    evalset = load_evalset(args.evalset) if args.evalset is not None else None
    runtime = Runtime.from_settings(settings_from_args(args))
    try:
        if evalset is not None:
            result = run_evalset(runtime, evalset, out_dir=out, limit=args.limit)
        else:
            result = evaluate_prist(runtime, args.dialogues, args.images, args.masks, out_dir=out, limit=args.limit)
    finally:
        runtime.close()
    print(json.dumps(result.get("overall", result), indent=2, default=str), file=stdout)
    return EXIT_OK


def cmd_score(args: argparse.Namespace, stdout: TextIO) -> int:
    """Score predicted PNG masks against ground-truth PNGs; print the metrics JSON."""
    from graphs.evaluate import score_dirs

    print(json.dumps(score_dirs(args.pred, args.gt), indent=2, default=str), file=stdout)
    return EXIT_OK
