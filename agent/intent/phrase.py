"""Noun phrases read off spaCy's dependency parse.

A :class:`Phrase` is a noun head with its own modifiers (determiners, adjectives, compounds,
possessives, numbers, quoted text), the prepositional phrases attached to it ("label *on the
large bottle*", "port *next to it*") and its relative clauses; its properties say what kind of
phrase it is (a pronoun pointing back, a placeholder, a property noun, the picture itself, a
part of something). :meth:`Phrase.split` turns one into what the intent stores
(:mod:`agent.intent.splitting`); token-level helpers live in :mod:`agent.intent.words`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.intent import vocab as vb
from agent.intent.splitting import (
    EXAMPLE_PREPOSITIONS,
    FILLER_OBJECTS,
    Split,
    prep_tokens,
    split_phrase,
)
from agent.intent.words import is_pronoun, is_quote, lemma, lower, render, unquote
from agent.people import PERSON_PARTS, names_a_person

if TYPE_CHECKING:
    from spacy.tokens import Span, Token

LEFT_DEPS = frozenset(
    {"det", "predet", "amod", "compound", "nummod", "poss", "nmod", "quantmod", "advmod", "case", "nn"}
)
"""Dependents before a noun that belong to its phrase ("the two large red 'Sky Cola' bottles")."""

POSSESSIVE_PRONOUNS = frozenset({"its", "his", "her", "their"})
"""Possessive pronouns that point back at the current target ("just *his* tie")."""

PRONOUN_ANCHORS = frozenset({"it", "this", "that", "them", "these", "those", "its", "itself", "they"})
"""Pronouns that, as an anchor or a target, point back at something already named."""


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
    quantifier: list[Token] = field(default_factory=list)
    """The words of a partitive before the phrase ("*both of* the cups", "*two of* the dogs"):
    how many of the things are meant (:func:`agent.intent.parsing.phrase_at`)."""
    _possessor: list[Phrase] | None = field(default=None, init=False, repr=False, compare=False)

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
        out.update(lemma(t) for t in self.words if t.dep_ == "conj" and t.pos_ in {"NOUN", "PROPN", "VERB"})
        ids = {t.i for t in self.words}
        for t in self.words:  # "the knife and fork" however the parser hung it: both nouns
            if lower(t) in {"and", "or", "&"}:
                for side in (t.i - 1, t.i + 1):
                    if side in ids and t.doc[side].pos_ in {"NOUN", "PROPN", "VERB"} and side in {w.i for w in self.words}:
                        out.add(lemma(t.doc[side]))
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
        """The phrase is a lone pronoun ("it", "them", "this"); "everything" / "everyone" name a
        whole and are not (:data:`agent.intent.vocab.UNIVERSAL_PRONOUNS`)."""
        if lower(self.head) in vb.UNIVERSAL_PRONOUNS:
            return False
        return (is_pronoun(self.head) and len(self.words) == 1 and not self.stand_in) or self.names_output

    @property
    def names_output(self) -> bool:
        """The phrase names what the assistant returned ("that mask", "the selection"): it points
        back at the current target like "it"."""
        said = {lower(t) for t in self.words}
        if self.lemma == "mask" and (said & vb.SEPARATE_WORDS or any(t.dep_ == "nummod" for t in self.words)):
            return True  # "separate masks", "two masks", "one mask each": how to answer, not what
        if self.preps or any(t.dep_ in {"amod", "compound"} for t in self.words):
            return False
        if self.lemma in vb.OUTPUT_NOUNS:
            return True
        return self.lemma == "mask" and bool({"this", "that", "your", "current"} & said)

    @property
    def refers_back(self) -> bool:
        """A pronoun or a demonstrative phrase ("it", "this label", "these bottles")."""
        if self.pronoun:
            return lower(self.head) in PRONOUN_ANCHORS or self.names_output
        return any(d in {"this", "that", "these", "those"} for d in self.determiners)

    @property
    def placeholder(self) -> bool:
        """The head stands for the current target ("one", "ones", "part", "the left half")."""
        head = lower(self.head)
        if head in vb.PLACEHOLDER_NOUNS and any(
            t.dep_ == "compound" and t.pos_ in {"NOUN", "PROPN"} and t.i < self.head.i for t in self.words
        ):
            return False  # "the nigiri pieces", "the cake slices": a thing named by its pieces
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
        ("an image of a grape", "the framed picture", "the pictures": there is one image, "the
        picture on the wall": the image has no place of its own)."""
        if self.lemma not in vb.IMAGE_NOUNS or self.of_object is not None or self.plural:
            return False
        if any(name in vb.LOCATION_PREPOSITIONS or name in vb.RELATION_KINDS for name, _ in self.preps):
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
        if (self.lemma in vb.QUANTITY_NOUNS or lower(self.head) in vb.QUANTITY_NOUNS) and self.of_object is None:
            return False  # "there are loads": how many, not what
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
        """All tokens of the phrase, attached phrases, clauses and a partitive's words included, in order."""
        out = {t.i: t for t in [*self.quantifier, *self.words]}
        for _, sub in self.preps:
            for t in [*prep_tokens(sub), *sub.tokens()]:
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

    @property
    def possessor(self) -> Phrase | None:
        """Who owns the head, as a phrase: a noun with "'s" ("*the cat's* eyes") or a possessive
        pronoun pointing back ("*its* eyes", "*his* tie")."""
        if self._possessor is None:
            from agent.intent.parsing import phrase_at

            owner = next(
                (
                    t for t in self.words
                    if t.dep_ == "poss" and t.head.i == self.head.i and not is_quote(t) and (
                        t.pos_ in {"NOUN", "PROPN"} and any(c.dep_ == "case" and lower(c) in {"'s", "'"} for c in t.children)
                        or lower(t) in POSSESSIVE_PRONOUNS
                    )
                ),
                None,
            )
            self._possessor = [phrase_at(owner, 3)] if owner is not None else []
        return self._possessor[0] if self._possessor else None

    # ------------------------------------------------------------------ splitting
    @property
    def part_of(self) -> Phrase | None:
        """The whole this phrase is a part of: "the handle *of the cup*", "the top half *of it*",
        "*the cat's* eyes" (a possessive noun reads like an "of" object); of a person named by a
        noun, only the body and what is worn are parts (:data:`agent.people.PERSON_PARTS`).

        Geometric heads (half, side, top, ...) always are; another noun is when its "of"
        object is definite (the/this/possessive) or a pronoun, and it is not a property
        ("the colour of"), a group ("a pair of") or text ("the word of").
        """
        whole = self.of_object
        if whole is None:
            whole = self.possessor
            if whole is None:
                return None
        if self.lemma in vb.GEOMETRIC_PART_HEADS:
            return whole
        if self.lemma in vb.PROPERTY_NOUNS or self.lemma in vb.GROUP_NOUNS or self.head.pos_ not in {"NOUN"}:
            return None
        if self.lemma in vb.PURE_TEXT_NOUNS or self.generic or self.placeholder:
            return None
        if not whole.pronoun and names_a_person(whole.lemma) and self.lemma not in PERSON_PARTS:
            return None  # "the teacher's desk", "the bag of the player": a thing the person has
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
        """Split into target words, attributes, relations and exclusions
        (:func:`agent.intent.splitting.split_phrase`).

        ``current`` holds the head lemmas of the current target: an "on"/"in" phrase whose
        object is the current target (or a pronoun) is a relation, any other stays in the words.
        """
        return split_phrase(
            self, current=current, keep_count=keep_count, plural_count=plural_count, clauses=clauses
        )


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


__all__ = [
    "EXAMPLE_PREPOSITIONS",
    "FILLER_OBJECTS",
    "LEFT_DEPS",
    "POSSESSIVE_PRONOUNS",
    "PRONOUN_ANCHORS",
    "Phrase",
    "Split",
    "unwrap",
]
