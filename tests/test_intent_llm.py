"""LLM intent tracker with LangChain's fake chat models (fakes only here, in tests)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage

from agent.intent import IntentTracker, IntentUpdate, LLMIntentTracker
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
    assert result.reason == "asks for the port"
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
        tool_reply(act="new_target", target="x", relations=[{"kind": "behind", "anchor": "y"}]),
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
