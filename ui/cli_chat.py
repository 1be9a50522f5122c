"""``pixelrs chat``: a conversation about an image, one user message per line of standard input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from agent.errors import PixelrsError
from ui.cli_errors import EXIT_BAD_INPUT, EXIT_OK, CliError, stdin_lines, writable_dir
from ui.cli_options import add_backend_options, add_db_option, settings_from_args


def add_chat_command(sub: argparse._SubParsersAction) -> None:
    """Register ``chat`` and its options."""
    chat = sub.add_parser("chat", help="chat about an image; user lines from stdin")
    chat.add_argument("--image", help="image file (required for a new session)")
    chat.add_argument("--session", help="continue this session id")
    chat.add_argument("--out", help="folder for mask PNGs (default: no files)")
    chat.add_argument("--json", action="store_true", help="print one JSON line per turn")
    add_db_option(chat)
    add_backend_options(chat)


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
    settings = settings_from_args(args)
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
    """Write the turn's masks as PNGs into ``out_dir`` (none without ``--out``); return their paths."""
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
    """Return the ``--json`` line of one turn."""
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
