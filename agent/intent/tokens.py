"""Tokens and tags for the rule tracker: words, quoted strings, signs, and lexicon tags.

A sentence is split into words, quoted strings ('Sky Cola', "EXIT") and punctuation; markup
tags are dropped; multi-word prepositions ("next to", "left of") become one token. Each token then
gets a tag from the lexicons in :mod:`agent.intent.lexicon` plus a few context rules: a word that
can be a noun or a verb ("shows", "display") is a verb only between a noun and an object or
after an auxiliary, a participle before a noun is a modifier ("checkered stripe"), and after an
inverted auxiliary ("does the sign help ...") the first verb-like word is the verb.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from agent.intent import lexicon as lx

# --------------------------------------------------------------------------- tokens

NOUNISH = frozenset({"NOUN", "QUOTE", "NUM"})

_QUOTE_RE = re.compile(
    r"(?<![\w])'(?P<a>[^\n]{1,80}?)'(?![\w])"
    r"|‘(?P<b>[^’\n]{1,80}?)’"
    r"|\"(?P<c>[^\"\n]{1,80}?)\""
    r"|“(?P<d>[^”\n]{1,80}?)”"
)
_WORD_RE = re.compile(r"\w(?:[\w\-&]|[.'’](?=\w))*")
_CONTRACTIONS = {
    "what's": ("what", "is"),
    "where's": ("where", "is"),
    "who's": ("who", "is"),
    "how's": ("how", "is"),
    "it's": ("it", "is"),
    "that's": ("that", "is"),
    "there's": ("there", "is"),
    "here's": ("here", "is"),
    "this's": ("this", "is"),
    "i'm": ("i", "am"),
    "they're": ("they", "are"),
    "we're": ("we", "are"),
    "you're": ("you", "are"),
}


@dataclass
class Tok:
    """One token: a word, a quoted string (``kind == "quote"``, text without marks) or a sign."""

    text: str
    kind: str
    tag: str = ""
    low: str = field(default="", repr=False, compare=False)
    """Lower-cased text with a curly apostrophe made straight (read often: computed once)."""

    def __post_init__(self) -> None:
        if not self.low:
            self.low = self.text.lower().replace("’", "'")


_MARKUP_RE = re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]{0,200})?/?>")


def tokenize(text: str) -> list[Tok]:
    """Split ``text`` into words, quoted strings and punctuation, merging multi-word prepositions.

    Markup tags ("<b>", "</script>") are read as spaces, so "find the <b>EXIT</b> sign" reads
    as "find the EXIT sign"; everything else (SQL, braces, emoji) is read as ordinary text.
    """
    text = _MARKUP_RE.sub(" ", text)
    toks: list[Tok] = []
    pos = 0
    for m in _QUOTE_RE.finditer(text):
        toks.extend(_plain_tokens(text[pos : m.start()]))
        inner = next(g for g in m.groups() if g is not None).strip()
        if inner:
            toks.append(Tok(inner.rstrip(".,;:"), "quote"))
        pos = m.end()
    toks.extend(_plain_tokens(text[pos:]))
    return _merge_prepositions(toks)


def _plain_tokens(text: str) -> Iterable[Tok]:
    pos = 0
    for m in _WORD_RE.finditer(text):
        for ch in text[pos : m.start()]:
            if not ch.isspace():
                yield Tok(ch, "punct")
        word = m.group()
        parts = _CONTRACTIONS.get(word.lower().replace("’", "'"))
        if parts:
            yield Tok(word[: len(parts[0])], "word")
            yield Tok(parts[1], "word")
        else:
            yield Tok(word, "word")
        pos = m.end()
    for ch in text[pos:]:
        if not ch.isspace():
            yield Tok(ch, "punct")


_MULTI = sorted(lx.MULTI_PREPOSITIONS.items(), key=lambda kv: -len(kv[0]))
_MULTI_BY_FIRST: dict[str, list[tuple[tuple[str, ...], str]]] = {}
for _words, _name in _MULTI:
    _MULTI_BY_FIRST.setdefault(_words[0], []).append((tuple(_words), _name))


def _merge_prepositions(toks: list[Tok]) -> list[Tok]:
    """Merge multi-word prepositions ("next to", "in front of") into one PREP token, longest first."""
    out: list[Tok] = []
    i = 0
    n = len(toks)
    while i < n:
        tok = toks[i]
        candidates = _MULTI_BY_FIRST.get(tok.low) if tok.kind == "word" else None
        for words, name in candidates or ():
            k = len(words)
            if i + k <= n and all(toks[i + j].kind == "word" and toks[i + j].low == w for j, w in enumerate(words)):
                out.append(Tok(name, "word", "PREP"))
                i += k
                break
        else:
            out.append(tok)
            i += 1
    return out


# --------------------------------------------------------------------------- tags


def _is_adverb(low: str) -> bool:
    return low in lx.ADVERBS or (len(low) > 4 and low.endswith("ly") and low not in lx.LY_NOUNS)


def _lexical_class(low: str) -> str:
    """Context-free guess used to look one token ahead."""
    if low in lx.DETERMINERS:
        return "DET"
    if low in lx.AUXILIARIES:
        return "AUX"
    if low in lx.PREPOSITIONS:
        return "PREP"
    if low in lx.CONJUNCTIONS:
        return "CONJ"
    if low in lx.WH_WORDS:
        return "WH"
    if low in lx.PRONOUNS:
        return "PRON"
    if low in lx.VERBS and low not in lx.AMBIGUOUS_BASE and low not in lx.AMBIGUOUS_VERBS:
        return "VERB"
    if _is_adverb(low):
        return "ADV"
    return "NOUN"


def _next_class(toks: list[Tok], i: int) -> str:
    if i + 1 >= len(toks):
        return "END"
    nxt = toks[i + 1]
    if nxt.tag:
        return nxt.tag
    if nxt.kind == "quote":
        return "QUOTE"
    if nxt.kind == "punct":
        return "PUNCT" if nxt.text not in "(#*" else "NOUN"
    if nxt.text[0].isdigit():
        return "NUM"
    return _lexical_class(nxt.low)


def tag(toks: list[Tok]) -> list[Tok]:
    """Tag tokens in place (and return them) with DET, PRON, PREP, AUX, WH, SUB, CONJ, ADV,
    VERB, PRED, NOUN, NUM, QUOTE or PUNCT."""
    pending = False  # an inverted auxiliary waits for its verb: "does the sign help ..."
    for i, t in enumerate(toks):
        if not t.tag:
            t.tag = _tag_one(toks, i)
            if (
                pending
                and t.tag == "NOUN"
                and i
                and toks[i - 1].tag in NOUNISH
                and _verb_like(t.low, toks, i)
            ):
                t.tag = "VERB"
        if t.tag == "AUX" and _next_class(toks, i) in NOUNISH | {"DET", "PRON"}:
            pending = True
        elif t.tag in {"VERB", "PRED"} or (t.kind == "punct" and t.text in ".,;!?"):
            pending = False
    return toks


def _verb_like(low: str, toks: list[Tok], i: int) -> bool:
    """After "does/is + subject", a base verb or an -ing form is the verb, not a noun."""
    if low in lx.AMBIGUOUS_BASE:
        return True
    if len(low) > 4 and low.endswith("ing"):
        return True
    return (
        i + 1 < len(toks)
        and toks[i + 1].tag == ""
        and _lexical_class(toks[i + 1].low) == "NOUN"
        and low in lx.VERBS
    )


def _tag_one(toks: list[Tok], i: int) -> str:
    t = toks[i]
    if t.kind == "quote":
        return "QUOTE"
    if t.kind == "punct":
        return "PUNCT"
    low = t.low
    prev = toks[i - 1] if i else None
    prev_tag = prev.tag if prev else "START"
    nxt = _next_class(toks, i)
    if low[0].isdigit():
        return "NUM"
    if low in lx.DEMONSTRATIVES:
        if low == "that" and prev_tag in NOUNISH | {"PUNCT"} and prev_tag != "START":
            if nxt in {"VERB", "AUX", "PRON", "DET", "ADV"}:
                return "SUB"
        return "DET" if nxt in NOUNISH else "PRON"
    if low in lx.WH_WORDS:
        return "WH" if prev_tag in {"START", "PUNCT", "PREP", "CONJ"} else "SUB"
    if low in {"her", "his", "its", "their", "my", "your", "our"}:
        return "DET" if nxt in NOUNISH else "PRON"
    if low in lx.DETERMINERS:
        return "DET"
    if low in lx.AUXILIARIES:
        return "AUX"
    if low in lx.PREPOSITIONS:
        return "PREP"
    if low in lx.CONJUNCTIONS:
        return "CONJ"
    if low in lx.PRONOUNS:
        return "PRON"
    if low in lx.SUBORDINATORS:
        return "SUB"
    if low in lx.AMBIGUOUS_VERBS:
        if (
            prev_tag in NOUNISH | {"PUNCT"}
            and prev_tag != "PUNCT"
            and nxt
            in NOUNISH
            | {
                "DET",
                "ADV",
                "QUOTE",
                "NUM",
            }
        ):
            return "VERB"
        if prev_tag in {"PRON", "ADV"} and nxt != "END":
            return "VERB"
        return "NOUN"
    if low in lx.AMBIGUOUS_BASE:
        if prev_tag in {"AUX", "PRON"} or (prev is not None and prev.low == "to"):
            return "VERB"
        return "NOUN"
    if low in lx.PREDICATES:
        return "NOUN" if nxt in NOUNISH else "PRED"
    if low in lx.VERBS:
        if low.endswith(("ed", "ing", "en")) and nxt in NOUNISH and prev_tag not in {"AUX", "PRON"}:
            return "NOUN"  # participle used as a modifier: "checkered stripe"
        return "VERB"
    if _is_adverb(low):
        return "NOUN" if nxt in NOUNISH and low not in lx.ADVERBS else "ADV"
    if len(low) > 4 and low.endswith("ed") and not low.endswith("eed") and nxt not in NOUNISH:
        return "VERB"
    if len(low) > 4 and low.endswith("ing") and prev_tag in {"AUX"}:
        return "VERB"
    if len(low) > 4 and low.endswith("ing") and prev_tag in NOUNISH and nxt in {"DET", "QUOTE"}:
        return "VERB"
    if prev_tag in NOUNISH and nxt == "DET" and toks[i + 1].low in _ARTICLES:
        return "VERB"  # "symbols accompany the emblem": a noun is rarely followed by an article
    return "NOUN"


_ARTICLES = frozenset("the a an its their his her".split())


class TokenCache:
    """Tagged tokens by text, LRU-bounded and thread-safe: one tracker's memo of what it has read.

    A turn reads the same texts several times (the user's words, the tracked target, and on the
    next turn the previous message again); tagging depends on the text alone, so it is done once.
    Callers get fresh :class:`Tok` objects, so nothing they do to them reaches the cache.
    """

    def __init__(self, max_entries: int = 512) -> None:
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[tuple[str, str, str, str], ...]] = OrderedDict()
        self._lock = threading.Lock()

    def analyse(self, text: str) -> list[Tok]:
        """Return the tagged tokens of ``text``, tagging it only on a miss."""
        with self._lock:
            found = self._entries.get(text)
            if found is not None:
                self._entries.move_to_end(text)
        if found is None:
            toks = tag(tokenize(text))
            found = tuple((t.text, t.kind, t.tag, t.low) for t in toks)
            with self._lock:
                self._entries[text] = found
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
            return toks
        return [Tok(*fields) for fields in found]

    def __len__(self) -> int:
        return len(self._entries)


_reading_with: ContextVar[TokenCache | None] = ContextVar("pixelrs_token_cache", default=None)
"""The cache of the tracker whose ``track`` call is running in this context (None: no memo)."""


@contextmanager
def reading_with(cache: TokenCache) -> Iterator[None]:
    """Make :func:`analyse_tokens` use ``cache`` inside this block (this thread/context only)."""
    token = _reading_with.set(cache)
    try:
        yield
    finally:
        _reading_with.reset(token)


def analyse_tokens(text: str) -> list[Tok]:
    """Tokenize and tag ``text`` (through the running tracker's :class:`TokenCache`, if any)."""
    cache = _reading_with.get()
    return tag(tokenize(text)) if cache is None else cache.analyse(text)
