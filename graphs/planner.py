"""Planners: which node answers a turn (segment, explain, an extra tool, or a plain reply).

:class:`RulePlanner` is the default and the fallback: acts and trigger regexes decide.
:class:`LLMPlanner` hands the choice to a tool-calling chat model (``bind_tools``) that sees
every registered tool's name, description and model-visible arguments; when the model fails,
is too slow, or answers with something unusable (no tool call, an unknown tool, bad arguments, a
tool whose needs are not met), the rules decide and the turn's ``plan`` call record says why.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from langchain_core.tools import BaseTool
from pydantic import ValidationError

from agent.errors import BadInputError
from agent.intent.choice import BACKEND_LLM, backend_chat_model, chat_model_from_spec
from agent.memory import ToolCallIn
from agent.types import Act, DialogueTurn, Intent
from graphs.tool_runner import call_with_timeout, text_args
from tools.contract import spec_of

Route = Literal["segment", "explain", "use_tool", "respond"]
PLANNERS = ("rules", "llm")
BUILTIN_TOOLS = ("segment", "explain")


@dataclass(frozen=True)
class PlanRequest:
    """What a planner knows about the turn."""

    user_text: str
    act: Act
    intent: Intent
    has_image: bool
    has_mask: bool
    user_edit: bool = False
    """The turn carries clicks or a box: always a segmentation."""
    dialogue: Sequence[DialogueTurn] = ()


@dataclass(frozen=True)
class Plan:
    """A planner's decision."""

    route: Route
    tool: str | None = None
    """The extra tool that answers (route ``use_tool``)."""
    args: dict[str, Any] = field(default_factory=dict)
    """Its model-visible arguments."""
    call: ToolCallIn | None = None
    """The planner's own model call, stored with the turn (LLM planners)."""


class Planner(Protocol):
    """Chooses the node that answers a turn among the built-in ones and ``tools``."""

    name: str

    def plan(self, request: PlanRequest, tools: Sequence[BaseTool]) -> Plan:
        """Return the route (and tool and arguments) for the turn."""
        ...


class RulePlanner:
    """Acts and trigger regexes decide (the default, and every LLM planner's fallback)."""

    name = "rules"

    def plan(self, request: PlanRequest, tools: Sequence[BaseTool]) -> Plan:
        """Clicks segment; then the first extra tool whose trigger, act and needs fit; then the act."""
        if request.user_edit and request.has_image:
            return Plan("segment")
        for tool in tools:
            if tool.name in BUILTIN_TOOLS:
                continue
            spec = spec_of(tool)
            if not spec.matches(request.user_text) or not spec.serves(request.act):
                continue
            if spec.missing(has_image=request.has_image, has_mask=request.has_mask):
                continue
            args = text_args(tool, request.user_text)
            if args is not None:
                return Plan("use_tool", tool=tool.name, args=args)
        if not request.has_image:
            return Plan("respond")
        if request.act.segments:
            return Plan("segment")
        if request.act is Act.EXPLAIN:
            return Plan("explain")
        return Plan("respond")


SYSTEM_PROMPT = """You are the planner of pixelrs, an assistant that segments what a user means in an
image over a conversation and answers questions about it. Call exactly one tool for the user's
latest message:
- segment: the user names something to find or changes what they point at (new target, refinement,
  correction, "segment it").
- explain: the user asks about the current mask (what it is, what it says, why, where).
- any other tool: when its description fits the message better than segment or explain.
The tracked act and intent come from an intent tracker; has_mask says whether something is
segmented yet. Use the user's own words for text arguments."""


class LLMPlanner:
    """A tool-calling chat model decides; the rules decide when it cannot (module docstring).

    Arguments:
      chat_model: a LangChain chat model that supports ``bind_tools``.
      fallback: the planner used when the model fails (default: the rules).
      timeout_s: longest wait for the model (None: no limit); a late answer is dropped.
      model_name: what the turn's ``plan`` record names (default: the model's class).
    """

    name = "llm"

    def __init__(
        self,
        chat_model: Any,
        *,
        fallback: Planner | None = None,
        timeout_s: float | None = 30.0,
        model_name: str | None = None,
        history_turns: int = 6,
    ) -> None:
        self.chat_model = chat_model
        self.fallback = fallback or RulePlanner()
        self.timeout_s = timeout_s
        self.model_name = model_name or type(chat_model).__name__
        self.history_turns = history_turns
        self._bound: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()

    def plan(self, request: PlanRequest, tools: Sequence[BaseTool]) -> Plan:
        """Ask the model; on any failure, timeout or unusable answer return the rules' plan."""
        start = time.perf_counter()
        if request.user_edit and request.has_image:  # clicks are a segmentation, nothing to decide
            return self.fallback.plan(request, tools)
        try:
            choice, args = call_with_timeout(
                lambda: self._ask(request, tools), self.timeout_s, name="planner"
            )
            plan = self._checked(choice, args, request, tools)
        except Exception as exc:  # noqa: BLE001 - any model failure falls back to the rules
            return self._fall_back(exc, start, request, tools)
        record = ToolCallIn(
            tool="plan",
            args={"planner": self.name, "model": self.model_name, "choice": choice},
            duration_ms=_ms(start),
        )
        return Plan(plan.route, tool=plan.tool, args=plan.args, call=record)

    def _model_for(self, tools: Sequence[BaseTool]) -> Any:
        key = tuple(t.name for t in tools)
        with self._lock:
            if key not in self._bound:
                try:
                    self._bound[key] = self.chat_model.bind_tools(list(tools))
                except (NotImplementedError, AttributeError):
                    raise ValueError("the model cannot call tools (no bind_tools)") from None
            return self._bound[key]

    def _ask(self, request: PlanRequest, tools: Sequence[BaseTool]) -> tuple[str, dict[str, Any]]:
        payload = {
            "user_message": request.user_text,
            "tracked_act": request.act.value,
            "intent": request.intent.model_dump(mode="json", exclude={"history", "mask_id"}),
            "has_image": request.has_image,
            "has_mask": request.has_mask,
            "dialogue": [{"role": d.role, "text": d.text} for d in list(request.dialogue)[-self.history_turns :]],
        }
        reply = self._model_for(tools).invoke(
            [("system", SYSTEM_PROMPT), ("human", json.dumps(payload, ensure_ascii=False))]
        )
        calls = getattr(reply, "tool_calls", None) or []
        if not calls:
            raise ValueError("the model called no tool")
        first = calls[0]
        name, args = first.get("name"), first.get("args")
        if not isinstance(name, str) or not isinstance(args, dict):
            raise ValueError("the model's tool call has no name or arguments")
        return name, args

    def _checked(self, choice: str, args: dict[str, Any], request: PlanRequest, tools: Sequence[BaseTool]) -> Plan:
        """Turn the model's call into a plan, refusing what the turn cannot do."""
        by_name = {t.name: t for t in tools}
        if choice not in by_name:
            raise ValueError(f"the model called an unknown tool {choice[:60]!r}")
        tool = by_name[choice]
        schema = tool.tool_call_schema
        validate = getattr(schema, "model_validate", None)
        if callable(validate):
            try:
                validate(args)
            except ValidationError as exc:
                raise ValueError(f"bad arguments for {choice}: {exc.errors()[0]['msg']}") from None
        if choice in BUILTIN_TOOLS:
            if not request.has_image:
                raise ValueError(f"{choice} needs an image and there is none yet")
            if choice == "explain" and not request.has_mask:
                raise ValueError("explain needs a mask and nothing is segmented yet")
            return Plan("segment" if choice == "segment" else "explain")
        missing = spec_of(tool).missing(has_image=request.has_image, has_mask=request.has_mask)
        if missing:
            raise ValueError(f"{choice} needs {missing} and the session has none")
        return Plan("use_tool", tool=choice, args=dict(args))

    def _fall_back(self, exc: Exception, start: float, request: PlanRequest, tools: Sequence[BaseTool]) -> Plan:
        plan = self.fallback.plan(request, tools)
        why = " ".join(str(exc).split())[:200] or type(exc).__name__
        record = ToolCallIn(
            tool="plan",
            args={
                "planner": self.name,
                "model": self.model_name,
                "fallback": getattr(self.fallback, "name", type(self.fallback).__name__),
                "choice": plan.tool or plan.route,
            },
            duration_ms=_ms(start),
            status="timeout" if isinstance(exc, TimeoutError) else "fallback",
            error=why,
        )
        return Plan(plan.route, tool=plan.tool, args=plan.args, call=record)


def build_planner(
    kind: str = "rules", *, llm: str | None = None, timeout_s: float | None = 30.0, backend: Any = None
) -> Planner:
    """Build the planner of ``kind`` (``rules`` or ``llm`` over ``--llm PROVIDER:MODEL``); one-line errors."""
    if kind == "rules":
        return RulePlanner()
    if kind != "llm":
        raise BadInputError(f"unknown planner {kind!r}; choose one of {', '.join(PLANNERS)}")
    if not llm:
        raise BadInputError("the llm planner needs a model: --llm PROVIDER:MODEL (or --llm backend)")
    spec = llm.strip()
    model = backend_chat_model(backend) if spec == BACKEND_LLM else chat_model_from_spec(spec)
    return LLMPlanner(model, timeout_s=timeout_s, model_name=spec)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


__all__ = ["PLANNERS", "LLMPlanner", "Plan", "PlanRequest", "Planner", "RulePlanner", "build_planner"]
