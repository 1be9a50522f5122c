"""The app's handlers called directly (no server) with a real Runtime on a temp SQLite database."""

from __future__ import annotations

import importlib
import io
import json
import pkgutil
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from PIL import Image

import ui as ui_package
from agent.images import sha256_hex
from agent.memory import Memory
from agent.types import Mask
from graphs import replies
from graphs.runtime import Runtime
from tests._data import HDMI_JPG, decompression_bomb_png
from tools.backends.lite import LiteBackend
from ui.app import ChatUI
from ui.core import PanelUpdate
from ui.exports import build_export
from ui.state import UIState


@pytest.fixture(scope="module")
def lite() -> LiteBackend:
    return LiteBackend()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory, lite: LiteBackend) -> Runtime:
    db = tmp_path_factory.mktemp("ui") / "db.sqlite"
    rt = Runtime(memory=Memory(f"sqlite:///{db}"), backend=lite)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def ui(runtime: Runtime) -> ChatUI:
    app = ChatUI(runtime)
    yield app
    app.close()


@pytest.fixture(scope="module")
def hdmi_path() -> str:
    return str(HDMI_JPG)


def run(gen) -> list[tuple[Any, ...]]:
    return list(gen)


PANEL = len(PanelUpdate._fields)


def panel(update: tuple[Any, ...]) -> PanelUpdate:
    """The panel part of a send/correct yield (the first output is the message box)."""
    return PanelUpdate(*update[1:])


PICTURE = re.compile(r'<img class="pr-pic" src="pixelrs/img/([0-9a-f]{24}\.\w+)\?')


def chat_images(chat: list[dict[str, Any]], ui: ChatUI | None = None) -> list[str]:
    """Names of the overlay pictures in assistant messages (their files when ``ui`` is given)."""
    names = []
    for message in chat:
        content = message["content"] if isinstance(message["content"], list) else [message["content"]]
        if message["role"] == "assistant":
            names += [m.group(1) for c in content if isinstance(c, str) and (m := PICTURE.match(c))]
    return [str(ui.files.chat_file(n)) for n in names] if ui is not None else names


def last_text(chat: list[dict[str, Any]]) -> str:
    content = chat[-1]["content"]
    items = content if isinstance(content, list) else [content]
    return " ".join(c for c in items if isinstance(c, str))


def converse(ui: ChatUI, state: UIState, hdmi_path: str) -> list[list[tuple[Any, ...]]]:
    turns = [
        {"text": "find the HDMI label", "files": [hdmi_path]},
        {"text": "what does it say?", "files": []},
        {"text": "now the port next to it", "files": []},
    ]
    out = []
    for message in turns:
        out.append(run(ui.send(message, state)))
        ui.after_turn(state)
    return out


def test_three_turns_stream_progress_then_mask_then_text(ui: ChatUI, runtime: Runtime, hdmi_path: str) -> None:
    state = UIState()
    yields = converse(ui, state, hdmi_path)
    first = panel(yields[0][0])
    # the very first update shows the user's message and a pending progress bubble, before any model ran
    assert first.chat[-2]["role"] == "user" and first.chat[-1]["metadata"]["status"] == "pending"
    assert "Tracking intent" in first.chat[-1]["metadata"]["title"]
    # the mask appears in the chat before the explanation text
    with_image = [panel(y).chat for y in yields[0] if chat_images(panel(y).chat)]
    assert with_image, "no overlay image was streamed"
    assert len(with_image[0][-1]["content"]) == 1 and PICTURE.match(with_image[0][-1]["content"][0])
    final = panel(yields[-1][-1])
    assert len(chat_images(final.chat)) == 2  # two segmenting turns, the question in between has none
    for path in chat_images(final.chat, ui):
        assert Image.open(path).size == (639, 427)
    assert final.state.session_id and final.browser["session"] == final.state.session_id
    history = runtime.history(final.state.session_id, owner=state.owner)
    assert [t.role for t in history.turns] == ["user", "assistant"] * 3
    assert all(t.status == "ok" for t in history.turns)
    assert final.state.mask_id == history.current_mask.id
    assert "port" in final.intent and "HDMI label" in final.intent  # target + relation anchor
    assert "Revision history (3)" in final.intent
    assert "lite" in final.status and "last turn" in final.status
    assert final.side_image and Path(final.side_image).exists()


def test_exports_match_memory(ui: ChatUI, runtime: Runtime, hdmi_path: str) -> None:
    state = UIState()
    converse(ui, state, hdmi_path)
    history = runtime.history(state.session_id, owner=state.owner)
    panel_html = ui.exports(state)
    assert all(f'<a id="{elem_id}"' in panel_html for elem_id in ("pr-dl-mask", "pr-dl-masks", "pr-dl-coco", "pr-dl-session"))
    assert "disabled" in ui.exports(UIState()) and "<a " not in ui.exports(UIState())  # nothing to export yet

    def built(kind):  # noqa: ANN001, ANN202 - what the export link's route sends
        return build_export(runtime.memory, ui.files, history, kind, mask_id=state.mask_id)

    stored = history.current_mask.mask()
    mask_png = built("mask.png")
    assert mask_png.name.endswith(".png") and Mask.from_png(mask_png.data).iou(stored) == 1.0
    coco = json.loads(built("masks.json").data)
    assert [a["id"] for a in coco["annotations"]] == [m.id for m in history.masks]
    assert {"label", "turn", "score", "segmentation"} <= set(coco["annotations"][0])
    with zipfile.ZipFile(io.BytesIO(built("masks.zip").data)) as archive:
        names = archive.namelist()
        assert "masks.json" in names and len(names) == len(history.masks) + 1
    with zipfile.ZipFile(io.BytesIO(built("session.zip").data)) as archive:
        assert "session.json" in archive.namelist()
    after = ui.after_turn(state)
    assert after[0]["interactive"] is True  # the message box is enabled again
    assert after[1] and after[1][0][1].startswith("find the HDMI label")  # gallery caption


def test_resume_after_reload_and_after_restart(ui: ChatUI, runtime: Runtime, hdmi_path: str, tmp_path) -> None:
    state = UIState()
    converse(ui, state, hdmi_path)
    browser = {"token": state.owner, "session": state.session_id}
    fresh = UIState()
    loaded = PanelUpdate(*ui.on_load(browser, fresh)[:PANEL])
    assert loaded.state.session_id == state.session_id and loaded.state.owner == state.owner
    assert len(chat_images(loaded.chat)) == 2
    assert loaded.state.mask_id == state.mask_id
    assert "port" in loaded.intent and loaded.side_image
    # the resumed conversation continues on the stored target
    run(ui.send({"text": "why is it important?", "files": []}, loaded.state))
    assert runtime.history(state.session_id, owner=state.owner).turns[-1].status == "ok"
    # a new ChatUI over the same database (server restart) with the same browser storage
    restarted = ChatUI(runtime)
    try:
        again = PanelUpdate(*restarted.on_load(browser, UIState())[:PANEL])
        assert again.state.session_id == state.session_id and len(chat_images(again.chat)) == 2
    finally:
        restarted.close()


def test_sessions_are_private_per_browser(ui: ChatUI, runtime: Runtime, hdmi_path: str) -> None:
    alice, bob = UIState(), UIState()
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, alice))
    run(ui.send({"text": "hello", "files": []}, bob))
    assert alice.owner != bob.owner
    assert [s for s in alice.listed_ids if s == bob.session_id] == []
    ui.sessions_gallery(alice)
    ui.sessions_gallery(bob)
    assert alice.session_id in alice.listed_ids and bob.session_id not in alice.listed_ids
    assert bob.session_id in bob.listed_ids and alice.session_id not in bob.listed_ids
    # bob cannot open alice's session by id: one-line message, nothing of alice's shown
    opened = PanelUpdate(*ui.open_session(alice.session_id, bob)[:PANEL])
    assert opened.state.session_id is None
    assert len(opened.chat) == 1 and "belongs to another user" in opened.chat[0]["content"]
    assert not chat_images(opened.chat)


class _Request:
    """Stands in for gr.Request with a logged-in user."""

    def __init__(self, username: str, query: dict[str, str] | None = None) -> None:
        self.username = username
        self.query_params = query or {}


def test_login_owner_and_query_param_resume(ui: ChatUI, runtime: Runtime, hdmi_path: str) -> None:
    state = UIState()
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, state, _Request("alice")))
    assert state.owner == "alice"
    assert runtime.memory.get_session(state.session_id).owner == "alice"
    # alice on another device: ?session= in the URL resumes it
    other = PanelUpdate(*ui.on_load({}, UIState(), _Request("alice", {"session": state.session_id}))[:PANEL])
    assert other.state.session_id == state.session_id
    # mallory with the same URL gets a one-line refusal
    refused = PanelUpdate(*ui.on_load({}, UIState(), _Request("mallory", {"session": state.session_id}))[:PANEL])
    assert refused.state.session_id is None and "another user" in refused.chat[0]["content"]
    # alice's session remembered by a shared browser: mallory silently gets a fresh session
    remembered = PanelUpdate(*ui.on_load({"session": state.session_id}, UIState(), _Request("mallory"))[:PANEL])
    assert remembered.state.session_id is None and remembered.chat == []


@pytest.mark.parametrize(
    ("name", "data", "expect"),
    [
        ("notes.txt", b"just some text, not an image", "not an image"),
        ("broken.jpg", None, "corrupt"),
        ("bomb.png", None, "too large"),
    ],
)
def test_bad_uploads_give_one_line_messages(ui: ChatUI, runtime: Runtime, hdmi_path: str, tmp_path, name, data, expect) -> None:
    if name == "broken.jpg":
        data = Path(hdmi_path).read_bytes()[:3000]
    elif name == "bomb.png":
        data = decompression_bomb_png()
    path = tmp_path / name
    path.write_bytes(data)
    state = UIState()
    yields = run(ui.send({"text": "find the label", "files": [str(path)]}, state))
    chat = panel(yields[-1]).chat
    notice = chat[-1]["content"].replace("\\", "")
    assert notice.startswith("⚠️") and expect in notice and "\n" not in notice and "Traceback" not in notice
    assert state.session_id is None  # the refused first message left no empty session behind
    # the conversation carries on in the same tab
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    assert chat_images(state.chat)


def test_bad_text_inputs(ui: ChatUI, runtime: Runtime, hdmi_path: str) -> None:
    state = UIState()
    run(ui.send({"text": "   ", "files": []}, state))
    assert "empty" in state.chat[-1]["content"] and state.session_id is None
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    run(ui.send({"text": "x" * 20000, "files": []}, state))
    assert "limit is 4000" in last_text(state.chat)
    run(ui.send({"text": "<img src=x onerror=alert(1)> <b>bold</b>", "files": []}, state))
    user = state.chat[-3] if state.chat[-1]["role"] == "assistant" and state.chat[-2].get("metadata") else state.chat[-2]
    shown = " ".join(c for c in user["content"] if isinstance(c, str))
    assert "<img" not in shown and "&lt;img" in shown and "<b>" not in shown
    run(ui.send({"text": "two images", "files": [hdmi_path, hdmi_path]}, state))
    assert "one image at a time" in state.chat[-1]["content"]
    stored = runtime.history(state.session_id, owner=state.owner)
    assert "<img src=x onerror=alert(1)> <b>bold</b>" in [t.text for t in stored.turns]  # stored verbatim


def test_image_less_first_message_asks_for_an_image(ui: ChatUI) -> None:
    state = UIState()
    run(ui.send("hello there", state))
    assert replies.NO_IMAGE in last_text(state.chat).replace("\\", "")
    assert state.session_id is not None


def test_unknown_session_id(ui: ChatUI) -> None:
    state = UIState()
    out = PanelUpdate(*ui.open_session("no-such-session", state)[:PANEL])
    assert "No session" in out.chat[0]["content"] and out.state.session_id is None
    out = PanelUpdate(*ui.open_session("  ", state)[:PANEL])
    assert "Type a session id" in out.chat[-1]["content"]


def test_click_correction_changes_the_mask(ui: ChatUI, runtime: Runtime, hdmi_path: str) -> None:
    state = UIState()
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    before = Mask.from_rle(state.mask_rle)
    # nothing clicked yet: a one-line hint, no turn
    turns_before = len(runtime.history(state.session_id, owner=state.owner).turns)
    run(ui.correct("", state))
    assert "Click the image" in state.chat[-1]["content"]
    state.click_mode = "positive"
    ui.add_click(state, [400 * state.display_scale, 215 * state.display_scale])
    state.click_mode = "negative"
    ui.add_click(state, [235 * state.display_scale, 220 * state.display_scale])
    assert [p[2] for p in state.points] == [True, False]
    side, marks, _ = ui.add_click(state, None)
    assert "1 positive + 1 negative" in marks
    yields = run(ui.correct("", state))
    final = panel(yields[-1])
    after = Mask.from_rle(final.state.mask_rle)
    assert after.iou(before) < 0.9, "the correction did not change the mask"
    history = runtime.history(state.session_id, owner=state.owner)
    assert len(history.turns) == turns_before + 2
    assert history.current_mask.source == "user-edit" and history.current_mask.id == final.state.mask_id
    assert not final.state.points  # the clicks were applied and cleared
    assert "Correction" in final.chat[-3]["content"][0]
    # and the conversation continues on the corrected mask
    run(ui.send({"text": "why is this part important?", "files": []}, state))
    assert runtime.history(state.session_id, owner=state.owner).turns[-1].status == "ok"


def test_box_correction_and_api_prompts(ui: ChatUI, runtime: Runtime, hdmi_path: str) -> None:
    state = UIState()
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    ui.set_click_mode("box", state)
    ui.add_click(state, [380 * state.display_scale, 190 * state.display_scale])
    assert state.box_start is not None and state.box is None
    ui.add_click(state, [300 * state.display_scale, 250 * state.display_scale])
    assert state.box == pytest.approx((300, 190, 380, 250), abs=1)
    run(ui.correct("", state))
    box_mask = runtime.history(state.session_id, owner=state.owner).current_mask
    assert box_mask.source == "user-edit"
    x, y, w, h = box_mask.bbox
    assert x >= 295 and x + w <= 385 and y >= 185 and y + h <= 255
    # programs send prompts as JSON
    run(ui.correct('{"points": [{"x": 236, "y": 220, "positive": true}]}', state))
    assert runtime.history(state.session_id, owner=state.owner).current_mask.id != box_mask.id
    run(ui.correct("{not json", state))
    assert "not valid prompts JSON" in state.chat[-1]["content"]


def test_view_modes_and_clear(ui: ChatUI, hdmi_path: str) -> None:
    state = UIState()
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    pictures = {mode: np.asarray(Image.open(ui.set_view(mode, state)[0])) for mode in ("overlay", "mask", "image")}
    assert ((pictures["mask"] < 30) | (pictures["mask"] > 225)).mean() > 0.99  # black and white (JPEG edges aside)
    assert not np.array_equal(pictures["overlay"], pictures["image"])
    ui.add_click(state, [10, 10])
    side, marks, _ = ui.clear_clicks(state)
    assert "No correction yet" in marks and not state.points


def test_rename_and_two_step_delete(ui: ChatUI, runtime: Runtime, hdmi_path: str) -> None:
    state = UIState()
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    sid = state.session_id
    out = ui.rename("My <b>HDMI</b> port", state)
    assert PanelUpdate(*out[:PANEL]).title == "My <b>HDMI</b> port"
    gallery = out[PANEL]
    assert any(caption.startswith("My <b>HDMI</b> port") for _, caption in gallery)  # captions are plain text
    first = PanelUpdate(*ui.delete(state)[:PANEL])
    assert first.state.confirm_delete and runtime.memory.get_session(sid)
    second = PanelUpdate(*ui.delete(state)[:PANEL])
    assert second.state.session_id is None and sid not in state.listed_ids
    assert sid not in [s.id for s in runtime.list_sessions(owner=state.owner)]


def test_new_session_then_first_message_creates_it(ui: ChatUI, runtime: Runtime, hdmi_path: str) -> None:
    state = UIState()
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    old = state.session_id
    PanelUpdate(*ui.new_session(state)[:PANEL])
    assert state.session_id is None and state.chat == []
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    assert state.session_id not in (None, old)


class _FlakyLite(LiteBackend):
    """A lite backend that runs out of GPU memory on demand."""

    fail_next = False
    fail_explain_next = False

    def segment(self, request):  # noqa: ANN001, ANN201 - same signature as the protocol
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().segment(request)

    def explain(self, request):  # noqa: ANN001, ANN201 - fails after the mask was shown
        if self.fail_explain_next:
            self.fail_explain_next = False
            raise RuntimeError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return super().explain(request)


@pytest.fixture()
def flaky(tmp_path) -> Iterator[tuple[_FlakyLite, Runtime, ChatUI]]:
    """A fresh app over a lite backend that fails on demand, with its own database."""
    backend = _FlakyLite()
    rt = Runtime(memory=Memory(f"sqlite:///{tmp_path / 'db.sqlite'}"), backend=backend)
    app = ChatUI(rt)
    yield backend, rt, app
    app.close()
    rt.close()


def test_backend_error_is_one_line_and_session_continues(flaky, hdmi_path: str) -> None:
    backend, rt, app = flaky
    state = UIState()
    run(app.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    backend.fail_next = True
    run(app.send({"text": "now the port next to it", "files": []}, state))
    notice = state.chat[-1]["content"]
    assert "out of GPU memory" in notice and "\n" not in notice and "Traceback" not in notice
    assert state.chat[-2]["metadata"]["title"] == "Failed"
    run(app.send({"text": "now the port next to it", "files": []}, state))
    history = rt.history(state.session_id, owner=state.owner)
    assert [t.status for t in history.turns if t.role == "user"] == ["ok", "failed", "ok"]
    # the failed turn is shown again after a reload, with its one-line error
    again = PanelUpdate(*app.on_load({"token": state.owner, "session": state.session_id}, UIState())[:PANEL])
    assert any("Not answered" in str(m["content"]) for m in again.chat)
    assert "failed" in again.status


def test_stop_button_stops_the_running_turn(ui: ChatUI, runtime: Runtime, hdmi_path: str) -> None:
    state, other = UIState(), UIState()
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, other))
    ui.stop(other)  # another browser's idle session: nothing to stop, nothing happens
    turn = ui.send({"text": "now the port next to it", "files": []}, state)
    next(turn)  # the turn has started (its message is on screen) ...
    ui.stop(state)  # ... and the Stop button is pressed
    rest = run(turn)
    final = panel(rest[-1])
    assert final.chat[-2]["metadata"]["title"] == "Stopped"
    assert "stopped" in final.chat[-1]["content"] and "\n" not in final.chat[-1]["content"]
    history = runtime.history(state.session_id, owner=state.owner)
    assert [(t.role, t.status) for t in history.turns][-1] == ("user", "failed")
    assert "stopped" in (history.turns[-1].error or "")
    assert final.state.mask_id == history.current_mask.id  # the stopped turn's mask, if shown, is not current
    ui.stop(state)  # after the turn: nothing to stop, the next turn runs to the end
    run(ui.send({"text": "now the port next to it", "files": []}, state))
    history = runtime.history(state.session_id, owner=state.owner)
    assert [t.status for t in history.turns if t.role == "user"] == ["ok", "failed", "ok"]
    assert [t.status for t in runtime.history(other.session_id, owner=other.owner).turns] == ["ok", "ok"]


def test_a_mask_shown_before_a_failure_does_not_stay_current(flaky, tmp_path, hdmi_path: str) -> None:
    backend, rt, app = flaky
    state = UIState()
    run(app.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    first_mask = state.mask_id
    backend.fail_explain_next = True
    run(app.send({"text": "now the port next to it", "files": []}, state))
    assert chat_images(state.chat[-2:]) == [] and "out of GPU memory" in state.chat[-1]["content"]
    assert state.mask_id == first_mask == rt.history(state.session_id, owner=state.owner).current_mask.id
    flipped = tmp_path / "flipped.png"
    Image.open(hdmi_path).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped)
    backend.fail_explain_next = True
    run(app.send({"text": "find the HDMI label", "files": [str(flipped)]}, state))
    assert state.image_sha == sha256_hex(flipped.read_bytes())  # the upload is kept with the message
    assert state.mask_id is None and state.mask_rle is None  # the old image's mask is not current


def test_no_module_level_mutable_state() -> None:
    modules = ["ui", *(f"ui.{m.name}" for m in pkgutil.iter_modules(ui_package.__path__))]
    assert {"ui.app", "ui.core", "ui.sessions", "ui.turns", "ui.cli"} <= set(modules)
    for name in modules:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("__") or isinstance(value, type) or callable(value):
                continue
            assert not isinstance(value, list | dict | set | bytearray), f"{name}.{attr} is mutable module state"
            if isinstance(value, MappingProxyType):
                with pytest.raises(TypeError):
                    value["x"] = "y"  # read-only


def test_create_app_wires_named_endpoints(ui: ChatUI) -> None:
    demo = ui.create_app()
    names = {fn.api_name for fn in demo.fns.values() if fn.api_name and fn.api_visibility == "public"}
    assert {"send", "correct", "stop", "new_session", "open_session", "rename", "delete_session", "list_sessions"} <= names
    assert demo._queue.default_concurrency_limit == ui.concurrency


def test_overlay_png_is_written_once_per_content(ui: ChatUI, hdmi_path: str) -> None:
    state = UIState()
    run(ui.send({"text": "find the HDMI label", "files": [hdmi_path]}, state))
    first = chat_images(state.chat)
    reloaded = UIState(owner=state.owner)
    PanelUpdate(*ui.open_session(state.session_id, reloaded)[:PANEL])
    assert chat_images(reloaded.chat) == first  # same content -> same cached file
    decoded = np.asarray(Image.open(io.BytesIO(Path(chat_images(state.chat, ui)[0]).read_bytes())).convert("RGB"))
    assert decoded.shape == (427, 639, 3)


def test_tracker_control_lets_a_browser_pick_the_llm(tmp_path, lite: LiteBackend) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from agent.intent import LLMIntentTracker, RuleIntentTracker
    from ui.trackers import set_tracker, tracker_choices

    llm = LLMIntentTracker(FakeListChatModel(responses=['{"act": "chitchat", "reason": "hello"}']), model_name="fake:model")
    rt = Runtime(memory=Memory(f"sqlite:///{tmp_path / 'db.sqlite'}"), backend=lite,
                 trackers={"rules": RuleIntentTracker(), "llm": llm})
    app = ChatUI(rt)
    try:
        assert tracker_choices(rt) == [("Offline rules (spaCy)", "rules"), ("Language model: fake:model", "llm")]
        state = set_tracker("llm", UIState())
        assert state.tracker == "llm"
        run(app.send("hi there", state))
        turns = rt.history(state.session_id).turns
        assert [c.tool for t in turns for c in t.tool_calls] == ["track_intent"]
        assert "hello" in (turns[-1].intent.history[-1].reason if turns[-1].intent else "")
        other = UIState()  # another browser keeps the default
        run(app.send("hi", other))
        assert not [c for t in rt.history(other.session_id).turns for c in t.tool_calls]
    finally:
        app.close()
        rt.close()
