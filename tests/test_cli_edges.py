"""Rough edges a new user hits on the command line, each with its knowable result."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from _data import HDMI_JPG, PRIST_DEV

from ui.auth import resolve_auth
from ui.cli import build_parser, main


def run(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_chat_mask_files_and_exports_number_turns_alike(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    code, out, err = run(["chat", "--image", str(HDMI_JPG), "--db", db, "--out", str(tmp_path / "chat"), "--json"],
                         "find the HDMI label\nwhat does it say?\nnow the port next to it\n")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    sid = rows[0]["session"]
    chat_turns = sorted({Path(f).name.split("_")[1] for r in rows for f in r["masks"]})
    assert chat_turns == ["turn001", "turn005"]  # the answers that hold masks, as in the export
    code, out, _ = run(["sessions", "export", sid, "--out", str(tmp_path / "export"), "--db", db])
    exported = sorted({p.name.split("_")[0] for p in (tmp_path / "export").glob("turn*.png")})
    assert code == 0 and exported == chat_turns
    code, out, _ = run(["sessions", "export", sid, "--zip", "--out", str(tmp_path / "bundle"), "--db", db])
    assert code == 0 and out.strip() == str(tmp_path / "bundle.zip")  # .zip added
    assert "masks.json" in zipfile.ZipFile(tmp_path / "bundle.zip").namelist()
    code, out, _ = run(["sessions", "list", "--db", db])
    assert code == 0 and "\t3 turns\t" in out
    one = f"sqlite:///{tmp_path / 'one.db'}"
    run(["chat", "--image", str(HDMI_JPG), "--db", one], "find the HDMI label\n")
    assert "\t1 turn\t" in run(["sessions", "list", "--db", one])[1]


def test_track_summary_is_the_last_line_of_stdout() -> None:
    code, out, err = run(["track", str(PRIST_DEV), "--summary"])
    lines = out.splitlines()
    assert code == 0 and err == "" and len(lines) == 103
    summary = json.loads(lines[-1])["summary"]
    assert summary["n"] == 102 and 0 < summary["mean_token_f1"] <= 1


def test_auth_can_be_given_several_times() -> None:
    args = build_parser().parse_args(["serve", "--auth", "ann:pa", "--auth", "bob:pb"])
    assert resolve_auth(args.auth) == [("ann", "pa"), ("bob", "pb")]


def test_every_option_says_what_it_does(capsys: Any) -> None:
    parser = build_parser()
    missing = []

    def walk(p: Any, path: str) -> None:
        for action in p._actions:
            if action.dest in ("help", "version") or action.__class__.__name__ == "_SubParsersAction":
                if action.__class__.__name__ == "_SubParsersAction":
                    for name, child in action.choices.items():
                        walk(child, f"{path} {name}")
                continue
            if not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(parser, "pixelrs")
    assert missing == []
