"""LLM intent tracker with LangChain's fake chat models (fakes only here, in tests)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage

from agent.errors import BadInputError
from agent.intent import (
    IntentTracker,
    IntentUpdate,
    LLMIntentTracker,
    RuleIntentTracker,
    build_tracker,
    build_trackers,
)
from agent.intent.choice import chat_model_from_spec
from agent.types import Act, DialogueTurn, Intent, IntentOp, Relation


class ToolCallingFake(GenericFakeChatModel):
    """A fake chat model that accepts tools, so ``with_structured_output`` works on it."""

    bound: list[Any] = []

    def bind_tools(self, tools, **kwargs):  # noqa: ANN001 - LangChain signature
        self.bound.append((tools, kwargs))
        return self


def tool_reply(**args: Any) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": "IntentUpdate", "args": args, "id": "call-1"}]
    )


def fake(*messages: AIMessage | str) -> ToolCallingFake:
    return ToolCallingFake(messages=iter(messages))


def test_llm_tracker_follows_the_protocol():
    assert isinstance(LLMIntentTracker(fake()), IntentTracker)


def test_new_target_from_the_model():
    model = fake(
        tool_reply(
            act="new_target",
            target="port",
            attributes={"colour": "black"},
            relations=[{"kind": "next_to", "anchor": "HDMI label"}],
            reason="asks for the port",
        )
    )
    tracker = LLMIntentTracker(model)
    result = tracker.track(
        intent=Intent(target="HDMI label"), dialogue=[], user_text="now the port next to it", turn=2
    )
    assert result.act is Act.NEW_TARGET
    assert result.intent.target == "port"
    assert result.intent.attributes == {"colour": "black"}
    assert result.intent.relations == [Relation(kind="next_to", anchor="HDMI label")]
    assert result.intent.op is IntentOp.NEW
    assert result.intent.history[-1].turn == 2
    assert result.reason == "llm (ToolCallingFake): asks for the port"
    assert result.intent.history[-1].reason == result.reason
    assert result.call is not None and result.call.status == "ok" and result.call.tracker == "llm"
    tools, _ = model.bound[-1]
    assert tools == [IntentUpdate]


def test_model_sees_the_intent_dialogue_and_turn():
    seen: list[Any] = []

    class Recording(ToolCallingFake):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # noqa: ANN001
            seen.append(messages)
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    tracker = LLMIntentTracker(Recording(messages=iter([tool_reply(act="explain")])))
    dialogue = [
        DialogueTurn(role="user", text="find the label"),
        DialogueTurn(role="assistant", text="It reads 'Sky Cola'."),
    ]
    tracker.track(
        intent=Intent(target="label"), dialogue=dialogue, user_text="what does it say?", turn=1
    )
    text = " ".join(str(m.content) for m in seen[0])
    assert "Sky Cola" in text and "what does it say?" in text and '"target": "label"' in text


def test_explain_keeps_the_intent():
    current = Intent(target="label", attributes={"text": "HDMI"})
    result = LLMIntentTracker(fake(tool_reply(act="explain", target="something else"))).track(
        intent=current, dialogue=[], user_text="what does it say?", turn=1
    )
    assert result.act is Act.EXPLAIN
    assert result.intent.op is IntentOp.KEEP
    assert result.intent.target == "label" and result.intent.attributes == {"text": "HDMI"}


def test_refine_and_correct_merge_into_the_current_intent():
    current = Intent(target="car", attributes={"colour": "red"}, exclusions=["truck"])
    refine = LLMIntentTracker(
        fake(tool_reply(act="refine", attributes={"position": "left"}))
    ).track(intent=current, dialogue=[], user_text="only the left one", turn=1)
    assert refine.intent.target == "car"
    assert refine.intent.attributes == {"colour": "red", "position": "left"}
    assert refine.intent.op is IntentOp.REFINE
    correct = LLMIntentTracker(
        fake(
            tool_reply(
                act="correct",
                target="text",
                exclusions=["logo"],
                relations=[{"kind": "below", "anchor": "logo"}],
            )
        )
    ).track(intent=current, dialogue=[], user_text="not the logo, the text under it", turn=2)
    assert correct.act is Act.CORRECT
    assert correct.intent.target == "text"
    assert correct.intent.exclusions == ["truck", "logo"]
    assert correct.intent.relations == [Relation(kind="below", anchor="logo")]


def test_reset_from_the_model_clears():
    result = LLMIntentTracker(fake(tool_reply(act="reset"))).track(
        intent=Intent(target="car", mask_id=3), dialogue=[], user_text="start over", turn=4
    )
    assert result.act is Act.RESET
    assert result.intent.target is None and result.intent.mask_id is None
    assert result.intent.op is IntentOp.RESET


def test_invalid_output_falls_back_to_the_rules():
    for reply in (
        tool_reply(act="dance"),  # unknown act
        tool_reply(act="new_target"),  # new target without a phrase
        tool_reply(act="new_target", target="x", relations=[{"kind": "diagonal", "anchor": "y"}]),
        AIMessage(content="I think it is the port"),  # no tool call at all
    ):
        result = LLMIntentTracker(fake(reply)).track(
            intent=Intent(), dialogue=[], user_text="find the HDMI label", turn=0
        )
        assert result.act is Act.NEW_TARGET
        assert result.intent.target == "HDMI label"
        assert "llm fallback" in result.reason


def test_model_errors_fall_back_to_the_rules():
    class Broken(ToolCallingFake):
        def _generate(self, *args, **kwargs):  # noqa: ANN002, ANN003
            raise RuntimeError("rate limited")

    result = LLMIntentTracker(Broken(messages=iter([]))).track(
        intent=Intent(target="cup"), dialogue=[], user_text="thanks!", turn=1
    )
    assert result.act is Act.CHITCHAT
    assert "llm fallback" in result.reason and "rate limited" in result.reason


def test_model_without_structured_output_falls_back():
    result = LLMIntentTracker(FakeListChatModel(responses=["new_target"])).track(
        intent=Intent(), dialogue=[], user_text="segment the red car", turn=0
    )
    assert result.act is Act.NEW_TARGET
    assert result.intent.target == "car"
    assert "llm fallback" in result.reason


def test_structured_output_returning_a_dict_is_accepted():
    class DictModel:
        def with_structured_output(self, schema):  # noqa: ANN001
            class Runnable:
                def invoke(self, messages):  # noqa: ANN001
                    return {"act": "chitchat"}

            return Runnable()

    result = LLMIntentTracker(DictModel()).track(
        intent=Intent(target="cup"), dialogue=[], user_text="hi", turn=1
    )
    assert result.act is Act.CHITCHAT
    assert result.intent.target == "cup"
    assert "llm fallback" not in result.reason


# --------------------------------------------------------------------------- JSON mode, timeouts


def test_model_without_tools_answers_in_json():
    """A model that cannot call tools is asked for the schema's JSON in the prompt."""
    reply = json.dumps(
        {
            "act": "refine",
            "attributes": {"part": "handle"},
            "evidence": [{"words": "the handle", "role": "part"}, {"words": "not said", "role": "x"}],
            "reason": "a part of the cup",
        }
    )
    seen: list[Any] = []

    class Recording(FakeListChatModel):
        def _call(self, messages, stop=None, run_manager=None, **kwargs):  # noqa: ANN001
            seen.append(messages)
            return super()._call(messages, stop=stop, run_manager=run_manager, **kwargs)

    tracker = LLMIntentTracker(Recording(responses=[f"Sure! {reply}"]))
    result = tracker.track(intent=Intent(target="cup"), dialogue=[], user_text="just the handle", turn=3)
    assert result.act is Act.REFINE
    assert result.intent.target == "cup" and result.intent.attributes == {"part": "handle"}
    assert "llm fallback" not in result.reason
    assert '"IntentUpdate"' in str(seen[0][0].content) or "act" in str(seen[0][0].content)
    evidence = result.intent.history[-1].evidence
    assert [(e.words, e.role, e.turn) for e in evidence] == [("the handle", "part", 3)]  # unsaid words dropped


@pytest.mark.parametrize(
    "reply",
    [
        '{"act": "paint", "target": "cup"}',  # not an act of the schema
        '{"target": "cup"}',  # act missing
        '{"act": "new_target", "relations": [{"kind": "diagonal", "anchor": "x"}], "target": "y"}',
        "{not json}",
    ],
)
def test_json_that_fails_the_schema_falls_back(reply):
    result = LLMIntentTracker(FakeListChatModel(responses=[reply])).track(
        intent=Intent(), dialogue=[], user_text="find the red cup", turn=0
    )
    assert result.act is Act.NEW_TARGET and result.intent.target == "cup"
    assert "llm fallback" in result.reason
    assert result.call is not None and result.call.status == "fallback" and result.call.fallback == "rules"
    assert result.intent.history[-1].reason == result.reason  # the revision says so too


def test_slow_model_times_out_and_the_rules_answer():
    release = threading.Event()

    class Slow(ToolCallingFake):
        def _generate(self, *args, **kwargs):  # noqa: ANN002, ANN003
            release.wait(5)
            return super()._generate(*args, **kwargs)

    tracker = LLMIntentTracker(Slow(messages=iter([tool_reply(act="chitchat")])), timeout_s=0.2)
    start = time.perf_counter()
    result = tracker.track(intent=Intent(target="cup"), dialogue=[], user_text="no, the other one", turn=1)
    elapsed = time.perf_counter() - start
    release.set()
    assert elapsed < 3
    assert result.act is Act.CORRECT and result.intent.attributes.get("other") == "yes"
    assert "llm fallback: no answer within 0.2 s" in result.reason
    assert result.call is not None and result.call.status == "timeout"


# --------------------------------------------------------------------------- choosing a tracker


def test_build_tracker_kinds_and_errors():
    assert isinstance(build_tracker("rules"), RuleIntentTracker)
    with pytest.raises(BadInputError, match="unknown tracker 'magic'"):
        build_tracker("magic")
    with pytest.raises(BadInputError, match="needs a model"):
        build_tracker("llm")
    with pytest.raises(BadInputError, match="expected PROVIDER:MODEL"):
        chat_model_from_spec("gpt-4o")
    with pytest.raises(BadInputError, match="no language model") as err:
        build_tracker("llm", llm="backend", backend=object())
    assert "\n" not in str(err.value)


def test_init_chat_model_reports_a_missing_provider_in_one_line():
    pytest.importorskip("langchain")
    with pytest.raises(BadInputError, match="cannot build the chat model") as err:
        chat_model_from_spec("no-such-provider:some-model")
    assert "\n" not in str(err.value)


def test_backend_language_model_can_be_the_tracker():
    class Backend:
        name = "fake-vlm"

        def chat_model(self):
            return FakeListChatModel(responses=['{"act": "chitchat", "reason": "a greeting"}'])

    tracker = build_tracker("llm", llm="backend", backend=Backend())
    assert isinstance(tracker, LLMIntentTracker)
    result = tracker.track(intent=Intent(target="cup"), dialogue=[], user_text="hello there", turn=1)
    assert result.act is Act.CHITCHAT and result.reason == "llm (backend): a greeting"


def test_build_trackers_offers_rules_and_leaves_out_an_unusable_llm():
    trackers = build_trackers("rules", llm="no-such-provider:x")
    assert list(trackers) == ["rules"]
    with pytest.raises(BadInputError):
        build_trackers("llm", llm="no-such-provider:x")
    with pytest.raises(BadInputError):
        build_trackers("llm")


# --------------------------------------------------------------------------- wiring into turns


def test_a_turn_tracked_by_the_llm_is_stored_with_its_call(tmp_path, lite):
    from agent.memory import Memory
    from graphs.runtime import Runtime

    llm = LLMIntentTracker(FakeListChatModel(responses=["not json at all"]), model_name="fake:model")
    runtime = Runtime(
        memory=Memory(f"sqlite:///{tmp_path / 'db.sqlite'}"),
        backend=lite,
        trackers={"rules": RuleIntentTracker(), "llm": llm},
    )
    try:
        sid = runtime.new_session()
        first = runtime.run_turn_sync(sid, "find the red cup", tracker="llm")
        runtime.run_turn_sync(sid, "thanks")  # the default tracker: the rules, no model call
        with pytest.raises(Exception, match="unknown tracker 'gpt'"):
            runtime.run_turn_sync(sid, "hello", tracker="gpt")
        history = runtime.history(sid)
    finally:
        runtime.close()
    assert first.intent.target == "cup"
    calls = [(c.tool, c.status, c.args.get("model")) for t in history.turns for c in t.tool_calls]
    assert calls == [("track_intent", "fallback", "fake:model")]
    revision = history.current_intent.history[0]
    assert "llm fallback" in revision.reason
    assert {(e.role, e.words) for e in revision.evidence} >= {("target", "the red cup")}


def test_the_miras_language_model_tracks_at_tiny_size(tmp_path):
    """The backend's own model behind the tracker: real model code, random weights, no JSON ->
    the rules answer and the call says why."""
    pytest.importorskip("torch")
    from tools.backends.miras import MirasBackend
    from tools.backends.vlm_common.chat import SegVLMChatModel, generate_text
    from tools.backends.vlm_common.engine import SegVLMPredictor
    from tools.backends.vlm_common.loader import load_model
    from tools.backends.vlm_common.testing import make_tiny_checkpoint

    tiny = make_tiny_checkpoint(tmp_path, "miras", seed=5)
    loaded = load_model(tiny["model_dir"], variant="miras", convnext=tiny["convnext"], progress=False)
    backend = MirasBackend(predictor=SegVLMPredictor(loaded))
    chat = backend.chat_model(max_new_tokens=8)
    assert isinstance(chat, SegVLMChatModel)
    text = generate_text(backend.predictor, "find the HDMI label", max_new_tokens=8)
    assert text == generate_text(backend.predictor, "find the HDMI label", max_new_tokens=8)  # greedy
    assert text and "[SEG]" not in text
    reply = chat.invoke([("system", "track"), ("human", "find the HDMI label")])
    assert reply.content == generate_text(backend.predictor, "track\n\nfind the HDMI label", max_new_tokens=8)

    tracker = build_tracker("llm", llm="backend", backend=backend)
    tracker.chat_model.max_new_tokens = 8
    result = tracker.track(intent=Intent(), dialogue=[], user_text="find the HDMI label", turn=0)
    assert result.act is Act.NEW_TARGET and result.intent.target == "HDMI label"  # the rules' answer
    assert result.call is not None and result.call.status == "fallback" and result.call.model == "backend"
