"""Every CLI failure the user can cause is one line on stderr and exit status 2, never a traceback.

The table runs the real command line in this process (``ui.cli.main``) against real files,
folders, sockets and databases; a few cases that need a real pipe run in a subprocess.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _data import HDMI_JPG, PRIST_DEV, REPO

from agent.memory import Memory
from ui.cli import main
from ui.cli_errors import missing_module_line

Setup = Callable[[Path], list[str]]


def run(argv: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        code = main(argv, stdin=io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"), stdout=out, stderr=err)
    except SystemExit as exc:  # argparse refuses the arguments themselves (to the real stderr)
        code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def sqlite(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'ok.db'}"


def chat(db: str, *extra: str) -> list[str]:
    return ["chat", "--image", str(HDMI_JPG), "--db", db, *extra]


def text_file_db(tmp: Path) -> list[str]:
    (tmp / "notes.txt").write_text("this is not a database\n" * 100)
    return chat(f"sqlite:///{tmp / 'notes.txt'}")


def directory_db(tmp: Path) -> list[str]:
    (tmp / "folder.db").mkdir()
    return ["sessions", "list", "--db", f"sqlite:///{tmp / 'folder.db'}"]


def read_only_db(tmp: Path) -> list[str]:
    (tmp / "ro.db").touch()
    return ["sessions", "list", "--db", f"sqlite:///file:{tmp / 'ro.db'}?mode=ro&uri=true"]


def busy_port(tmp: Path) -> list[str]:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    busy_port.holder = holder  # type: ignore[attr-defined] - closed by the test
    return ["serve", "--port", str(holder.getsockname()[1]), "--db", sqlite(tmp)]


def out_is_file(tmp: Path) -> list[str]:
    (tmp / "masks").write_text("a file")
    return chat(sqlite(tmp), "--out", str(tmp / "masks"))


def unwritable_out(tmp: Path) -> list[str]:
    if os.geteuid() == 0:  # root writes anywhere chmod allows nothing: sysfs refuses new folders
        return chat(sqlite(tmp), "--out", "/sys/pixelrs-test-out")
    (tmp / "locked").mkdir(mode=0o555)
    return chat(sqlite(tmp), "--out", str(tmp / "locked" / "masks"))


def export_into_file(tmp: Path) -> list[str]:
    (tmp / "export").write_text("a file")
    with Memory(sqlite(tmp)) as mem:
        sid = mem.create_session().id
    return ["sessions", "export", sid, "--out", str(tmp / "export"), "--db", sqlite(tmp)]


def zip_onto_folder(tmp: Path) -> list[str]:
    (tmp / "export.zip").mkdir()
    with Memory(sqlite(tmp)) as mem:
        sid = mem.create_session().id
    return ["sessions", "export", sid, "--zip", "--out", str(tmp / "export"), "--db", sqlite(tmp)]


CASES: list[tuple[str, Setup, bytes, str]] = [
    ("--db is a text file", text_file_db, b"find the HDMI label\n", "is not a database (the file exists but is not SQLite)"),
    ("--db is a folder", directory_db, b"", "cannot open the database file"),
    ("--db is read-only", read_only_db, b"", "is read-only"),
    ("--db is not a URL", lambda t: ["sessions", "list", "--db", "my database.db"], b"", "is not a database URL"),
    ("--db of an unknown kind", lambda t: ["sessions", "list", "--db", "mongo://host/db"], b"", "unknown database kind"),
    ("--db on an unreachable server", lambda t: ["sessions", "list", "--db", "postgresql+psycopg://u@127.0.0.1:9/db?connect_timeout=2"], b"", "cannot reach the database server"),
    ("--out is a file", out_is_file, b"find the HDMI label\n", "is a file; give a folder"),
    ("--out cannot be written", unwritable_out, b"find the HDMI label\n", "cannot write there"),
    ("export --out is a file", export_into_file, b"", "is a file; give a folder"),
    ("export --zip onto a folder", zip_onto_folder, b"", "is a folder; give a file name"),
    ("--port out of range", lambda t: ["serve", "--port", "70000"], b"", "invalid port 70000"),
    ("--port not a number", lambda t: ["serve", "--port", "http"], b"", "invalid port 'http'"),
    ("--port in use", busy_port, b"", "it is in use; choose another --port"),
    ("--host unknown", lambda t: ["serve", "--host", "no-such-host.invalid", "--db", sqlite(t)], b"", "unknown host name"),
    ("stdin is not UTF-8", lambda t: chat(sqlite(t)), b"find the \xff label\n", "standard input is not UTF-8 text (byte 0xff at offset 9)"),
    ("only NUL on stdin", lambda t: chat(sqlite(t)), b"\x00\x00\n", "empty"),
    ("a message over the limit", lambda t: chat(sqlite(t)), b"x" * 100_000 + b"\n", "limit"),
    ("model check of a missing folder", lambda t: ["model", "check", "--backend", "miras", "--model-dir", str(t / "nope")], b"", "--model-dir"),
]


@pytest.mark.parametrize(("setup", "stdin", "expect"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_failure_is_one_line_and_exit_2(tmp_path: Path, setup: Setup, stdin: bytes, expect: str, capsys: Any) -> None:
    argv = setup(tmp_path)
    try:
        code, out, err = run(argv, stdin)
    finally:
        holder = getattr(busy_port, "holder", None)
        if holder is not None:
            holder.close()
            del busy_port.holder  # type: ignore[attr-defined]
    err += capsys.readouterr().err  # argparse and model check write to the real stderr
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and expect in lines[0], err
    assert "Traceback" not in err


@pytest.mark.postgres
def test_a_missing_postgres_database_is_one_line(postgres_url: str) -> None:
    from sqlalchemy.engine import make_url

    missing = make_url(postgres_url).set(database="pixelrs_no_such_database").render_as_string(hide_password=False)
    code, _, err = run(["sessions", "list", "--db", missing])
    assert code == 2 and err.strip().splitlines() == [
        f"pixelrs: --db {make_url(missing).render_as_string(hide_password=True)}: the database "
        "'pixelrs_no_such_database' does not exist on the server; create it first (createdb pixelrs_no_such_database)"
    ]


@pytest.mark.parametrize("stdin", [b"find the \xff label\n", b"\x00\n", b"x" * 100_000 + b"\n"])
def test_a_refused_first_message_leaves_no_empty_session(tmp_path: Path, stdin: bytes) -> None:
    code, _, _ = run(chat(sqlite(tmp_path)), stdin)
    assert code == 2
    with Memory(sqlite(tmp_path)) as mem:
        assert mem.list_sessions() == []


def test_missing_optional_packages_name_the_right_extra() -> None:
    assert missing_module_line(ModuleNotFoundError("no psycopg", name="psycopg")).endswith("pip install 'pixelrs[postgres]'")
    assert missing_module_line(ModuleNotFoundError("no torch", name="torch")).endswith("pip install 'pixelrs[miras]'")
    assert missing_module_line(ModuleNotFoundError("x", name="bitsandbytes")).endswith("pip install 'pixelrs[quant]'")


def test_version(capsys: Any) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("pixelrs ")


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """``pixelrs track ... | head -1``: the reader goes away; no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "app.py", "track", str(PRIST_DEV)], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b'{"index": 0')
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == ""
