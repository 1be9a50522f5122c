"""The intent-tracker protocol, its result type, and how an intent reads as one phrase."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agent.intent import vocab as vb
from agent.types import Act, DialogueTurn, Intent


@dataclass(frozen=True)
class TrackerCall:
    """A model call made to track a turn (stored with the turn like a tool call)."""

    tracker: str
    """The tracker that was asked (``llm``)."""
    model: str
    duration_ms: float
    status: str = "ok"
    """``ok``, ``fallback`` (the model failed or answered badly) or ``timeout``."""
    error: str | None = None
    fallback: str | None = None
    """The tracker that answered instead, when one did."""


@dataclass(frozen=True)
class TrackResult:
    """What a tracker decided for one user turn."""

    act: Act
    intent: Intent
    """The updated intent, with one history entry appended for this turn."""
    reason: str
    """A short why, e.g. ``"correction: 'no, the other one'"``."""
    call: TrackerCall | None = None
    """The model call behind the decision (LLM trackers), if any."""


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


_POSITION_PHRASES = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "center": "in the center",
    "front": "in the front",
    "back": "at the back",
}


_NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()


def target_phrase(intent: Intent, *, relations: bool = True) -> str:
    """Render the intent as one natural noun phrase, e.g. ``"'Sky Cola' label on the large bottle"``.

    Attribute words go where English puts them: count, ordinal, size, shape, colour and
    material before the target ("two large red cups"); the text value before it ("'HDMI' port")
    unless the target is itself text ("text 'EXIT' on the door"); a part before it ("handle of
    the cup", "left half of the sofa"), with the count when there is one ("two eyes of the cat":
    a count then counts the parts); position and relations after it ("port on the right
    next to the HDMI label"). A value already spelled in the target is not repeated. Returns
    ``""`` when the intent has no target.
    """
    if not intent.target:
        return ""
    target = intent.target
    low_target = target.lower()
    attrs = intent.attributes
    words = set(low_target.replace("'", " ").split())
    pre: list[str] = []
    part = attrs.get("part")
    part_shown = bool(part) and not set(str(part).lower().split()) <= words
    count = attrs.get("count")
    counted = ""
    if count and count != "1":
        spoken = _NUMBER_WORDS[int(count)] if count.isdigit() and int(count) < len(_NUMBER_WORDS) else count
        if part_shown:
            counted = "" if count == "all" else f"{spoken} "  # "two eyes of the cat"; a plural says "all"
        elif spoken not in words and count not in words:
            pre.append(spoken)
    for key in ("ordinal", "size", "shape", "colour", "material"):
        value = attrs.get(key)
        if value and not set(value.lower().split()) <= words:
            pre.append(value)
    body = target
    text = attrs.get("text")
    if text and text.lower() not in low_target:
        body = _with_text(target, text)
    phrase = " ".join([*pre, body])
    if part_shown:
        phrase = f"{counted}{part} of the {phrase}"
    position = attrs.get("position")
    if position and not set(position.split()) <= words:
        phrase += " " + _POSITION_PHRASES.get(position, f"at the {position}")
    if relations:
        for rel in intent.relations:
            phrase += f" {vb.RELATION_WORDS[rel.kind]} {_anchor_words(rel.anchor)}"
    return phrase


_PREPOSITIONS = frozenset("on in at of near under above below inside with next behind beside by".split())


def _with_text(target: str, text: str) -> str:
    """Put the quoted text before the target, or after a head that is itself text
    ("text 'EXIT' on the door", "brand name 'KEEN' inside the shoe")."""
    quoted = f"'{text}'"
    words = target.split(" ")
    cut = next((k for k, w in enumerate(words) if k and w.lower() in _PREPOSITIONS), len(words))
    head = words[cut - 1].lower().strip("'\"")
    if head in vb.PURE_TEXT_NOUNS or (head.endswith("s") and head[:-1] in vb.PURE_TEXT_NOUNS):
        return " ".join([*words[:cut], quoted, *words[cut:]])
    return f"{quoted} {target}"


def _anchor_words(anchor: str) -> str:
    """Add "the" to a common-noun anchor ("the HDMI label"); names and quotes stay as they are."""
    anchor = anchor.strip()
    parts = anchor.split()
    if not parts:
        return anchor
    proper = all(w[:1].isupper() or not w[:1].isalpha() for w in parts)
    if proper or anchor[0] in "'\"‘“" or parts[0].lower() in _DETERMINERS:
        return anchor
    return f"the {anchor}"


_DETERMINERS = frozenset("the a an this that these those its their his her my your our some any each every all both".split())


__all__ = ["IntentTracker", "TrackResult", "TrackerCall", "target_phrase"]
