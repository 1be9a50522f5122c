"""The session's earlier targets, kept in the intent's revision history, and finding one again.

"go back to the logo", "the cup again", "the previous one", "go back to the green one": the
intent's history holds every target the session had, with the attributes and relations it had
then. :func:`earlier_targets` lists them (latest first, one entry per target), and
:func:`find_earlier` picks the one a phrase points at: by head noun, by attributes for a
placeholder or a generic noun ("the green one", "the orange thing"), the session's first target
("the first one") or the one before the current target ("the previous one").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent import nlp
from agent.intent.phrase import Phrase
from agent.intent.words import lower
from agent.types import Intent, IntentOp, Relation

_PREVIOUS = frozenset({"previous", "last", "earlier", "before", "other"})
"""Words for the target before the current one ("the previous one")."""
_FIRST = frozenset({"first", "original", "initial"})
"""Words for the session's first target ("go back to the first one", "the original one")."""


@dataclass(frozen=True)
class Earlier:
    """An earlier target as it stood at the last revision that had it."""

    turn: int
    target: str
    attributes: dict[str, str] = field(default_factory=dict)
    relations: tuple[Relation, ...] = ()
    exclusions: tuple[str, ...] = ()


def earlier_targets(intent: Intent) -> list[Earlier]:
    """Distinct targets of the history, latest first (a reset ends nothing: they stay findable)."""
    seen: set[str] = set()
    out: list[Earlier] = []
    for rev in reversed(intent.history):
        if rev.target is None or rev.op is IntentOp.RESET:
            continue
        key = rev.target.lower()
        if key in seen:
            continue
        seen.add(key)
        attrs = {k: v for k, v in rev.attributes.items() if k != "other"}
        out.append(Earlier(rev.turn, rev.target, attrs, tuple(rev.relations), tuple(rev.exclusions)))
    return out


def head_lemmas(cache: nlp.ParseCache, target: str) -> set[str]:
    """Lemmas of a stored target's head nouns ("label on the large bottle" -> {"label"})."""
    found = target_phrase_of(cache, target)
    return found.lemmas if found is not None else {target.split()[-1].lower()} if target.split() else set()


def target_phrase_of(cache: nlp.ParseCache, target: str | None) -> Phrase | None:
    """Parse a stored target back into its phrase. It is read after "the", so that a bare
    "building in the background" is a noun phrase, not a gerund."""
    from agent.intent.parsing import parse, phrases_of
    from agent.intent.reading import ReadingCache

    if not target:
        return None

    def make() -> Phrase | None:
        found = phrases_of(parse(cache, f"the {target}"))
        return found[0] if found else None

    if isinstance(cache, ReadingCache):
        return cache.memo("target", target, make)  # type: ignore[no-any-return]
    return make()


def find_earlier(
    cache: nlp.ParseCache, intent: Intent, phrase: Phrase | None, attributes: dict[str, str],
    said: set[str] | frozenset[str] = frozenset(),
) -> Earlier | None:
    """Return the earlier target ``phrase`` (with its ``attributes``) points at, other than the
    current one; ``said``: the turn's words ("the one *before*")."""
    current = (intent.target or "").lower()
    candidates = [e for e in earlier_targets(intent) if e.target.lower() != current]
    if not candidates:
        return None
    words = ({lower(t) for t in phrase.words} if phrase is not None else set()) | set(said)
    if phrase is None or phrase.placeholder or phrase.generic or lower(phrase.head) in {"one", "ones"}:
        # "the green one", "the orange thing": a placeholder or a generic noun is found by what
        # was said of it; "the first one" is the session's first target, "the previous one" the
        # one before the current target
        wanted = {k: v for k, v in attributes.items() if k in {"colour", "size", "position", "text"}}
        if wanted:
            for cand in candidates:
                if all(cand.attributes.get(k) == v for k, v in wanted.items()):
                    return cand
            return None
        if words & _FIRST:
            return candidates[-1]
        if words & _PREVIOUS or phrase is None:
            return candidates[0]
        return None
    lemmas = phrase.lemmas
    matches = [c for c in candidates if head_lemmas(cache, c.target) & lemmas]
    if not matches:
        return None
    text = attributes.get("text")
    for cand in matches:
        if text and cand.attributes.get("text", "").lower() == text.lower():
            return cand
    return matches[0]


__all__ = ["Earlier", "earlier_targets", "find_earlier", "head_lemmas", "target_phrase_of"]
