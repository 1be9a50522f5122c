"""Turns that only confirm or point at what is already shown: no new target, no narrowing.

"yes that one", "yeah, him", "yes, this is the correct one" confirm the selection: an
affirmative word, then nothing but words that point back (pronouns, "that one"/"this one", a
placeholder no attribute describes). They are chit-chat: the intent stays as it is. "yes, the
left one" is not (an attribute picks one out) and neither is "yes, the dog" (it names a thing).

"mask her", "seg it", "select all of them", "do it again", a bare "again" ask for the mask of
what is tracked: a request verb (or "again") with nothing but pointing words, a quantifier of
them, or nothing at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.intent import vocab as vb
from agent.intent.words import lower

if TYPE_CHECKING:
    from agent.intent.reading import Reading

POINTING_WORDS = frozenset("it that this them these those him her one ones now please again too out for me us".split())
"""All a "segment it" request may say besides its verb (a person tracked is "him"/"her")."""
_QUANTIFIERS = {"all": "all", "both": "2", "each": "all"}
"""Quantifiers of a pointing pronoun: "mask them both", "select all of them"."""
_PLURAL_POINTERS = frozenset({"them", "these", "those"})


def confirms(reading: Reading) -> bool:
    """Whether the turn confirms the selection (module docstring): an affirmative word first,
    then only pronouns pointing back and placeholders that no attribute describes."""
    if reading.doc is None or reading.question or reading.negative or reading.command is not None:
        return False
    first = next((t for t in reading.doc if t.is_alpha), None)
    if first is None or lower(first) not in vb.AFFIRMATIVES or not reading.phrases:
        return False
    for phrase in reading.phrases:
        if phrase.pronoun:
            continue
        if not (phrase.placeholder or lower(phrase.head) in {"one", "ones"}) or phrase.preps:
            return False
        if phrase.split().attributes:
            return False
    return True


def pointing_request(reading: Reading) -> tuple[bool, str | None]:
    """Whether a request verb asks for the mask of what is tracked ("segment it", "mask her",
    "select all of them"), and the count a quantifier of the pointing pronoun says (or None)."""
    if reading.command != "segment" or reading.verb is None or reading.doc is None:
        return False, None
    rest = [lower(t) for t in reading.doc if t.i > reading.verb.i and t.is_alpha]
    count: str | None = None
    used: set[int] = set()
    for k, word in enumerate(rest):
        if word not in _QUANTIFIERS:
            continue
        floated = k > 0 and rest[k - 1] in _PLURAL_POINTERS  # "mask them both"
        partitive = rest[k + 1 : k + 3] in (["of", p] for p in _PLURAL_POINTERS)  # "all of them"
        if floated or partitive:
            count = _QUANTIFIERS[word]
            used |= {k, k + 1} if partitive else {k}
    ok = all(w in POINTING_WORDS or k in used for k, w in enumerate(rest))
    return ok, count if ok else None


def again_alone(reading: Reading) -> bool:
    """Whether the turn is a bare "again" ("again", "again please", "and again"): the request
    repeated on what is tracked (on a new image, the same thing there)."""
    if reading.doc is None or reading.question:
        return False
    words = [lower(t) for t in reading.doc if t.is_alpha and t not in reading.openers]
    return "again" in words and all(w in POINTING_WORDS or w in {"do", "same", "the"} for w in words)


__all__ = ["POINTING_WORDS", "again_alone", "confirms", "pointing_request"]
