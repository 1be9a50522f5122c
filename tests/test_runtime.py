"""The runtime and turn graph with real memory, tracker and lite backend (failures injected at the backend edge)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from _data import HDMI_JPG
from langchain_core.tools import tool

from agent.errors import PixelrsError, TurnStopped
from agent.images import load_image_file
from agent.memory import Memory
from agent.types import Act, PointPrompt, Prompts
from graphs.runtime import Runtime, TurnEvent
from tools.backends.base import ExplainRequest, SegmentRequest, SegmentResult
from tools.backends.lite import LiteBackend


@pytest.fixture()
def runtime(db_url: str, lite: LiteBackend) -> Iterator[Runtime]:
    rt = Runtime(memory=Memory(db_url), backend=lite)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def hdmi() -> Any:
    return load_image_file(HDMI_JPG)


class FlakyBackend:
    """Wraps a real backend and raises inside ``segment`` on chosen calls (the crash edge)."""

    name = "flaky"

    def __init__(self, inner: LiteBackend, fail_on: set[int]) -> None:
        self.inner, self.fail_on, self.calls = inner, fail_on, 0

    def segment(self, request: SegmentRequest) -> SegmentResult:
        self.calls += 1
        if self.calls in self.fail_on:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner.segment(request)

    def explain(self, request: ExplainRequest) -> Iterator[str]:
        return self.inner.explain(request)

    def forget_session(self, session_id: str) -> None:
        self.inner.forget_session(session_id)


def kinds(events: list[TurnEvent]) -> list[str]:
    return [e.kind for e in events]


def test_events_stream_in_order(runtime: Runtime, hdmi: Any) -> None:
    sid = runtime.new_session()
    events = list(runtime.run_turn(sid, "find the HDMI label", image=hdmi))
    k = kinds(events)
    assert k[0] == "stored" and k[-1] == "done"
    assert (
        k.index("stored")
        < k.index("progress")
        < k.index("intent")
        < k.index("mask")
        < k.index("token")
    )
    assert [e.stage for e in events if e.kind == "progress"][:3] == [
        "recall",
        "tracking",
        "segmenting",
    ]
    assert (
        sum(1 for e in events if e.kind == "token") >= 1
    )  # lite writes it in ms: chunks are merged
    done = events[-1].turn
    assert (
        done is not None
        and done.act is Act.NEW_TARGET
        and done.masks
        and done.masks[0].id is not None
    )
    streamed = "".join(e.text for e in events if e.kind == "token")
    assert streamed.strip() == done.reply.strip()


def test_inline_events_match_the_streamed_ones(runtime: Runtime, hdmi: Any) -> None:
    # run_turn streams through LangGraph's custom stream (worker thread); run_turn_sync(on_event=)
    # runs the same graph inline. A consumer must see the same events either way.
    streamed_sid, inline_sid = runtime.new_session(), runtime.new_session()
    streamed = list(runtime.run_turn(streamed_sid, "find the HDMI label", image=hdmi))
    inline: list[TurnEvent] = []
    summary = runtime.run_turn_sync(
        inline_sid, "find the HDMI label", image=hdmi, on_event=inline.append
    )
    assert kinds(inline) == kinds(streamed)
    assert [e.stage for e in inline] == [e.stage for e in streamed]
    assert inline[-1].turn == summary
    assert "".join(e.text for e in inline if e.kind == "token") == "".join(
        e.text for e in streamed if e.kind == "token"
    )
    same = [
        (a.mask.array == b.mask.array).all()
        for a, b in zip(summary.masks, streamed[-1].turn.masks, strict=True)
    ]  # type: ignore[union-attr]
    assert same and all(same)


def test_the_graph_streams_events_through_langgraph_without_a_sink(
    runtime: Runtime, hdmi: Any
) -> None:
    # Composing the graph directly (no TurnContext): events arrive on LangGraph's custom stream.
    from graphs.state import TurnInput

    sid = runtime.new_session()
    runtime.images.put(hdmi)
    chunks = list(
        runtime.graph.stream(
            TurnInput(session_id=sid, user_text="find the HDMI label", new_image=hdmi),
            stream_mode=["custom", "updates"],
        )
    )
    custom = [payload["type"] for mode, payload in chunks if mode == "custom"]
    nodes = [next(iter(payload)) for mode, payload in chunks if mode == "updates"]
    assert custom[0] == "stored" and "mask" in custom and "token" in custom
    assert nodes == ["recall", "track_intent", "plan", "segment", "explain", "respond", "remember"]
    history = runtime.history(sid)
    assert history.turns[-1].masks
    stored = next(payload for mode, payload in chunks if mode == "custom")
    assert stored == {"type": "stored", "user_turn_id": history.turns[0].id, "turn_index": 0}
    assert history.turns[-1].latency_ms == 0.0  # no start time given: no latency made up


def test_the_graph_composes_from_its_parts_alone(db_url: str, lite: LiteBackend, hdmi: Any) -> None:
    """Without a mask cache or a planner of its own, the graph makes them (a cache, the rules)."""
    from agent.intent import RuleIntentTracker
    from graphs.caches import ImageCache
    from graphs.state import TurnInput
    from graphs.turn import build_turn_graph
    from tools.explain import ExplainTool
    from tools.segment import SegmentTool

    with Memory(db_url) as memory:
        images = ImageCache(memory)
        graph = build_turn_graph(
            segment_tool=SegmentTool(backend=lite), explain_tool=ExplainTool(backend=lite),
            tracker=RuleIntentTracker(), memory=memory, load_image=images.get,
        )  # fmt: skip
        sid = memory.create_session().id
        first = graph.invoke(TurnInput(session_id=sid, user_text="find the HDMI label", new_image=hdmi))
        second = graph.invoke(TurnInput(session_id=sid, user_text="what does it say?"))
        assert (first["route"], second["route"]) == ("segment", "explain")
        assert first["track_reason"] and first["track_reason"] == first["intent"].history[-1].reason
        assert second["previous_mask"] is first["masks"][0].mask  # from the graph's own cache


def test_failure_inside_segment_marks_turn_failed_and_next_turn_works(
    db_url: str, lite: LiteBackend, hdmi: Any
) -> None:
    backend = FlakyBackend(lite, fail_on={2})
    rt = Runtime(memory=Memory(db_url), backend=backend)  # type: ignore[arg-type]
    sid = rt.new_session()
    rt.run_turn_sync(sid, "find the HDMI label", image=hdmi)
    events = list(rt.run_turn(sid, "now the port next to it"))
    assert kinds(events)[-1] == "error"
    inline: list[TurnEvent] = []
    with pytest.raises(
        PixelrsError, match="out of GPU memory"
    ):  # the inline path fails the same way
        backend.fail_on.add(3)
        rt.run_turn_sync(sid, "now the port next to it", on_event=inline.append)
    assert kinds(inline)[0] == "stored" and kinds(inline)[-1] == "error"
    assert "out of GPU memory" in events[-1].message and "\n" not in events[-1].message
    history = rt.history(sid)
    failed = history.turns[-1]
    assert (
        failed.role == "user"
        and failed.status == "failed"
        and failed.text == "now the port next to it"
    )
    assert "GPU memory" in (failed.error or "")
    after = rt.run_turn_sync(sid, "now the port next to it")
    assert after.act is Act.NEW_TARGET and after.masks
    history = rt.history(sid)
    assert [t.status for t in history.turns] == ["ok", "ok", "failed", "failed", "ok", "ok"]
    assert [t.text for t in history.dialogue()][-2] == "now the port next to it"
    rt.close()


@pytest.mark.parametrize("stop_after", ["start", "stored", "intent", "mask", "token"])
def test_stop_ends_the_turn_before_its_answer_is_stored(runtime: Runtime, hdmi: Any, stop_after: str) -> None:
    """Stopping (from another thread, here from the event sink) fails the turn at its next event:
    the user's message stays, marked stopped, nothing of the answer is stored, and the next turn works."""
    sid = runtime.new_session()
    runtime.run_turn_sync(sid, "find the HDMI label", image=hdmi)
    stop = threading.Event()
    if stop_after == "start":  # pressed before the turn's first step
        stop.set()
    seen: list[TurnEvent] = []

    def sink(event: TurnEvent) -> None:
        seen.append(event)
        if event.kind == stop_after:
            stop.set()

    with pytest.raises(TurnStopped):
        runtime.run_turn_sync(sid, "now the port next to it", on_event=sink, stop=stop)
    assert seen[-1].kind == "error" and seen[-1].stage == "stopped" and "stopped" in seen[-1].message
    assert [e.kind for e in seen[:-1]].count(stop_after) == (stop_after != "start") and "done" not in kinds(seen)
    history = runtime.history(sid)
    assert [(t.role, t.status) for t in history.turns] == [("user", "ok"), ("assistant", "ok"), ("user", "failed")]
    assert "stopped" in (history.turns[-1].error or "") and {m.turn_index for m in history.masks} == {1}
    after = runtime.run_turn_sync(sid, "now the port next to it")
    assert after.masks and [t.status for t in runtime.history(sid).turns][-2:] == ["ok", "ok"]


def test_a_stop_after_the_answer_is_stored_changes_nothing(runtime: Runtime, hdmi: Any) -> None:
    sid = runtime.new_session()
    stop = threading.Event()
    summary = runtime.run_turn_sync(sid, "find the HDMI label", image=hdmi, stop=stop,
                                    on_event=lambda e: stop.set() if e.kind == "done" else None)
    assert summary.masks and stop.is_set()
    assert [t.status for t in runtime.history(sid).turns] == ["ok", "ok"]


def test_a_stop_while_the_answer_is_saved_changes_nothing(runtime: Runtime, hdmi: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = runtime.new_session()
    stop = threading.Event()
    complete = runtime.memory.complete_turn

    def complete_then_stop(*args: Any, **kwargs: Any) -> Any:
        stored = complete(*args, **kwargs)
        stop.set()  # pressed just as the answer was stored
        return stored

    monkeypatch.setattr(runtime.memory, "complete_turn", complete_then_stop)
    summary = runtime.run_turn_sync(sid, "find the HDMI label", image=hdmi, stop=stop)
    assert summary.masks and stop.is_set()
    assert [t.status for t in runtime.history(sid).turns] == ["ok", "ok"]


def test_explain_tool_ends_the_backend_stream_when_its_reader_stops(hdmi: Any) -> None:
    """A stop raised while reading an explanation finishes the backend's generator at once (a
    model backend releases its decoder and caches there), not whenever it is garbage-collected."""
    from agent.types import DialogueTurn, Intent
    from tools.explain import ExplainTool

    finished: list[str] = []

    class Streaming:
        name = "streaming"

        def explain(self, request: ExplainRequest) -> Iterator[str]:
            def chunks() -> Iterator[str]:
                try:
                    yield "one"
                    yield " two"
                finally:
                    finished.append("closed")

            self.stream = chunks()  # still referenced, as a backend's own state may be
            return self.stream

    def reader(chunk: str) -> None:
        raise TurnStopped()

    request = ExplainRequest(image=hdmi.rgb, image_ref=hdmi.ref, dialogue=[DialogueTurn(role="user", text="why?")],
                             intent=Intent(target="the HDMI label"))
    with pytest.raises(TurnStopped) as stopped:  # held, as a framework may hold it (LangGraph does)
        ExplainTool(backend=Streaming())._run("why?", request=request, on_chunk=reader)
    assert finished == ["closed"] and stopped.value is not None


def test_sessions_are_isolated(runtime: Runtime, hdmi: Any) -> None:
    a = runtime.new_session(owner="alice")
    b = runtime.new_session(owner="bob")
    runtime.run_turn_sync(a, "find the HDMI label", image=hdmi, owner="alice")
    runtime.run_turn_sync(b, "hello", owner="bob")
    assert [t.text for t in runtime.history(b, owner="bob").turns if t.role == "user"] == ["hello"]
    assert [t.text for t in runtime.history(a, owner="alice").turns if t.role == "user"] == [
        "find the HDMI label"
    ]
    events = list(runtime.run_turn(a, "what does it say?", owner="bob"))
    assert kinds(events) == ["error"] and "unknown session" in events[0].message
    assert [s.id for s in runtime.list_sessions(owner="bob")] == [b]


def test_no_image_yet_asks_for_one(runtime: Runtime) -> None:
    sid = runtime.new_session()
    summary = runtime.run_turn_sync(sid, "find the red car")
    assert "upload an image" in summary.reply.lower() and not summary.masks


def test_bad_inputs_store_nothing(runtime: Runtime, hdmi: Any) -> None:
    sid = runtime.new_session()
    runtime.run_turn_sync(sid, "find the HDMI label", image=hdmi)
    before = len(runtime.history(sid).turns)
    for text, image in [
        ("", None),
        ("x" * 100_000, None),
        ("find it", b"not an image"),
        ("find it", b"\x89PNG\r\n\x1a\n"),
    ]:
        events = list(runtime.run_turn(sid, text, image=image))
        assert kinds(events) == ["error"], text[:20]
        assert "\n" not in events[0].message
    assert len(runtime.history(sid).turns) == before
    with pytest.raises(PixelrsError):
        runtime.run_turn_sync("no-such-session", "hi")


def test_click_correction_becomes_current_target(runtime: Runtime, hdmi: Any) -> None:
    sid = runtime.new_session()
    first = runtime.run_turn_sync(sid, "find the HDMI label", image=hdmi)
    x, y, w, h = first.masks[0].mask.bbox
    click = PointPrompt(x=x + w + 60, y=y + h / 2, positive=True)
    edited = runtime.run_turn_sync(sid, "", prompts=Prompts(points=[click]))
    assert edited.act is Act.USER_EDIT and edited.masks
    assert edited.masks[0].source == "user-edit"
    assert not np.array_equal(edited.masks[0].mask.array, first.masks[0].mask.array)
    history = runtime.history(sid)
    assert history.current_mask is not None and history.current_mask.source == "user-edit"
    follow = runtime.run_turn_sync(sid, "why is this part important?")
    assert follow.act is Act.EXPLAIN and follow.reply


def test_reset_clears_the_target(runtime: Runtime, hdmi: Any) -> None:
    sid = runtime.new_session()
    runtime.run_turn_sync(sid, "find the HDMI label", image=hdmi)
    reset = runtime.run_turn_sync(sid, "start over")
    assert reset.act is Act.RESET and reset.intent.target is None and reset.intent.mask_id is None
    current = runtime.history(sid).current_intent
    assert current is not None and (current.target, current.mask_id) == (None, None)
    assert runtime.run_turn_sync(sid, "what does it say?").reply


def test_extra_tool_routes_by_trigger(db_url: str, lite: LiteBackend, hdmi: Any) -> None:
    @tool(response_format="content_and_artifact")
    def count_words(query: str) -> tuple[str, str]:
        """Count the words of the user's message."""
        n = len(query.split())
        return f"{n} words", f"Your message has {n} words."

    count_words.metadata = {"triggers": [r"\bcount\b"]}
    rt = Runtime(memory=Memory(db_url), backend=lite, tools=[count_words])
    sid = rt.new_session()
    summary = rt.run_turn_sync(sid, "count these four words", image=hdmi)
    assert summary.reply == "Your message has 4 words."
    stored = rt.history(sid).turns[-1]
    assert [c.tool for c in stored.tool_calls] == ["count_words"]
    rt.close()
