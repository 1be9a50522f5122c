"""Plug-ins end to end: the example packages registered as a real distribution's entry points, a
session on the lite backend, the chosen tool stored with its turn, shown in the app and exported;
and plug-ins that raise, hang or answer garbage cost one line, never the session."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pytest
from langchain_core.tools import BaseTool, InjectedToolArg, tool
from PIL import Image

from agent.images import LoadedImage, load_image_file
from agent.memory import Memory
from agent.settings import Settings
from agent.types import Act, Mask, MaskOut
from graphs.export import export_session
from graphs.runtime import Runtime
from tools.contract import ToolContext, ToolResult, describe_tool
from tools.registry import extra_tools
from ui.app import ChatUI
from ui.core import PanelUpdate
from ui.state import UIState

REPO = Path(__file__).resolve().parents[1]
COFFEE = REPO / "data" / "photos" / "coffee.png"
PICTURE = re.compile(r'<img class="pr-pic" src="pixelrs/img/([0-9a-f]{24}\.\w+)\?[^"]*" alt="([^"]*)"')


@pytest.fixture
def installed_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Register both example plug-ins the way ``pip install`` does: a distribution's entry_points.txt."""
    site = tmp_path / "site"
    dist = site / "pixelrs_examples_under_test-0.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pixelrs-examples-under-test\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text(
        "[pixelrs.tools]\nmeasure = pixelrs_measure:MeasureTool\nzoom = pixelrs_zoom:zoom\n"
    )
    monkeypatch.syspath_prepend(str(REPO / "examples" / "measure"))
    monkeypatch.syspath_prepend(str(REPO / "examples" / "zoom"))
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.fixture
def plugged(installed_examples: Path, sqlite_url: str, lite: Any) -> Iterator[Runtime]:
    """A runtime built from settings alone: the plug-ins come from the entry points."""
    runtime = Runtime.from_settings(Settings(db_url=sqlite_url, tools=["measure", "zoom"]), backend=lite)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def coffee() -> LoadedImage:
    return load_image_file(COFFEE)


def last_answer(runtime: Runtime, sid: str) -> Any:
    return runtime.history(sid).turns[-1]


def test_entry_points_load_the_examples(installed_examples: Path) -> None:
    names = {t.name for t in extra_tools()}
    assert {"measure", "zoom"} <= names
    with pytest.raises(Exception, match="unknown tool 'ruler'; installed pixelrs.tools: .*measure"):
        extra_tools(names=["ruler"])


def test_a_plugin_answers_the_turns_it_serves(plugged: Runtime, coffee: LoadedImage, tmp_path: Path) -> None:
    assert [t.name for t in plugged.extra_tools] == ["measure", "zoom"]
    sid = plugged.new_session()
    first = plugged.run_turn_sync(sid, "find the cup", image=coffee)
    assert first.act is Act.NEW_TARGET and first.masks
    assert [c.tool for c in last_answer(plugged, sid).tool_calls] == ["segment", "explain"]

    size = plugged.run_turn_sync(sid, "how big is it?")
    stored = last_answer(plugged, sid)
    assert [(c.tool, c.status) for c in stored.tool_calls] == [("measure", "ok")]
    assert size.reply.startswith("It covers ") and "% of the image" in size.reply and not size.masks
    assert stored.tool_calls[0].args["question"] == "how big is it?"
    assert stored.tool_calls[0].args["result"]["area_px"] == first.masks[0].mask.area
    assert size.intent.target == "cup" and size.intent.history[-1].reason == "answered by the measure tool"

    count = plugged.run_turn_sync(sid, "how many are there?")
    stored = last_answer(plugged, sid)
    assert [c.tool for c in stored.tool_calls] == ["measure"]
    assert re.match(r"I count \d+ separate parts? in the cup", count.reply)
    assert count.masks and count.masks[0].role == "target" and count.masks[0].id is not None
    assert [m.id for m in stored.masks] == [m.id for m in count.masks]  # the tool's masks are stored
    assert plugged.history(sid).current_mask.id == count.masks[0].id  # and the target is current
    assert np.array_equal(count.masks[0].mask.array, first.masks[0].mask.array)

    zoomed = plugged.run_turn_sync(sid, "zoom in on it")
    stored = last_answer(plugged, sid)
    assert [c.tool for c in stored.tool_calls] == ["zoom"] and zoomed.reply.startswith("Here is a close-up of the cup")
    [picture] = zoomed.pictures
    assert stored.tool_calls[0].args["pictures"] == [{"sha256": picture.sha256, "caption": picture.caption}]
    shown = plugged.image(picture.sha256)
    assert (shown.ref.width, shown.ref.height) == (picture.width, picture.height) and max(shown.ref.width, shown.ref.height) >= 400

    after = plugged.run_turn_sync(sid, "what colour is it?")  # the built-in route is untouched
    assert [c.tool for c in last_answer(plugged, sid).tool_calls] == ["explain"] and after.act is Act.EXPLAIN

    out = export_session(plugged.memory, sid, tmp_path / "export")
    coco = json.loads((out / "masks.json").read_text())
    assert {m.id for m in count.masks} <= {a["id"] for a in coco["annotations"]}
    assert [p.name for p in out.glob(f"picture_{picture.sha256[:12]}.*")] == [f"picture_{picture.sha256[:12]}.jpg"]
    turns = json.loads((out / "session.json").read_text())["turns"]
    assert any(c["tool"] == "zoom" for t in turns for c in t["tool_calls"])


def test_plugin_output_is_shown_in_the_app_live_and_after_reopening(plugged: Runtime) -> None:
    ui = ChatUI(plugged)
    try:
        state = UIState()
        list(ui.send({"text": "find the cup", "files": [str(COFFEE)]}, state))
        updates = list(ui.send({"text": "how many are there?", "files": []}, state))
        chat = PanelUpdate(*updates[-1][1:]).chat
        counted = chat[-1]["content"]
        assert PICTURE.match(counted[0]) and PICTURE.match(counted[0]).group(2) == "mask overlay"
        assert "I count" in counted[1]
        updates = list(ui.send({"text": "zoom in", "files": []}, state))
        chat = PanelUpdate(*updates[-1][1:]).chat
        answer = chat[-1]["content"]
        assert answer[0].startswith("Here is a close") and "cup</span>" in answer[0]  # markdown-escaped, target highlighted
        match = PICTURE.match(answer[1])
        assert match and match.group(2).startswith("Close-up of the cup")
        path = ui.files.chat_file(match.group(1))
        assert Path(path).exists() and Image.open(path).size[0] >= 400

        reopened = PanelUpdate(*ui.open_session(state.session_id, UIState(owner=state.owner))[: len(PanelUpdate._fields)])
        assert reopened.chat[-1]["content"][-1] == answer[1]  # the same picture, read back from SQL
        assert any(
            isinstance(c, str) and "I count" in c for m in reopened.chat for c in (m["content"] if isinstance(m["content"], list) else [])
        )
    finally:
        ui.close()


# -- plug-ins that misbehave ---------------------------------------------------------------------


def small_image() -> LoadedImage:
    import io

    from agent.images import decode_image

    rgb = np.full((60, 80, 3), 200, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return decode_image(buf.getvalue())


def misbehaving_tools(release: threading.Event) -> list[BaseTool]:
    """Tools that raise, hang, return a non-answer, or a mask of the wrong size."""

    @tool
    def explode(question: str) -> str:
        """Always fails."""
        raise RuntimeError("the gauge broke")

    @tool
    def hang(question: str) -> str:
        """Never answers in time."""
        release.wait(30)
        return "too late"

    @tool
    def junk(question: str) -> Any:
        """Answers with a number, which is not text."""
        return 42

    @tool(response_format="content_and_artifact")
    def wrong_mask(question: str, context: Annotated[ToolContext, InjectedToolArg]) -> tuple[str, ToolResult]:
        """Returns a mask of the wrong size."""
        return "mask", ToolResult(text="here", masks=[MaskOut(mask=Mask(np.ones((5, 5), bool)), label="x")])

    specs: dict[str, dict[str, Any]] = {
        "explode": {"triggers": (r"\bexplode\b",)},
        "hang": {"triggers": (r"\bhang\b",), "timeout_s": 0.3},
        "junk": {"triggers": (r"\bjunk\b",)},
        "wrong_mask": {"triggers": (r"\bwrong\b",), "returns_masks": True},
    }
    return [describe_tool(t, acts=(), **specs[t.name]) for t in (explode, hang, junk, wrong_mask)]


@pytest.mark.parametrize(
    ("text", "name", "error", "said"),
    [
        ("explode now", "explode", "RuntimeError: the gauge broke", "it failed (RuntimeError: the gauge broke)"),
        ("hang on", "hang", "timeout: it did not answer within 0.3 s", "it did not answer within 0.3 s"),
        ("junk please", "junk", "invalid output: int instead of text or a ToolResult", "it returned something unusable (int"),
        ("wrong again", "wrong_mask", "invalid output: a 5x5 mask for a 80x60 image", "it returned something unusable (a 5x5 mask"),
    ],
)
def test_a_failing_plugin_costs_one_line_not_the_session(
    sqlite_url: str, lite: Any, text: str, name: str, error: str, said: str
) -> None:
    release = threading.Event()
    runtime = Runtime(memory=Memory(sqlite_url), backend=lite, tools=misbehaving_tools(release))
    try:
        sid = runtime.new_session()
        summary = runtime.run_turn_sync(sid, text, image=small_image())
        assert summary.reply.startswith(f"The {name} tool could not answer: {said}")
        assert "\n" not in summary.reply and summary.reply.endswith("The session goes on; ask again or try something else.")
        stored = runtime.history(sid).turns
        assert [t.status for t in stored] == ["ok", "ok"] and stored[-1].text == summary.reply
        [call] = stored[-1].tool_calls
        assert (call.tool, call.status, call.error) == (name, "failed", error)
        assert call.args == {"question": text} and not stored[-1].masks
        follow = runtime.run_turn_sync(sid, "hello")  # the session goes on
        assert follow.act is Act.CHITCHAT and runtime.history(sid).turns[-1].status == "ok"
    finally:
        release.set()
        runtime.close()


def test_deleting_a_session_deletes_the_pictures_its_tools_returned(db_url: str, lite: Any, coffee: LoadedImage) -> None:
    from pixelrs_zoom import zoom

    from agent.memory.exceptions import UnknownImageError

    runtime = Runtime(memory=Memory(db_url), backend=lite, tools=[zoom])
    try:
        keep, drop = runtime.new_session(), runtime.new_session()
        for sid in (keep, drop):
            runtime.run_turn_sync(sid, "find the cup", image=coffee)
        runtime.run_turn_sync(keep, "what colour is it?")
        [picture] = runtime.run_turn_sync(drop, "zoom in").pictures
        assert runtime.memory.image_bytes(picture.sha256)
        runtime.delete_session(drop)
        with pytest.raises(UnknownImageError):
            runtime.memory.image_bytes(picture.sha256)
        assert runtime.memory.image_bytes(runtime.history(keep).current_image_sha)  # the shared upload stays
    finally:
        runtime.close()
