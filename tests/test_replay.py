"""graphs.replay: record sessions with the real runtime and lite backend, replay them, compare masks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _data import HDMI_JPG

from agent.errors import UnknownSessionError
from agent.images import load_image_file
from agent.memory import Memory
from agent.types import Act, BoxPrompt, Prompts
from graphs.replay import REPLAY_TITLE_PREFIX, replay_all, replay_session
from graphs.runtime import Runtime
from tools.backends.lite import LiteBackend

TURNS = ["find the HDMI label", "the port to the right of it", "what is it?"]


@pytest.fixture(scope="module")
def hdmi() -> Any:
    return load_image_file(HDMI_JPG)




def record(rt: Runtime, image: Any, turns: list[str] = TURNS) -> str:
    sid = rt.new_session(title="hdmi")
    for i, text in enumerate(turns):
        rt.run_turn_sync(sid, text, image=image if i == 0 else None)
    return sid


def test_lite_replay_of_lite_session_is_identical(tmp_path: Path, lite_runtime: Runtime, hdmi: Any) -> None:
    sid = record(lite_runtime, hdmi)
    stored = lite_runtime.history(sid)
    segmenting = [t for t in stored.turns if t.role == "assistant" and t.masks]
    assert len(segmenting) == 2  # the third turn explains

    # a fresh backend instance: no cache shared with the recording
    replayer = Runtime(memory=lite_runtime.memory, backend=LiteBackend())
    result = replay_session(lite_runtime.memory, sid, replayer, out_dir=tmp_path)

    assert result.replay_session_id and result.replay_session_id != sid
    assert result.ious == [1.0, 1.0]
    assert result.scores.ciou == 1.0 and result.scores.boundary_iou == 1.0
    assert [t["stored_act"] for t in result.turns] == [t["replay_act"] for t in result.turns]
    assert result.skipped == [] and result.user_edits == []
    out = tmp_path / sid
    for turn in segmenting:
        assert (out / f"turn{turn.index:03d}.png").read_bytes() == turn.masks[0].mask().to_png()
    doc = json.loads((out / "replay.json").read_text())
    assert doc["overall"]["count"] == 2 and doc["overall"]["giou"] == 1.0
    assert doc["backend"] == "lite" and doc["replay_backend"] == "lite"
    assert (out / "replay.png").read_bytes().startswith(b"\x89PNG")
    # the stored session is untouched; the replay is a new session with the same user turns
    assert len(lite_runtime.history(sid).turns) == len(stored.turns)
    replayed = lite_runtime.history(result.replay_session_id)
    assert replayed.session.title.startswith(REPLAY_TITLE_PREFIX)
    assert [t.text for t in replayed.turns if t.role == "user"] == TURNS


def test_user_edits_are_skipped_and_reported_separately(tmp_path: Path, lite_runtime: Runtime, hdmi: Any) -> None:
    sid = record(lite_runtime, hdmi, TURNS[:2])
    edit = lite_runtime.run_turn_sync(sid, "", prompts=Prompts(box=BoxPrompt(x0=205, y0=195, x1=270, y1=245)))
    assert edit.act is Act.USER_EDIT and edit.masks
    lite_runtime.run_turn_sync(sid, "what is it?")

    result = replay_session(lite_runtime.memory, sid, lite_runtime, out_dir=tmp_path / "skip")
    assert [s["turn"] for s in result.skipped] == [edit.turn_index]
    assert "cannot be re-run" in result.skipped[0]["reason"]
    assert any("user-edit" in n for n in result.notes)
    assert len(result.scores) == 2 and len(result.user_edits) == 1
    record_ = result.user_edits[0]
    # the stored mask before the edit and the replay's mask at that point are the same lite mask
    assert record_["replay_iou"] == pytest.approx(record_["stored_iou"])
    assert len(result.user_edit_replay) == 1 and len(result.user_edit_stored) == 1
    assert len(lite_runtime.history(result.replay_session_id).turns) == 6  # 3 user turns + replies

    copied = replay_session(lite_runtime.memory, sid, lite_runtime, out_dir=tmp_path / "copy", copy_user_edits=True)
    history = lite_runtime.history(copied.replay_session_id)
    edits = [m for m in history.masks if m.source == "user-edit"]
    assert len(edits) == len(edit.masks)
    assert np.array_equal(edits[0].mask().array, edit.masks[0].mask.array)
    assert history.current_mask is not None  # the explain turn after it sees the copied mask


def test_failed_turns_are_skipped(tmp_path: Path, lite_runtime: Runtime, hdmi: Any) -> None:
    sid = record(lite_runtime, hdmi, TURNS[:1])
    pending = lite_runtime.memory.add_user_turn(sid, "this one crashed")
    lite_runtime.memory.fail_turn(pending.id, "CUDA out of memory")
    result = replay_session(lite_runtime.memory, sid, lite_runtime, out_dir=tmp_path)
    assert result.ious == [1.0]
    assert result.skipped[0]["reason"].startswith("stored turn is failed")


def test_replay_all_with_a_factory_on_another_database(tmp_path: Path, lite_runtime: Runtime, hdmi: Any) -> None:
    first = record(lite_runtime, hdmi, TURNS[:2])
    second = record(lite_runtime, hdmi, TURNS[:1])
    lite_runtime.new_session(title="empty")  # no turns: not replayed
    other_db = f"sqlite:///{tmp_path / 'other.db'}"
    made: list[Runtime] = []

    def factory() -> Runtime:
        made.append(Runtime(memory=Memory(other_db), backend=LiteBackend()))
        return made[-1]

    doc = replay_all(lite_runtime.memory, factory, out_dir=tmp_path / "all", progress=False)
    assert doc["sessions"] == 2 and doc["overall"]["count"] == 3 and doc["overall"]["giou"] == 1.0
    assert {r["session_id"] for r in doc["per_session"]} == {first, second}
    assert (tmp_path / "all" / "replay_all.json").is_file() and (tmp_path / "all" / "replay_ious.png").is_file()
    assert (tmp_path / "all" / first / "replay.json").is_file()
    assert len(made) == 1
    # replays went to the other database; the source database is unchanged
    assert len(lite_runtime.list_sessions()) == 3
    with Memory(other_db) as other:
        assert len(other.list_sessions()) == 2

    # replaying in the same database: earlier replays are not replayed again
    replay_all(lite_runtime.memory, lite_runtime, out_dir=tmp_path / "again", progress=False)
    doc = replay_all(lite_runtime.memory, lite_runtime, out_dir=tmp_path / "again2", progress=False)
    assert doc["sessions"] == 2


def test_unknown_session(tmp_path: Path, lite_runtime: Runtime) -> None:
    with pytest.raises(UnknownSessionError):
        replay_session(lite_runtime.memory, "0" * 32, lite_runtime, out_dir=tmp_path)


def test_lite_masks_do_not_depend_on_earlier_turns_on_the_same_thread(lite_runtime: Runtime, hdmi: Any) -> None:
    # GrabCut draws from OpenCV's per-thread RNG; turns now run inline on the caller's thread,
    # so an unseeded RNG would make the same turn differ by a few pixels from run to run.
    first, second = record(lite_runtime, hdmi), record(lite_runtime, hdmi)
    masks = [[m.mask().array for m in lite_runtime.history(sid).masks] for sid in (first, second)]
    assert len(masks[0]) == len(masks[1]) >= 2
    for a, b in zip(*masks, strict=True):
        assert np.array_equal(a, b)
