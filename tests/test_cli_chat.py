"""The core loop end to end through the real ``pixelrs`` CLI (separate processes, real DBs)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from _data import HDMI_JPG, HDMI_WORD_BOX, REPO, decompression_bomb_png

from agent.types import Mask

CONVERSATION = [
    "find the HDMI label",
    "what does it say?",
    "now the port next to it",
    "no, the one on the right",
]


def run_cli(*args: str, stdin: str = "", timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import sys, app; sys.exit(app.main(sys.argv[1:]))", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    iw = max(0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union else 0.0


@pytest.fixture(scope="module")
def hdmi_chat(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Run the scripted conversation once on SQLite and share its outputs."""
    tmp = tmp_path_factory.mktemp("chat")
    db = f"sqlite:///{tmp / 'pixelrs.db'}"
    proc = run_cli("chat", "--image", str(HDMI_JPG), "--db", db, "--out", str(tmp / "masks"), "--json", stdin="\n".join(CONVERSATION) + "\n")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return {"db": db, "rows": rows, "tmp": tmp}


def test_four_turns_give_masks_acts_and_intent_history(hdmi_chat: dict[str, object]) -> None:
    rows = hdmi_chat["rows"]
    assert isinstance(rows, list) and len(rows) == 4
    assert [r["act"] for r in rows] == ["new_target", "explain", "new_target", "correct"]
    assert len({r["session"] for r in rows}) == 1
    assert [r["turn"] for r in rows] == [0, 2, 4, 6]
    for row in rows:
        assert set(row) >= {"session", "turn", "act", "intent", "masks", "explanation", "latency_ms"}
        assert row["explanation"].strip()
    segmenting = [r for r in rows if r["act"] != "explain"]
    assert all(len(r["masks"]) >= 1 for r in segmenting)
    assert rows[1]["masks"] == []
    assert "HDMI" in rows[1]["explanation"]
    ops = [h["op"] for h in rows[-1]["intent"]["history"]]
    assert ops == ["new", "keep", "new", "correct"]
    # The port is a different region from the label, and the correction moved to the right.
    label = Mask.from_png(open(rows[0]["masks"][0], "rb").read())
    port = Mask.from_png(open(rows[2]["masks"][0], "rb").read())
    corrected = Mask.from_png(open(rows[3]["masks"][0], "rb").read())
    assert label.iou(port) < 0.5
    assert corrected.iou(port) < 0.5
    assert corrected.bbox[0] + corrected.bbox[2] / 2 > port.bbox[0] + port.bbox[2] / 2


def test_hdmi_label_mask_overlaps_printed_word(hdmi_chat: dict[str, object]) -> None:
    rows = hdmi_chat["rows"]
    assert isinstance(rows, list)
    mask = Mask.from_png(open(rows[0]["masks"][0], "rb").read())
    assert (mask.height, mask.width) == (427, 639)
    x0, y0, x1, y1 = HDMI_WORD_BOX
    covered = mask.array[y0:y1, x0:x1].mean()
    assert covered > 0.5, f"mask covers only {covered:.0%} of the printed word"
    x, y, w, h = mask.bbox
    assert _box_iou((x, y, x + w, y + h), HDMI_WORD_BOX) > 0.3


def test_session_survives_the_process(hdmi_chat: dict[str, object]) -> None:
    rows = hdmi_chat["rows"]
    assert isinstance(rows, list)
    session = rows[0]["session"]
    shown = run_cli("sessions", "show", session, "--db", str(hdmi_chat["db"]))
    assert shown.returncode == 0, shown.stderr
    for text in CONVERSATION:
        assert text in shown.stdout
    assert shown.stdout.count("mask ") >= 3
    listed = run_cli("sessions", "list", "--db", str(hdmi_chat["db"]))
    assert session in listed.stdout
    as_json = json.loads(run_cli("sessions", "show", session, "--json", "--db", str(hdmi_chat["db"])).stdout)
    assert [t["role"] for t in as_json["turns"]] == ["user", "assistant"] * 4
    assert all(t["status"] == "ok" for t in as_json["turns"])


def test_continue_session_and_export(hdmi_chat: dict[str, object]) -> None:
    rows = hdmi_chat["rows"]
    assert isinstance(rows, list)
    session, db, tmp = rows[0]["session"], str(hdmi_chat["db"]), hdmi_chat["tmp"]
    more = run_cli("chat", "--session", session, "--db", db, "--json", stdin="why is it important?\n")
    assert more.returncode == 0, more.stderr
    row = json.loads(more.stdout.strip().splitlines()[-1])
    assert row["session"] == session and row["turn"] == 8 and row["act"] == "explain"
    out = tmp / "export"  # type: ignore[operator]
    exported = run_cli("sessions", "export", session, "--out", str(out), "--db", db)
    assert exported.returncode == 0, exported.stderr
    doc = json.loads((out / "masks.json").read_text())
    assert len(doc["annotations"]) >= 3
    first = doc["annotations"][0]
    assert Mask.from_png((out / first["file"]).read_bytes()).iou(Mask.from_rle(first["segmentation"])) == 1.0
    assert {"turn", "label", "score"} <= set(first)


def test_conversation_on_postgres(postgres_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = run_cli("chat", "--image", str(HDMI_JPG), "--db", postgres_url, "--json", stdin="\n".join(CONVERSATION) + "\n")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["act"] for r in rows] == ["new_target", "explain", "new_target", "correct"]
    shown = run_cli("sessions", "show", rows[0]["session"], "--db", postgres_url)
    assert shown.returncode == 0 and "no, the one on the right" in shown.stdout


@pytest.mark.parametrize(
    "setup, stdin, expect",
    [
        ("missing", "find the label\n", "not found"),
        ("corrupt", "find the label\n", "corrupt"),
        ("text", "find the label\n", "not an image"),
        ("bomb", "find the label\n", "too large"),
        ("ok", "", "no messages"),
        ("ok", "   \n\n", "no messages"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, setup: str, stdin: str, expect: str) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    image = tmp_path / "img.png"
    if setup == "missing":
        image = tmp_path / "nope.png"
    elif setup == "corrupt":
        image.write_bytes(HDMI_JPG.read_bytes()[:600])
    elif setup == "text":
        image.write_text("<html>not an image</html>")
    elif setup == "bomb":
        image.write_bytes(decompression_bomb_png())
    else:
        image = HDMI_JPG
    proc = run_cli("chat", "--image", str(image), "--db", db, stdin=stdin)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0].lower(), proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_text_turns_keep_the_session(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    huge = "x" * 100_000
    hostile = "<script>alert(1)</script> '); DROP TABLE turns; -- find the HDMI label"
    proc = run_cli("chat", "--image", str(HDMI_JPG), "--db", db, "--json", stdin=f"find the HDMI label\n{huge}\n{hostile}\n")
    assert proc.returncode == 2
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and "limit" in errors[0]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 2 and rows[0]["session"] == rows[1]["session"]
    shown = run_cli("sessions", "show", rows[0]["session"], "--json", "--db", db)
    turns = json.loads(shown.stdout)["turns"]
    assert hostile in [t["text"] for t in turns]
    assert len(turns) == 4  # the oversized message was refused before storing; nothing lost


def test_unknown_session_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    for args in (["sessions", "show", "nope"], ["sessions", "delete", "'; DROP TABLE sessions;--"], ["chat", "--session", "deadbeef"]):
        proc = run_cli(*args, "--db", db, stdin="hello\n")
        assert proc.returncode == 2, (args, proc.stderr)
        assert "unknown session" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_bad_arguments_exit_2() -> None:
    proc = run_cli("chat", "--dtype", "fp8")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = run_cli("nonsense")
    assert proc.returncode == 2
