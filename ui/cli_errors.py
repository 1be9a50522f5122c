"""Every way a ``pixelrs`` command can fail on the user's side, as one line and exit status 2.

The command line promises (ARCHITECTURE.md) exit 0 on success and 2 with a one-line reason for
bad arguments or unusable input, never a traceback for a user mistake. This module turns the
failures that come from the user's environment into such lines: a ``--db`` that is not a
database URL, not a database, a folder, read-only, on an unreachable server or missing there;
an ``--out`` that is a file or cannot be written; a ``--port`` out of range or in use; standard
input that is not UTF-8; a missing optional package; a closed pipe (``pixelrs ... | head``).
Anything else is a bug: one line too, exit 1, with the traceback only under ``PIXELRS_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TextIO

import sqlalchemy.exc as sa_exc
from sqlalchemy.engine import make_url

from agent.errors import PixelrsError

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_BUG = 1
EXIT_BROKEN_PIPE = 141
"""What a shell reports for a program stopped by SIGPIPE (128 + 13): the reader went away."""

EXTRA_OF_MODULE: Mapping[str, str] = MappingProxyType({
    "torch": "miras", "torchvision": "miras", "transformers": "miras", "safetensors": "miras",
    "segment_anything": "miras", "timm": "miras", "psycopg": "postgres", "psycopg2": "postgres",
    "bitsandbytes": "quant",
})
"""Which pixelrs extra installs a missing optional module."""

DB_EXAMPLES = "e.g. sqlite:///path/to/pixelrs.db or postgresql+psycopg://user@host/dbname"


class CliError(PixelrsError):
    """A user mistake on the command line (bad argument, unreadable input)."""


def port_number(text: str) -> int:
    """Parse ``--port``: an integer from 1 to 65535 (argparse reports anything else)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: give a number from 1 to 65535") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {port}: give a number from 1 to 65535")
    return port


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`CliError` unless ``host:port`` can be bound now (checked before any model loads)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CliError(f"--host {host}: unknown host name ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            why = "it is in use" if exc.errno in (98, 48, 10048) else (exc.strerror or str(exc))
            raise CliError(f"cannot serve on {host}:{port}: {why}; choose another --port") from None


def writable_dir(path: str | Path, flag: str = "--out") -> Path:
    """Create (if needed) the folder ``path`` and prove it writable, or raise :class:`CliError`."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CliError(f"{flag} {out} is a file; give a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".pixelrs-write-check-"):
            pass
    except OSError as exc:
        raise CliError(f"{flag} {out}: cannot write there ({exc.strerror or exc})") from None
    return out


def writable_file(path: str | Path, suffix: str, flag: str = "--out") -> Path:
    """Return ``path`` with ``suffix`` added if missing, after checking a file can be written there."""
    out = Path(path)
    if out.suffix.lower() != suffix:
        out = out.with_name(out.name + suffix)
    if out.is_dir():
        raise CliError(f"{flag} {out} is a folder; give a file name")
    writable_dir(out.parent, flag)
    return out


def stdin_lines(stdin: TextIO) -> list[str]:
    """Read standard input as UTF-8 lines, or raise :class:`CliError` naming the first bad byte."""
    raw = getattr(stdin, "buffer", None)
    try:
        if raw is not None:
            text = raw.read().decode("utf-8")
            if text.startswith("\ufeff"):
                text = text[1:]
        else:
            text = stdin.read()
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex()
        raise CliError(
            f"standard input is not UTF-8 text (byte 0x{bad} at offset {exc.start}); nothing was stored"
        ) from None
    return text.splitlines()


def missing_module_line(exc: ImportError) -> str:
    """Say which package or pixelrs extra to install for a missing module."""
    name = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(name)
    if extra:
        return f"this needs the optional package {name}; install it with: pip install 'pixelrs[{extra}]'"
    return f"this needs the package {name or 'that is missing'}; install it with pip"


def _shown_db(url: str | None) -> str:
    if not url:
        return "the default database"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - the URL itself may be what is wrong
        return repr(url)


def database_line(exc: BaseException, url: str | None) -> str | None:
    """One line for a database failure (bad URL, not a database, unreachable, ...), or None."""
    shown = _shown_db(url)
    if isinstance(exc, sa_exc.NoSuchModuleError):
        kind = str(exc).rsplit(":", 1)[-1].strip() or "?"
        return f"--db {shown}: unknown database kind {kind!r} ({DB_EXAMPLES})"
    if isinstance(exc, sa_exc.ArgumentError):
        return f"--db {shown} is not a database URL ({DB_EXAMPLES})"
    if not isinstance(exc, sa_exc.DBAPIError | sa_exc.OperationalError):
        return None
    reason = " ".join(str(getattr(exc, "orig", exc)).split())
    low = reason.lower()
    if "file is not a database" in low or "file is encrypted" in low:
        return f"--db {shown} is not a database (the file exists but is not SQLite)"
    if "unable to open database file" in low:
        return f"--db {shown}: cannot open the database file (is it a folder, or in one that cannot be created?)"
    if "readonly database" in low or "read-only" in low:
        return f"--db {shown} is read-only; pixelrs must be able to write to it"
    if "does not exist" in low and "database" in low:
        name = make_url(url).database if url else "?"
        return f"--db {shown}: the database {name!r} does not exist on the server; create it first (createdb {name})"
    if "password authentication failed" in low or "role" in low and "does not exist" in low:
        return f"--db {shown}: the server refused the login ({reason[:160]})"
    if any(s in low for s in ("connection refused", "could not connect", "timeout", "timed out",
                              "could not translate host", "name or service not known", "no route to host",
                              "connection failed", "server closed the connection")):
        return f"--db {shown}: cannot reach the database server ({reason[:160]})"
    return f"--db {shown}: the database cannot be used ({reason[:200]})"


def failure_line(exc: BaseException, db_url: str | None) -> tuple[int, str]:
    """Exit status and one line for an exception a command raised."""
    if isinstance(exc, PixelrsError):
        return EXIT_BAD_INPUT, exc.one_line()
    line = database_line(exc, db_url)
    if line is not None:
        return EXIT_BAD_INPUT, line
    if isinstance(exc, ImportError):
        return EXIT_BAD_INPUT, missing_module_line(exc)
    if isinstance(exc, UnicodeDecodeError):
        return EXIT_BAD_INPUT, "the input is not UTF-8 text; nothing was stored"
    if isinstance(exc, OSError) and exc.filename is not None:
        return EXIT_BAD_INPUT, f"cannot use {exc.filename}: {exc.strerror or exc}"
    name = type(exc).__name__
    text = " ".join(str(exc).split())[:200]
    return EXIT_BUG, f"internal error ({name}: {text}); set PIXELRS_DEBUG=1 to see the traceback"


def run_guarded(command: Callable[[], int], db_url: str | None, stdout: TextIO, stderr: TextIO) -> int:
    """Run a command; turn every failure into one line on ``stderr`` and its exit status."""
    try:
        return command()
    except KeyboardInterrupt:
        print("pixelrs: interrupted", file=stderr)
        return 130
    except BrokenPipeError:
        _silence(stdout)
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - the one place that turns failures into lines
        status, line = failure_line(exc, db_url)
        if status == EXIT_BUG and os.environ.get("PIXELRS_DEBUG"):
            traceback.print_exc(file=stderr)
        print(f"pixelrs: {line}", file=stderr)
        return status


def _silence(stdout: TextIO) -> None:
    """After the reader of stdout went away, stop Python from failing again when it flushes at exit."""
    if stdout is sys.stdout:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
