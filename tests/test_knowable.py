"""Assertions on the values that are knowable: the route a turn took, the fixed replies, the masks
a backend was handed, and what a link signature accepts.

Each test here was checked against a deliberate bug (issue 13, item 10) that the suite let
through before: with the bug put back, the test fails.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Iterator
from typing import Annotated, Any

import numpy as np
import pytest
from _data import HDMI_JPG
from langchain_core.tools import InjectedToolArg, tool
from PIL import Image

from agent.answer import compose, split
from agent.images import decode_image, load_image_file
from agent.intent import RuleIntentTracker, TrackerCall, TrackResult
from agent.memory import Memory, ToolCallIn
from agent.types import (
    Act,
    BoxPrompt,
    DialogueTurn,
    Evidence,
    ImageRef,
    Intent,
    IntentOp,
    Mask,
    MaskOut,
    PointPrompt,
    Prompts,
)
from graphs import replies
from graphs.planner import Plan, PlanRequest, RulePlanner
from graphs.runtime import Runtime, TurnEvent
from graphs.state import PictureRef
from tools.backends.base import ExplainRequest, SegmentRequest, SegmentResult
from tools.backends.lite import LiteBackend
from tools.backends.lite.cues import from_intent
from tools.backends.lite.rank import Ranker
from tools.contract import Picture, ToolContext, ToolResult, describe_tool
from ui.links import Links


class Recording:
    """Wraps a real backend; records every request; can find nothing, explain nothing, answer with
    queued results, stream text while segmenting, report a fixed backend time, or take its time."""

    name = "recording"

    def __init__(
        self,
        inner: Any,
        *,
        find_nothing: bool = False,
        explain_nothing: bool = False,
        stream: tuple[str, ...] = (),
        backend_ms: float | None = None,
        segment_s: float = 0.0,
        explain_s: float = 0.0,
    ) -> None:
        self.inner, self.find_nothing, self.explain_nothing = inner, find_nothing, explain_nothing
        self.stream, self.backend_ms, self.segment_s, self.explain_s = stream, backend_ms, segment_s, explain_s
        self.segments: list[SegmentRequest] = []
        self.explains: list[ExplainRequest] = []
        self.queued: list[SegmentResult] = []
        """Results the next segment calls return instead of the real backend's (first first)."""

    def segment(self, request: SegmentRequest) -> SegmentResult:
        self.segments.append(request)
        time.sleep(self.segment_s)
        for chunk in self.stream:
            assert request.on_text is not None
            request.on_text(chunk)
        if self.queued:
            return self.queued.pop(0)
        result = SegmentResult(masks=[]) if self.find_nothing else self.inner.segment(request)
        return result if self.backend_ms is None else dataclasses.replace(result, backend_ms=self.backend_ms)

    def explain(self, request: ExplainRequest) -> Iterator[str]:
        self.explains.append(request)
        time.sleep(self.explain_s)
        return iter(()) if self.explain_nothing else self.inner.explain(request)

    def forget_session(self, session_id: str) -> None:
        self.inner.forget_session(session_id)


class TrackerSpy:
    """The rule tracker, recording what it is given; with ``call``, it reports a model call as an LLM tracker does."""

    name = "rules"

    def __init__(self, call: TrackerCall | None = None) -> None:
        self.inner, self.call, self.calls = RuleIntentTracker(), call, []

    def track(self, **given: Any) -> TrackResult:
        self.calls.append(given)
        result = self.inner.track(**given)
        return result if self.call is None else dataclasses.replace(result, call=self.call)


class PlannerSpy:
    """The rule planner, recording each request; ``fixed`` plans every turn instead, ``call`` is stored with it."""

    name = "spy"

    def __init__(self, fixed: Plan | None = None, call: ToolCallIn | None = None) -> None:
        self.inner, self.fixed, self.call, self.requests = RulePlanner(), fixed, call, []

    def plan(self, request: PlanRequest, tools: Any) -> Plan:
        self.requests.append(request)
        decided = self.fixed or self.inner.plan(request, tools)
        return decided if self.call is None else dataclasses.replace(decided, call=self.call)


@pytest.fixture
def make_runtime(sqlite_url: str, lite: Any) -> Iterator[Any]:
    made: list[Runtime] = []

    def build(
        tracker: Any = None, planner: Any = None, tools: tuple[Any, ...] = (), **options: Any
    ) -> tuple[Runtime, Recording]:
        backend = Recording(lite, **options)
        runtime = Runtime(memory=Memory(sqlite_url), backend=backend, tracker=tracker, planner=planner, tools=tools)
        made.append(runtime)
        return runtime, backend

    yield build
    for runtime in made:
        runtime.close()


def _tools(runtime: Runtime, sid: str) -> list[str]:
    return [c.tool for c in runtime.history(sid).turns[-1].tool_calls]


def _other_image() -> bytes:
    arr = np.full((200, 300, 3), 235, np.uint8)
    arr[50:150, 60:160] = (220, 30, 30)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


# routes ---------------------------------------------------------------------------------------


def test_each_act_takes_its_route(make_runtime: Any) -> None:
    runtime, backend = make_runtime()
    sid = runtime.new_session()
    found = runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    assert (found.act.value, _tools(runtime, sid), len(backend.segments)) == ("new_target", ["segment", "explain"], 1)
    assert found.masks and found.masks[0].source == "model"
    asked = runtime.run_turn_sync(sid, "what does it say?")
    assert (asked.act.value, _tools(runtime, sid), asked.masks, len(backend.segments)) == ("explain", ["explain"], [], 1)
    assert "HDMI" in asked.reply
    fixed = runtime.run_turn_sync(sid, "", prompts=Prompts(points=[PointPrompt(x=400, y=212)]))
    assert (fixed.act.value, _tools(runtime, sid)) == ("user_edit", ["segment", "explain"])
    assert fixed.masks[0].source == "user-edit" and fixed.reply.startswith(replies.USER_EDIT.format(what="clicks"))
    assert backend.segments[-1].prompts.points[0].x == 400
    hello = runtime.run_turn_sync(sid, "hello")
    assert (hello.act.value, hello.reply, _tools(runtime, sid)) == ("chitchat", replies.GREETING, [])


def test_no_image_yet(make_runtime: Any) -> None:
    runtime, backend = make_runtime()
    sid = runtime.new_session()
    done = runtime.run_turn_sync(sid, "find the HDMI label")
    assert (done.reply, _tools(runtime, sid), backend.segments) == (replies.NO_IMAGE, [], [])


def test_nothing_found_is_said_and_not_explained(make_runtime: Any) -> None:
    runtime, _ = make_runtime(find_nothing=True)
    sid = runtime.new_session()
    done = runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    assert done.reply == replies.NOTHING_FOUND.format(target="HDMI label")
    assert (_tools(runtime, sid), done.masks) == (["segment"], [])  # no explain of a mask that is not there


def test_a_question_before_any_mask(make_runtime: Any) -> None:
    runtime, _ = make_runtime(explain_nothing=True)
    sid = runtime.new_session()
    done = runtime.run_turn_sync(sid, "what does it say?", image=load_image_file(HDMI_JPG))
    assert (done.act.value, done.reply, _tools(runtime, sid)) == ("explain", replies.NO_MASK_YET, ["explain"])


def test_a_new_image_does_not_inherit_the_old_mask(make_runtime: Any) -> None:
    runtime, backend = make_runtime()
    sid = runtime.new_session()
    runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    runtime.run_turn_sync(sid, "find the red square", image=decode_image(_other_image()))
    assert backend.segments[-1].previous_mask is None  # the HDMI mask belongs to the other photo
    assert backend.segments[-1].image.shape == (200, 300, 3)
    runtime.run_turn_sync(sid, "no, the one on the right")
    previous = backend.segments[-1].previous_mask
    assert previous is not None and previous.array.shape == (200, 300)  # now the new image's mask


# the turn graph: what each node hands on ------------------------------------------------------


def _run(runtime: Runtime, sid: str, text: str, **kw: Any) -> tuple[Any, list[TurnEvent]]:
    """Run one turn inline; return its summary and every event it sent."""
    events: list[TurnEvent] = []
    return runtime.run_turn_sync(sid, text, on_event=events.append, **kw), events


def _stages(events: list[TurnEvent]) -> list[str]:
    return [e.stage for e in events if e.kind == "progress"]


def _streamed(events: list[TurnEvent]) -> str:
    return "".join(e.text for e in events if e.kind == "token")


def test_the_next_turn_gets_the_intent_dialogue_and_mask_of_the_last(make_runtime: Any) -> None:
    tracker, planner = TrackerSpy(), PlannerSpy()
    runtime, backend = make_runtime(tracker=tracker, planner=planner)
    sid = runtime.new_session()
    hdmi = load_image_file(HDMI_JPG)
    first = runtime.run_turn_sync(sid, "find the HDMI label", image=hdmi)
    asked = DialogueTurn(role="user", text="find the HDMI label", act=Act.NEW_TARGET)
    seen = tracker.calls[-1]
    assert (seen["intent"], seen["dialogue"], seen["user_text"], seen["turn"]) == (Intent(), [], "find the HDMI label", 0)
    assert (seen["has_image"], seen["has_mask"]) == (True, False)
    plan = planner.requests[-1]
    assert (plan.act, plan.intent.target, plan.has_image, plan.has_mask, plan.user_edit, list(plan.dialogue)) == (
        Act.NEW_TARGET, "HDMI label", True, False, False, [],
    )  # fmt: skip
    request = backend.segments[-1]
    assert (request.session_id, request.dialogue, request.previous_mask) == (sid, [asked], None)
    stored = runtime.history(sid).turns
    assert [(t.role, t.index, t.act, t.status) for t in stored] == [("user", 0, "new_target", "ok"), ("assistant", 1, "new_target", "ok")]
    assert stored[1].text == first.reply and stored[1].intent is not None and stored[1].intent.target == "HDMI label"
    assert [(c.tool, c.args) for c in stored[1].tool_calls] == [
        ("segment", {"target": "HDMI label"}), ("explain", {"question": "find the HDMI label"}),
    ]  # fmt: skip
    assert first.intent.mask_id == first.masks[0].id == runtime.history(sid).current_mask.id
    # the mask the graph stored is the one the runtime's cache hands the next turn, undecoded
    assert runtime.masks.get(runtime.history(sid).current_mask) is first.masks[0].mask

    lead = split(first.reply)[0]
    assert lead != first.reply  # the reply has a details part, which the next turn does not read
    second = runtime.run_turn_sync(sid, "no, the one on the right")
    answered = DialogueTurn(role="assistant", text=lead, act=Act.NEW_TARGET)
    assert (second.act, second.turn_index, second.intent.target) == (Act.CORRECT, 2, "HDMI label")
    assert [(r.turn, r.op) for r in second.intent.history] == [(0, IntentOp.NEW), (2, IntentOp.CORRECT)]
    seen = tracker.calls[-1]
    assert (seen["intent"].target, seen["intent"].mask_id, seen["dialogue"], seen["turn"]) == (
        "HDMI label", first.masks[0].id, [asked, answered], 2,
    )  # fmt: skip
    assert (seen["has_image"], seen["has_mask"]) == (True, True)
    plan = planner.requests[-1]
    assert (plan.act, plan.intent.target, plan.has_image, plan.has_mask, plan.user_edit, list(plan.dialogue)) == (
        Act.CORRECT, "HDMI label", True, True, False, [asked, answered],
    )  # fmt: skip
    request = backend.segments[-1]
    current = DialogueTurn(role="user", text="no, the one on the right", act=Act.CORRECT)
    assert (request.session_id, request.dialogue) == (sid, [asked, answered, current])
    assert request.previous_mask is first.masks[0].mask
    explained = backend.explains[-1]
    assert (explained.session_id, explained.dialogue, explained.intent.target) == (sid, [asked, answered, current], "HDMI label")
    assert explained.mask is second.masks[0].mask and explained.previous_mask is first.masks[0].mask
    assert explained.result is not None and explained.result.masks == second.masks
    stored = runtime.history(sid).turns[-1]
    assert (stored.act, stored.text, stored.intent.target) == ("correct", second.reply, "HDMI label")


def test_a_turn_reports_each_stage_and_streams_its_reply(make_runtime: Any) -> None:
    runtime, _ = make_runtime()
    sid = runtime.new_session()
    found, events = _run(runtime, sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    assert _stages(events) == ["recall", "tracking", "segmenting", "explaining", "saving"]
    assert all(e.message for e in events if e.kind == "progress")
    assert "HDMI label" in next(e.message for e in events if e.stage == "segmenting")
    assert [(e.stage, e.message) for e in events if e.kind == "progress"] == [
        ("recall", "Remembering the conversation"), ("tracking", "Tracking what you mean"),
        ("segmenting", "Segmenting HDMI label"), ("explaining", "Explaining"), ("saving", "Saving"),
    ]  # what the progress line says, word for word
    kinds = [e.kind for e in events if e.kind not in ("progress", "token")]
    assert kinds == ["stored", "intent", "mask", "done"]
    intent = next(e for e in events if e.kind == "intent")
    assert (intent.act, intent.intent.target, intent.message) == (Act.NEW_TARGET, "HDMI label", found.intent.history[-1].reason)
    assert intent.message
    assert next(e for e in events if e.kind == "mask").masks == found.masks
    assert _streamed(events) == found.reply
    asked, events = _run(runtime, sid, "what does it say?")
    assert _stages(events) == ["recall", "tracking", "explaining", "saving"] and _streamed(events) == asked.reply
    assert asked.intent.mask_id == found.masks[0].id  # a question keeps pointing at the mask it is about
    hello, events = _run(runtime, sid, "hello")
    assert _stages(events) == ["recall", "tracking", "saving"] and _streamed(events) == replies.GREETING == hello.reply
    nothing, events = _run(runtime, runtime.new_session(), "find the HDMI label")
    assert _streamed(events) == replies.NO_IMAGE == nothing.reply


def test_user_edits_are_recorded_with_the_clicks_or_box_that_made_them(make_runtime: Any) -> None:
    planner = PlannerSpy()
    runtime, _ = make_runtime(explain_nothing=True, planner=planner)
    sid = runtime.new_session()
    runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    clicked, events = _run(runtime, sid, "", prompts=Prompts(points=[PointPrompt(x=400, y=212), PointPrompt(x=410, y=212)]))
    assert (clicked.act, clicked.reply, _streamed(events)) == (Act.USER_EDIT, replies.USER_EDIT.format(what="clicks"), "")
    assert planner.requests[-1].user_edit is True
    entry = clicked.intent.history[-1]
    assert (entry.turn, entry.op, entry.reason, entry.evidence) == (
        2, IntentOp.CORRECT, "user edit with 2 click(s)", [Evidence(turn=2, words="2 click(s)", role="user edit")],
    )  # fmt: skip
    boxed = runtime.run_turn_sync(sid, "", prompts=Prompts(box=BoxPrompt(x0=190, y0=180, x1=290, y1=260)))
    assert (boxed.act, boxed.reply) == (Act.USER_EDIT, replies.USER_EDIT.format(what="box"))
    entry = boxed.intent.history[-1]
    assert (entry.turn, entry.reason, entry.evidence) == (4, "user edit with box", [Evidence(turn=4, words="box", role="user edit")])


def test_a_user_edit_that_is_explained_says_what_it_used_then_the_explanation(make_runtime: Any) -> None:
    runtime, _ = make_runtime()
    sid = runtime.new_session()
    runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    boxed, events = _run(runtime, sid, "", prompts=Prompts(box=BoxPrompt(x0=190, y0=180, x1=290, y1=260)))
    explained = _streamed(events)  # the explanation streams as it is made; the reply adds its lead
    assert boxed.act == Act.USER_EDIT and explained
    assert boxed.reply == f"{replies.USER_EDIT.format(what='box')} {explained}"


def test_an_absent_target_keeps_what_was_current_and_says_why(make_runtime: Any) -> None:
    runtime, backend = make_runtime()
    sid = runtime.new_session()
    first = runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    backend.queued.append(SegmentResult(masks=[], absent=True, evidence={"absent": "no dog was detected"}))
    absent, events = _run(runtime, sid, "find the dog")
    assert absent.reply == compose(replies.ABSENT.format(target="a dog"), ["No dog was detected.", replies.ABSENT_KEPT])
    assert _streamed(events) == absent.reply and _stages(events)[-1] == "saving"
    assert (absent.masks, absent.intent.target, absent.intent.mask_id) == ([], "HDMI label", first.masks[0].id)
    assert [(r.turn, r.op) for r in absent.intent.history] == [(0, IntentOp.NEW), (2, IntentOp.KEEP)]
    history = runtime.history(sid)
    assert history.current_mask is not None and history.current_mask.id == first.masks[0].id
    assert [(c.tool, c.status) for c in history.turns[-1].tool_calls] == [("segment", "absent")]


@pytest.mark.parametrize(
    ("text", "evidence", "reply"),
    [
        ("find the dog", {"absent": "No dog here."}, compose("I don't see a dog in this image.", ["No dog here."])),
        ("find the handle of the cup", {"part": "handle", "absent": "no handle"}, compose("I can't find the handle of the cup.", ["No handle."])),
        ("find the zebra", {"unknown": True}, "I can't find a zebra: it is nothing the current backend's models recognise."),
        ("segment it", {"absent": "nothing there"}, compose("I don't see that in this image.", ["Nothing there."])),
        # the reply names the target, not where it was looked for
        ("find the cup next to the laptop", {"absent": "No cup."}, compose("I don't see a cup in this image.", ["No cup."])),
        ("find the eyes of the cat", {"absent": "no eyes"}, compose("I don't see any eyes of the cat in this image.", ["No eyes."])),
        ("find the two dogs", {"absent": "one dog"}, compose("I don't see two dogs in this image.", ["One dog."])),
        ("find the zebra", {"unknown": True, "absent": "no zebra class"}, compose(replies.UNKNOWN.format(target="a zebra"), ["No zebra class."])),
    ],
)
def test_an_absent_reply_names_the_target_and_the_reason(make_runtime: Any, text: str, evidence: dict[str, Any], reply: str) -> None:
    runtime, backend = make_runtime()
    backend.queued.append(SegmentResult(masks=[], absent=True, evidence=evidence))
    assert runtime.run_turn_sync(runtime.new_session(), text, image=load_image_file(HDMI_JPG)).reply == reply


def test_a_model_that_answers_without_a_mask_is_quoted_and_nothing_found_names_that(make_runtime: Any) -> None:
    runtime, backend = make_runtime()
    hdmi = load_image_file(HDMI_JPG)
    backend.queued.append(SegmentResult(masks=[], text="  There is no label in this photo.  "))
    done = runtime.run_turn_sync(runtime.new_session(), "find the HDMI label", image=hdmi)
    assert (done.reply, done.masks) == ("There is no label in this photo.", [])
    backend.queued.append(SegmentResult(masks=[]))
    unnamed = runtime.run_turn_sync(runtime.new_session(), "segment it", image=hdmi)
    assert (unnamed.act, unnamed.reply) == (Act.SEGMENT_REQUEST, replies.NOTHING_FOUND.format(target="that"))


def test_text_streamed_while_segmenting_is_not_streamed_again(make_runtime: Any) -> None:
    runtime, backend = make_runtime(stream=("It is the ", "HDMI label."))
    done, events = _run(runtime, runtime.new_session(), "find the HDMI label", image=load_image_file(HDMI_JPG))
    assert _streamed(events) == "It is the HDMI label."
    assert [c.tool for c in runtime.history(done.session_id).turns[-1].tool_calls] == ["segment", "explain"]
    assert done.reply and backend.explains


def test_backend_time_and_latency_are_measured_in_milliseconds(make_runtime: Any) -> None:
    runtime, _ = make_runtime(backend_ms=250.0, explain_s=0.05)
    start = time.perf_counter()
    done = runtime.run_turn_sync(runtime.new_session(), "find the HDMI label", image=load_image_file(HDMI_JPG))
    wall = (time.perf_counter() - start) * 1000
    assert 300.0 <= done.backend_ms <= 250.0 + wall  # the backend's own 250 ms, then the explain's ≥ 50 ms
    stored = runtime.history(done.session_id).turns[-1]
    assert stored.latency_ms is not None and 50.0 <= stored.latency_ms <= wall
    explain = stored.tool_calls[-1]
    assert explain.tool == "explain" and 50.0 <= explain.duration_ms <= wall
    timed, _ = make_runtime(backend_ms=0.0, segment_s=0.05)  # a backend that does not time itself
    start = time.perf_counter()
    done = timed.run_turn_sync(timed.new_session(), "find the HDMI label", image=load_image_file(HDMI_JPG))
    assert 50.0 <= done.backend_ms <= (time.perf_counter() - start) * 1000


def test_model_tracker_and_planner_calls_are_stored_before_the_tools(make_runtime: Any) -> None:
    asked = TrackerCall(tracker="llm", model="tiny", duration_ms=12.5, status="fallback", error="timeout", fallback="rules")
    planned = ToolCallIn(tool="plan", args={"planner": "llm", "model": "tiny", "choice": "segment"}, duration_ms=3.0)
    runtime, _ = make_runtime(tracker=TrackerSpy(call=asked), planner=PlannerSpy(call=planned))
    done = runtime.run_turn_sync(runtime.new_session(), "find the HDMI label", image=load_image_file(HDMI_JPG))
    calls = runtime.history(done.session_id).turns[-1].tool_calls
    assert [(c.tool, c.args, c.status, c.error, c.duration_ms) for c in calls[:2]] == [
        ("track_intent", {"tracker": "llm", "model": "tiny", "fallback": "rules"}, "fallback", "timeout", 12.5),
        ("plan", {"planner": "llm", "model": "tiny", "choice": "segment"}, "ok", None, 3.0),
    ]
    assert [c.tool for c in calls[2:]] == ["segment", "explain"]
    answered = TrackerCall(tracker="llm", model="tiny", duration_ms=8.0)
    runtime, _ = make_runtime(tracker=TrackerSpy(call=answered))
    done = runtime.run_turn_sync(runtime.new_session(), "hello")
    [call] = runtime.history(done.session_id).turns[-1].tool_calls
    assert (call.tool, call.args, call.status, call.error) == ("track_intent", {"tracker": "llm", "model": "tiny"}, "ok", None)


def test_a_plan_for_a_tool_that_is_not_there_gets_a_plain_reply(make_runtime: Any) -> None:
    runtime, backend = make_runtime(planner=PlannerSpy(fixed=Plan("use_tool", tool="ruler")))
    done = runtime.run_turn_sync(runtime.new_session(), "hello", image=load_image_file(HDMI_JPG))
    assert (done.reply, done.masks, backend.segments, backend.explains) == (replies.GREETING, [], [], [])


def test_an_extra_tool_gets_the_turn_and_its_masks_text_and_pictures_join_it(make_runtime: Any) -> None:
    seen: list[ToolContext] = []
    buf = io.BytesIO()
    Image.fromarray(np.full((6, 8, 3), 90, np.uint8)).save(buf, format="PNG")

    @tool(response_format="content_and_artifact")
    def outline(question: str, context: Annotated[ToolContext, InjectedToolArg]) -> tuple[str, ToolResult]:
        """Outline the current target."""
        seen.append(context)
        assert context.mask is not None
        masks = [] if "sketch" in question else [MaskOut(Mask(context.mask.array.copy()), "outline")]
        return "done", ToolResult(text="Outlined it.", masks=masks, pictures=[Picture(buf.getvalue(), "the outline")])

    runtime, _ = make_runtime(tools=(describe_tool(outline, triggers=(r"\boutline\b", r"\bsketch\b", r"\bthank you\b"), acts=(), returns_masks=True, returns_pictures=True),))
    sid = runtime.new_session()
    hdmi = load_image_file(HDMI_JPG)
    first = runtime.run_turn_sync(sid, "find the HDMI label", image=hdmi)
    done, events = _run(runtime, sid, "outline it please")
    context = seen[-1]
    assert (context.session_id, context.turn_index, context.user_text, context.act) == (sid, 2, "outline it please", Act.SEGMENT_REQUEST)
    assert (context.intent.target, context.intent.mask_id, len(context.intent.history)) == ("HDMI label", first.masks[0].id, 1)
    assert context.image is not None and context.image.ref == hdmi.ref
    assert context.mask is first.masks[0].mask
    assert [(d.role, d.text) for d in context.dialogue] == [("user", "find the HDMI label"), ("assistant", split(first.reply)[0])]
    assert _stages(events) == ["recall", "tracking", "outline", "saving"] and all(e.message for e in events if e.kind == "progress")
    picture = PictureRef(sha256=done.pictures[0].sha256, width=8, height=6, caption="the outline", tool="outline")
    assert done.pictures == [picture]
    assert [e.kind for e in events if e.kind in ("mask", "token", "picture")] == ["mask", "token", "picture"]
    assert next(e for e in events if e.kind == "mask").masks == done.masks and [m.label for m in done.masks] == ["outline"]
    assert next(e for e in events if e.kind == "picture").pictures == [picture]
    assert (_streamed(events), done.reply) == ("Outlined it.", "Outlined it.")
    assert (done.act, done.intent.target) == (Act.REFINE, "HDMI label")  # a segmenting act answered with masks
    entry = done.intent.history[-1]
    assert (entry.turn, entry.op, entry.reason) == (2, IntentOp.KEEP, "answered by the outline tool")
    stored = runtime.history(sid).turns[-1]
    assert [m.label for m in stored.masks] == ["outline"] and stored.act == "refine"
    [call] = stored.tool_calls
    assert (call.tool, call.args) == ("outline", {"question": "outline it please", "pictures": [{"sha256": picture.sha256, "caption": "the outline"}]})
    sketched = runtime.run_turn_sync(sid, "sketch the logo")  # a new target, answered without masks
    assert (sketched.act, sketched.masks) == (Act.EXPLAIN, [])
    thanked = runtime.run_turn_sync(sid, "thank you")
    assert (thanked.act, len(thanked.masks)) == (Act.CHITCHAT, 1)  # not a segmenting act: kept as tracked


def test_a_new_image_unpoints_the_intent_from_the_old_mask(make_runtime: Any) -> None:
    runtime, _ = make_runtime()
    sid = runtime.new_session()
    first = runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    assert first.intent.mask_id == first.masks[0].id
    hello = runtime.run_turn_sync(sid, "hello", image=decode_image(_other_image()))
    stored = runtime.history(sid).turns[-1].intent
    assert (hello.act, hello.intent.mask_id, stored is not None and stored.mask_id) == (Act.CHITCHAT, None, None)


def test_an_image_uploaded_with_a_question_does_not_inherit_the_old_mask_later(make_runtime: Any) -> None:
    runtime, backend = make_runtime()
    sid = runtime.new_session()
    runtime.run_turn_sync(sid, "find the HDMI label", image=load_image_file(HDMI_JPG))
    runtime.run_turn_sync(sid, "hello", image=decode_image(_other_image()))
    runtime.run_turn_sync(sid, "no, the one on the right")
    previous = backend.segments[-1].previous_mask
    assert previous is None or previous.array.shape == (200, 300)


def _same_size_image(colour: tuple[int, int, int]) -> bytes:
    arr = np.full((200, 300, 3), 235, np.uint8)
    arr[40:160, 150:280] = colour
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_a_same_size_photo_uploaded_with_a_question_does_not_inherit_the_old_mask(make_runtime: Any) -> None:
    """Two photos of one size: the mask made on the first is not the second's previous mask."""
    runtime, backend = make_runtime()
    sid = runtime.new_session()
    runtime.run_turn_sync(sid, "find the red square", image=decode_image(_other_image()))
    assert backend.segments[-1].image.shape == (200, 300, 3)
    runtime.run_turn_sync(sid, "hello", image=decode_image(_same_size_image((30, 60, 220))))
    history = runtime.history(sid)
    assert history.current_mask is not None  # still the first photo's mask ...
    assert history.current_mask_image_sha != history.current_image_sha  # ... made on the other photo
    runtime.run_turn_sync(sid, "only the left half of it")
    assert backend.segments[-1].previous_mask is None
    runtime.run_turn_sync(sid, "no, the one on the right")
    previous = backend.segments[-1].previous_mask
    assert previous is not None  # the new photo's own mask from the turn before
    assert runtime.history(sid).current_mask_image_sha == runtime.history(sid).current_image_sha


# links ----------------------------------------------------------------------------------------

NAME = "0123456789abcdef01234567.jpg"


def test_picture_links_need_the_whole_signature() -> None:
    links = Links(key=b"k" * 32)
    url = links.picture(NAME, "alice")
    uid, sig = url.split("u=")[1].split("&s=")
    assert links.check_picture(NAME, uid, sig)
    assert len(sig) == 32
    for bad in ("", sig[:4], sig[:-1], sig[:-1] + ("0" if sig[-1] != "0" else "1"), sig + "0"):
        assert not links.check_picture(NAME, uid, bad), bad
    assert not links.check_picture(NAME, links.owner_id("bob"), sig)


def test_export_links_need_the_whole_signature() -> None:
    links = Links(key=b"k" * 32)
    url = links.export("a" * 32, "masks.zip", "alice", mask_id=7)
    query = dict(part.split("=") for part in url.split("?")[1].split("&"))
    assert links.check_export("a" * 32, "masks.zip", "7", query["u"], query["s"])
    for bad in ("", query["s"][:4], query["s"][:-1] + ("0" if query["s"][-1] != "0" else "1")):
        assert not links.check_export("a" * 32, "masks.zip", "7", query["u"], bad), bad
    assert not links.check_export("a" * 32, "masks.zip", "8", query["u"], query["s"])
    assert not links.check_export("a" * 32, "session.zip", "7", query["u"], query["s"])



def test_picture_tag_links_the_owners_picture_and_escapes_the_alt() -> None:
    links = Links(key=b"k" * 32)
    tag = links.picture_html(NAME, "alice", "a \"quoted\" <b>'caption'</b>")  # a plugin tool's caption
    src = links.picture(NAME, "alice").replace("&", "&amp;")
    alt = "a &quot;quoted&quot; &lt;b&gt;&#x27;caption&#x27;&lt;/b&gt;"
    assert tag == f'<img class="pr-pic" src="{src}" alt="{alt}">'
    assert f"u={links.owner_id('alice')}&" in src


def test_export_links_name_their_owner_and_an_empty_mask() -> None:
    links = Links(key=b"k" * 32)
    sid = "a" * 32
    url = links.export(sid, "session.zip", "alice")
    path, query = url.split("?")
    fields = dict(part.split("=") for part in query.split("&"))
    assert path == f"pixelrs/export/{sid}/session.zip"
    assert fields["m"] == "" and fields["u"] == links.owner_id("alice") != links.owner_id(None)
    assert links.check_export(sid, "session.zip", "", fields["u"], fields["s"])
    assert not links.check_export(sid, "session.zip", "None", fields["u"], fields["s"])


def test_no_user_gets_the_no_owner_id() -> None:
    # sessions made without login have no owner; a user of a later login-enabled app, whatever
    # name they chose, must not get the no-owner id (it would open those sessions' exports)
    links = Links(key=b"k" * 32)
    assert links.owner_id(None) == links.owner_id("")
    for name in ("XXXX", "None", "none", "null", "anonymous", "-", " "):
        assert links.owner_id(name) != links.owner_id(None), name


def test_owner_ids_never_reveal_a_signature() -> None:
    # owner ids are shown in every link; an owner named like a signed message must not get that
    # message's signature as its id (the owner MAC has its own domain)
    links = Links(key=b"k" * 32)
    uid = links.owner_id("alice")
    sig = links.picture(NAME, "alice").split("&s=")[1]
    assert links.owner_id("\x00".join(["picture", uid, NAME])) != sig[:24]
    export_sig = links.export("a" * 32, "mask.png", "alice", 1).split("&s=")[1]
    assert links.owner_id("\x00".join(["export", uid, "a" * 32, "mask.png", "1"])) != export_sig[:24]

# lite ranking ---------------------------------------------------------------------------------


def test_an_excluded_region_is_never_ranked_first() -> None:
    """'the square on the left, not the red one': the red square is leftmost, so only the
    exclusion factor keeps it from ranking first (the later subtract step hides that bug in the
    final mask of simple scenes)."""
    image = np.full((240, 400, 3), 235, np.uint8)
    image[60:180, 10:110] = (220, 30, 30)
    image[80:160, 150:220] = (30, 170, 40)
    image[80:160, 300:380] = (30, 60, 220)
    backend = LiteBackend(ocr=False)
    analysis = backend.analysis(image, ImageRef(sha256="c" * 64, width=400, height=240))
    red = np.zeros(analysis.shape, bool)
    s = analysis.scale
    red[int(60 * s) : int(180 * s), int(10 * s) : int(110 * s)] = True
    turn = [DialogueTurn(role="user", text="the square on the left, not the red one")]
    plain = Ranker(analysis, from_intent(Intent(target="square", attributes={"position": "left"}), turn), None).rank()
    assert analysis.segment_mask(plain.ranked[0].cand)[red].mean() > 0.9  # red leads without the exclusion
    cues = from_intent(Intent(target="square", attributes={"position": "left"}, exclusions=["red"]), turn)
    ranking = Ranker(analysis, cues, None).rank()
    top = analysis.segment_mask(ranking.ranked[0].cand)
    assert not (top & red).any()
