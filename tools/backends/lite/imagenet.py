"""Mapping the noun a user says to ImageNet-1k classes, for things the COCO detector does not know.

A noun matches the classes one of whose shipped names it is ("tripod", "space shuttle", "lion",
"sunglasses"), else those whose name ends in it ("Windsor tie" and "bow tie" for "tie"; "cowboy
hat" for "hat"). Words for a whole family map to its block of ImageNet's class order, which
follows WordNet (:data:`GROUPS`: "animal" is classes 0-397, "dog" the 118 breeds 151-268). The
same table says which classes confirm a weak detection of a COCO category (:data:`COCO_CLASSES`).
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.nlp import ParseCache, parse_noun_phrase


def _span(first: int, last: int) -> tuple[int, ...]:
    return tuple(range(first, last + 1))


BIRDS = _span(7, 24) + _span(80, 100) + _span(127, 146)
GROUPS: dict[str, tuple[int, ...]] = {
    "animal": _span(0, 397),
    "creature": _span(0, 397),
    "beast": _span(0, 397),
    "wildlife": _span(0, 397),
    "bird": BIRDS,
    "fish": _span(0, 6) + _span(389, 397),
    "dog": _span(151, 268),
    "cat": _span(281, 285),
    "bear": _span(294, 297),
    "butterfly": _span(321, 326),
    "monkey": _span(369, 382),
    "ape": _span(365, 368),
    "primate": _span(365, 384),
    "elephant": (101, 385, 386),
    "pitcher": (725, 899, 901),  # the classifier's pitcher/ewer, water jug and whiskey jug are
    "jug": (725, 899, 901),  # one kind of vessel to a user, who says any of the three names
    "ewer": (725, 899, 901),
}
"""Family words and the blocks of ImageNet's (WordNet-ordered) classes they cover."""
COCO_CLASSES: dict[str, tuple[int, ...]] = {
    "cat": GROUPS["cat"],
    "dog": GROUPS["dog"],
    "bird": BIRDS,
    "bear": GROUPS["bear"],
    "elephant": GROUPS["elephant"],
    "zebra": (340,),
    "horse": (339,),
    "sheep": (348, 349),
    "cow": (345, 346, 347),
    "bicycle": (444, 671),
    "motorcycle": (665, 670),
    "car": (407, 436, 468, 511, 609, 627, 656, 661, 717, 751, 817),
    "bus": (654, 779, 874),
    "airplane": (404, 895),
    "umbrella": (879,),
    "laptop": (620,),
}
"""ImageNet classes that are a COCO category, for checking a detection the detector is unsure of."""
VESSEL_CLASSES: dict[str, tuple[int, ...]] = {
    "cup": (504, 968),
    "vase": (883,),
    "bottle": (440, 720, 737, 898, 907),
    "bowl": (659, 809),
}
"""ImageNet classes of the COCO vessels the detector mistakes for one another and for jugs or
teapots, used only to let the classifier overrule a sure detection ("the pitcher" the detector
calls a cup once the tile pass has run), never to confirm a weak one (a cup's crop goes by too
many names for that)."""
SKIP_NOUNS = frozenset("one ones thing things object objects part side half top bottom".split())
"""Words that name no thing of their own in a request ("the left one", "the top half")."""


@dataclass(frozen=True)
class ClassMatch:
    """The ImageNet classes a phrase's noun names, and the noun as the answer should say it."""

    noun: str
    classes: tuple[int, ...]


class ImageNetVocabulary:
    """Finds the ImageNet classes a target phrase names; built from the classifier's label list."""

    def __init__(self, labels: list[str], cache_entries: int = 256) -> None:
        self.parses = ParseCache(cache_entries)
        self._exact: dict[str, set[int]] = {}
        self._ending: dict[str, set[int]] = {}
        for index, line in enumerate(labels):
            for name in (n.strip().lower() for n in line.split(",")):
                words = name.split()
                if not words:
                    continue
                self._exact.setdefault(name, set()).add(index)
                if 1 < len(words) <= 3:
                    self._ending.setdefault(words[-1], set()).add(index)

    def classes_of(self, noun: str) -> tuple[int, ...]:
        """Return the classes a noun (or two-word name) names: family, exact name, else ending."""
        noun = noun.lower()
        if noun in SKIP_NOUNS:
            return ()
        found = GROUPS.get(noun) or self._exact.get(noun) or self._ending.get(noun) or ()
        if not found and noun.endswith("ess") and len(noun) > 6:  # "lioness": a female lion
            return self.classes_of(noun[:-3])
        return tuple(sorted(found))

    def match(self, phrase: str | None, *, head_only: bool = True) -> ClassMatch | None:
        """Return the classes the phrase's head noun names, or None when ImageNet has none.

        Only the head counts, whatever ``head_only`` says: with a thousand classes, the other
        nouns of a request ("the patch on her *chest*", "the box next to the *bin*") name other
        things far more often than the target.
        """
        phrase = " ".join((phrase or "").split())
        if not phrase:
            return None
        found = self._match(phrase)
        words = phrase.split()
        cut = next((i for i, w in enumerate(words) if i > 0 and w.lower().endswith("ing") and len(w) > 4), None)
        if found is None and cut is not None:
            # "drum lying on the beanbag": the tagger takes the participle for the noun
            found = self._match(" ".join(words[:cut]))
        return found

    def _match(self, phrase: str) -> ClassMatch | None:
        doc = parse_noun_phrase(self.parses, phrase.lower())
        chunk = next(iter(doc.noun_chunks), None)
        head = chunk.root if chunk is not None else None
        if head is None or head.pos_ not in ("NOUN", "PROPN") or not head.is_alpha:
            return None
        before = doc[head.i - 1] if head.i > 0 else None
        keys = []
        if before is not None and before.is_alpha and before.dep_ in ("compound", "amod"):
            keys.append(f"{before.text} {head.text}")
        keys += [head.text, head.lemma_.lower()]
        for key in keys:
            classes = self.classes_of(key)
            if classes:
                return ClassMatch(key, classes)
        return None
