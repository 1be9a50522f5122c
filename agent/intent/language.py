"""Is a turn English, and what text is parsed: cleaning, a bounded length, chat spellings, typos.

English or not is read from the pipeline's own vocabulary (its stop words and lemmatizer
tables): a turn mostly made of words the English pipeline does not know, or written in another
script, is not read at all, so the tracker keeps the intent and says so. So is a turn whose
function words are another language's (spaCy's Spanish, French, German, Italian, Portuguese and
Dutch stop words that English does not have: "¿es *un* labrador?", "*ist das ein* Hund?") or
that opens with Spanish inverted punctuation ("¿", "¡"). Typos and short forms are fixed only for words the
pipeline does not know and only when the fix is clear (:mod:`agent.intent.spelling`).

Before parsing, what carries no words is taken out: markup, control characters, emoji and other
pictographs ("the left one 👈" is "the left one"; one after a determiner stands for a noun and
is read as its Unicode name: "find the 🐶" is "find the dog"), laughter and chat exclamations ("lol", "haha",
"omg": :data:`agent.intent.vocab.LAUGHTER`); a turn written all in capitals ("NO THE BLUE
ONE") is read in lower case, since its case says nothing (capitals inside a turn still mark
printed words: "the HDMI label").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from agent import nlp
from agent.intent import vocab as vb
from agent.intent.spelling import english_vocabulary, fix_typo, graded, known, unglued

MAX_CHARS = 600
"""Only the first sentences of a longer turn are parsed (a request is read, not a document)."""

QUOTE_RE = re.compile(
    r"(?<![\w])'(?P<a>(?:[^'\n]|(?<=\w)'(?=\w)){1,80}?)'(?![\w])|‘(?P<b>[^’\n]{1,80}?)’"
    r"|\"(?P<c>[^\"\n]{1,80}?)\"|“(?P<d>[^”\n]{1,80}?)”"
)
_POLITE_EDGES = re.compile(
    r"^(?:please|pls|plz)\b[\s,]*|[\s,]*\b(?:please|pls|plz|thanks|thank you|thx)(?: a lot| so much| very much)?(?P<end>[.!?]*)\s*$",
    re.IGNORECASE,
)
"""A "please" or "thanks" that opens or closes a request (it confuses the parse of a fragment)."""
_OPENERS = vb.OPENER_WORDS | vb.NEGATIVE_OPENERS | {"thanks", "right"}
"""Words before a comma that open a turn, not a thing a place after the comma could belong to."""


def _place_after_comma(m: re.Match[str]) -> str:
    """Read "the lamp post, bottom left" as "the lamp post on the bottom left" ("ok, far right" stays)."""
    return m[0] if m[1].lower() in _OPENERS else f"{m[1]} on the {m[2]}"


_PLAIN_PHRASINGS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"\bcounting\s+(from|in\s+from)\b", re.I), "from"),
    (re.compile(r"\b(?:furthest|farthest)\s+(?:to\s+(?:the\s+)?|on\s+the\s+)?(left|right)\b", re.I), r"on the far \1"),
    (re.compile(r"\b(?:closest|nearest)\s+(?:to\s+)?(?:the\s+)?(?:camera|viewer|photographer|us|me)\b", re.I), "in front"),
    (re.compile(r"\bthe\s+([a-z]+)\s+(furthest|farthest)\s+(?:back|away|off)\b", re.I), r"the \2 \1"),
    (re.compile(r"\b(?!(?:multi|different|same|many|two|off)\b)([a-z]+)[- ]colou?red\b", re.I), r"\1"),
    (re.compile(r"\b(?:down|up|over)\s+(on|in|at)\s+the\b", re.I), r"\1 the"),
    # a place said after a comma: "the lamp post, bottom left" (on the bottom left)
    (re.compile(r"\b(\w+),\s+((?:top|bottom|upper|lower|far)[- ](?:left|right))\b(?=\s*(?:[,.!?]|$))", re.I), _place_after_comma),
    (re.compile(r"\b(top|bottom|upper|lower)\s+(left|right)\b(?!\s*[-\w])", re.I), r"\1-\2"),
    (re.compile(r"^(?:the )?whole(?: one)?(?: again)?\s*[.!]*$", re.I), "the whole thing"),
    (re.compile(r"\bthe whole (?!thing\b)[a-z]+ again\b", re.I), "the whole thing again"),
    # an exclamation that opens a turn: "Ooh and the armchair next to it!" (the parser hangs the rest on it)
    (re.compile(r"^(?:o+h+|a+w+|wo+w|whoa|yay)\b[\s,.!]*(?=\w)", re.I), ""),
    # a greeting before a comma: "good evening, I am from Portugal ..." ("good evening" alone stays)
    (re.compile(r"^(?:good (?:morning|afternoon|evening|day)|(?:hi|hello|hey) there)\s*,\s*(?=\w)", re.I), ""),
    # a dictated turn: "no wait i meant ...", "... on the far right period"
    (re.compile(r"^((?:\w+\s+)?)wait\s+(?=[a-z])", re.I), r"\1wait, "),
    (re.compile(r"\s+(?:period|full stop|question mark|exclamation (?:mark|point))\s*$", re.I), ""),
    (re.compile(r"\bwrong\s+(?:count|number|one|thing|side|guess|choice)\b", re.I), "wrong"),
)
"""Ways of saying where a thing is, or its colour, that the parser hangs on the wrong word, said
the plain way: "the third cygnet counting from the right" (from the right), "the lamp post, bottom left"
(on the bottom left), "the swan furthest
to the left" (on the far left), "the one furthest back" (the furthest one), "the dog closest to the camera" (in front), "the light coloured
one" (the light one), "the sign down on the right" (on the right: "sign down" reads as a verb), "the cup in the
top left" (top-left: "left" reads as the verb), "whole" and "the whole car again" after a part
(the whole thing again, whatever the user now calls it); what a dictating user says for punctuation ("no
wait i meant", "... on the far right period") and "wrong count" (a correction, not a count)."""
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_MARKUP_RE = re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]{0,200})?/?>")
_EMOJI_JOINERS = frozenset({"\u200d", "\u20e3"}) | {chr(c) for c in range(0xFE00, 0xFE10)}
"""Zero-width joiner, keycap and variation selectors: the glue inside an emoji."""
_FOREIGN_LANGUAGES = ("es", "fr", "de", "it", "pt", "nl")
"""Languages whose function words mark a turn as not English (spaCy's stop word lists)."""


def _pictograph(char: str) -> bool:
    """Whether a character is an emoji or another pictograph (a symbol beyond Latin-1 and the
    letter-like and currency signs: "👈", "🙏", "★", "✔"), or the glue inside one."""
    if char in _EMOJI_JOINERS:
        return True
    return unicodedata.category(char) in {"So", "Sk"} and ord(char) >= 0x2190


_EMOJI_AFTER_DETERMINER = re.compile(
    r"\b(?P<det>the|a|an|my|your|our|their)\s*(?P<emoji>[^\w\s\d.,!?;:'\"()]+)(?!\s*ones?\b)",
    re.IGNORECASE,
)
_EMOJI_NAME_TAILS = (" face",)
"""What the Unicode name of an animal's emoji adds to the animal ("DOG FACE")."""
_EMOTICONS = range(0x1F600, 0x1F650)
"""Unicode's Emoticons block (smileys and the like): feelings, never a thing to find."""


def emoji_nouns(text: str) -> str:
    """Read an emoji standing where a noun belongs, after an article or a possessive that is never
    a pronoun ("find the 🐶", "my 🚲"; not "this", "her"), as its Unicode name ("dog", "bicycle", "red apple"); the parser then reads a noun there
    ("the 👍 one" has its noun: the emoji is decoration).
    Anywhere else an emoji is decoration and is taken out (:func:`strip_pictographs`)."""

    def name(m: re.Match[str]) -> str:
        chars = [c for c in m.group("emoji") if _pictograph(c) and c not in _EMOJI_JOINERS]
        if not chars or len(chars) != len([c for c in m.group("emoji") if not c.isspace() and c not in _EMOJI_JOINERS]):
            return m.group(0)
        if ord(chars[0]) in _EMOTICONS:
            return m.group(0)
        said = unicodedata.name(chars[0], "").lower()
        for tail in _EMOJI_NAME_TAILS:
            said = said.removesuffix(tail)
        return f"{m.group('det')} {said}" if said else m.group(0)

    return _EMOJI_AFTER_DETERMINER.sub(name, text)


def strip_pictographs(text: str) -> str:
    """Take emoji and other pictographs out of a turn, outside quoted text (they carry no words)."""
    if not any(_pictograph(c) for c in text):
        return text
    out, pos = [], 0
    for m in QUOTE_RE.finditer(text):
        out.append("".join(" " if _pictograph(c) else c for c in text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append("".join(" " if _pictograph(c) else c for c in text[pos:]))
    return "".join(out)


def _all_capitals(text: str) -> bool:
    """Whether a turn is written all in capitals outside quotes (at least two words, one of them a
    function word: "NO THE BLUE ONE", not an acronym or a name alone)."""
    words = _WORD_RE.findall(QUOTE_RE.sub(" ", text))
    if len(words) < 2 or not all(w.isupper() for w in words):
        return False
    stop = nlp.pipeline().Defaults.stop_words
    return any(w.lower() in stop for w in words)


def _outside_quotes(text: str, change: Callable[[str], str]) -> str:
    """Apply ``change`` to the text outside quoted strings (quoted words are kept as written)."""
    out, pos = [], 0
    for m in QUOTE_RE.finditer(text):
        out.append(change(text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(change(text[pos:]))
    return "".join(out)


def _lower_outside_quotes(text: str) -> str:
    return _outside_quotes(text, str.lower)


@functools.lru_cache(maxsize=1)
def foreign_function_words() -> frozenset[str]:
    """Return the function words of other languages that English lacks (spaCy's stop word lists, language
    data shipped with spaCy): a two-letter one ("es", "un", "la") or one the English pipeline does
    not know ("ist", "das", "qué"). Words English chat uses ("um", "ok") are not among them."""
    import importlib

    english = english_vocabulary()
    stop = nlp.pipeline().Defaults.stop_words
    chat = vb.POLITE_WORDS | set(vb.SLANG) | vb.NEGATIVE_OPENERS | vb.OPENER_WORDS
    out: set[str] = set()
    for code in _FOREIGN_LANGUAGES:
        try:
            words = importlib.import_module(f"spacy.lang.{code}.stop_words").STOP_WORDS
        except (ImportError, AttributeError):
            continue
        for word in words:
            low = word.lower()
            if low in stop or low in chat or not _WORD_RE.fullmatch(low):
                continue
            if len(low) == 2 or low not in english:
                out.add(low)
    return frozenset(out)
def _script_is_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return True
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    return latin >= 0.5 * len(letters)


_SIDE_WITHOUT_ARTICLE = re.compile(r"\b(from|on|at|to)\s+(left|right)\b", re.I)
"""A side said without its article ("2nd from right", "mug on left"): the parser then loses it."""
_DIGIT_ORDINAL = re.compile(r"\b(?:1st|2nd|3rd|[4-6]th)\b", re.I)
"""An ordinal in digits ("2nd frm rght"), read as its word: the tagger takes "2nd" for a noun."""
_OWN_WORDS = frozenset(
    vb.SEGMENT_VERBS | vb.EXPLAIN_VERBS | vb.POLITE_WORDS | set(vb.POSITIONS) | vb.COLOURS | set(vb.ORDINALS)
    | vb.OTHER_WORDS
)
"""Words a typo fix may give that only an English request says ("slect", "rght", "thnks"): such
a fix counts as an English word when telling whether a turn is English (so do stop words: "frm")."""


def prepare(text: str) -> tuple[str, bool, list[str]]:
    """Clean a turn for parsing: (text, is it English, notes on what was changed)."""
    text = _MARKUP_RE.sub(" ", text or "")
    text = "".join(c if c.isprintable() or c in "\n\t" else " " for c in text)
    if any(_pictograph(c) for c in text):
        text = strip_pictographs(_outside_quotes(text, emoji_nouns))
    text = _outside_quotes(text, lambda part: vb.LAUGHTER.sub(" ", part))
    text = " ".join(text.split())
    if len(text) > MAX_CHARS:
        cut = text.rfind(" ", 0, MAX_CHARS)
        text = text[: cut if cut > MAX_CHARS // 2 else MAX_CHARS]
    text = _POLITE_EDGES.sub(lambda m: m.group("end") or "", text).strip()
    for pattern, plain_way in _PLAIN_PHRASINGS:
        text = _outside_quotes(text, functools.partial(pattern.sub, plain_way))
    text = _outside_quotes(text, functools.partial(_DIGIT_ORDINAL.sub, lambda m: vb.ORDINALS[m.group(0).lower()]))
    if not text:
        return "", True, []
    plain = QUOTE_RE.sub(" ", text)
    if not _script_is_latin(plain):
        return text, False, ["written in another script"]
    if plain.lstrip()[:1] in {"¿", "¡"}:
        return text, False, ["not English to the parser (Spanish punctuation)"]
    notes: list[str] = []
    looked: dict[str, tuple[tuple[str, bool] | None, str | None]] = {}

    def respelled(low: str) -> tuple[tuple[str, bool] | None, str | None]:
        """Return an unknown word's typo fix and, unless the fix only swaps letters, its split into
        words run together; worked out once per word (the language check and the rewrite ask)."""
        if low not in looked:
            fix = fix_typo(low)
            looked[low] = (fix, unglued(low) if fix is None or not fix[1] else None)
        return looked[low]

    if _all_capitals(text):
        text = _lower_outside_quotes(text)
        plain = QUOTE_RE.sub(" ", text)
        notes.append("read in lower case")
    stop = nlp.pipeline().Defaults.stop_words
    foreign = foreign_function_words()
    score, counted, english_function, foreign_function = 0.0, 0, 0, 0
    for k, w in enumerate(_WORD_RE.findall(plain)):
        if not (w.islower() or (k == 0 and w[:1].isupper() and w[1:].islower())):
            continue  # names, ALL-CAPS and capitalised words say nothing about the language
        low = w.lower().replace("’", "'")
        if low in foreign:
            foreign_function += 1
        if low in stop or low in vb.SLANG:
            english_function += low in stop
            score, counted = score + 1, counted + 1
        elif len(low) >= 3:
            counted += 1
            if known(low):
                score += 1
            else:
                fix, apart = respelled(low)
                score += (1 if apart else 0) if fix is None else (1 if fix[1] or (low not in foreign and (fix[0] in _OWN_WORDS or fix[0] in stop)) else 0.5)
    if counted >= 2 and score <= 0.5 * counted:
        return text, False, ["not English to the parser"]
    if foreign_function >= 2 and foreign_function > english_function:
        return text, False, ["not English to the parser (another language's function words)"]

    def repl(m: re.Match[str]) -> str:
        word = m.group(0)
        low = word.lower().replace("’", "'")
        if low in vb.SLANG:
            return vb.SLANG[low]
        if not word.islower() or len(low) < 3 or known(low):
            return word
        fix, apart = respelled(low)
        if apart is not None:  # words run together beat a one-letter edit: "theone" is no "thence"
            notes.append(f"read {word!r} as {apart!r}")
            return apart
        if fix is None or (fix[0] in _ASKING_WORDS and _after_determiner(m)):
            return word  # "all six maki rolls": no verb ("make") follows a number or an article
        notes.append(f"read {word!r} as {fix[0]!r}")
        return fix[0]

    fixed = _fix_outside_quotes(text, repl)  # then a side without its article, typos fixed ("frm rght")
    fixed = _outside_quotes(fixed, functools.partial(_SIDE_WITHOUT_ARTICLE.sub, r"\1 the \2"))
    return fixed, True, notes


_ASKING_WORDS = vb.SEGMENT_VERBS | vb.EXPLAIN_VERBS | {"make", "do", "can", "could", "would", "will"}
"""Verbs a typo may be fixed to, which cannot follow an article or a number."""
_NUMBER_WORDS = frozenset("two three four five six seven eight nine ten eleven twelve".split())
_DETERMINERS = frozenset("a an the all every each both some any these those this that my your his her their its".split())


def _after_determiner(m: re.Match[str]) -> bool:
    """Whether the matched word follows an article, a determiner or a number ("the", "six", "2")."""
    before = m.string[: m.start()].split()
    if not before:
        return False
    last = before[-1].lower()
    return last in _DETERMINERS or last.isdigit() or last in _NUMBER_WORDS


def _fix_outside_quotes(text: str, repl: Callable[[re.Match[str]], str]) -> str:
    out, pos = [], 0
    for m in QUOTE_RE.finditer(text):
        out.append(_WORD_RE.sub(repl, text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_WORD_RE.sub(repl, text[pos:]))
    return "".join(out)



__all__ = ["MAX_CHARS", "QUOTE_RE", "emoji_nouns", "english_vocabulary", "fix_typo", "graded", "known", "prepare", "strip_pictographs"]
