"""The things a target phrase lists: "the lemon and the lime" names two things, "the black and
white cat" one.

Read from the shared parse (:mod:`agent.nlp`): the phrase's head noun and the nouns coordinated
with it ("and", commas, "&"; "or" for a choice, :func:`offered_things`), each with its own words (article dropped), in the order said. A
noun that only modifies another ("salt and pepper shakers") lists nothing of its own. The
tracker uses it to narrow a listed target to one of its members ("only the top half of the
lime"), the backends to look for each member on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

    from agent.nlp import ParseCache

_NOUNS = frozenset({"NOUN", "PROPN"})
_LINKS = frozenset({"conj", "appos"})
_DROPPED = frozenset({"conj", "appos", "cc", "punct", "preconj"})


def listed_things(cache: ParseCache, phrase: str | None) -> list[str]:
    """Return the things ``phrase`` lists, each as said without its article; [] for one thing."""
    text = " ".join((phrase or "").split())
    if " and " not in f" {text.lower()} " and "," not in text and "&" not in text:
        return []  # the common case costs no parse
    return _coordinated(cache.parse(text))


def offered_things(cache: ParseCache, phrase: str | None) -> list[str]:
    """Return the things ``phrase`` offers to choose from ("the cup or the bowl", after "which
    is bigger"), each as said without its article; [] when it offers no choice."""
    text = " ".join((phrase or "").split())
    if " or " not in f" {text.lower()} ":
        return []
    doc = cache.parse(text)
    if not any(t.dep_ == "cc" and t.lower_ == "or" for t in doc):
        return []
    return _coordinated(doc)


def _coordinated(doc: Doc) -> list[str]:
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is not None and root.pos_ not in _NOUNS:
        # "the woman and the child walking together", parsed as a clause: its subject lists
        root = next((c for c in root.children if c.dep_ in {"nsubj", "dobj"} and c.pos_ in _NOUNS), None)
    if root is None:
        return []
    members = _members(root)
    if len(members) < 2:
        return []
    return [words for words in (_own_words(doc, m) for m in members) if words]


def _members(root: Token) -> list[Token]:
    """Return the root noun and the nouns linked to it, or to another member, by coordination."""
    members = [root]
    for token in root.subtree:
        if token.dep_ in _LINKS and token.pos_ in _NOUNS and token.head in members:
            members.append(token)
    return sorted(members, key=lambda t: t.i)


def _own_words(doc: Doc, member: Token) -> str:
    """Return the member's words without the other members, the links between them and its article."""
    dropped: set[int] = set()
    for child in member.children:
        if child.dep_ in _DROPPED:
            dropped.update(t.i for t in child.subtree)
    words = [t for t in member.subtree if t.i not in dropped]
    while words and words[0].dep_ in {"det", "poss", "cc", "punct"}:
        words = words[1:]  # "the", "his": the thing itself is named by what follows
    while words and words[-1].dep_ in {"cc", "punct", "preconj"}:
        words = words[:-1]  # "and" hung on the last word of the first member
    return " ".join(t.text for t in words).strip()
