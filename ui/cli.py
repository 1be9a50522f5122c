"""The ``pixelrs`` command line: chat, sessions, track, model tooling and serve.

Contract (ARCHITECTURE.md): exit 0 on success, 2 on bad arguments or unreadable input with a
one-line reason on stderr, never a traceback for a user mistake.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from agent.errors import BadInputError, PixelrsError
from agent.settings import Settings
from ui.cli_errors import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    CliError,
    check_port_free,
    port_number,
    run_guarded,
    stdin_lines,
    writable_dir,
    writable_file,
)

__all__ = ["CliError", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print a one-line usage error and exit 2."""
        self.exit(EXIT_BAD_INPUT, f"pixelrs: error: {message}\n")


def _version() -> str:
    """Return the installed pixelrs version ("unknown" when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pixelrs")
    except PackageNotFoundError:
        return "unknown"


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="SQLAlchemy URL of the memory (default: ~/.pixelrs/pixelrs.db)")


def _add_backend(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default=None, help="backend name: lite (default), miras, lisa, openvocab, or a plugin")
    p.add_argument("--model-dir", help="checkpoint directory (miras/lisa)")
    p.add_argument("--model", help="openvocab detector: a local directory or a Hugging Face model id")
    p.add_argument("--threshold", type=float, help="openvocab: raw detector score at which a thing counts as present")
    p.add_argument("--allow-download", action="store_true", default=None,
                   help="openvocab: let transformers download a model id that is not in the local cache")
    p.add_argument("--clip", help="CLIP vision tower directory (overrides the checkpoint config)")
    p.add_argument("--convnext", help="ConvNeXt (open_clip) directory for MIRAS")
    p.add_argument("--sam", help="SAM checkpoint: ViT-H .pth (miras/lisa); openvocab: any segment-anything .pth or a transformers SAM")
    p.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], help="model dtype (miras/lisa)")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda:0 (miras/lisa)")
    p.add_argument("--decode", choices=["auto", "eager", "graphs"],
                   help="token decoding (miras/lisa): CUDA graphs on one GPU by default, else eager")
    p.add_argument("--load-in-4bit", action="store_true", default=None, help="4-bit weights via bitsandbytes")
    p.add_argument("--load-in-8bit", action="store_true", default=None, help="8-bit weights via bitsandbytes")
    p.add_argument("--im-start-end", choices=["on", "off"],
                   help="image start/end tokens (miras/lisa; default: on, as the authors' runtime, whatever config.json says)")
    p.add_argument("--aux-size", type=int, metavar="N",
                   help="ConvNeXt input side for miras (default: 768, the authors' runtime value)")
    _add_tracker(p)


def _add_tracker(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracker", choices=["rules", "llm"], default=None,
                   help="intent tracker: rules (offline, default) or llm (needs --llm)")
    p.add_argument("--llm", metavar="PROVIDER:MODEL",
                   help="chat model of the llm tracker (LangChain init_chat_model, e.g. openai:gpt-4o-mini, "
                        "ollama:llama3.1; needs pixelrs[llm]), or 'backend' for the MIRAS/LISA model")
    p.add_argument("--planner", choices=["rules", "llm"], default=None,
                   help="who picks the tool that answers a turn: rules (acts and triggers, default) or llm "
                        "(a tool-calling model: the same --llm; the rules stay its fallback)")


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser (also used by the docs and tests)."""
    parser = _Parser(prog="pixelrs", description="Multi-turn pixel-level reasoning segmentation.")
    parser.add_argument("--version", action="version", version=f"pixelrs {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = sub.add_parser("serve", help="start the Gradio chat app")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: every one)")
    serve.add_argument("--port", type=port_number, default=7860, help="TCP port (default 7860)")
    serve.add_argument(
        "--auth", action="append",
        help="user:pass, or a file with one user:pass per line; repeat for several users",
    )
    serve.add_argument("--concurrency", type=int, default=4, help="turns that run at the same time (default 4)")
    serve.add_argument(
        "--grace", type=float, default=20.0, metavar="SECONDS",
        help="on SIGTERM or Ctrl-C, how long running turns may finish before they are marked interrupted",
    )
    serve.add_argument(
        "--anonymous",
        choices=["browser", "shared"],
        default="browser",
        help="without login: sessions private per browser (default) or shared (single-user local use)",
    )
    serve.add_argument("--mcp", action="store_true",
                       help="also serve the segment, explain and session tools over MCP at /gradio_api/mcp/ "
                            "(needs pixelrs[mcp])")
    _add_db(serve)
    _add_backend(serve)

    chat = sub.add_parser("chat", help="chat about an image; user lines from stdin")
    chat.add_argument("--image", help="image file (required for a new session)")
    chat.add_argument("--session", help="continue this session id")
    chat.add_argument("--out", help="folder for mask PNGs (default: no files)")
    chat.add_argument("--json", action="store_true", help="print one JSON line per turn")
    _add_db(chat)
    _add_backend(chat)

    sessions = sub.add_parser("sessions", help="list, show, export or delete stored sessions")
    ssub = sessions.add_subparsers(dest="action", required=True, parser_class=_Parser)
    s_list = ssub.add_parser("list", help="list sessions, newest first")
    s_list.add_argument("--json", action="store_true", help="one JSON object per line")
    _add_db(s_list)
    s_show = ssub.add_parser("show", help="print a session's conversation, intents and masks")
    s_show.add_argument("id", help="session id (from sessions list)")
    s_show.add_argument("--json", action="store_true", help="the whole transcript as JSON")
    _add_db(s_show)
    s_export = ssub.add_parser("export", help="write masks (PNG + COCO RLE), transcript and image")
    s_export.add_argument("id", help="session id (from sessions list)")
    s_export.add_argument("--out", required=True, help="folder to write into (with --zip: the zip file; .zip is added)")
    s_export.add_argument("--zip", action="store_true", help="write one zip file instead of a folder")
    _add_db(s_export)
    s_delete = ssub.add_parser("delete", help="delete a session, its turns and masks, and images no other session uses")
    s_delete.add_argument("id", help="session id (from sessions list)")
    _add_db(s_delete)

    track = sub.add_parser("track", help="run the intent tracker over PRIST dialogues (JSON lines)")
    track.add_argument("dialogues", help="PRIST-format JSON file")
    track.add_argument("--summary", action="store_true", help="end with a summary line: mean token F1 of the tracked target vs the focus")
    track.add_argument("--folds", nargs="?", const="default", metavar="FOLDS.json",
                       help="print mean token F1 per fold of a fixed split by image and the tuned-vs-unseen "
                            "gap (default: the split of prist_dev.json shipped in data/prist)")
    _add_tracker(track)

    replay = sub.add_parser("replay", help="replay stored sessions through a backend and compare masks")
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("--session", help="replay this session id")
    target.add_argument("--all", action="store_true", help="replay every stored session")
    replay.add_argument("--out", required=True, help="folder for replayed masks, replay.json and plots")
    replay.add_argument("--copy-user-edits", action="store_true", help="carry user-edited masks into the replay")
    _add_db(replay)
    _add_backend(replay)

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
    _add_backend(evaluate)

    score = sub.add_parser("score", help="score PNG masks against ground truth, matched by file name")
    score.add_argument("--pred", required=True, help="folder of predicted PNG masks")
    score.add_argument("--gt", required=True, help="folder of ground-truth PNG masks with the same file names")

    try:
        from tools.backends.model_cli import add_model_commands
    except ImportError:  # the model tooling needs the [miras] extra
        model = sub.add_parser("model", help="checkpoint tooling (needs the [miras] extra)")
        model.add_argument("rest", nargs=argparse.REMAINDER, help="keys | check ...")
    else:
        add_model_commands(sub)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    options = {
        "model_dir": getattr(args, "model_dir", None),
        "model": getattr(args, "model", None),
        "threshold": getattr(args, "threshold", None),
        "allow_download": getattr(args, "allow_download", None),
        "clip": getattr(args, "clip", None),
        "convnext": getattr(args, "convnext", None),
        "sam": getattr(args, "sam", None),
        "dtype": getattr(args, "dtype", None),
        "device": getattr(args, "device", None),
        "load_in_4bit": getattr(args, "load_in_4bit", None),
        "load_in_8bit": getattr(args, "load_in_8bit", None),
        "decode": getattr(args, "decode", None),
        "im_start_end": {"on": True, "off": False}.get(getattr(args, "im_start_end", None) or ""),
        "aux_image_size": getattr(args, "aux_size", None),
    }
    values: dict[str, Any] = {"backend_options": {k: v for k, v in options.items() if v is not None}}
    if getattr(args, "db", None):
        values["db_url"] = args.db
    if getattr(args, "backend", None):
        values["backend"] = args.backend
    if getattr(args, "tracker", None):
        values["tracker"] = args.tracker
    if getattr(args, "planner", None):
        values["planner"] = args.planner
    if getattr(args, "llm", None):
        values["llm"] = args.llm
        values.setdefault("tracker", "llm")
    try:
        return Settings(**values)
    except ValidationError as exc:  # a bad PIXELRS_* variable: one line, not a traceback
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "settings"
        raise CliError(f"bad setting {where} (PIXELRS_{where.upper()}): {err['msg']}") from None


def _memory(args: argparse.Namespace) -> Any:
    from agent.memory import Memory

    return Memory(_settings(args).resolved_db_url())


def cmd_chat(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Read user lines from stdin, run a turn for each, print replies or JSON lines.

    Everything the user gave is checked before any model loads or anything is stored: the
    image, standard input (UTF-8, not empty) and the ``--out`` folder. A new session that ends
    with no stored message (every line refused) is removed again.
    """
    from agent.images import load_image_file
    from graphs.runtime import Runtime

    if not args.image and not args.session:
        raise CliError("give --image PATH for a new session or --session ID to continue one")
    settings = _settings(args)
    image = load_image_file(args.image, limits=settings.image_limits()) if args.image else None
    lines = stdin_lines(stdin)
    if not any(line.strip() for line in lines):
        raise CliError("no messages on standard input; write one user message per line")
    out_dir = writable_dir(args.out) if args.out else None
    runtime = Runtime.from_settings(settings)
    created: str | None = None
    try:
        if args.session:
            runtime.memory.get_session(args.session)
            runtime.recover(args.session)
            session_id = args.session
        else:
            session_id = created = runtime.new_session()
        status = EXIT_OK
        first = True
        for line in lines:
            if not line.strip():
                continue
            attach = image if first else None
            first = False
            try:
                summary = runtime.run_turn_sync(session_id, line, image=attach)
            except PixelrsError as exc:
                print(f"pixelrs: {exc.one_line()}", file=stderr)
                status = EXIT_BAD_INPUT
                if attach is not None:
                    first = True  # the image was not stored; attach it to the next turn
                continue
            files = _write_masks(summary, out_dir)
            if args.json:
                print(json.dumps(_turn_json(summary, files)), file=stdout, flush=True)
            else:
                print(f"[{summary.act.value}] {summary.reply}", file=stdout, flush=True)
                for f in files:
                    print(f"  mask: {f}", file=stdout)
        if created is not None and not runtime.history(created).turns:
            runtime.delete_session(created)  # every message was refused: leave nothing empty behind
            created = None
        elif not args.json:
            print(f"session: {session_id}", file=stderr)
        return status
    finally:
        runtime.close()


def _write_masks(summary: Any, out_dir: Path | None) -> list[str]:
    if out_dir is None:
        return []
    paths = []
    answer = summary.turn_index + 1  # the assistant turn that holds the masks, as exports name it
    for rank, out in enumerate(summary.masks):
        path = out_dir / f"{summary.session_id[:8]}_turn{answer:03d}_{rank}.png"
        path.write_bytes(out.mask.to_png())
        paths.append(str(path))
    return paths


def _turn_json(summary: Any, files: list[str]) -> dict[str, Any]:
    return {
        "session": summary.session_id,
        "turn": summary.turn_index,
        "act": summary.act.value,
        "intent": summary.intent.model_dump(mode="json"),
        "masks": files,
        "mask_ids": [m.id for m in summary.masks],
        "scores": [m.score for m in summary.masks],
        "explanation": summary.reply,
        "latency_ms": round(summary.latency_ms, 1),
        "backend_ms": round(summary.backend_ms, 1),
    }


def cmd_sessions(args: argparse.Namespace, stdout: TextIO) -> int:
    """Handle ``pixelrs sessions list|show|export|delete``."""
    from graphs.export import export_session, export_zip, transcript

    memory = _memory(args)
    try:
        if args.action == "list":
            rows = memory.list_sessions()
            for s in rows:
                if args.json:
                    print(json.dumps({"id": s.id, "title": s.title, "turns": s.turn_count, "updated": s.updated_at.isoformat(), "backend": s.backend}), file=stdout)
                else:
                    turns = f"{s.turn_count} turn{'' if s.turn_count == 1 else 's'}"
                    print(f"{s.id}\t{s.updated_at:%Y-%m-%d %H:%M}\t{turns}\t{s.title or '(untitled)'}", file=stdout)
            return EXIT_OK
        if args.action == "show":
            history = memory.history(args.id)
            if args.json:
                print(json.dumps(transcript(history), indent=2), file=stdout)
                return EXIT_OK
            s = history.session
            print(f"session {s.id}  title: {s.title or '(untitled)'}  backend: {s.backend}", file=stdout)
            for t in history.turns:
                flag = "" if t.status == "ok" else f" [{t.status}{': ' + t.error if t.error else ''}]"
                act = f" ({t.act})" if t.act else ""
                print(f"{t.index:3d} {t.role:9s}{act}{flag}: {t.text}", file=stdout)
                if t.intent is not None and t.role == "assistant":
                    print(f"      intent: {t.intent.op} -> {t.intent.describe()}", file=stdout)
                    for line in _why_lines(t.intent):
                        print(f"      {line}", file=stdout)
                for m in t.masks:
                    print(f"      mask {m.id}: '{m.label}' area {m.area} bbox {list(m.bbox)} score {m.score} ({m.source})", file=stdout)
            return EXIT_OK
        if args.action == "export":
            if args.zip:
                out = writable_file(args.out, ".zip")
                out.write_bytes(export_zip(memory, args.id))
            else:
                out = export_session(memory, args.id, writable_dir(args.out))
            print(str(out), file=stdout)
            return EXIT_OK
        if args.action == "delete":
            memory.delete_session(args.id)
            print(f"deleted {args.id}", file=stdout)
            return EXIT_OK
        raise CliError(f"unknown sessions action {args.action!r}")
    finally:
        memory.close()


def _why_lines(intent: Any) -> list[str]:
    """Return the last revision's reason and evidence: which words of which turn caused it."""
    if not intent.history:
        return []
    rev = intent.history[-1]
    lines = [f"why: {rev.reason}"] if rev.reason else []
    if rev.evidence:
        words = ", ".join(
            f"{e.role}: {e.words!r}" + ("" if e.source == "user" else f" ({e.source}, turn {e.turn})")
            for e in rev.evidence
        )
        lines.append(f"words: {words}")
    return lines


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
    settings = _settings(args)
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
    runtime = Runtime.from_settings(_settings(args))
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
    runtime = Runtime.from_settings(_settings(args))
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


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the Gradio app (blocks until interrupted)."""
    from graphs.runtime import Runtime
    from ui.lifecycle import serve_until_stopped

    if args.mcp:
        from ui.mcp_tools import check_mcp

        check_mcp(auth=args.auth)  # one line now, before any model loads
    check_port_free(args.host, args.port)  # before any model loads
    runtime = Runtime.from_settings(_settings(args))
    serve_until_stopped(
        runtime, grace_s=args.grace, host=args.host, port=args.port, auth=args.auth,
        concurrency=args.concurrency, anonymous=args.anonymous, mcp=args.mcp,
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Entry point of the ``pixelrs`` console script; returns the exit status.

    Every failure is one line on stderr (:mod:`ui.cli_errors`): exit 2 for what the user can
    fix, 1 for a bug, 130 on Ctrl-C, 141 when the reader of stdout went away.
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_guarded(lambda: _dispatch(parser, args, stdin, stdout, stderr), getattr(args, "db", None), stdout, stderr)


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Run the parsed command."""
    if args.command == "chat":
        return cmd_chat(args, stdin, stdout, stderr)
    if args.command == "sessions":
        return cmd_sessions(args, stdout)
    if args.command == "track":
        return cmd_track(args, stdout, stderr)
    if args.command == "serve":
        return cmd_serve(args)
    if args.command == "replay":
        return cmd_replay(args, stdout)
    if args.command == "eval":
        return cmd_eval(args, stdout)
    if args.command == "score":
        return cmd_score(args, stdout)
    if args.command == "model":
        from tools.backends.model_cli import run_model_command

        return int(run_model_command(args, out=stdout, err=stderr))
    parser.error(f"unknown command {args.command!r}")
    return EXIT_BAD_INPUT
