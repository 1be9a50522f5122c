"""Turning a parsed noun phrase into a target phrase, attributes and relations.

Decisions (see also :mod:`agent.intent.rules`):

* ordinal, size, position and colour *modifiers* leave the phrase and become attributes
  ("the second large red car" -> target "car", ``ordinal=second``, ``size=large``,
  ``colour=red``), so that a later "the blue one" can replace them;
* words printed on the thing stay in the phrase and are also stored in ``text``: a quoted
  string, all-caps tokens ("HDMI label" -> ``text=HDMI``) or capitalised words right before a
  text-carrying noun ("Marriott logo" -> ``text=Marriott``; language names excepted);
* "on the right" / "at the top" / "in the middle" become ``position``;
* a prepositional phrase becomes a :class:`agent.types.Relation` when it is directional
  ("next to", "left of", "above", "under": always) or when its anchor is a pronoun or the
  current target ("on it", "inside the box" while the box is tracked); any other phrase stays
  in the target ("label on the large bottle").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.intent import lexicon as lx
from agent.intent.phrases import NP, lemma
from agent.intent.tokens import Tok
from agent.types import Relation

_NOT_A_PART = frozenset("one ones part parts bit bits piece pieces portion portions".split())
_POSITION_PREPS = frozenset({"on", "at", "in", "to", "towards", "toward"})
_POSITION_NOUNS = frozenset({"side", "corner", "edge", "end", "half", "part"})
_TEXT_HEADS = frozenset(lemma(w) for w in lx.TEXT_NOUNS)


@dataclass
class Split:
    """A noun phrase taken apart: target phrase (None for "the left one"), attributes, relations."""

    target: str | None
    attributes: dict[str, str] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    placeholder: bool = False
    """The phrase's head was a placeholder ("one", "part") or an attribute word ("the bigger")."""


def split_attributes(
    np: NP,
    *,
    anchor_for_pronoun: str | None = None,
    current_heads: set[str] | frozenset[str] = frozenset(),
    placeholders: bool = True,
) -> Split:
    """Split ``np`` into target, attributes and relations (module docstring).

    ``anchor_for_pronoun`` is what "it"/"that" in a relation stands for; ``current_heads`` the
    head nouns of the current target (a relation to it is kept as a relation). With
    ``placeholders=False`` a head such as "area" or "part" stays the target (questions like
    "which area is below the name?" ask for a new thing).
    """
    attrs: dict[str, str] = {}
    words = list(np.words)
    keep: list[Tok] = []
    colour: list[str] = []
    placeholder = False
    single = len(words) == 1
    for idx, t in enumerate(words):
        is_head = idx == len(words) - 1
        low = t.low
        nxt = words[idx + 1].low if idx + 1 < len(words) else ""
        movable = not is_head or single
        if t.kind == "word" and movable:
            key, value = _attribute_of(low, nxt)
            if key == "colour":
                colour.append(low)
                placeholder = placeholder or is_head
                continue
            if key and key not in attrs:
                attrs[key] = value
                placeholder = placeholder or is_head
                continue
        if t.kind == "word" and low in {"and", "or"} and colour and not keep and nxt in lx.COLOURS:
            colour.append(low)
            continue
        keep.append(t)
    if colour:
        attrs["colour"] = " ".join(colour)
    while keep and keep[0].low in {"and", "or", "&"}:
        keep = keep[1:]
    if keep and keep[-1].kind == "word" and keep[-1].low in lx.PLACEHOLDER_HEADS:
        head = keep[-1].low
        if placeholders or head in {"one", "ones"}:
            if head not in _NOT_A_PART:
                attrs["part"] = head
            placeholder = True
            keep = []
    if keep:
        text = text_value(keep)
        if text:
            attrs["text"] = text
    relations: list[Relation] = []
    kept_pps: list[tuple[str, NP]] = []
    for prep, sub in np.pps:
        name = prep.replace("_", " ")
        position = _position_phrase(name, sub)
        if position:
            attrs.setdefault("position", position)
            continue
        kind = lx.RELATION_PREPOSITIONS.get(name)
        if kind and (sub.head in lx.PRONOUNS or sub.head in lx.REFERRING_PRONOUNS):
            if anchor_for_pronoun:
                relations.append(Relation(kind=kind, anchor=anchor_for_pronoun))  # type: ignore[arg-type]
            continue
        if kind and (kind in lx.DIRECTIONAL_KINDS or sub.heads & set(current_heads)):
            relations.append(Relation(kind=kind, anchor=sub.render()))  # type: ignore[arg-type]
            continue
        kept_pps.append((prep, sub))
    if not keep:
        return Split(None, attrs, relations, True)
    return Split(NP(words=keep, pps=kept_pps).render(), attrs, relations, placeholder)


def _attribute_of(low: str, nxt: str) -> tuple[str | None, str]:
    if low in lx.ORDINALS:
        return "ordinal", lx.ORDINALS[low]
    if low in lx.SIZES:
        return "size", lx.SIZES[low]
    if low in lx.POSITION_PREMODIFIERS:
        return "position", lx.POSITIONS[low]
    if low in lx.COLOURS or (low in lx.COLOUR_SHADES and nxt in lx.COLOURS):
        return "colour", low
    return None, ""


def _position_phrase(prep: str, sub: NP) -> str | None:
    """ "on the right" -> "right", "at the top left corner" -> "top left"; else None."""
    if prep not in _POSITION_PREPS or sub.pps:
        return None
    words = [t.low for t in sub.words]
    if not words or words[0] not in lx.POSITION_PREMODIFIERS:
        return None
    if not all(w in lx.POSITION_PREMODIFIERS or w in _POSITION_NOUNS for w in words):
        return None
    values = [lx.POSITIONS[w] for w in words if w in lx.POSITION_PREMODIFIERS]
    return " ".join(dict.fromkeys(values))


def text_value(words: list[Tok]) -> str | None:
    """Return the printed words a phrase names: a quote, all-caps tokens, or a brand before a text noun."""
    quotes = [t.text for t in words if t.kind == "quote"]
    if quotes:
        return quotes[0]
    caps = [
        t.text
        for t in words
        if t.kind == "word"
        and len(t.text) >= 2
        and t.text.isupper()
        and any(c.isalpha() for c in t.text)
    ]
    if caps:
        return " ".join(caps)
    head = words[-1]
    if head.kind == "word" and lemma(head.low) in _TEXT_HEADS and len(words) > 1:
        run = [
            t.text
            for t in words[:-1]
            if t.kind == "word" and t.text[:1].isupper() and t.low not in lx.LANGUAGE_WORDS
        ]
        if len(run) == len(words) - 1:
            return " ".join(run)
    return None
