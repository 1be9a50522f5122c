"""When a later question moves the target: it names a thing more specific than the one tracked.

Users and PRIST dialogues both narrow in by asking: "what does the label on the bottle say?",
"which specific element on the screen shows the time?", "what is the star key for?" (after "the
keys"). A question is otherwise about the current target and keeps it; these rules say when it
names the next one instead (each can be switched off with :class:`FocusOptions`, which is how
``bench/prist_lofo.py`` compares them fold by fold):

* ``on_current`` -- the question names a thing on / in / next to the current target, or a part of
  it, by name: "the Marriott logo *on the sign*" while the signs are tracked. A pronoun anchor
  ("the big tank on *it*") does not count: it asks about the current target's surroundings;
* ``same_noun_more_words`` -- the current noun with modifiers the target does not have: "the
  *star* key" after "the keys", "the *star* symbol" after "the symbols";
* ``which_names`` -- "which N ...?" picks a thing: "which item is the cheapest?", "which
  specific element on the screen shows the time?" (the answer then names it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from agent.intent import vocab as vb
from agent.intent.phrase import EXAMPLE_PREPOSITIONS, Phrase
from agent.intent.reading import Reading
from agent.intent.words import lower
from agent.types import Intent

_NOUN_TAGS = frozenset({"NN", "NNS", "NNP", "NNPS"})
_QUANTITY_WORDS = frozenset({"many", "much", "few", "several", "some", "any", "more", "most", "other"})
"""Modifiers that say how many, not which: "how *many* kids are there?" is about the kids."""


class FocusOptions(BaseModel):
    """Which later questions move the target (module docstring); all on by default."""

    model_config = ConfigDict(frozen=True)

    on_current: bool = True
    same_noun_more_words: bool = True
    which_names: bool = True


def moved_focus(intent: Intent, reading: Reading, main: Phrase, current: set[str], options: FocusOptions) -> str | None:
    """Return why a question moves the target to ``main`` (None when it is about the current one)."""
    if not reading.question or not intent.target or main.lemmas & current and not options.same_noun_more_words:
        return None
    if options.which_names and _which_names(reading, main, current):
        return "a which-question names a thing"
    if not main.concrete:
        return None
    if options.on_current and _on_current(main, current):
        return "asks about a thing on the current target"
    if options.same_noun_more_words and _more_words(intent, main, current):
        return "asks about a more specific one"
    return None


def _which_names(reading: Reading, main: Phrase, current: set[str]) -> bool:
    """Return whether a "which N" question asks about something not tracked yet ("which item is cheapest?")."""
    if reading.frame != "which" or reading.main is not main or main.lemmas & current:
        return False
    if main.head.tag_ not in _NOUN_TAGS or not (main.concrete or main.generic):
        return False
    return any(lower(t) == "which" for t in main.words)


def _on_current(main: Phrase, current: set[str]) -> bool:
    """Return whether ``main`` is named on or of the current target ("the Marriott logo on the sign")."""
    if main.lemmas & current:
        return False
    for name, sub in main.preps:
        if name in EXAMPLE_PREPOSITIONS or sub.image or sub.pronoun or (name == "of" and main.part_of is not sub):
            continue
        if sub.lemmas & current:
            return True
    return False


def _more_words(intent: Intent, main: Phrase, current: set[str]) -> bool:
    """Return whether ``main`` is the current noun with a modifier the target lacks ("the star key")."""
    if not main.lemmas & current:
        return False
    have = {w.lower().strip("'\"") for w in (intent.target or "").split()}
    return any(
        t.dep_ in {"compound", "amod"}
        and t.i < main.head.i
        and lower(t) not in have
        and lower(t) not in vb.WEAK_ADJECTIVES | vb.COLOURS
        and lower(t) not in vb.SIZES
        and lower(t) not in _QUANTITY_WORDS
        for t in main.words
    )


__all__ = ["FocusOptions", "moved_focus"]
