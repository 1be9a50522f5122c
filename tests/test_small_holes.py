"""The smaller holes of issue 13: each one refused with one line, nothing stored, the session usable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _data import HDMI_JPG

from agent.errors import PixelrsError
from agent.images import load_image_file
from agent.memory import Memory
from agent.types import BoxPrompt, PointPrompt, Prompts
from graphs.runtime import Runtime
from ui.app import ChatUI
from ui.state import UIState


@pytest.fixture
def runtime(tmp_path: Path, lite: Any) -> Any:
    rt = Runtime(memory=Memory(f"sqlite:///{tmp_path / 'h.db'}"), backend=lite)
    yield rt
    rt.close()


def test_a_lone_surrogate_in_the_first_message(runtime: Runtime) -> None:
    app = ChatUI(runtime)
    try:
        state = UIState(owner="browser:" + "s" * 24)
        list(app.send({"text": "\ud800find the HDMI label\udfff", "files": [str(HDMI_JPG)]}, state))
        history = runtime.history(state.session_id or "")
        assert history.session.title == "find the HDMI label"
        assert [(t.role, t.status, t.text) for t in history.turns][0] == ("user", "ok", "find the HDMI label")
        assert history.turns[1].masks  # answered: the HDMI label was segmented
    finally:
        app.close()


BAD = [
    (Prompts(points=[PointPrompt(x=float("nan"), y=10)]), "a correction point is not a number; click on the image."),
    (Prompts(points=[PointPrompt(x=1e308, y=10)]), "the correction point (1e+308, 10) is outside the 639x427 image."),
    (Prompts(box=BoxPrompt(x0=0, y0=0, x1=float("inf"), y1=5)), "a correction point is not a number; click on the image."),
    (Prompts(points=[PointPrompt(x=-1, y=10)]), "the correction point (-1, 10) is outside the 639x427 image."),
    (Prompts(points=[PointPrompt(x=5, y=5)] * 5000), "a correction may have at most 100 clicks; this one has 5000."),
]


@pytest.mark.parametrize(("prompts", "message"), BAD)
def test_bad_corrections_are_refused_before_anything_is_stored(runtime: Runtime, prompts: Prompts, message: str) -> None:
    sid = runtime.new_session()
    runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    before = runtime.history(sid).turns
    with pytest.raises(PixelrsError) as refused:
        runtime.run_turn_sync(sid, "", prompts=prompts)
    assert refused.value.one_line() == message
    assert runtime.history(sid).turns == before
    good = runtime.run_turn_sync(sid, "", prompts=Prompts(points=[PointPrompt(x=400, y=212)]))
    assert good.act.value == "user_edit" and good.masks[0].source == "user-edit"


def test_a_correction_before_any_image_is_refused(runtime: Runtime) -> None:
    sid = runtime.new_session()
    with pytest.raises(PixelrsError, match="upload an image"):
        runtime.run_turn_sync(sid, "", prompts=Prompts(points=[PointPrompt(x=1, y=1)]))
    assert runtime.history(sid).turns == []


def test_api_correction_with_nan_json(runtime: Runtime) -> None:
    app = ChatUI(runtime)
    try:
        state = UIState(owner="browser:" + "n" * 24)
        list(app.send({"text": "find the HDMI label", "files": [str(HDMI_JPG)]}, state))
        turns = len(runtime.history(state.session_id or "").turns)
        updates = list(app.correct(json.dumps({"points": [{"x": float("nan"), "y": 3}]}), state))
        shown = json.dumps(updates[-1][1])
        assert "a correction point is not a number" in shown and "OpenCV" not in shown and "cv2" not in shown
        assert len(runtime.history(state.session_id or "").turns) == turns
    finally:
        app.close()
