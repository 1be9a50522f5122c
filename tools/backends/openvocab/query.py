"""From the tracked target phrase to what the open-vocabulary detector is asked for.

The finder hands the source the target phrase with its relations cut off ("second cup from the
left", "all the people", "the bigger dog on the right"). Position, order, size, count and
"other" words are cues the finder ranks detections by, not properties a detector sees in one box,
so they are dropped along with articles and numbers; the query ends at the first preposition
other than "of" ("cup of coffee" stays whole). Colours and other adjectives stay: "red cup" is a
better query than "cup". A phrase with nothing left, or only colours ("the one on the left", "the other one")
names no kind of thing, and the source answers None (the finder then ranks regions by its cues).
"""

from __future__ import annotations

import re

from tools.backends.lite.colours import COLOUR_WORDS
from tools.backends.lite.cues import ORDINALS, POSITION_WORDS, SIZE_WORDS, STOPWORDS

COUNT_WORDS = frozenset(
    "all every each both other another either any some several many few "
    "zero one two three four five six seven eight nine ten eleven twelve dozen".split()
)
PREPOSITIONS = frozenset(
    "on in at from to near next beside besides behind under underneath over above below by with "
    "without inside outside between against along across around among into onto toward towards "
    "beneath beyond except than like that which who whose where".split()
)
KEPT_STOPWORDS = frozenset({"of"})
"""Stop words that stay inside a query ("cup of coffee")."""
_WORD = re.compile(r"[0-9A-Za-z][0-9A-Za-z'’\-]*")


def detector_query(phrase: str | None, *, head_only: bool = False) -> str:
    """Return the words of ``phrase`` a detector can look for, or '' when none are left.

    ``head_only`` also ends the query at "of": "handle of the cup" asks for a handle (a part
    looked for inside the current target).
    """
    kept: list[str] = []
    for raw in _WORD.findall(phrase or ""):
        word = raw.lower().strip("'’-")
        if word in PREPOSITIONS and (head_only or word not in KEPT_STOPWORDS):
            if kept:
                break
            continue
        if head_only and word in KEPT_STOPWORDS:
            if kept:
                break
            continue
        if (
            word.isdigit()
            or word in COUNT_WORDS
            or word in ORDINALS
            or word in POSITION_WORDS
            or word in SIZE_WORDS
            or (word in STOPWORDS and word not in KEPT_STOPWORDS)
        ):
            continue
        kept.append(raw.strip("'’-"))
    while kept and kept[-1].lower() in KEPT_STOPWORDS:
        kept.pop()
    while kept and kept[0].lower() in KEPT_STOPWORDS:
        kept.pop(0)
    if all(w.lower() in COLOUR_WORDS for w in kept):
        return ""  # "the red one": a colour names no kind of thing
    return " ".join(kept)
