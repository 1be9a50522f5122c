"""The turn graph: recall → track_intent → plan → segment → explain → respond → remember.

Built by :func:`build_turn_graph` from its parts (tools, tracker, memory, image loader) so tests
and other graphs compose it. Nodes send progress, masks and explanation chunks as events: dicts
with a ``type`` of ``progress``, ``stored``, ``intent``, ``mask`` or ``token``. They go to the
run's :class:`TurnContext` sink when one is given (``graph.stream(..., context=TurnContext(emit=f))``:
the graph runs inline on the caller's thread, the cheap path), else to LangGraph's custom stream
(``stream_mode=["updates", "custom"]``, where LangGraph runs each node on a worker thread).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from agent import answer
from agent.answer import compose
from agent.images import LoadedImage
from agent.intent import IntentTracker, TrackerCall, target_phrase
from agent.memory import Memory, ToolCallIn
from agent.types import Act, DialogueTurn, Evidence, Intent, IntentOp, MaskOut
from graphs import replies
from graphs.caches import MaskCache
from graphs.planner import Planner, PlanRequest, RulePlanner
from graphs.state import PictureRef, TurnInput, TurnState
from graphs.streaming import ChunkCoalescer
from graphs.tool_runner import run_extra_tool
from tools.backends.base import ExplainRequest, SegmentRequest, SegmentResult
from tools.contract import ToolContext, spec_of

Route = Literal["segment", "explain", "use_tool", "respond"]


@dataclass(frozen=True)
class TurnContext:
    """Per-run context of the turn graph: where nodes send their events."""

    emit: Callable[[dict[str, Any]], None] | None = None
    """Called inline with each event; None sends events to LangGraph's custom stream."""


def _sink(runtime: Runtime[TurnContext]) -> Callable[[dict[str, Any]], None]:
    """Return the run's event sink: the context's ``emit``, else the custom stream (a no-op unstreamed)."""
    context = runtime.context
    if context is not None and context.emit is not None:
        return context.emit
    return runtime.stream_writer


def _call_tool(tool: BaseTool, args: dict[str, Any]) -> tuple[Any, ToolCallIn]:
    """Invoke a tool through LangChain's tool-call path; return its artifact and a log entry."""
    start = time.perf_counter()
    call = {"type": "tool_call", "id": uuid.uuid4().hex, "name": tool.name, "args": args}
    message = tool.invoke(call)
    duration = (time.perf_counter() - start) * 1000
    logged_args: dict[str, object] = {
        k: v for k, v in args.items() if isinstance(v, str | int | float | bool)
    }
    artifact = getattr(message, "artifact", None)
    return artifact, ToolCallIn(tool=tool.name, args=logged_args, duration_ms=duration)


def _tracker_call(call: TrackerCall) -> ToolCallIn:
    """Return a model tracker's call as a tool-call record (tool ``track_intent``)."""
    args: dict[str, object] = {"tracker": call.tracker, "model": call.model}
    if call.fallback:
        args["fallback"] = call.fallback
    return ToolCallIn(
        tool="track_intent", args=args, duration_ms=call.duration_ms, status=call.status, error=call.error
    )


def build_turn_graph(
    *,
    segment_tool: BaseTool,
    explain_tool: BaseTool,
    tracker: IntentTracker,
    memory: Memory,
    load_image: Callable[[str], LoadedImage],
    extra_tools: Sequence[BaseTool] = (),
    masks: MaskCache | None = None,
    planner: Planner | None = None,
) -> CompiledStateGraph[TurnState, TurnContext, TurnInput, TurnState]:
    """Compile the turn graph over the given parts.

    Args:
        segment_tool: the ``segment`` tool (artifact: :class:`SegmentResult`).
        explain_tool: the ``explain`` tool (artifact: full text; streams via ``on_chunk``).
        tracker: the intent tracker (rule-based by default, LLM-based optionally).
        memory: SQL memory; ``recall`` commits the user turn, ``remember`` the rest at once.
        load_image: returns the decoded image for a stored sha256 (cached by the caller).
        extra_tools: tools from the ``pixelrs.tools`` entry points (:mod:`tools.contract`);
            the planner may give a turn to one of them.
        masks: decoded masks by RLE (the caller may share one between graphs); ``remember``
            adds the masks it stores, so the next turn's ``recall`` does not decode them.
        planner: decides which node answers each turn (default: :class:`RulePlanner`).
    """
    decoded = masks if masks is not None else MaskCache()
    chooser = planner or RulePlanner()
    tools_by_name = {tool.name: tool for tool in extra_tools}
    planned_tools = [segment_tool, explain_tool, *extra_tools]

    def recall(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        """Load the session, store the new image and commit the user's message (pending)."""
        emit = _sink(runtime)
        image_sha = None
        if state.new_image is not None:
            image_sha = memory.put_image(state.new_image).sha256
        user_turn, history = memory.begin_turn(
            state.session_id, state.user_text, image_sha=image_sha, owner=state.owner
        )
        emit({"type": "stored", "user_turn_id": user_turn.id, "turn_index": user_turn.index})
        emit({"type": "progress", "stage": "recall", "message": "Remembering the conversation"})
        current_sha = image_sha or history.current_image_sha
        image = (
            state.new_image
            if state.new_image is not None
            else (load_image(current_sha) if current_sha else None)
        )
        intent = history.current_intent or Intent()
        current = history.current_mask
        previous_mask = decoded.get(current) if current is not None else None
        if state.new_image is not None and history.current_image_sha not in (None, image_sha):
            previous_mask = None  # a different image: the old mask does not apply
            intent = intent.model_copy(update={"mask_id": None})
        elif previous_mask is not None and history.current_mask_image_sha != current_sha:
            # The session's latest mask may be of an earlier photo (a turn after the new one did
            # not segment): it is not this image's, even when the two photos have the same size.
            previous_mask = None
        instances = [
            MaskOut(decoded.get(m), label=m.label, score=m.score, id=m.id, role="instance")
            # the masks of several things shown with the current one, or those it was picked from
            for m in ((history.current_instances or history.picked_from) if previous_mask is not None else ())
        ]
        return {
            "user_turn_id": user_turn.id,
            "turn_index": user_turn.index,
            "dialogue": _leads(history.dialogue),
            "image": image,
            "intent": intent,
            "recalled_intent": intent,
            "previous_mask": previous_mask,
            "previous_instances": instances,
        }

    def track_intent(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        """Classify the turn and update the intent (clicks/boxes make it a user edit)."""
        emit = _sink(runtime)
        emit({"type": "progress", "stage": "tracking", "message": "Tracking what you mean"})
        calls = list(state.tool_calls)
        if not state.prompts.empty:
            what = (
                "box" if state.prompts.box is not None else f"{len(state.prompts.points)} click(s)"
            )
            reason = f"user edit with {what}"
            evidence = [Evidence(turn=state.turn_index, words=what, role="user edit")]
            intent = state.intent.revised(
                turn=state.turn_index, op=IntentOp.CORRECT, reason=reason, evidence=evidence
            )
            result_act = Act.USER_EDIT
        else:
            result = tracker.track(
                intent=state.intent,
                dialogue=state.dialogue,
                user_text=state.user_text,
                turn=state.turn_index,
                has_image=state.image is not None,
                has_mask=state.previous_mask is not None,
            )
            intent, result_act, reason = result.intent, result.act, result.reason
            if result.call is not None:  # a model tracked the turn: stored like a tool call
                calls = [*calls, _tracker_call(result.call)]
        emit({"type": "intent", "act": result_act, "intent": intent, "reason": reason})
        return {"intent": intent, "act": result_act, "track_reason": reason, "tool_calls": calls}

    def plan(state: TurnState) -> dict[str, Any]:
        """Choose the node that answers: segment, explain, an extra tool or a plain reply."""
        request = PlanRequest(
            user_text=state.user_text,
            act=state.act,
            intent=state.intent,
            has_image=state.image is not None,
            has_mask=state.previous_mask is not None,
            user_edit=not state.prompts.empty,
            dialogue=state.dialogue,
        )
        decided = chooser.plan(request, planned_tools)
        update: dict[str, Any] = {"route": decided.route, "tool_name": decided.tool, "tool_args": decided.args}
        if decided.call is not None:  # a model planned the turn: stored like a tool call
            update["tool_calls"] = [*state.tool_calls, decided.call]
        return update

    def route(state: TurnState) -> Route:
        """Follow the plan."""
        if state.route == "use_tool" and state.tool_name not in tools_by_name:
            return "respond"
        return state.route if state.route in ("segment", "explain", "use_tool") else "respond"  # type: ignore[return-value]

    def segment(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        """Run the segment tool and stream the masks the moment they exist."""
        emit = _sink(runtime)
        assert state.image is not None
        emit(
            {
                "type": "progress",
                "stage": "segmenting",
                "message": f"Segmenting {target_phrase(state.intent) or 'the image'}",
            }
        )
        request = SegmentRequest(
            image=state.image.rgb,
            image_ref=state.image.ref,
            dialogue=[
                *state.dialogue,
                DialogueTurn(role="user", text=state.user_text, act=state.act),
            ],
            intent=state.intent,
            session_id=state.session_id,
            previous_mask=state.previous_mask,
            previous_instances=state.previous_instances,
            prompts=state.prompts,
        )
        streamed: list[str] = []
        coalesce = ChunkCoalescer(lambda text: emit({"type": "token", "text": text}))

        def stream_text(chunk: str) -> None:
            streamed.append(chunk)
            coalesce(chunk)

        request.on_text = stream_text
        start = time.perf_counter()
        try:
            result, log = _call_tool(
                segment_tool,
                {"target": target_phrase(state.intent) or state.user_text, "request": request},
            )
        finally:
            coalesce.flush()
        backend_ms = (time.perf_counter() - start) * 1000
        assert isinstance(result, SegmentResult)
        if state.act is Act.USER_EDIT:
            for out in result.masks:
                out.source = "user-edit"
        if result.absent:  # stored as such: the target was judged not to be there
            log = dataclasses.replace(log, status="absent")
        emit({"type": "mask", "masks": list(result.masks)})
        return {
            "segment_result": result,
            "streamed_text": bool(streamed),
            "tool_calls": [*state.tool_calls, log],
            "backend_ms": state.backend_ms + (result.backend_ms or backend_ms),
        }

    def explain(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        """Stream a grounded explanation of the (new or current) mask."""
        emit = _sink(runtime)
        assert state.image is not None
        emit({"type": "progress", "stage": "explaining", "message": "Explaining"})
        result = state.segment_result
        mask = (
            result.best.mask
            if result is not None and result.best is not None
            else state.previous_mask
        )
        request = ExplainRequest(
            image=state.image.rgb,
            image_ref=state.image.ref,
            dialogue=[
                *state.dialogue,
                DialogueTurn(role="user", text=state.user_text, act=state.act),
            ],
            intent=state.intent,
            session_id=state.session_id,
            mask=mask,
            previous_mask=state.previous_mask,
            result=result,
        )
        coalesce = ChunkCoalescer(lambda text: emit({"type": "token", "text": text}))
        start = time.perf_counter()
        try:
            text, log = _call_tool(
                explain_tool,
                {
                    "question": state.user_text,
                    "request": request,
                    # A generating backend already streamed this turn's answer while segmenting.
                    "on_chunk": None if state.streamed_text else coalesce,
                },
            )
        finally:
            coalesce.flush()
        backend_ms = (time.perf_counter() - start) * 1000
        return {
            "explanation": str(text or ""),
            "tool_calls": [*state.tool_calls, log],
            "backend_ms": state.backend_ms + backend_ms,
        }

    def use_tool(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        """Answer with the planned extra tool; its masks and pictures join the turn."""
        emit = _sink(runtime)
        tool = tools_by_name[str(state.tool_name)]
        emit({"type": "progress", "stage": tool.name, "message": f"Using {tool.name}"})
        context = ToolContext(
            session_id=state.session_id,
            turn_index=state.turn_index,
            user_text=state.user_text,
            act=state.act,
            intent=state.recalled_intent,
            image=state.image,
            mask=state.previous_mask,
            dialogue=tuple(state.dialogue),
        )
        outcome = run_extra_tool(tool, dict(state.tool_args), context, spec_of(tool))
        pictures = [
            PictureRef(
                sha256=memory.put_image(p.image).sha256, width=p.image.ref.width,
                height=p.image.ref.height, caption=p.caption, tool=tool.name,
            )
            for p in outcome.pictures
        ]
        call = outcome.call
        assert call is not None
        if pictures:
            stored = [{"sha256": p.sha256, "caption": p.caption} for p in pictures]
            call = dataclasses.replace(call, args={**call.args, "pictures": stored})
        if outcome.masks:
            emit({"type": "mask", "masks": list(outcome.masks)})
        emit({"type": "token", "text": outcome.text})
        if pictures:
            emit({"type": "picture", "pictures": pictures})
        # A tool answers about the current target: what the user points at stays as it was.
        reason = f"answered by the {tool.name} tool"
        return {
            "explanation": outcome.text,
            "tool_masks": list(outcome.masks),
            "pictures": pictures,
            "tool_calls": [*state.tool_calls, call],
            "intent": state.recalled_intent.revised(turn=state.turn_index, op=IntentOp.KEEP, reason=reason),
            # a trigger can beat the tracker ("grow it by 5 px" read as a new target): say what happened
            "act": (Act.REFINE if outcome.masks else Act.EXPLAIN) if state.act.segments else state.act,
        }

    def respond(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        """Compose the assistant message and the masks to store with it."""
        emit = _sink(runtime)
        masks: list[MaskOut] = list(state.tool_masks)
        if state.image is None and not state.explanation:
            reply = replies.NO_IMAGE
        elif state.segment_result is not None:
            masks = list(state.segment_result.masks)
            if not masks and state.segment_result.absent:
                reply = _absent_reply(state)
            elif not masks and state.segment_result.text.strip():
                reply = state.segment_result.text.strip()  # a model that answered without [SEG]
            elif not masks:
                reply = replies.NOTHING_FOUND.format(target=state.intent.target or "that")
            elif state.act is Act.USER_EDIT:
                what = "box" if state.prompts.box is not None else "clicks"
                reply = replies.USER_EDIT.format(what=what) + (
                    f" {state.explanation}" if state.explanation else ""
                )
            else:
                reply = state.explanation or state.segment_result.text
        elif state.explanation:
            reply = state.explanation
        elif state.act is Act.RESET:
            reply = replies.RESET
        elif state.act is Act.EXPLAIN:
            reply = replies.NO_MASK_YET
        else:
            reply = replies.GREETING
        already_streamed = bool(state.explanation) or state.streamed_text
        if (
            reply
            and not already_streamed
            and (state.image is None or state.act is not Act.USER_EDIT)
        ):
            emit({"type": "token", "text": reply})
        return {"reply": reply, "masks": masks}

    def remember(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        """Store the assistant turn, intent, masks and tool calls in one transaction."""
        emit = _sink(runtime)
        emit({"type": "progress", "stage": "saving", "message": "Saving"})
        assert state.user_turn_id is not None
        intent = state.intent
        if state.segment_result is not None and state.segment_result.absent:
            # Nothing was found: the conversation goes on from what was current before.
            intent = state.recalled_intent.revised(turn=state.turn_index, op=IntentOp.KEEP)
        if state.masks:
            intent = intent.model_copy(
                update={"mask_id": None}
            )  # memory points it at the new best mask
        elif state.act is Act.RESET:
            intent = intent.model_copy(update={"mask_id": None})
        record = memory.complete_turn(
            state.user_turn_id,
            act=state.act.value,
            reply=state.reply,
            intent=intent,
            masks=state.masks,
            tool_calls=state.tool_calls,
            latency_ms=(time.perf_counter() - state.started_at) * 1000 if state.started_at else 0.0,
        )
        for out, stored in zip(state.masks, record.masks, strict=True):
            decoded.put(stored, out.mask)
        update: dict[str, Any] = {"assistant_turn_id": record.id}
        if record.intent is not None:
            update["intent"] = record.intent  # now pointing at the stored mask
        return update

    builder = StateGraph(TurnState, context_schema=TurnContext, input_schema=TurnInput)
    builder.add_node("recall", recall)
    builder.add_node("track_intent", track_intent)
    builder.add_node("plan", plan)
    builder.add_node("segment", segment)
    builder.add_node("explain", explain)
    builder.add_node("use_tool", use_tool)
    builder.add_node("respond", respond)
    builder.add_node("remember", remember)
    builder.add_edge(START, "recall")
    builder.add_edge("recall", "track_intent")
    builder.add_edge("track_intent", "plan")
    builder.add_conditional_edges("plan", route, ["segment", "explain", "use_tool", "respond"])
    builder.add_conditional_edges("segment", _after_segment, ["explain", "respond"])
    builder.add_edge("explain", "respond")
    builder.add_edge("use_tool", "respond")
    builder.add_edge("respond", "remember")
    builder.add_edge("remember", END)
    return builder.compile(name="pixelrs-turn")


def _leads(dialogue: list[DialogueTurn]) -> list[DialogueTurn]:
    """Give the conversation as the tracker and backends read it: answers without their details
    part (coordinates, cues and IoU are for people, not evidence of what the user means)."""
    out = []
    for turn in dialogue:
        lead = answer.split(turn.text)[0] if turn.role == "assistant" else turn.text
        out.append(turn if lead == turn.text else turn.model_copy(update={"text": lead}))
    return out


def _absent_reply(state: TurnState) -> str:
    """Say plainly that the target is not there, why, and that the current mask is kept."""
    result = state.segment_result
    assert result is not None
    phrase = target_phrase(state.intent, relations=False)
    target = phrase or "that"
    why = str(result.evidence.get("absent") or "").strip()
    details = [why[:1].upper() + why[1:] + ("" if why.endswith(".") else ".")] if why else []
    if state.previous_mask is not None:
        details.append(replies.ABSENT_KEPT)
    if result.evidence.get("part"):  # the phrase already names the part: "handle of the cup"
        return compose(replies.PART_ABSENT.format(target=target), details)
    if phrase:  # no article on "that" ("I don't see that"), nor on a phrase that has one
        target = _indefinite(phrase, plural=bool(state.intent.attributes.get("count")))
    if result.evidence.get("unknown"):  # the backend cannot recognise it: it does not know
        return compose(replies.UNKNOWN.format(target=target), details)
    return compose(replies.ABSENT.format(target=target), details)


_COUNTS = frozenset("two three four five six seven eight nine ten eleven twelve".split())


def _indefinite(phrase: str, *, plural: bool) -> str:
    """Put the article an absent thing takes: "a dog", "an open book", "any scissors" (for "all
    the scissors" or "both cups"); a phrase that has a determiner or a number keeps it ("two
    cups": "I don't see two cups", not "any two cups")."""
    first, _, rest = phrase.partition(" ")
    if first.lower() in {"the", "a", "an", "any"} or first.lower() in _COUNTS or first.isdigit():
        return phrase
    if first.lower() in {"all", "both", "every", "each"} and rest:
        phrase, plural = rest, True
    if plural:
        return f"any {phrase}"
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _after_segment(state: TurnState) -> Literal["explain", "respond"]:
    """Explain a found mask; go straight to the reply when nothing was found."""
    result = state.segment_result
    return "explain" if result is not None and result.masks else "respond"
