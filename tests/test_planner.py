"""The LLM planner with LangChain's fake chat models that emit tool calls, over a real runtime:
it chooses among the registered tools, and every failure falls back to the rules, recorded."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pixelrs_measure import MeasureTool  # the example plug-ins (pytest's pythonpath)
from pixelrs_zoom import zoom
from pydantic import Field

from agent.errors import BadInputError
from agent.images import LoadedImage, load_image_file
from agent.memory import Memory
from agent.types import Act, Intent
from graphs.planner import LLMPlanner, PlanRequest, RulePlanner, build_planner
from graphs.runtime import Runtime

REPO = Path(__file__).resolve().parents[1]


class ToolCallingFake(GenericFakeChatModel):
    """GenericFakeChatModel that accepts ``bind_tools`` (recording the schemas) and may be slow."""

    bound: list[dict[str, Any]] = Field(default_factory=list)
    delay_s: float = 0.0

    def bind_tools(self, tools: Sequence[Any], **_: Any) -> ToolCallingFake:  # type: ignore[override]
        self.bound[:] = [convert_to_openai_tool(t) for t in tools]
        return self

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        if self.delay_s:
            time.sleep(self.delay_s)
        return super()._generate(*args, **kwargs)


def call(name: str, **args: Any) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call_{name}", "type": "tool_call"}])


def messages(*items: AIMessage | Exception) -> Iterator[AIMessage]:
    for item in items:
        if isinstance(item, Exception):
            raise item
        yield item


@pytest.fixture(scope="module")
def coffee() -> LoadedImage:
    return load_image_file(REPO / "data" / "photos" / "coffee.png")


def plan_records(runtime: Runtime, sid: str) -> list[tuple[str, str, Any]]:
    """(status, choice, error) of each answer's ``plan`` call."""
    return [
        (c.status, c.args.get("choice"), c.error)
        for t in runtime.history(sid).turns
        for c in t.tool_calls
        if c.tool == "plan"
    ]


def test_the_model_chooses_among_the_registered_tools(sqlite_url: str, lite: Any, coffee: LoadedImage) -> None:
    model = ToolCallingFake(
        messages=messages(
            call("segment", target="the cup"),
            call("measure", question="how much of the picture is the cup?"),  # no trigger word: the model's choice
            call("zoom", request="closer", scale=2),
            call("explain", question="what is it?"),
        )
    )
    runtime = Runtime(memory=Memory(sqlite_url), backend=lite, tools=[MeasureTool(), zoom], planner=LLMPlanner(model, model_name="fake:planner"))
    try:
        sid = runtime.new_session()
        first = runtime.run_turn_sync(sid, "find the cup", image=coffee)
        assert first.masks
        share = runtime.run_turn_sync(sid, "and what fraction of the picture is that?")
        assert share.reply.startswith("It covers ")
        closer = runtime.run_turn_sync(sid, "let me see that better")
        assert closer.pictures and "enlarged 2x" in closer.reply
        runtime.run_turn_sync(sid, "tell me about it")
        answers = [t for t in runtime.history(sid).turns if t.role == "assistant"]
        assert [[c.tool for c in t.tool_calls] for t in answers] == [
            ["plan", "segment", "explain"], ["plan", "measure"], ["plan", "zoom"], ["plan", "explain"],
        ]
        assert plan_records(runtime, sid) == [("ok", "segment", None), ("ok", "measure", None), ("ok", "zoom", None), ("ok", "explain", None)]
        assert answers[1].tool_calls[0].args["model"] == "fake:planner"
        assert answers[2].tool_calls[1].args == {"request": "closer", "scale": 2, "result": answers[2].tool_calls[1].args["result"], "pictures": answers[2].tool_calls[1].args["pictures"]}
    finally:
        runtime.close()
    # the model saw every tool, and none of the injected arguments
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in model.bound}
    assert set(schemas) == {"segment", "explain", "measure", "zoom"}
    assert set(schemas["measure"]["properties"]) == {"question"}
    assert set(schemas["zoom"]["properties"]) == {"request", "scale"}
    assert set(schemas["segment"]["properties"]) == {"target"}


def test_unusable_answers_fall_back_to_the_rules(sqlite_url: str, lite: Any, coffee: LoadedImage) -> None:
    model = ToolCallingFake(
        messages=messages(
            call("measure", question="how big?"),  # nothing is segmented yet: measure needs a mask
            call("teleport", where="moon"),  # an unknown tool
            AIMessage(content="I think you mean the cup."),  # no tool call at all
            call("zoom", scale="huge"),  # arguments the tool's schema refuses
            RuntimeError("the model's server is down"),
        ),
        delay_s=0.0,
    )
    planner = LLMPlanner(model, timeout_s=5, model_name="fake:planner")
    runtime = Runtime(memory=Memory(sqlite_url), backend=lite, tools=[MeasureTool(), zoom], planner=planner)
    try:
        sid = runtime.new_session()
        first = runtime.run_turn_sync(sid, "find the cup", image=coffee)  # rules: segment
        assert first.masks
        assert runtime.run_turn_sync(sid, "how big is it?").reply.startswith("It covers ")  # rules: measure
        assert runtime.run_turn_sync(sid, "what colour is it?").act is Act.EXPLAIN  # rules: explain
        assert runtime.run_turn_sync(sid, "zoom in").pictures  # rules: zoom
        assert runtime.run_turn_sync(sid, "hello").act is Act.CHITCHAT  # the model raised: rules
        records = plan_records(runtime, sid)
        assert [(s, c) for s, c, _ in records] == [
            ("fallback", "segment"), ("fallback", "measure"), ("fallback", "explain"), ("fallback", "zoom"), ("fallback", "respond"),
        ]
        errors = [e for _, _, e in records]
        assert errors[0] == "measure needs a mask and the session has none"
        assert errors[1] == "the model called an unknown tool 'teleport'"
        assert errors[2] == "the model called no tool"
        assert errors[3].startswith("bad arguments for zoom")
        assert errors[4] == "the model's server is down"
        assert all(t.status == "ok" for t in runtime.history(sid).turns)
    finally:
        runtime.close()


def test_a_slow_model_times_out_to_the_rules() -> None:
    model = ToolCallingFake(messages=messages(call("explain", question="?")), delay_s=2.0)
    planner = LLMPlanner(model, timeout_s=0.2, model_name="fake:slow")
    request = PlanRequest(user_text="how big is it?", act=Act.EXPLAIN, intent=Intent(target="cup"), has_image=True, has_mask=True)
    tools: list[BaseTool] = [MeasureTool()]
    plan = planner.plan(request, tools)
    assert (plan.route, plan.tool) == ("use_tool", "measure")  # what the rules decide
    assert plan.call is not None and plan.call.status == "timeout" and plan.call.error == "no answer within 0.2 s"
    assert plan.call.args == {"planner": "llm", "model": "fake:slow", "fallback": "rules", "choice": "measure"}


def test_the_rules_follow_triggers_acts_and_needs() -> None:
    rules = RulePlanner()
    tools: list[BaseTool] = [MeasureTool(), zoom]

    def route(text: str, act: Act, *, image: bool = True, mask: bool = True, edit: bool = False) -> tuple[str, str | None]:
        plan = rules.plan(PlanRequest(user_text=text, act=act, intent=Intent(), has_image=image, has_mask=mask, user_edit=edit), tools)
        return plan.route, plan.tool

    assert route("how big is it?", Act.EXPLAIN) == ("use_tool", "measure")
    assert route("how big is it?", Act.EXPLAIN, mask=False) == ("explain", None)  # measure needs a mask
    assert route("how many cups are there?", Act.NEW_TARGET) == ("segment", None)  # measure serves questions only
    assert route("zoom in", Act.CHITCHAT) == ("use_tool", "zoom")
    assert route("zoom in", Act.EXPLAIN, edit=True) == ("segment", None)  # clicks always segment
    assert route("hello", Act.CHITCHAT, image=False) == ("respond", None)


def test_build_planner_errors_are_one_line() -> None:
    assert isinstance(build_planner("rules"), RulePlanner)
    with pytest.raises(BadInputError, match="the llm planner needs a model"):
        build_planner("llm")
    with pytest.raises(BadInputError, match="unknown planner 'magic'"):
        build_planner("magic")
    with pytest.raises(BadInputError, match="expected PROVIDER:MODEL"):
        build_planner("llm", llm="gpt")
