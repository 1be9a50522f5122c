"""Noun phrases read off spaCy's dependency parse, and how they split into target and attributes.

A :class:`Phrase` is a noun head with its own modifiers (determiners, adjectives, compounds,
possessives, numbers, quoted text), the prepositional phrases attached to it ("label *on the
large bottle*", "port *next to it*") and its relative clauses. :meth:`Phrase.split` turns one
into what the intent stores: the target words, attributes (colour, size, position, ordinal,
count, other, text, part), relations and exclusions. Which word is which comes from the parse
(part of speech, lemma, dependency label, ``Degree``, ``Number``, ``PronType``) and, for closed
sets of values (colour terms, positions), from :mod:`agent.intent.vocab`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.intent import vocab as vb

if TYPE_CHECKING:
    from spacy.tokens import Span, Token

LEFT_DEPS = frozenset(
    {"det", "predet", "amod", "compound", "nummod", "poss", "nmod", "quantmod", "advmod", "case", "nn"}
)
"""Dependents before a noun that belong to its phrase ("the two large red 'Sky Cola' bottles")."""

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

PRONOUN_ANCHORS = frozenset({"it", "this", "that", "them", "these", "those", "its", "itself", "they"})
"""Pronouns that, as an anchor or a target, point back at something already named."""


def lower(tok: Token) -> str:
    """Lower-cased text with a straight apostrophe."""
    return tok.lower_.replace("’", "'")


def lemma(tok: Token) -> str:
    """Lower-cased lemma (spaCy's, or the lower-cased text for quotes and odd tokens)."""
    value = tok.lemma_.lower() if tok.lemma_ else lower(tok)
    return value if value.strip() else lower(tok)


def is_quote(tok: Token) -> bool:
    """Whether the token is a quoted string merged into one token (see :mod:`agent.intent.reading`)."""
    return len(tok.text) >= 2 and tok.text[0] in "'\"‘“" and tok.text[-1] in "'\"’”"


def unquote(text: str) -> str:
    """Return the text between the quote marks."""
    return text[1:-1].strip() if len(text) >= 2 and text[0] in "'\"‘“" else text


def is_pronoun(tok: Token) -> bool:
    """Return a personal or demonstrative pronoun standing alone ("it", "that", "them")."""
    return tok.pos_ == "PRON" and not is_quote(tok)


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
    evidence: list[tuple[str, str]] = field(default_factory=list)
    """(role, words) pairs: which words gave which part of the split."""


@dataclass
class Phrase:
    """A noun phrase of the parse: head, own tokens, attached prepositional phrases and clauses."""

    head: Token
    words: list[Token]
    preps: list[tuple[str, Phrase]] = field(default_factory=list)
    clauses: list[Span] = field(default_factory=list)
    negated: bool = False
    stand_in: str | None = None
    """A noun read in place of a question word: "what is on the plate" asks for a *thing* on the
    plate, "who is next to the car" for a *person*. Such a phrase is generic: the answer names it."""

    # ------------------------------------------------------------------ reading
    @property
    def lemma(self) -> str:
        """The head's lemma ("bottles" -> "bottle"; a quote is its own lemma)."""
        if self.stand_in:
            return self.stand_in
        return unquote(lemma(self.head)) if is_quote(self.head) else lemma(self.head)

    @property
    def lemmas(self) -> set[str]:
        """Lemmas of the head and of coordinated heads ("hammer and sickle" -> both)."""
        out = {self.lemma}
        out.update(lemma(t) for t in self.words if t.dep_ == "conj" and t.pos_ in {"NOUN", "PROPN"})
        return out

    @property
    def plural(self) -> bool:
        """The head is plural (``Number=Plur``) or a plural placeholder ("ones")."""
        return "Plur" in self.head.morph.get("Number", []) or lower(self.head) == "ones"

    @property
    def determiners(self) -> list[str]:
        """Lower-cased determiners and predeterminers of the phrase itself."""
        return [lower(t) for t in self.words if t.dep_ in {"det", "predet"}]

    @property
    def pronoun(self) -> bool:
        """The phrase is a lone pronoun ("it", "them", "this")."""
        return is_pronoun(self.head) and len(self.words) == 1 and not self.stand_in

    @property
    def refers_back(self) -> bool:
        """A pronoun or a demonstrative phrase ("it", "this label", "these bottles")."""
        if self.pronoun:
            return lower(self.head) in PRONOUN_ANCHORS
        return any(d in {"this", "that", "these", "those"} for d in self.determiners)

    @property
    def placeholder(self) -> bool:
        """The head stands for the current target ("one", "ones", "part", "the left half")."""
        head = lower(self.head)
        return head in vb.PLACEHOLDER_NOUNS or (
            self.lemma in vb.GEOMETRIC_PART_HEADS and not self.of_object
        )

    @property
    def generic(self) -> bool:
        """The head is a placeholder an answer names better ("elements", "objects", "what")."""
        return bool(self.stand_in) or self.lemma in vb.GENERIC_NOUNS or lower(self.head) in vb.GENERIC_NOUNS

    @property
    def property_noun(self) -> str | None:
        """The attribute a property head asks about ("colour" -> ``colour``), if it is one.

        A property noun with a noun modifier names a thing ("brand name", "route number").
        """
        key = vb.PROPERTY_NOUNS.get(self.lemma)
        if key is None:
            return None
        if any(t.dep_ == "compound" and t.pos_ in {"NOUN", "PROPN"} for t in self.words):
            return None
        return key

    @property
    def image(self) -> bool:
        """The phrase names the picture itself ("the image", "the photo"), not a picture in it
        ("an image of a grape", "the framed picture")."""
        if self.lemma not in vb.IMAGE_NOUNS or self.of_object is not None:
            return False
        return not any(t.dep_ in {"amod", "compound"} for t in self.words) and "a" not in self.determiners and "an" not in self.determiners

    @property
    def of_object(self) -> Phrase | None:
        """The object of an attached "of" phrase ("the handle *of the cup*")."""
        return next((p for name, p in self.preps if name == "of"), None)

    @property
    def concrete(self) -> bool:
        """Whether the phrase names a thing (not a pronoun, placeholder, property or the image)."""
        if self.pronoun or self.image or self.placeholder:
            return False
        if lower(self.head) in {"one", "ones"}:
            return False
        if self.property_noun and not (self.preps and self.lemma in vb.VALUE_NOUNS):
            return False
        return not self.generic

    @property
    def quotes(self) -> list[str]:
        """Quoted strings in the phrase and its attached phrases."""
        out = [unquote(t.text) for t in self.words if is_quote(t)]
        for _, sub in self.preps:
            out.extend(sub.quotes)
        return out

    @property
    def start(self) -> int:
        """Index of the phrase's first token."""
        return min(t.i for t in self.tokens())

    def tokens(self) -> list[Token]:
        """All tokens of the phrase, attached phrases and clauses included, in order."""
        out = {t.i: t for t in self.words}
        for _, sub in self.preps:
            for t in [*_prep_tokens(sub), *sub.tokens()]:
                out[t.i] = t
        for clause in self.clauses:
            for t in clause:
                out[t.i] = t
        return [out[i] for i in sorted(out)]

    def own_tokens(self) -> list[Token]:
        """Return the phrase's own words, without its attached phrases (one level of "on the X")."""
        return sorted(self.words, key=lambda t: t.i)

    def text(self) -> str:
        """Return the phrase as written (all its tokens)."""
        return render(self.tokens())

    # ------------------------------------------------------------------ splitting
    @property
    def part_of(self) -> Phrase | None:
        """The whole this phrase is a part of: "the handle *of the cup*", "the top half *of it*".

        Geometric heads (half, side, top, ...) always are; another noun is when its "of"
        object is definite (the/this/possessive) or a pronoun, and it is not a property
        ("the colour of"), a group ("a pair of") or text ("the word of").
        """
        whole = self.of_object
        if whole is None:
            return None
        if self.lemma in vb.GEOMETRIC_PART_HEADS:
            return whole
        if self.lemma in vb.PROPERTY_NOUNS or self.lemma in vb.GROUP_NOUNS or self.head.pos_ not in {"NOUN"}:
            return None
        if self.lemma in vb.PURE_TEXT_NOUNS or self.generic or self.placeholder:
            return None
        definite = whole.pronoun or any(
            d in {"the", "this", "that", "these", "those", "its", "his", "her", "their", "my", "your"}
            for d in whole.determiners
        ) or any(t.dep_ == "poss" for t in whole.words)
        return whole if definite else None

    def split(
        self,
        *,
        current: set[str] | frozenset[str] = frozenset(),
        keep_count: bool = True,
        plural_count: bool = True,
        clauses: bool = True,
    ) -> Split:
        """Split into target words, attributes, relations and exclusions (module docstring).

        ``current`` holds the head lemmas of the current target: an "on"/"in" phrase whose
        object is the current target (or a pronoun) is a relation, any other stays in the words.
        """
        out = Split(target=None)
        keep: list[Token] = []
        colour: list[Token] = []
        head = self.head
        conjoined = {t.i for c in head.children if c.dep_ in {"conj", "cc"} and c.i > head.i for t in c.subtree}
        for tok in self.words:
            if tok.i == head.i:
                continue
            role = None if tok.i in conjoined else _modifier_role(tok, self)
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
        head_role = _head_role(self)
        if head_role is not None:
            out.placeholder = True
            for key, value in head_role.items():
                out.attributes[key] = value
                out.evidence.append((key, render(self.words)))
        if keep_count and plural_count and "count" not in out.attributes and self.plural and not out.placeholder:
            if not self.pronoun:
                out.attributes["count"] = "all"
        text = _text_value(self, keep)
        if text:
            out.attributes.setdefault("text", text)
        kept: list[Token] = []
        for name, sub in self.preps:
            if sub.image or sub.lemma in FILLER_OBJECTS or name in EXAMPLE_PREPOSITIONS:
                continue
            if name == "of" and sub is self.part_of:
                continue  # the caller reads the part and its whole
            position = _position_phrase(name, sub)
            if position:
                out.attributes.setdefault("position", position)
                out.evidence.append(("position", f"{name} {sub.text()}"))
                continue
            if name in vb.EXCLUDE_PREPOSITIONS:
                out.exclusions.append(sub)
                out.evidence.append(("exclusion", f"{name} {sub.text()}"))
                continue
            kind = vb.RELATION_KINDS.get(name)
            if sub.pronoun:
                if kind:
                    out.relations.append((kind, None))
                    out.evidence.append(("relation", f"{name} {sub.text()}"))
                continue  # "behind it": no relation kind, and the pronoun adds no words
            if kind and (kind in vb.DIRECTIONAL_KINDS or sub.lemmas & set(current)):
                out.relations.append((kind, sub))
                out.evidence.append(("relation", f"{name} {sub.text()}"))
                continue
            kept.extend([*_prep_tokens(sub), *sub.own_tokens()])
        for clause in self.clauses:
            said = _clause_text(clause)
            if said:
                out.attributes.setdefault("text", said)
                out.evidence.append(("text", clause.text))
            elif clauses:
                kept.extend(clause)
        if out.placeholder:
            if kept and lower(head) in {"one", "ones"}:
                out.description = render(sorted({t.i: t for t in kept}.values(), key=lambda t: t.i)) or None
            return out
        body = [*keep, head, *kept]
        out.target = render(sorted({t.i: t for t in body}.values(), key=lambda t: t.i))
        if self.stand_in:
            out.target = out.target.replace(head.text, self.stand_in, 1)
        out.evidence.insert(0, ("target", self.text()))
        return out


_SIDE_NOUNS = frozenset({"left", "right", "top", "front", "back", "side", "bottom"})


def _prep_tokens(sub: Phrase) -> list[Token]:
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


def unwrap(phrase: Phrase) -> tuple[Phrase, str | None]:
    """Peel property nouns: "the colour of the beer in the glass" -> ("beer in the glass", "colour").

    The property's other attached phrases move to the thing ("the position of the card in the
    frame" keeps "in the frame").
    """
    asked = None
    for _ in range(4):
        key = phrase.property_noun
        inner = phrase.of_object
        if key is None or inner is None or inner.pronoun or inner.image:
            break
        asked = asked or key
        inner.preps.extend((n, p) for n, p in phrase.preps if p is not inner and not p.image)
        phrase = inner
    return phrase, asked


def render(tokens: list[Token]) -> str:
    """Join tokens as written (their own spacing; a space where words were left out), without
    trailing punctuation."""
    out: list[str] = []
    for k, tok in enumerate(tokens):
        out.append(tok.text)
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        if nxt is None:
            break
        gap = tok.doc[tok.i + 1 : nxt.i]
        if len(gap) and all(g.text in {"-", "–", "/"} and not g.whitespace_ for g in gap) and not tok.whitespace_:
            out.append(gap.text)  # "t-shirt", "devil-like": keep the hyphen between kept words
        elif tok.whitespace_ or nxt.i != tok.i + 1:
            out.append(" ")
    return "".join(out).strip().rstrip(",;:").strip()


def _modifier_role(tok: Token, phrase: Phrase) -> tuple[str, str] | None:
    """Return what a modifier of the head contributes: (attribute, value), ("drop", ""), or None (keep)."""
    low, lem, dep = lower(tok), lemma(tok), tok.dep_
    if tok.tag_ in {"WDT", "WP", "WP$", "WRB"} or low in {"many", "much", "few", "several", "some", "any"}:
        return "drop", ""
    if dep in {"det", "predet"}:
        if low in vb.COUNT_DETERMINERS:
            return "count", vb.COUNT_DETERMINERS[low]
        if low in vb.OTHER_WORDS:
            return "other", "yes"
        return "drop", ""
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


def _colour_follows(tok: Token, phrase: Phrase) -> bool:
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    return nxt is not None and nxt in phrase.words and lower(nxt) in vb.COLOURS


def size_value(tok: Token) -> str | None:
    """Return the size word a modifier says, as said ("bigger", "tallest", "large"), if it is one.

    Whether it is one comes from the lemma (the parse maps "larger" and "largest" to "large")."""
    if tok.pos_ not in {"ADJ", "ADV"}:
        return None
    scale = vb.SIZES.get(lemma(tok)) or vb.SIZES.get(lower(tok))
    if scale is None:
        return None
    return lower(tok)


def number_value(tok: Token) -> str | None:
    """Return the number a token spells ("two" -> "2", "3" -> "3"), if it is one."""
    from spacy.lang.en.lex_attrs import _num_words  # the language data's number words

    low = lower(tok)
    if low.isdigit():
        return str(int(low))
    if low in _num_words[:21]:
        return str(_num_words.index(low))
    return None


def _head_role(phrase: Phrase) -> dict[str, str] | None:
    """Attributes a placeholder head carries: "the left half" -> part, "the top" -> part."""
    head = lower(phrase.head)
    lem = phrase.lemma
    if lem in vb.GEOMETRIC_PART_HEADS and not phrase.of_object:
        side = next(
            (vb.POSITIONS[lower(t)] for t in phrase.words if lower(t) in vb.POSITIONS and t.i != phrase.head.i),
            None,
        )
        if lem == "half":
            return {"part": f"{side} half" if side else "half"}
        if lem == "side":
            return {"part": side} if side else {"part": "side"}
        if lem in {"corner", "edge"}:
            return {"part": f"{side} {lem}" if side else lem}
        return {"part": vb.POSITIONS.get(lem, lem)}
    if head in vb.PLACEHOLDER_NOUNS:
        return {}
    if phrase.pronoun:
        return {}
    return None


_INTENSIFIERS = frozenset({"far", "very", "extreme", "furthest", "farthest"})
"""Words that only stress a position: "on the *far* right" is on the right."""


def _position_phrase(name: str, sub: Phrase) -> str | None:
    """ "on the right" -> "right", "at the top left" -> "top left", "from the left" -> "left"."""
    if name not in {"on", "at", "in", "to", "from", "towards", "toward"} or sub.preps:
        return None
    words = [lower(t) for t in sub.words if t.dep_ not in {"det", "predet"} and lower(t) not in _INTENSIFIERS]
    if not words or not all(w in vb.POSITIONS or w in {"side", "corner", "end", "edge"} for w in words):
        return None
    values = [vb.POSITIONS[w] for w in words if w in vb.POSITIONS]
    return " ".join(dict.fromkeys(values)) or None


def _text_value(phrase: Phrase, kept: list[Token]) -> str | None:
    """Return printed words the phrase names: a quote, ALL-CAPS words, or a name before a text noun."""
    quotes = [unquote(t.text) for t in [*kept, phrase.head] if is_quote(t)]
    quotes += [unquote(t.text) for t in phrase.words if t.dep_ == "appos" and is_quote(t)]
    if quotes:
        return quotes[0]
    caps = [t for t in [*kept, phrase.head] if len(t.text) >= 2 and t.text.isupper() and any(c.isalpha() for c in t.text)]
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


__all__ = ["Phrase", "Split", "lemma", "lower", "number_value", "render", "size_value", "unwrap"]
