"""An intent tracker backed by any LangChain chat model, with structured output and a fallback.

The model gets the current intent, the recent dialogue and the user's turn, and must return an
:class:`IntentUpdate`. Models that call tools get it through ``with_structured_output``; models
that cannot (a local model, the MIRAS/LISA language model) are asked for the same JSON in the
prompt and the reply is validated against the schema. When the model raises, takes longer than
``timeout_s``, or returns something unusable (an unknown act, a new target without a phrase),
the turn is handed to the fallback tracker (the offline rules by default); the reason, the
revision and the turn's tracker call record all say so.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from agent.intent.protocol import IntentTracker, TrackerCall, TrackResult
from agent.types import Act, DialogueTurn, Evidence, Intent, IntentOp, Relation

_ACTS = Literal["new_target", "refine", "correct", "explain", "segment_request", "chitchat", "reset"]

SYSTEM_PROMPT = """You track what a user is pointing at in an image during a chat.
Classify the user's latest turn as one act:
- new_target: names a new thing to segment ("find the HDMI label", first questions about a thing,
  "go back to the logo")
- refine: narrows the current target ("only the left one", "the bigger one", "just the handle",
  "leave out the child")
- correct: says the current mask is wrong ("no, the other one", "not the logo, the text under it")
- explain: asks about the current target ("what does it say?", "why is it important?")
- segment_request: asks to segment what was discussed ("segment the conversation above", "segment it")
- chitchat: greetings, thanks, acknowledgements
- reset: start over / forget that
Return the target noun phrase without colour, size, position, ordinal or count words; put those
in attributes: colour, size, position (left/right/top/bottom/center), ordinal (first, second,
last...), text (words printed on the target), count ("all" for "all the cups", "2" for "both
cups"), part ("left half", "top", or a part noun such as "handle" for "the handle of the cup"),
other="yes" for "the other one". Give relations to other things (kind one of left_of, right_of,
above, below, next_to, inside, on, behind, in_front_of; anchor = the other thing, with "it" resolved) and excluded
phrases ("not the logo" -> ["logo"]). In evidence, quote the exact words of the user's turn that
made you decide, each with its role (act, target, colour, part, exclusion, ...).
For explain, segment_request and chitchat leave target empty: the intent is kept."""

JSON_INSTRUCTIONS = (
    "Reply with one JSON object and nothing else. It must validate against this JSON schema:\n"
)


class RelationUpdate(BaseModel):
    """A relation as the model returns it."""

    kind: Literal[
        "left_of", "right_of", "above", "below", "next_to", "inside", "on", "behind", "in_front_of"
    ]
    anchor: str


class EvidenceUpdate(BaseModel):
    """Words of the user's turn and what they did, as the model returns them."""

    words: str
    role: str = "act"


class IntentUpdate(BaseModel):
    """Structured output asked of the model for one user turn."""

    act: _ACTS = Field(description="what the user's turn does")
    target: str | None = Field(default=None, description="target noun phrase, if the turn names one")
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="colour, size, position, ordinal, text, count, part, other",
    )
    relations: list[RelationUpdate] = Field(default_factory=list)
    exclusions: list[str] = Field(default_factory=list)
    evidence: list[EvidenceUpdate] = Field(
        default_factory=list, description="exact words of the user's turn that caused the update"
    )
    reason: str = Field(default="", description="a short why")


_OPS = {
    Act.NEW_TARGET: IntentOp.NEW,
    Act.REFINE: IntentOp.REFINE,
    Act.CORRECT: IntentOp.CORRECT,
    Act.RESET: IntentOp.RESET,
}


class LLMIntentTracker:
    """Track intents with a chat model; any failure or a slow answer falls back (module docstring).

    Arguments:
      chat_model: a LangChain chat model (``init_chat_model(...)``, a provider class, a fake).
      fallback: the tracker used when the model fails (default: the offline rules).
      history_turns: how many recent messages the model sees.
      timeout_s: longest wait for the model (None: no limit); a late answer is discarded.
      model_name: what the turn's tracker call record names (default: the model's class).
    """

    name = "llm"

    def __init__(
        self,
        chat_model: Any,
        *,
        fallback: IntentTracker | None = None,
        history_turns: int = 8,
        timeout_s: float | None = 30.0,
        model_name: str | None = None,
    ) -> None:
        if fallback is None:
            from agent.intent.rules import RuleIntentTracker

            fallback = RuleIntentTracker()
        self.chat_model = chat_model
        self.fallback = fallback
        self.history_turns = history_turns
        self.timeout_s = timeout_s
        self.model_name = model_name or type(chat_model).__name__
        self._structured: Any = None
        self._json_mode = False
        self._lock = threading.Lock()

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
        """Ask the model; on any failure or timeout return the fallback tracker's result."""
        start = time.perf_counter()
        try:
            update = self._ask_in_time(intent, dialogue, user_text, has_image, has_mask)
            result = self._apply(intent, update, turn, user_text)
        except Exception as exc:  # noqa: BLE001 - any model/parse failure falls back
            return self._fall_back(exc, start, intent, dialogue, user_text, turn, has_image, has_mask)
        call = TrackerCall(tracker=self.name, model=self.model_name, duration_ms=_ms(start))
        return TrackResult(result.act, result.intent, result.reason, call=call)

    # -- asking -------------------------------------------------------------------------------
    def _ask_in_time(
        self, intent: Intent, dialogue: list[DialogueTurn], user_text: str, has_image: bool, has_mask: bool
    ) -> IntentUpdate:
        if self.timeout_s is None:
            return self._ask(intent, dialogue, user_text, has_image, has_mask)
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = self._ask(intent, dialogue, user_text, has_image, has_mask)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                box["error"] = exc

        worker = threading.Thread(target=run, name="pixelrs-llm-tracker", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            raise TimeoutError(f"no answer within {self.timeout_s:g} s")
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]

    def _ask(
        self, intent: Intent, dialogue: list[DialogueTurn], user_text: str, has_image: bool, has_mask: bool
    ) -> IntentUpdate:
        state = intent.model_dump(mode="json", exclude={"history", "mask_id"})
        recent = [{"role": d.role, "text": d.text} for d in dialogue[-self.history_turns :]]
        payload = {
            "current_intent": state,
            "dialogue": recent,
            "has_image": has_image,
            "has_mask": has_mask,
            "user_turn": user_text,
        }
        human = json.dumps(payload, ensure_ascii=False)
        structured = self._structured_model()
        if structured is None:
            schema = json.dumps(IntentUpdate.model_json_schema())
            reply = self.chat_model.invoke(
                [("system", SYSTEM_PROMPT + "\n" + JSON_INSTRUCTIONS + schema), ("human", human)]
            )
            return _parse_json_reply(getattr(reply, "content", reply))
        raw = structured.invoke([("system", SYSTEM_PROMPT), ("human", human)])
        if isinstance(raw, IntentUpdate):
            return raw
        if isinstance(raw, dict):
            return IntentUpdate.model_validate(raw)
        if isinstance(raw, BaseModel):
            return IntentUpdate.model_validate(raw.model_dump())
        raise ValueError(f"the model returned {type(raw).__name__}, not an IntentUpdate")

    def _structured_model(self) -> Any:
        """``with_structured_output(IntentUpdate)``, or None for a model that cannot call tools."""
        with self._lock:
            if self._structured is None and not self._json_mode:
                try:
                    self._structured = self.chat_model.with_structured_output(IntentUpdate)
                except (NotImplementedError, AttributeError):
                    self._json_mode = True  # no tool calling: ask for the JSON in the prompt
            return self._structured

    # -- applying -----------------------------------------------------------------------------
    def _apply(self, intent: Intent, update: IntentUpdate, turn: int, user_text: str) -> TrackResult:
        act = Act(update.act)
        reason = f"llm ({self.model_name}): {update.reason or act.value}"
        evidence = _evidence(update, user_text, turn)
        if act is Act.RESET:
            cleared: dict[str, Any] = {
                "target": None, "attributes": {}, "relations": [], "exclusions": [], "mask_id": None,
            }
            revised = intent.revised(turn=turn, op=IntentOp.RESET, reason=reason, evidence=evidence, **cleared)
            return TrackResult(act, revised, reason)
        if act not in _OPS:
            return TrackResult(act, intent.revised(turn=turn, op=IntentOp.KEEP, reason=reason, evidence=evidence), reason)
        target = (update.target or "").strip() or None
        if act is Act.NEW_TARGET and not target:
            raise ValueError("new_target without a target phrase")
        try:
            relations = [Relation(kind=r.kind, anchor=r.anchor) for r in update.relations if r.anchor.strip()]
        except ValidationError as exc:  # pragma: no cover - RelationUpdate already checks kinds
            raise ValueError(str(exc)) from exc
        attributes = {str(k): str(v) for k, v in update.attributes.items() if str(v).strip()}
        exclusions = [e for e in update.exclusions if e.strip()]
        if act is Act.NEW_TARGET:
            changes: dict[str, Any] = {
                "target": target, "attributes": attributes, "relations": relations, "exclusions": exclusions,
            }
        else:
            changes = {
                "target": target or intent.target,
                "attributes": {**intent.attributes, **attributes} if not target or act is Act.REFINE else attributes,
                "relations": relations or list(intent.relations),
                "exclusions": list(dict.fromkeys([*intent.exclusions, *exclusions])),
            }
        revised = intent.revised(turn=turn, op=_OPS[act], reason=reason, evidence=evidence, **changes)
        return TrackResult(act, revised, reason)

    def _fall_back(
        self, exc: Exception, start: float, intent: Intent, dialogue: list[DialogueTurn], user_text: str,
        turn: int, has_image: bool, has_mask: bool,
    ) -> TrackResult:
        result = self.fallback.track(
            intent=intent, dialogue=dialogue, user_text=user_text, turn=turn,
            has_image=has_image, has_mask=has_mask,
        )
        why = " ".join(str(exc).split())[:160] or type(exc).__name__
        reason = f"{result.reason} (llm fallback: {why})"
        revised = result.intent
        if revised.history:
            last = revised.history[-1].model_copy(update={"reason": reason})
            revised = revised.model_copy(update={"history": [*revised.history[:-1], last]})
        status = "timeout" if isinstance(exc, TimeoutError) else "fallback"
        call = TrackerCall(
            tracker=self.name, model=self.model_name, duration_ms=_ms(start), status=status, error=why,
            fallback=getattr(self.fallback, "name", type(self.fallback).__name__),
        )
        return TrackResult(result.act, revised, reason, call=call)


_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def _parse_json_reply(content: Any) -> IntentUpdate:
    """Validate the first JSON object of a text reply against :class:`IntentUpdate`."""
    text = content if isinstance(content, str) else json.dumps(content) if isinstance(content, dict) else str(content)
    match = _JSON_OBJECT.search(text)
    if match is None:
        raise ValueError("the model's reply holds no JSON object")
    return IntentUpdate.model_validate_json(match.group(0))


def _evidence(update: IntentUpdate, user_text: str, turn: int) -> list[Evidence]:
    """Return the model's evidence, keeping only words that really are in the user's turn."""
    low = user_text.lower()
    out = [
        Evidence(turn=turn, words=e.words.strip(), role=e.role.strip() or "act")
        for e in update.evidence
        if e.words.strip() and e.words.strip().lower() in low
    ]
    return out or [Evidence(turn=turn, words=user_text.strip()[:80], role="act")]


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


__all__ = ["IntentUpdate", "LLMIntentTracker", "SYSTEM_PROMPT"]
