"""``pixelrs sessions list|show|export|delete``: the stored sessions, from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ui.cli_errors import EXIT_OK, CliError, writable_dir, writable_file
from ui.cli_options import add_db_option, open_memory


def add_sessions_command(sub: argparse._SubParsersAction) -> None:
    """Register ``sessions`` and its actions."""
    sessions = sub.add_parser("sessions", help="list, show, export or delete stored sessions")
    # the actions report errors as the sub-command does (one line, exit 2; see ui.cli)
    ssub = sessions.add_subparsers(dest="action", required=True, parser_class=type(sessions))
    s_list = ssub.add_parser("list", help="list sessions, newest first")
    s_list.add_argument("--json", action="store_true", help="one JSON object per line")
    add_db_option(s_list)
    s_show = ssub.add_parser("show", help="print a session's conversation, intents and masks")
    s_show.add_argument("id", help="session id (from sessions list)")
    s_show.add_argument("--json", action="store_true", help="the whole transcript as JSON")
    add_db_option(s_show)
    s_export = ssub.add_parser("export", help="write masks (PNG + COCO RLE), transcript and image")
    s_export.add_argument("id", help="session id (from sessions list)")
    s_export.add_argument("--out", required=True, help="folder to write into (with --zip: the zip file; .zip is added)")
    s_export.add_argument("--zip", action="store_true", help="write one zip file instead of a folder")
    add_db_option(s_export)
    s_delete = ssub.add_parser("delete", help="delete a session, its turns and masks, and images no other session uses")
    s_delete.add_argument("id", help="session id (from sessions list)")
    add_db_option(s_delete)


def cmd_sessions(args: argparse.Namespace, stdout: TextIO) -> int:
    """Handle ``pixelrs sessions list|show|export|delete``."""
    from graphs.export import export_session, export_zip, transcript

    memory = open_memory(args)
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
