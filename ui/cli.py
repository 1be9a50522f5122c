"""The ``pixelrs`` command line: chat, sessions, track, model tooling and serve.

Contract (ARCHITECTURE.md): exit 0 on success, 2 on bad arguments or unreadable input with a
one-line reason on stderr, never a traceback for a user mistake.

This module builds the parser and dispatches; each group of sub-commands registers its options
and runs in a module of its own (:mod:`ui.cli_serve`, :mod:`ui.cli_chat`, :mod:`ui.cli_sessions`,
:mod:`ui.cli_eval`), with the shared options in :mod:`ui.cli_options`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from ui.cli_chat import add_chat_command, cmd_chat
from ui.cli_errors import EXIT_BAD_INPUT, CliError, run_guarded
from ui.cli_eval import add_evaluation_commands, cmd_eval, cmd_replay, cmd_score, cmd_track
from ui.cli_serve import add_serve_command, cmd_serve
from ui.cli_sessions import add_sessions_command, cmd_sessions

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


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser (also used by the docs and tests)."""
    parser = _Parser(prog="pixelrs", description="Multi-turn pixel-level reasoning segmentation.")
    parser.add_argument("--version", action="version", version=f"pixelrs {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    add_serve_command(sub)
    add_chat_command(sub)
    add_sessions_command(sub)
    add_evaluation_commands(sub)

    try:
        from tools.backends.model_cli import add_model_commands
    except ImportError:  # the model tooling needs the [miras] extra
        model = sub.add_parser("model", help="checkpoint tooling (needs the [miras] extra)")
        model.add_argument("rest", nargs=argparse.REMAINDER, help="keys | check ...")
    else:
        add_model_commands(sub)
    return parser


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
