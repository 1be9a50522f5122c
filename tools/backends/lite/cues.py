"""Turning an :class:`~agent.types.Intent` into cues: text to read, colours, position, size, order, relations."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.types import DialogueTurn, Intent, IntentOp, Relation
from tools.backends.lite.colours import COLOUR_WORDS
from tools.backends.lite.textmatch import TextQuery, norm
from tools.backends.lite.wearing import Worn, read_worn

POSITION_WORDS = {
    "left": "left", "leftmost": "left", "right": "right", "rightmost": "right",
    "top": "top", "upper": "top", "above": "top", "bottom": "bottom", "lower": "bottom", "below": "bottom",
    "center": "center", "centre": "center", "middle": "center", "central": "center",
}  # fmt: skip
SIZE_WORDS = {
    "bigger": "big", "biggest": "big", "larger": "big", "largest": "big", "large": "big", "big": "big",
    "huge": "big", "giant": "big", "smaller": "small", "smallest": "small", "small": "small",
    "little": "small", "tiny": "small", "tinier": "small", "tiniest": "small",
    "longer": "big", "longest": "big",  # "which is longer, the limo or the pickup?"
    "tall": "tall", "taller": "tall", "tallest": "tall", "shorter": "short", "shortest": "short",
}  # fmt: skip
"""Size words and what they compare: area (big, small) or height (tall, short: the taller of two
people is often not the one filling more of the photo)."""
BIG_SIZES = frozenset({"big", "tall"})
"""Size values that favour the highest measure."""
HEIGHT_SIZES = frozenset({"tall", "short"})
"""Size values measured by height, not area."""
SIZE_SAID = {"big": "bigger", "small": "smaller", "tall": "taller", "short": "shorter"}
"""How an answer says the size compared."""
TONE_WORDS = {
    "light": "light", "lighter": "light", "lightest": "light", "pale": "light", "paler": "light",
    "palest": "light", "dark": "dark", "darker": "dark", "darkest": "dark",
}  # fmt: skip
"""Words for how light a thing is against others of its kind ("the darker puppy"); before a
colour they shade the colour instead ("light blue"), and alone they name a thing ("the light")."""
ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
    "fifth": 4, "5th": 4, "last": -1, "final": -1,
}  # fmt: skip
TEXT_NOUNS = frozenset(
    "label labels text word words sign signs logo logos writing written name title caption letters "
    "lettering print printed inscription brand tag sticker number numbers digits says reads".split()
)
"""Nouns that say the target *is* text, so an OCR box is the right region."""
STOPWORDS = frozenset(
    "a an the one ones of on in at to with that this these those it its is are which thing things object "
    "objects part parts side area region please segment show me find only not and or other another next near "
    "nearby beside by from for as there here what where can you i my your item something stuff half of "
    "highlight select mark point pick".split()
)
_DEPTH = re.compile(
    r"\b(?:(?:at|in|to|towards?)\s+(?:the\s+)?(back|front|background|foreground)\b(?!\s+of\b)"
    r"|(nearest|closest|furthest|farthest)\b(?!\s+(?:to|from)\b))",
    re.I,
)
"""Depth positions: "the man at the back", "the cup in the foreground", "the burger in front",
"the nearest car" (not "the front wheel", "in front of the car" or "furthest to the left")."""
_QUOTED = re.compile(r"[\"“”‘’']([^\"“”‘’']{1,60})[\"“”‘’']")


@dataclass
class PhraseCues:
    """Cues found in one phrase (the target, an anchor or an exclusion)."""

    phrase: str
    text: list[TextQuery] = field(default_factory=list)
    colours: list[str] = field(default_factory=list)
    positions: list[str] = field(default_factory=list)
    size: str | None = None
    ordinal: int | None = None
    tone: str | None = None
    """'light' or 'dark': lighter or darker than the other candidates (:data:`TONE_WORDS`)."""
    text_noun: bool = False
    """The phrase names text itself (label, sign, word, ...)."""
    worn: list[Worn] = field(default_factory=list)
    """Colours of what a person wears or of their hair ("the man in the black hat")."""
    held: list[str] = field(default_factory=list)
    """What the target holds, carries or rides ("the guy holding it", "the man with the umbrella",
    "the batter": a baseball bat, :data:`ROLE_GEAR`): the one touching it is meant."""

    @property
    def empty(self) -> bool:
        """No cue at all was found in the phrase."""
        return not (
            self.text
            or self.colours
            or self.positions
            or self.size
            or self.ordinal is not None
            or self.tone is not None
            or self.worn
        )


@dataclass
class Cues:
    """Everything the ranker uses for one turn."""

    target: PhraseCues
    other: bool = False
    """Pick a different region than the previous mask."""
    relations: list[Relation] = field(default_factory=list)
    exclusions: list[str] = field(default_factory=list)
    op: IntentOp = IntentOp.NEW
    part: str | None = None
    """'left'/'right'/'top'/'bottom'/'center' when the user asked for that part of the target."""
    part_noun: str | None = None
    """A semantic part of the target ("tie", "face", "handle") when the user asked for one."""
    count: int | None = None
    """How many instances are meant: None for one, 0 for all, n for exactly n."""
    asks_exists: bool = False
    """The user asked whether the thing is there at all ("is there a dog?")."""


def _tokens(phrase: str) -> list[str]:
    return [t for t in re.split(r"[^0-9A-Za-z'’\-]+", phrase) if t]


def quoted(text: str) -> list[str]:
    """Strings the user put in quotes, e.g. the 'EXIT' sign -> ['EXIT'] (apostrophes in words are ignored)."""
    out = []
    for m in _QUOTED.finditer(text):
        start = m.start()
        if start > 0 and text[start - 1].isalnum() and m.group(0)[0] in "'’":
            continue  # an apostrophe inside a word (it's, user's)
        inner = m.group(1).strip()
        if inner and norm(inner):
            out.append(inner)
    return out


def parse_phrase(
    phrase: str | None, *, extra_text: list[str] | None = None, target_threshold: float = 0.8
) -> PhraseCues:
    """Find colour, position, size, ordinal and text cues in a noun phrase."""
    phrase = phrase or ""
    cues = PhraseCues(phrase)
    seen: set[str] = set()

    def add_text(text: str, source: str, threshold: float) -> None:
        key = norm(text)
        if key and key not in seen:
            seen.add(key)
            cues.text.append(TextQuery(text, source, threshold))

    for text in extra_text or []:
        add_text(text, "attribute", 0.6)
    quotes = quoted(phrase)
    for text in quotes:
        add_text(text, "quoted", 0.6)
    quoted_norm = {norm(w) for q in quotes for w in q.split()}
    tokens = _tokens(phrase)
    other_thing = False  # past "with"/"holding": a size word there is the other thing's ("the big P")
    for i, raw in enumerate(tokens):
        word = raw.lower().strip("'’-")
        if not word:
            continue
        other_thing = other_thing or word in _OTHER_THING_WORDS
        if other_thing and word in SIZE_WORDS:
            continue
        after = tokens[i + 1].lower() if i + 1 < len(tokens) else None
        if word in TONE_WORDS and after is not None and after not in COLOUR_WORDS:
            cues.tone = TONE_WORDS[word]
        elif word in COLOUR_WORDS:
            cues.colours.append("gray" if word == "grey" else word)
        elif word in POSITION_WORDS:
            cues.positions.append(POSITION_WORDS[word])
        elif word in SIZE_WORDS:
            cues.size = SIZE_WORDS[word]
        elif word in ORDINALS:
            cues.ordinal = ORDINALS[word]
        elif word in TEXT_NOUNS:
            cues.text_noun = True
        elif word in STOPWORDS or norm(word) in quoted_norm or len(norm(word)) < 2:
            continue
        else:
            add_text(raw.strip("'’-"), "target", target_threshold)
    cues.held = _held(tokens)
    for m in _DEPTH.finditer(phrase):
        word = (m.group(1) or m.group(2)).lower()
        cues.positions.append("back" if word in ("back", "background", "furthest", "farthest") else "front")
    for _, worn in read_worn([t.lower().strip("'’-") for t in tokens], COLOUR_WORDS):
        cues.worn.append(worn)
        colour = "gray" if worn.colour == "grey" else worn.colour
        if colour in cues.colours:
            cues.colours.remove(colour)  # the hat is black, not the man
    return cues


HOLD_WORDS = frozenset({"holding", "carrying", "with", "using", "riding", "pushing", "walking", "throwing", "swinging"})
"""Words after which a phrase names what the target holds or rides ("the guy holding it")."""
ROLE_GEAR = {
    "batter": "baseball bat", "hitter": "baseball bat", "catcher": "baseball glove",
    "skier": "skis", "surfer": "surfboard", "skateboarder": "skateboard", "skater": "skateboard",
    "snowboarder": "snowboard", "cyclist": "bicycle", "jockey": "horse", "equestrian": "horse",
    "motorcyclist": "motorcycle", "kiter": "kite",
}  # fmt: skip
"""People named by what they hold or ride: "the batter" is the person with the baseball bat."""
_HELD_ENDS = frozenset({"and", "but", "who", "that", "which", "while", "near", "next", "beside", "behind", "on", "in", "at"})


def _held(tokens: list[str]) -> list[str]:
    """Return what a phrase says its thing holds, carries or rides: the words after the first hold
    word up to the next clause ("man holding the red umbrella near the door" -> "the red umbrella"), or a
    role's gear ("batter" -> "baseball bat"); "wearing" names clothes (:mod:`wearing`), not this."""
    words = [t.lower().strip("'’-") for t in tokens]
    for i, word in enumerate(words):
        if word in ROLE_GEAR and i <= 2:
            return [ROLE_GEAR[word]]
        if word in HOLD_WORDS and i > 0:
            rest: list[str] = []
            for after in tokens[i + 1 :]:
                if after.lower() in _HELD_ENDS:
                    break
                rest.append(after)
            return [" ".join(rest)] if rest else []
    return []


_OTHER_THING_WORDS = frozenset({"with", "having", "has", "holding", "carrying", "wearing"})
"""Words after which a phrase describes another thing: "the sign with the big P", "the boy holding
the small dog"."""
_RELATION_TAIL = frozenset(
    "the a an of to right left above below next near beside on inside under over in at by".split()
)


def strip_relations(target: str | None, relations: list[Relation]) -> str | None:
    """Cut 'port right of the HDMI label' to 'port' when the relation is tracked separately."""
    if not target:
        return target
    lowered = target.lower()
    for rel in relations:
        idx = lowered.find(rel.anchor.lower().strip())
        if idx <= 0:
            continue
        head = target[:idx].split()
        while head and head[-1].lower() in _RELATION_TAIL:
            head.pop()
        if head:
            target, lowered = " ".join(head), " ".join(head).lower()
    return target


def _attr_list(value: str | None, table: dict[str, str]) -> list[str]:
    if not value:
        return []
    return [table[w] for w in _tokens(value.lower()) if w in table]


def from_intent(intent: Intent, dialogue: list[DialogueTurn] | None = None) -> Cues:
    """Collect the cues of a turn from the structured intent (attributes win over words in the phrase)."""
    attrs = {k.lower(): v for k, v in intent.attributes.items()}
    extra = [attrs["text"]] if attrs.get("text") else []
    last_user = next((t.text for t in reversed(dialogue or []) if t.role == "user"), "")
    if not intent.target:
        extra += [q for q in quoted(last_user) if len(q) <= 40]
    target = parse_phrase(strip_relations(intent.target, intent.relations), extra_text=extra)
    colour = (attrs.get("colour") or attrs.get("color") or "").lower()
    for word in _tokens(colour):
        if word in COLOUR_WORDS and word not in target.colours:
            target.colours.insert(0, "gray" if word == "grey" else word)
    positions = _attr_list(attrs.get("position"), POSITION_WORDS)
    if positions:
        target.positions = positions
    size = _attr_list(attrs.get("size"), SIZE_WORDS)
    if size:
        target.size = size[0]
    ordinal_raw = (attrs.get("ordinal") or "").lower().strip()
    if ordinal_raw:
        if ordinal_raw in ORDINALS:
            target.ordinal = ORDINALS[ordinal_raw]
        elif ordinal_raw.isdigit() and int(ordinal_raw) > 0:
            target.ordinal = int(ordinal_raw) - 1
    # A correction asks for another instance, unless it only changes the part ("actually the
    # bottom half"): the tracker then says no "other".
    corrects_instance = intent.op == IntentOp.CORRECT and "part" not in attrs
    other = attrs.get("other", "").lower() in {"yes", "true", "1"} or corrects_instance
    part, part_noun = read_part(attrs.get("part"))
    phrase_words = set(_tokens(f"{intent.target or ''} {last_user}".lower()))
    if (
        part is None
        and part_noun is None
        and intent.op == IntentOp.REFINE
        and target.positions
        and phrase_words & {"half", "part", "side", "portion"}
    ):
        part = target.positions[0]
    return Cues(
        target=target,
        other=other,
        relations=list(intent.relations),
        exclusions=[e for e in intent.exclusions if e and e.strip()],
        op=intent.op,
        part=part,
        part_noun=part_noun,
        count=read_count(attrs.get("count")),
        asks_exists=attrs.get("asked", "").lower() == "exists",
    )


def read_part(value: str | None) -> tuple[str | None, str | None]:
    """Split the intent's ``part`` into a geometric side ("left half" -> left) or a part noun."""
    tokens = _tokens((value or "").lower())
    cut = next((i for i, w in enumerate(tokens) if w in _PART_OF), len(tokens))
    words = [w for w in tokens[:cut] if w not in STOPWORDS]  # "handle of the cup" -> handle
    sides = [POSITION_WORDS[w] for w in words if w in POSITION_WORDS]
    if sides:
        return sides[0], None
    nouns = [w for w in words if w not in {"half", "part", "portion", "side", "bit", "piece"}]
    return None, (" ".join(nouns) or None)


_PART_OF = frozenset({"of", "on", "in", "at", "from", "inside"})


def read_count(value: str | None) -> int | None:
    """Read the intent's ``count`` as a number: "all"/"every"/"each" -> 0, "2" -> 2, else None (one)."""
    raw = (value or "").strip().lower()
    if raw in {"all", "every", "each", "both"}:
        return 0 if raw != "both" else 2
    if raw.isdigit() and int(raw) > 1:
        return int(raw)
    return None
