"""The intent-tracker protocol, its result type, and how an intent reads as one phrase."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agent.intent import lexicon as lx
from agent.intent.phrases import Tok, parse_text_np, render_words
from agent.types import Act, DialogueTurn, Intent


@dataclass(frozen=True)
class TrackResult:
    """What a tracker decided for one user turn."""

    act: Act
    intent: Intent
    """The updated intent, with one history entry appended for this turn."""
    reason: str
    """A short why, e.g. ``"correction: 'no, the other one'"``."""


@runtime_checkable
class IntentTracker(Protocol):
    """Classifies a user turn and updates the intent; rule-based or model-based."""

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
        """Return the act of ``user_text`` and the intent after it.

        ``dialogue`` is the conversation *before* this user turn (user and assistant turns);
        ``turn`` is the 0-based index of this user turn in the session.
        """
        ...


_POSITION_WORDS = {
    "left": "left",
    "right": "right",
    "top": "top",
    "bottom": "bottom",
    "center": "central",
    "front": "front",
    "back": "back",
}


def target_phrase(intent: Intent, *, relations: bool = True) -> str:
    """The intent as one natural noun phrase, e.g. ``"'Sky Cola' label on the large bottle"``.

    Attribute words go where English puts them: ordinal, size, position and colour before the
    target ("second large red car"); the text value before it ("'HDMI' port") unless the
    target is itself text ("text 'EXIT' on the door"); relations after it ("port next to the
    HDMI label"). A value already spelled in the target is not repeated. Returns ``""`` when
    the intent has no target.
    """
    if not intent.target:
        return ""
    target = intent.target
    low_target = target.lower()
    attrs = intent.attributes
    words = set(low_target.replace("'", " ").split())
    pre: list[str] = []
    for key in ("ordinal", "size", "position", "colour"):
        value = attrs.get(key)
        if not value:
            continue
        value = _POSITION_WORDS.get(value, value) if key == "position" else value
        if not set(value.lower().split()) <= words:
            pre.append(value)
    text = attrs.get("text")
    body = target
    if text and text.lower() not in low_target:
        np = parse_text_np(target)
        quoted = f"'{text}'"
        if np is not None and np.words and np.head in lx.PURE_TEXT_NOUNS:
            head = render_words(np.words)
            rest = target[len(head) :] if target.startswith(head) else ""
            body = f"{head} {quoted}{rest}" if rest or target == head else f"{target} {quoted}"
        else:
            body = f"{quoted} {target}"
    phrase = " ".join([*pre, body])
    if relations:
        for rel in intent.relations:
            anchor = rel.anchor.strip()
            if anchor and anchor[0].islower() and anchor.split()[0] not in lx.DETERMINERS:
                anchor = f"the {anchor}"
            phrase += f" {lx.RELATION_WORDS[rel.kind]} {anchor}"
    return phrase


__all__ = ["IntentTracker", "TrackResult", "target_phrase", "Tok"]
