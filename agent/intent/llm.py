"""An intent tracker backed by any LangChain chat model with structured output.

The model gets the current intent, the recent dialogue and the user's turn, and must return an
:class:`IntentUpdate`. When the model cannot do structured output, raises, or returns something
unusable (an unknown act, a new target without a phrase), the turn is handed to a fallback
tracker (the rules by default) and the reason says so.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from agent.intent.protocol import IntentTracker, TrackResult
from agent.intent.rules import RuleIntentTracker
from agent.types import Act, DialogueTurn, Intent, IntentOp, Relation

_ACTS = Literal[
    "new_target", "refine", "correct", "explain", "segment_request", "chitchat", "reset"
]

SYSTEM_PROMPT = """You track what a user is pointing at in an image during a chat.
Classify the user's latest turn as one act:
- new_target: names a new thing to segment ("find the HDMI label", first questions about a thing)
- refine: narrows the current target ("only the left one", "the bigger one", "just the text")
- correct: says the current mask is wrong ("no, the other one", "not the logo, the text under it")
- explain: asks about the current target ("what does it say?", "why is it important?")
- segment_request: asks to segment what was discussed ("segment the conversation above")
- chitchat: greetings, thanks, acknowledgements
- reset: start over / forget that
Return the target noun phrase without colour/size/position words (put those in attributes:
colour, size, position, ordinal, text, other="yes" for "the other one"), relations to other
things (kind one of left_of, right_of, above, below, next_to, inside, on; anchor = the other
thing, with "it" resolved) and excluded phrases ("not the logo" -> ["logo"]).
For explain, segment_request and chitchat leave target empty: the intent is kept."""


class RelationUpdate(BaseModel):
    """A relation as the model returns it."""

    kind: Literal["left_of", "right_of", "above", "below", "next_to", "inside", "on"]
    anchor: str


class IntentUpdate(BaseModel):
    """Structured output asked of the model for one user turn."""

    act: _ACTS = Field(description="what the user's turn does")
    target: str | None = Field(
        default=None, description="target noun phrase, if the turn names one"
    )
    attributes: dict[str, str] = Field(default_factory=dict)
    relations: list[RelationUpdate] = Field(default_factory=list)
    exclusions: list[str] = Field(default_factory=list)
    reason: str = Field(default="", description="a short why")


_OPS = {
    Act.NEW_TARGET: IntentOp.NEW,
    Act.REFINE: IntentOp.REFINE,
    Act.CORRECT: IntentOp.CORRECT,
    Act.RESET: IntentOp.RESET,
}


class LLMIntentTracker:
    """Track intents with a chat model (``chat_model.with_structured_output(IntentUpdate)``)."""

    def __init__(
        self, chat_model: Any, *, fallback: IntentTracker | None = None, history_turns: int = 8
    ) -> None:
        self.chat_model = chat_model
        self.fallback = fallback or RuleIntentTracker()
        self.history_turns = history_turns
        self._structured: Any = None

    def track(
        self,
        *,
        intent: Intent,
        dialogue: list[DialogueTurn],
        user_text: str,
        turn: int,
        has_image: bool = True,
        has_mask: bool = False,
    ) -> TrackResult:
        """Ask the model; on any failure return the fallback tracker's result."""
        try:
            update = self._ask(intent, dialogue, user_text, has_image, has_mask)
            return self._apply(intent, update, turn)
        except Exception as exc:  # noqa: BLE001 - any model/parse failure falls back
            result = self.fallback.track(
                intent=intent,
                dialogue=dialogue,
                user_text=user_text,
                turn=turn,
                has_image=has_image,
                has_mask=has_mask,
            )
            why = " ".join(str(exc).split())[:120] or type(exc).__name__
            return TrackResult(
                act=result.act,
                intent=result.intent,
                reason=f"{result.reason} (llm fallback: {why})",
            )

    def _ask(
        self,
        intent: Intent,
        dialogue: list[DialogueTurn],
        user_text: str,
        has_image: bool,
        has_mask: bool,
    ) -> IntentUpdate:
        if self._structured is None:
            self._structured = self.chat_model.with_structured_output(IntentUpdate)
        state = intent.model_dump(mode="json", exclude={"history", "mask_id"})
        recent = [{"role": d.role, "text": d.text} for d in dialogue[-self.history_turns :]]
        payload = {
            "current_intent": state,
            "dialogue": recent,
            "has_image": has_image,
            "has_mask": has_mask,
            "user_turn": user_text,
        }
        messages = [("system", SYSTEM_PROMPT), ("human", json.dumps(payload, ensure_ascii=False))]
        raw = self._structured.invoke(messages)
        if isinstance(raw, IntentUpdate):
            return raw
        if isinstance(raw, dict):
            return IntentUpdate.model_validate(raw)
        if isinstance(raw, BaseModel):
            return IntentUpdate.model_validate(raw.model_dump())
        raise ValueError(f"the model returned {type(raw).__name__}, not an IntentUpdate")

    def _apply(self, intent: Intent, update: IntentUpdate, turn: int) -> TrackResult:
        act = Act(update.act)
        reason = update.reason or f"llm: {act.value}"
        if act is Act.RESET:
            cleared: dict[str, Any] = {
                "target": None,
                "attributes": {},
                "relations": [],
                "exclusions": [],
                "mask_id": None,
            }
            return TrackResult(act, intent.revised(turn=turn, op=IntentOp.RESET, **cleared), reason)
        if act not in _OPS:
            return TrackResult(act, intent.revised(turn=turn, op=IntentOp.KEEP), reason)
        target = (update.target or "").strip() or None
        if act is Act.NEW_TARGET and not target:
            raise ValueError("new_target without a target phrase")
        try:
            relations = [
                Relation(kind=r.kind, anchor=r.anchor) for r in update.relations if r.anchor.strip()
            ]
        except ValidationError as exc:  # pragma: no cover - RelationUpdate already checks kinds
            raise ValueError(str(exc)) from exc
        attributes = {str(k): str(v) for k, v in update.attributes.items() if str(v).strip()}
        exclusions = [e for e in update.exclusions if e.strip()]
        if act is Act.NEW_TARGET:
            changes: dict[str, Any] = {
                "target": target,
                "attributes": attributes,
                "relations": relations,
                "exclusions": exclusions,
            }
        else:
            changes = {
                "target": target or intent.target,
                "attributes": {**intent.attributes, **attributes}
                if not target or act is Act.REFINE
                else attributes,
                "relations": relations or list(intent.relations),
                "exclusions": list(dict.fromkeys([*intent.exclusions, *exclusions])),
            }
        return TrackResult(act, intent.revised(turn=turn, op=_OPS[act], **changes), reason)
