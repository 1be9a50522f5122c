"""Mapping the noun a user says to one of the 80 COCO categories the detector knows.

The head noun comes from the shared English parse (:mod:`agent.nlp`): its lemma (so "cups",
"men" and "people" work) and, for two-word names, the compound before it ("wine glass", "cell
phone", "teddy bear"). A noun matches a category by the category's own name or by one of the
everyday names in :data:`ALIASES`: what people call those 80 things ("guy", "kitty", "mug",
"motorbike", "sofa"), and any noun built on man, woman or person ("fisherman"). The table is deliberately a closed, reviewed list: static word embeddings
(tried: wordllama) rank "hair" next to "hair drier", "snow" next to "snowboard" and "tablet"
next to "dining table", which would turn part and scene words into wrong detections. A noun the
table does not know is not a detector category; lite then falls back to its other cues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.nlp import ParseCache, parse_noun_phrase
from agent.people import PERSON_NOUNS, names_a_person
from tools.backends.lite.detector import CATEGORIES

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

ALIASES: dict[str, tuple[str, ...]] = {
    "person": PERSON_NOUNS,
    "bicycle": ("bike", "cycle", "pushbike"),
    "car": (
        "automobile", "sedan", "taxi", "cab", "jeep", "suv", "hatchback", "vehicle", "wagon",
        "station wagon", "estate car", "minivan", "coupe", "convertible",
    ),
    "motorcycle": ("motorbike", "scooter", "moped", "motor bike", "dirt bike", "chopper"),
    "airplane": ("plane", "aeroplane", "aircraft", "jet", "airliner"),
    "bus": ("coach", "minibus", "trolleybus"),
    "train": ("locomotive", "tram", "railcar"),
    "truck": ("lorry", "pickup", "van", "trailer"),
    "boat": ("ship", "yacht", "canoe", "kayak", "sailboat", "ferry"),
    "bench": ("park bench",),
    "bird": (
        "pigeon", "seagull", "gull", "duck", "sparrow", "parrot", "crow", "swan", "cygnet",
        "duckling", "gosling", "chick", "songbird", "seabird", "waterbird", "waterfowl",
    ),
    "cat": ("kitty", "kitten", "tabby", "feline", "moggy"),
    "dog": ("puppy", "pup", "doggo", "doggy", "hound", "canine", "pooch"),
    "horse": ("pony", "foal", "stallion", "mare"),
    "sheep": ("lamb", "ram"),
    "cow": ("cattle", "bull", "calf", "ox"),
    "tie": ("necktie", "bow tie", "bowtie"),
    "handbag": ("purse", "bag", "clutch"),
    "backpack": ("rucksack", "knapsack", "schoolbag"),
    "suitcase": ("luggage", "trolley case"),
    "sports ball": ("ball", "football", "soccer ball", "basketball", "tennis ball", "baseball"),
    "baseball bat": ("bat", "softball bat", "cricket bat"),
    "baseball glove": ("mitt", "baseball mitt", "catcher's mitt", "fielding glove"),
    "tennis racket": ("racket", "racquet", "tennis racquet", "badminton racket"),
    "skis": ("ski", "pair of skis"),
    "surfboard": ("surf board", "bodyboard", "paddleboard", "longboard"),
    "fire hydrant": ("hydrant", "fireplug"),
    "traffic light": ("traffic signal", "stoplight", "stop light", "traffic lights"),
    "hair drier": ("hair dryer", "hairdryer", "blow dryer", "blowdryer"),
    "bottle": ("flask", "water bottle"),
    "wine glass": ("goblet", "glass", "wineglass"),
    "cup": (
        "mug", "teacup", "coffee cup", "espresso cup", "tea cup", "beaker", "tumbler",
        # what people call a cup by what is in it
        "coffee", "latte", "cappuccino", "espresso", "iced coffee", "flat white", "tea",
        "hot chocolate", "cocoa", "drink", "beverage",
    ),
    "bowl": ("dish",),
    "dining table": ("table", "desk", "kitchen table"),
    "couch": ("sofa", "settee", "loveseat"),
    "chair": ("armchair", "stool", "seat"),
    "potted plant": ("plant", "houseplant", "pot plant"),
    "tv": ("television", "telly", "tv set", "monitor", "screen"),
    "laptop": ("notebook", "computer", "macbook", "notebook computer"),
    "mouse": ("computer mouse",),
    "remote": ("remote control", "controller", "clicker"),
    "keyboard": ("keypad",),
    "cell phone": ("phone", "cellphone", "smartphone", "mobile", "iphone", "mobile phone"),
    "refrigerator": ("fridge",),
    "teddy bear": ("teddy", "stuffed animal", "plush"),
    "clock": ("watch", "wall clock"),
    "donut": ("doughnut",),
    "cake": ("cupcake", "muffin", "cheesecake", "birthday cake", "gateau"),
    "hot dog": ("hotdog", "sausage"),
    "sandwich": ("burger", "hamburger", "cheeseburger", "sub", "panini", "wrap", "toastie", "sarnie"),
}  # fmt: skip
"""Everyday names of the detector's categories (a reviewed, closed list; see the module doc)."""
SECOND_CHOICES: dict[str, tuple[str, ...]] = {
    "glass": ("cup",), "glasses": ("cup",), "tumbler": ("wine glass",),
    "bag": ("backpack", "suitcase"), "bags": ("backpack", "suitcase"),
    "screen": ("laptop",), "monitor": ("laptop",), "computer": ("tv",),
    "vehicle": ("truck", "bus", "motorcycle"), "dish": ("cup",), "seat": ("couch", "bench"),
    "drink": ("wine glass", "bottle"), "beverage": ("wine glass", "bottle"), "coffee": ("wine glass",),
    "iced coffee": ("wine glass",),
}  # fmt: skip
"""Everyday names that also fit another category, tried in order when the first is not found
("the glass" may be what COCO calls a cup: a drinking glass)."""

ANIMALS = ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")
FAMILIES: dict[str, tuple[str, ...]] = {
    "animal": ANIMALS, "creature": ANIMALS, "beast": ANIMALS, "critter": ANIMALS,
    "wildlife": ANIMALS, "pet": ("cat", "dog"), "livestock": ("horse", "sheep", "cow"),
}  # fmt: skip
"""Words for a family of the detector's categories: "the animal" is whichever animal is there."""

def _person_by_suffix(noun: str) -> str | None:
    """Return "person" for a one-word noun built on man/woman/person that is not in the table."""
    return "person" if names_a_person(noun) else None


_LOOKUP: dict[str, str] = {
    **{alias: cat for cat, names in ALIASES.items() for alias in names},
    **{cat: cat for cat in CATEGORIES},
}


_HYPHENATED = re.compile(r"\b([a-z]+)-([a-z]+)\b")


def _known_unhyphenated(m: re.Match[str]) -> str:
    """Return a hyphenated name the table knows written together or apart ("grown-up" -> "grownup",
    "teddy-bear" -> "teddy bear"); others are left as written ("t-shirt")."""
    for joined in (m[1] + m[2], f"{m[1]} {m[2]}"):
        if joined in _LOOKUP:
            return joined
    return m[0]


def _modifier(noun: Token, heads: list[Token]) -> bool:
    """Whether a noun before the head is a compound modifier of it ("*coffee* grinder", "*bus* stop")."""
    return noun.dep_ == "compound" and any(noun.head == h for h in heads)


def _owner(noun: Token) -> bool:
    """Whether a noun after the head names what the head belongs to ("the jacket *of the guy*")."""
    return noun.dep_ == "pobj" and noun.head.lower_ == "of"


_TWO_WORD = frozenset(key for key in _LOOKUP if key.count(" ") == 1)
_ATTACHED = frozenset({"with", "holding", "wearing", "carrying", "next", "near", "by", "behind", "beside", "that", "who", "which"})


def _two_word_name(doc: Doc) -> CategoryMatch | None:
    """Return the category of a two-word name said before any attached phrase ("the stop sign on
    the left", "fire hydrant"), whatever the tagger made of it: a small tagger reads "stop" and
    "fire" as verbs and drops the name."""
    words = [t for t in doc if t.is_alpha]
    for first, second in zip(words, words[1:], strict=False):
        if first.pos_ == "ADP" or first.lower_ in _ATTACHED:
            return None
        key = f"{first.lower_} {second.lower_}"
        if key in _TWO_WORD:
            category = _LOOKUP[key]
            return CategoryMatch(category, key, alias=key != category)  # the table's names are singular
    return None


@dataclass(frozen=True)
class CategoryMatch:
    """The detector category a phrase names, the user's noun, and whether it was plural."""

    category: str
    noun: str
    plural: bool = False
    alias: bool = False
    """True when the noun is an everyday name, not the category's own ("mug" for cup)."""
    also: tuple[str, ...] = ()
    """Other categories the noun may name, tried when this one is not found (:data:`SECOND_CHOICES`)."""
    members: tuple[str, ...] = ()
    """For a family word ("animal"), the categories it covers: all of them are looked for at once."""


class Vocabulary:
    """Finds the detector category in a target phrase; one per backend (it owns a parse cache)."""

    def __init__(self, cache_entries: int = 256) -> None:
        self.parses = ParseCache(cache_entries)

    def match(self, phrase: str | None, *, head_only: bool = False) -> CategoryMatch | None:
        """Return the category the phrase's head noun names, or None when no category fits.

        Without ``head_only`` the phrase's other nouns are tried too ("the guy's jacket" still
        names a person); with it only the head counts ("handle of the cup" names no category).
        """
        phrase = _HYPHENATED.sub(_known_unhyphenated, " ".join((phrase or "").split()).lower())
        if not phrase:
            return None
        doc = parse_noun_phrase(self.parses, phrase)
        named = _two_word_name(doc)
        if named is not None:
            return named
        nouns = [t for t in doc if t.pos_ in ("NOUN", "PROPN") and t.is_alpha]
        if not nouns:
            nouns = [t for t in doc if t.is_alpha and not t.is_stop]
        # The head is the noun the others hang on: the root of the first noun chunk, else the last.
        chunk = next(iter(doc.noun_chunks), None)
        heads = [chunk.root] if chunk is not None and chunk.root in nouns else []
        if not head_only or not heads:
            # other nouns: before the head ("the guy's jacket") or its owner ("jacket of the
            # guy"), not an anchor after it ("the thermos standing on the desk")
            first = heads[0].i if heads else len(doc)
            # (a compound before the head only says which kind: a coffee grinder is no coffee)
            heads += [
                t for t in reversed(nouns)
                if t not in heads and ((t.i < first and not _modifier(t, heads)) or _owner(t))
            ]
        if head_only:
            heads = heads[:1]
        for head in heads:
            before = doc[head.i - 1] if head.i > 0 else None
            keys = []
            if before is not None and before.is_alpha and before.dep_ in ("compound", "amod"):
                keys += [f"{before.text} {head.text}", f"{before.lemma_} {head.lemma_}"]
            keys += [head.text, head.lemma_.lower()]
            for key in keys:
                if key in FAMILIES:
                    plural = "Plur" in head.morph.get("Number", [])
                    return CategoryMatch(key, key, plural, alias=True, members=FAMILIES[key])
                category = _LOOKUP.get(key) or _person_by_suffix(key)
                if category is not None:
                    plural = "Plur" in head.morph.get("Number", []) or head.text in ("people", "men")
                    also = SECOND_CHOICES.get(key, ())
                    return CategoryMatch(category, key, plural, alias=key != category, also=also)
        if not head_only:  # a name the tagger took for an adjective: "the blonde on the right"
            for token in doc:
                category = _LOOKUP.get(token.text) if token.pos_ == "ADJ" else None
                if category is not None:
                    return CategoryMatch(category, token.text, alias=token.text != category)
        return None
