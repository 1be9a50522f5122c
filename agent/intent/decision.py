"""What the rule tracker decides for a turn (:class:`Decision`) and the intent pieces every act builds:
relations with their anchors, exclusions as words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.intent.phrase import Phrase, Split
from agent.intent.protocol import target_phrase
from agent.intent.words import lemma, lower
from agent.types import Act, Evidence, Intent, Relation

if TYPE_CHECKING:
    from spacy.tokens import Token


@dataclass
class Decision:
    """An act, the intent fields it changes, the reason and the words that caused it."""

    act: Act
    changes: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    evidence: list[tuple[str, str]] = field(default_factory=list)
    """(role, words) of the user's turn."""
    history: list[Evidence] = field(default_factory=list)
    """Evidence from an earlier revision (going back to a target)."""


def quote(text: str, limit: int = 60) -> str:
    """Quote a turn for a reason, cut at ``limit`` characters."""
    return f"'{text}'" if len(text) <= limit else f"'{text[: limit - 1]}…'"


def anchor_of(intent: Intent) -> str | None:
    """Return the current target as an anchor phrase (what "next to it" points at)."""
    return target_phrase(intent, relations=False) or None


def anchor_text(anchor: Phrase, like: str | None = None) -> str | None:
    """Return an anchor as the words that pick it out: "the red bin" -> "red bin" (its colour, size,
    ordinal, position and text kept with it, unlike a target's, which go to attributes). A described
    "one" is one of the thing ``like`` names: "the grey car behind the red one" -> "red car"."""
    split = anchor.split(keep_count=False)
    kept = {k: v for k, v in split.attributes.items() if k in {"colour", "size", "ordinal", "position", "text"}}
    target = split.target or (like if like and anchor.placeholder and kept else "")
    if not target:
        return None
    return target_phrase(Intent(target=target, attributes=kept), relations=False) or target


OPPOSITE_KINDS = {
    "left_of": "right_of", "right_of": "left_of", "above": "below", "below": "above",
    "behind": "in_front_of", "in_front_of": "behind",
}  # fmt: skip
"""Relation kinds with an opposite side: "the other side of the sofa" flips one to the other."""


def relations_of(split: Split, last_named: str | None, intent: Intent) -> list[Relation]:
    """Return a split's relations with their anchors; a pronoun anchor is the thing last named in the turn,
    else the current target. "the other side of X" is the side opposite the current relation to X
    (none when the intent has no sided relation to X)."""
    out: list[Relation] = []
    for kind, anchor in split.relations:
        text = anchor_text(anchor, split.target) if anchor is not None else (last_named or anchor_of(intent))
        if anchor is not None and not text:
            text = last_named or anchor_of(intent)
        if kind == "opposite":
            had = next((r for r in intent.relations if r.kind in OPPOSITE_KINDS and r.anchor == text), None)
            if had is not None:
                out.append(Relation(kind=OPPOSITE_KINDS[had.kind], anchor=had.anchor))  # type: ignore[arg-type]
            continue
        if text:
            out.append(Relation(kind=kind, anchor=text))  # type: ignore[arg-type]
    return out


def with_relations(old: list[Relation], new: list[Relation]) -> list[Relation]:
    """Add ``new`` relations to ``old``; a new side of an anchor replaces the opposite side
    ("the lamp left of the sofa", then "the one on the other side of it": right of the sofa)."""
    kept = [r for r in old if not any(n.anchor == r.anchor and OPPOSITE_KINDS.get(n.kind) == r.kind for n in new)]
    return kept + [r for r in new if r not in kept]


def exclusion_text(phrase: Phrase, intent: Intent, noun: Token | None = None) -> str:
    """Return an excluded phrase as words; "the one on the left" names the noun it stands for
    instead: ``noun`` (the head of the target it is left out of) when given, in the number of
    the placeholder ("the white one" of the cars -> "white car", "the red ones" -> "red cars"),
    else the current target's first word."""
    split = phrase.split(keep_count=False)
    if split.target:
        return split.target
    words = phrase.text()
    for det in ("the ", "a ", "an "):
        if words.lower().startswith(det):
            words = words[len(det) :]
    head = (intent.target or "").split(" ")[0] if intent.target else ""
    if noun is not None:
        plural = "Plur" in noun.morph.get("Number", [])
        head = lemma(noun) if lower(phrase.head) == "one" or not plural else noun.text
        if lower(phrase.head) == "ones" and not plural:
            head = noun.text  # no plural form at hand: the noun as the target says it
    if head and lower(phrase.head) in {"one", "ones"}:
        words = words.replace(phrase.head.text, head, 1)
    return words


__all__ = ["OPPOSITE_KINDS", "Decision", "anchor_of", "anchor_text", "exclusion_text", "quote", "relations_of", "with_relations"]
