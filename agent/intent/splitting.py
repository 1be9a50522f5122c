"""How a noun phrase splits into what the intent stores (:func:`split_phrase`).

The target words, attributes (colour, size, position, ordinal, count, other, text, part),
relations and exclusions of a :class:`agent.intent.phrase.Phrase`. Which word is which comes
from the parse (part of speech, lemma, dependency label, ``Degree``, ``Number``, ``PronType``)
and, for closed sets of values (colour terms, positions), from :mod:`agent.intent.vocab`:
colour, size, position, ordinal and count words move out into attributes; printed words and
compounds stay; prepositional phrases stay unless they are positions ("on the left"),
exclusions ("except the red one") or relations ("next to", "left of"; "on"/"in" only when the
anchor is the current target or a pronoun).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.intent import vocab as vb
from agent.intent.words import is_quote, lemma, lower, number_value, render, size_value, unquote

if TYPE_CHECKING:
    from spacy.tokens import Span, Token

    from agent.intent.phrase import Phrase

FILLER_OBJECTS = frozenset(
    {"relation", "respect", "regard", "addition", "comparison", "terms", "context", "general", "question"}
)
"""Objects of prepositions that add no location: "in relation to", "in question", "in general"."""

EXAMPLE_PREPOSITIONS = frozenset(
    {"including", "like", "such as", "as", "about", "for", "than", "during", "because", "regarding",
     "concerning", "despite", "relative to", "to"}
)
"""Prepositions that give examples, purposes or comparisons, not a place: left out of targets
("insignia *including stars*", "*relative to* the laptops")."""


@dataclass
class Split:
    """What a phrase contributes to the intent."""

    target: str | None
    attributes: dict[str, str] = field(default_factory=dict)
    relations: list[tuple[str, Phrase | None]] = field(default_factory=list)
    """(kind, anchor phrase); a None anchor is a pronoun: the caller resolves it."""
    exclusions: list[Phrase] = field(default_factory=list)
    placeholder: bool = False
    """The head only stood for something ("the left one", "the red part", "it")."""
    description: str | None = None
    """What a placeholder is described by, as written: "in the black jacket" in "the one in the
    black jacket", "holding his phone" in "the one holding his phone" (the caller puts the
    current target's noun before it)."""
    modifier: str | None = None
    """What a placeholder is described by before it, as written: "triangular" in "the
    triangular one", "wooden" in "the wooden ones" (words no attribute takes; the caller puts
    them before the current target's noun)."""
    evidence: list[tuple[str, str]] = field(default_factory=list)
    """(role, words) pairs: which words gave which part of the split."""


def _dangling(tok: Token, in_phrase: set[int]) -> bool:
    """Whether a word is the first half of "next to"/"close to" whose object the phrase left out
    ("the trolley and the basket next [to it]")."""
    return lower(tok) in {"next", "close"} and not any(c.i in in_phrase for c in tok.children)


def split_phrase(
    phrase: Phrase,
    *,
    current: set[str] | frozenset[str] = frozenset(),
    keep_count: bool = True,
    plural_count: bool = True,
    clauses: bool = True,
) -> Split:
    """Split ``phrase`` into target words, attributes, relations and exclusions (module docstring).

    ``current`` holds the head lemmas of the current target: an "on"/"in" phrase whose
    object is the current target (or a pronoun) is a relation, any other stays in the words.
    """
    out = Split(target=None)
    keep: list[Token] = []
    colour: list[Token] = []
    head = phrase.head
    conjoined = {t.i for c in head.children if c.dep_ in {"conj", "cc"} and c.i > head.i for t in c.subtree}
    in_phrase = {t.i for t in phrase.words}
    for tok in phrase.words:
        if tok.i == head.i or (tok.i in conjoined and _dangling(tok, in_phrase)):
            continue
        role = None if tok.i in conjoined else _modifier_role(tok, phrase)
        if role is None:
            keep.append(tok)
            continue
        key, value = role
        if key == "colour":
            colour.append(tok)
            continue
        if key == "drop" or (key == "count" and not keep_count):
            continue
        out.attributes.setdefault(key, value)
        out.evidence.append((key, tok.text))
    if colour:
        words = [lower(t) for t in colour]
        while words and words[-1] in {"and", "or"}:
            words.pop()
        out.attributes["colour"] = " ".join(words)
        out.evidence.append(("colour", render(colour)))
    head_role = _head_role(phrase)
    if head_role is None and phrase.of_object is not None and phrase.lemma in vb.GEOMETRIC_PART_HEADS:
        out.attributes["part"] = geometric_part(phrase) or phrase.lemma  # "the left side of it" -> left
        out.evidence.append(("part", render(phrase.words)))
    if head_role is not None:
        out.placeholder = True
        for key, value in head_role.items():
            out.attributes[key] = value
            out.evidence.append((key, render(phrase.words)))
    how_many = _partitive_count(phrase)
    if how_many is not None:
        if keep_count and how_many != "1":
            out.attributes["count"] = how_many
        out.evidence.append(("count", render(phrase.quantifier)))
    if keep_count and plural_count and how_many is None and "count" not in out.attributes and phrase.plural and not out.placeholder:
        if not phrase.pronoun:
            out.attributes["count"] = "all"
    text = _text_value(phrase, keep)
    if text:
        out.attributes.setdefault("text", text)
    kept: list[Token] = []
    for name, sub in phrase.preps:
        if sub.image or sub.lemma in FILLER_OBJECTS or name in EXAMPLE_PREPOSITIONS:
            continue
        if name == "of" and sub is phrase.part_of:
            continue  # the caller reads the part and its whole
        if name == "of" and out.placeholder and (sub.pronoun or sub.lemmas & set(current)):
            continue  # "the largest one of them / of the apples": the set it is picked from
        position = _position_phrase(name, sub)
        if position:
            said_before = out.attributes.get("position", "").split()  # "at the top on the left": both
            out.attributes["position"] = " ".join(dict.fromkeys([*said_before, *position.split()]))
            out.evidence.append(("position", f"{name} {sub.text()}"))
            continue
        if name in vb.EXCLUDE_PREPOSITIONS:
            out.exclusions.append(sub)
            out.evidence.append(("exclusion", f"{name} {sub.text()}"))
            continue
        kind = vb.RELATION_KINDS.get(name)
        if name == "other side of":
            # "the one on the other side of the sofa": the side opposite the one it had; the
            # caller flips the current relation to that anchor (none known: no relation)
            out.relations.append(("opposite", sub))
            out.evidence.append(("relation", f"on the other side of {sub.text()}"))
            continue
        if sub.pronoun:
            if kind:
                out.relations.append((kind, None))
                out.evidence.append(("relation", f"{name} {sub.text()}"))
            continue  # "behind it": no relation kind, and the pronoun adds no words
        if kind and (kind in vb.DIRECTIONAL_KINDS or sub.lemmas & set(current)):
            out.relations.append((kind, sub))
            out.evidence.append(("relation", f"{name} {sub.text()}"))
            continue
        kept.extend([*prep_tokens(sub), *sub.own_tokens()])
    for clause in phrase.clauses:
        said = _clause_text(clause)
        if said:
            out.attributes.setdefault("text", said)
            out.evidence.append(("text", clause.text))
        elif clauses:
            kept.extend(t for t in clause if lower(t) not in vb.PLEASE_WORDS)
    if out.placeholder:
        if kept and lower(head) in {"one", "ones"}:
            out.description = render(sorted({t.i: t for t in kept}.values(), key=lambda t: t.i)) or None
        before = [t for t in keep if t.i < head.i and t.pos_ in {"ADJ", "NOUN", "PROPN", "VERB"}]
        if before and lower(head) in {"one", "ones"}:
            out.modifier = render(before)
            out.evidence.append(("description", render(before)))
        return out
    body = [*keep, head, *kept]
    out.target = render(sorted({t.i: t for t in body}.values(), key=lambda t: t.i))
    if phrase.stand_in:
        out.target = out.target.replace(head.text, phrase.stand_in, 1)
    elif how_many == "1" and phrase.plural:
        out.target = out.target.replace(head.text, lemma(head), 1)  # "one of the cups": a cup
    out.evidence.insert(0, ("target", phrase.text()))
    return out


_SIDE_NOUNS = frozenset({"left", "right", "top", "front", "back", "side", "bottom"})


def prep_tokens(sub: Phrase) -> list[Token]:
    """Return the preposition tokens between a phrase and its attached object ("next to", "on top of")."""
    out: list[Token] = []
    tok = sub.head.head
    while tok.i != sub.head.i and tok.i < sub.head.i and len(out) < 6:
        if tok.dep_ in {"prep", "pcomp"} or tok.pos_ in {"ADP", "SCONJ"}:
            out.append(tok)
        elif lower(tok) in _SIDE_NOUNS or lower(tok) in {"next", "close", "adjacent"}:
            out.append(tok)
            out.extend(c for c in tok.children if c.dep_ == "det" and c.i < sub.head.i)
        else:
            break
        if tok.head.i == tok.i:
            break
        tok = tok.head
    return out


def _modifier_role(tok: Token, phrase: Phrase) -> tuple[str, str] | None:
    """Return what a modifier of the head contributes: (attribute, value), ("drop", ""), or None (keep)."""
    low, lem, dep = lower(tok), lemma(tok), tok.dep_
    if tok.tag_ in {"WDT", "WP", "WP$", "WRB"} or low in {"many", "much", "few", "several", "some", "any"}:
        return "drop", ""
    if low in vb.COUNT_DETERMINERS and tok.tag_ in {"DT", "PDT"} and tok.i < phrase.head.i:
        # "all faces", "all five players": a quantifier the parser hung as a subject or a
        # quantity modifier; a number said with it is the count
        numbered = any(w.dep_ == "nummod" and number_value(w) for w in phrase.words)
        return ("drop", "") if numbered else ("count", vb.COUNT_DETERMINERS[low])
    if dep in {"det", "predet"}:
        if low in vb.COUNT_DETERMINERS:
            return "count", vb.COUNT_DETERMINERS[low]
        if low in vb.OTHER_WORDS:
            return "other", "yes"
        return "drop", ""
    if low == "single" and any(lower(w) in {"every", "each"} for w in phrase.words):
        return "drop", ""  # "every single umbrella": every one of them
    if dep == "poss" and tok.pos_ == "PRON":
        return "drop", ""
    if dep == "case" and tok.head.pos_ == "PRON":
        return "drop", ""
    if dep == "nummod" and tok.i < phrase.head.i:
        value = number_value(tok)
        if value is not None and value != "1":
            return "count", value
        return ("drop", "") if value == "1" else None
    if (tok.pos_ in {"ADV", "INTJ"} or dep == "advmod") and tok.i < phrase.head.i and low not in vb.POSITIONS and not size_value(tok):
        return "drop", ""  # "a very large bottle", "only the left one", "now the port"
    if tok.pos_ in {"ADJ", "NOUN", "VERB", "ADV", "PROPN"} and not is_quote(tok):
        if low in vb.OTHER_WORDS:
            return "other", "yes"
        if low in vb.ORDINALS:
            return "ordinal", vb.ORDINALS[low]
        if (low in vb.COLOURS or lem in vb.COLOURS) and (tok.pos_ == "ADJ" or low in vb.BASIC_COLOURS or tok.dep_ != "compound"):
            return "colour", low
        if low in vb.COLOUR_SHADES and _colour_follows(tok, phrase):
            return "colour", low
        if low in vb.POSITIONS and tok.i < phrase.head.i:
            if phrase.lemma in vb.GEOMETRIC_PART_HEADS:
                return "drop", ""  # "the left half": the part's side (geometric_part), not a position
            return "position", vb.POSITIONS[low]
        size = size_value(tok)
        if size:
            return "size", size
        if low in vb.WEAK_ADJECTIVES and tok.pos_ == "ADJ":
            return "drop", ""
        if low in {"wrong", "same"}:
            return "drop", ""
    if tok.dep_ == "cc" and tok.head.dep_ == "amod" and lower(tok.head) in vb.COLOURS:
        return "colour", low
    return None


def _partitive_count(phrase: Phrase) -> str | None:
    """Return how many a partitive's quantity word says ("both of" -> "2", "all of" -> "all")."""
    for word in phrase.quantifier:  # "the two of them": past the determiner
        if word.dep_ in {"det", "predet"} and lower(word) not in vb.COUNT_DETERMINERS:
            continue
        return vb.COUNT_DETERMINERS.get(lower(word)) or number_value(word)
    return None


def _colour_follows(tok: Token, phrase: Phrase) -> bool:
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    return nxt is not None and nxt in phrase.words and lower(nxt) in vb.COLOURS


_DEPTH_SIDES = frozenset({"front", "back", "rear", "inner", "outer"})
"""Sides of a part that are no position in the image plane: "the *front* half", "the *back* corner"."""


def geometric_part(phrase: Phrase) -> str | None:
    """Return the part a geometric head names, its side words normalised: "the left half" ->
    "left half", "the left side (of it)" -> "left", "the top left corner" -> "top left corner",
    "the top" -> "top", "the middle" -> "center"; None for any other head. The side words are
    the part's, never a position of their own."""
    lem = phrase.lemma
    if lem not in vb.GEOMETRIC_PART_HEADS:
        return None
    sides = " ".join(
        dict.fromkeys(
            vb.POSITIONS.get(lower(t), lower(t)) for t in phrase.words
            if (lower(t) in vb.POSITIONS or lower(t) in _DEPTH_SIDES) and t.i != phrase.head.i
        )
    )
    if lem == "side":
        return sides or "side"
    if lem in {"half", "corner", "edge"}:
        return f"{sides} {lem}".strip()
    own = vb.POSITIONS.get(lem, lem)
    return own if own in sides.split() else f"{sides} {own}".strip()


def _head_role(phrase: Phrase) -> dict[str, str] | None:
    """Attributes a placeholder head carries: "the left half" -> part, "the top" -> part."""
    head = lower(phrase.head)
    part = geometric_part(phrase)
    if part is not None and not phrase.of_object:
        return {"part": part}
    if head in vb.PLACEHOLDER_NOUNS and phrase.placeholder:
        return {}
    if phrase.pronoun:
        return {}
    return None


_INTENSIFIERS = frozenset({"far", "very", "extreme", "furthest", "farthest"})
"""Words that only stress a position: "on the *far* right" is on the right."""


def _position_phrase(name: str, sub: Phrase) -> str | None:
    """ "on the right" -> "right", "at the top left" -> "top left", "from the left" -> "left", "at the
    bottom in the middle" -> "bottom center" (a place phrase the parser hung on another)."""
    if name not in {"on", "at", "in", "to", "from", "towards", "toward"}:
        return None
    words = [lower(t) for t in sub.words if t.dep_ not in {"det", "predet"} and lower(t) not in _INTENSIFIERS]
    if not words or not all(w in vb.POSITIONS or w in {"side", "corner", "end", "edge"} for w in words):
        return None
    values = [vb.POSITIONS[w] for w in words if w in vb.POSITIONS]
    for inner_name, inner in sub.preps:
        inner_value = _position_phrase(inner_name, inner)
        if inner_value is None:
            return None
        values += inner_value.split()
    return " ".join(dict.fromkeys(values)) or None


def _text_value(phrase: Phrase, kept: list[Token]) -> str | None:
    """Return printed words the phrase names: a quote, ALL-CAPS words, or a name before a text noun."""
    quotes = [unquote(t.text) for t in [*kept, phrase.head] if is_quote(t)]
    quotes += [unquote(t.text) for t in phrase.words if t.dep_ == "appos" and is_quote(t)]
    if quotes:
        return quotes[0]
    caps = [t for t in [*kept, phrase.head] if len(t.text) >= 2 and t.text.isupper() and any(c.isalpha() for c in t.text)]
    if caps == [phrase.head] and not kept and len(phrase.head.text) <= 4:
        caps = []  # "the TV", "the ATM": an acronym naming the thing, not printed words on it
    if caps and (caps[-1].i == phrase.head.i or caps[-1].i == phrase.head.i - 1):
        run = [t for t in kept if t.i >= caps[0].i and t.pos_ == "PROPN"] or caps
        return render(sorted({t.i: t for t in [*run, *caps] if t.i != phrase.head.i or t in caps}.values(), key=lambda t: t.i))
    if phrase.lemma in vb.TEXT_NOUNS and kept:
        run = [t for t in kept if t.pos_ == "PROPN"]
        if run and len(run) == len([t for t in kept if t.dep_ != "case"]):
            return render(run)
    return None


def _clause_text(clause: Span) -> str | None:
    """Return a relative clause that says what is written: "that says 'Dune'" -> "Dune"."""
    verbs = [t for t in clause if t.pos_ == "VERB" and lemma(t) in {"say", "read", "show", "display"}]
    if not verbs:
        return None
    quotes = [unquote(t.text) for t in clause if is_quote(t)]
    return quotes[0] if quotes else None


position_phrase = _position_phrase
"""Public name of :func:`_position_phrase` ("on the left" -> "left")."""

__all__ = ["EXAMPLE_PREPOSITIONS", "FILLER_OBJECTS", "Split", "geometric_part", "position_phrase", "prep_tokens", "split_phrase"]
