"""Shallow parsing for the rule tracker: tokens, lexicon tags, noun phrases, turn frames.

No statistical model is used. A sentence is split into words, quoted strings and punctuation,
each token gets a tag from the lexicons in :mod:`agent.intent.lexicon` plus a few context rules
(a word that can be a noun or a verb is a verb only between a noun and an object), and noun
phrases are read as ``[determiners] modifiers* head (preposition noun-phrase)*``.

Two analyses sit on top:

* :func:`analyse_turn` reads a *user* turn and says which frame it uses (a command such as
  "find X", a question "what X is visible on Y", "where is X", "how does X ...", a bare noun
  phrase) and which noun phrase it points at, unwrapping property nouns ("the colour of the
  beer" -> "beer", asked: colour).
* :func:`analyse_answer` reads an *assistant* answer and finds the noun phrase it introduces
  (the object of "shows"/"features"/"has", the noun of "there is ...", or the subject of
  "X is visible ..."), its quoted text and colour words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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

    @property
    def low(self) -> str:
        """Lower-cased text with a curly apostrophe made straight."""
        return self.text.lower().replace("’", "'")


def tokenize(text: str) -> list[Tok]:
    """Split ``text`` into words, quoted strings and punctuation, merging multi-word prepositions."""
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


def _merge_prepositions(toks: list[Tok]) -> list[Tok]:
    out: list[Tok] = []
    i = 0
    while i < len(toks):
        for words, name in _MULTI:
            k = len(words)
            if i + k <= len(toks) and all(
                toks[i + j].kind == "word" and toks[i + j].low == w for j, w in enumerate(words)
            ):
                out.append(Tok(name, "word", "PREP"))
                i += k
                break
        else:
            out.append(toks[i])
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
    for i, t in enumerate(toks):
        if t.tag:
            continue
        t.tag = _tag_one(toks, i)
    return toks


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
        return "DET" if nxt in NOUNISH | {"ADV"} and nxt != "ADV" else "PRON"
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
        if prev_tag in NOUNISH | {"PUNCT"} and prev_tag != "PUNCT" and nxt in NOUNISH | {
            "DET",
            "ADV",
            "QUOTE",
            "NUM",
        }:
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


def analyse_tokens(text: str) -> list[Tok]:
    """Tokenize and tag ``text``."""
    return tag(tokenize(text))


# --------------------------------------------------------------------------- noun phrases


@dataclass
class NP:
    """A noun phrase: modifiers and head in ``words``, attached prepositional phrases in ``pps``."""

    words: list[Tok]
    det: str | None = None
    pps: list[tuple[str, NP]] = field(default_factory=list)
    start: int = 0
    end: int = 0

    @property
    def head(self) -> str:
        """The head word, lower-cased, possessive and plural ``s`` stripped."""
        for t in reversed(self.words):
            if t.kind == "word" and t.tag != "PUNCT":
                return lemma(t.low)
        return lemma(self.words[-1].low) if self.words else ""

    @property
    def heads(self) -> set[str]:
        """The head plus heads of coordinated parts ("hammer and sickle" -> both)."""
        out = {self.head}
        for a, b in zip(self.words, self.words[1:], strict=False):
            if b.low in {"and", "or", "&"} and a.kind == "word":
                out.add(lemma(a.low))
        return out

    @property
    def quotes(self) -> list[str]:
        """Quoted strings inside the phrase (modifiers and attached phrases)."""
        out = [t.text for t in self.words if t.kind == "quote"]
        for _, sub in self.pps:
            out.extend(sub.quotes)
        return out

    def content(self) -> set[str]:
        """Lemmas of all content words, attached phrases included."""
        out = {lemma(t.low) for t in self.words if t.kind != "punct"}
        for _, sub in self.pps:
            out |= sub.content()
        return out - lx.STOP_WORDS

    def render(self, *, det: bool = False, pps: bool = True) -> str:
        """Text of the phrase: ``"label on the large bottle"`` (no top-level determiner)."""
        parts: list[str] = []
        if det and self.det:
            parts.append(self.det)
        parts.append(render_words(self.words))
        if pps:
            for prep, sub in self.pps:
                parts.append(prep.replace("_", " "))
                parts.append(sub.render(det=True))
        return " ".join(p for p in parts if p)


def render_words(words: list[Tok]) -> str:
    """Join tokens back into text, quoting quoted strings and closing up brackets."""
    out = ""
    for t in words:
        piece = f"'{t.text}'" if t.kind == "quote" else t.text
        if not out:
            out = piece
        elif t.text in {")", ",", "."} or out.endswith("("):
            out += piece
        else:
            out += " " + piece
    return out


def lemma(low: str) -> str:
    """Crude lemma: possessive and plural endings stripped ("bottles" -> "bottle")."""
    w = low.replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.rstrip("'")
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("ches", "shes", "xes", "sses")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def parse_np(toks: list[Tok], i: int, *, attach: bool = True, depth: int = 0) -> tuple[NP | None, int]:
    """Read a noun phrase starting at ``toks[i]``; return it (or None) and the index after it."""
    n = len(toks)
    start = i
    det = None
    while i < n and toks[i].tag == "DET":
        det = det or toks[i].low
        i += 1
    words: list[Tok] = []
    while i < n:
        t = toks[i]
        if t.tag in NOUNISH:
            words.append(t)
            i += 1
            continue
        if t.tag == "ADV" and i + 1 < n and toks[i + 1].tag in NOUNISH and words == []:
            i += 1  # "a very large bottle": skip the intensifier
            continue
        if (
            t.tag == "CONJ"
            and t.low in {"and", "or", "&"}
            and words
            and i + 1 < n
            and (toks[i + 1].tag in NOUNISH or (toks[i + 1].tag == "DET" and _nounish_at(toks, i + 2)))
            and not _starts_clause(toks, i + 1)
        ):
            words.append(t)
            i += 1
            while i < n and toks[i].tag == "DET":
                i += 1
            continue
        if t.text == "(" and words:
            close = next((k for k in range(i + 1, min(n, i + 6)) if toks[k].text == ")"), None)
            if close is not None and close > i + 1:
                inner = "".join(x.text for x in toks[i + 1 : close])
                words.append(Tok(f"({inner})", "word", "NOUN"))
                i = close + 1
                continue
        if t.text in {"#", "*"} and words:
            words.append(Tok(t.text, "word", "NOUN"))
            i += 1
            continue
        break
    if not words:
        return None, start
    np = NP(words=words, det=det, start=start, end=i)
    if attach:
        while i < n:
            j = i
            while j < n and toks[j].tag == "ADV":
                j += 1
            if j < n and toks[j].tag == "PRED" and j + 1 < n and toks[j + 1].tag == "PREP":
                j += 1
            if j >= n or toks[j].tag != "PREP":
                break
            prep = toks[j].low.replace(" ", "_")
            if prep not in lx.ATTACHING_PREPOSITIONS:
                break
            if j + 1 < n and toks[j + 1].tag == "PRON" and toks[j + 1].low in lx.REFERRING_PRONOUNS:
                sub, k = NP(words=[toks[j + 1]], start=j + 1, end=j + 2), j + 2
            else:
                sub, k = parse_np(toks, j + 1, attach=depth < 2, depth=depth + 1)
            if sub is None:
                break
            np.pps.append((prep, sub))
            i = k
        np.end = i
    return np, i


def _nounish_at(toks: list[Tok], i: int) -> bool:
    return i < len(toks) and toks[i].tag in NOUNISH


def _starts_clause(toks: list[Tok], i: int) -> bool:
    """True when the words from ``i`` read as a new clause (noun then verb), not a conjunct."""
    np, j = parse_np(toks, i, attach=False)
    return np is not None and j < len(toks) and toks[j].tag in {"VERB", "AUX"} and toks[j].low not in {
        "has",
        "have",
    }


def parse_text_np(text: str) -> NP | None:
    """Parse a stored target phrase back into a noun phrase."""
    toks = analyse_tokens(text)
    np, _ = parse_np(toks, 0)
    return np


def is_concrete(np: NP | None) -> bool:
    """A phrase that names a thing (not a property, a placeholder, a pronoun or the image)."""
    if np is None or not np.words:
        return False
    head = np.head
    if head in lx.PRONOUNS or head in lx.IMAGE_NOUNS:
        return False
    return head not in lx.ATTRIBUTE_NOUNS and head not in lx.GENERIC_NOUNS


def is_generic(np: NP | None) -> bool:
    """A placeholder phrase ("elements", "specific part") that an answer should fill in."""
    return np is not None and np.head in lx.GENERIC_NOUNS | lx.ATTRIBUTE_NOUNS


def unwrap(np: NP) -> tuple[NP, str | None]:
    """Strip property nouns: "the colour of the beer in the glass" -> ("beer in the glass", "colour")."""
    asked = None
    while np.pps and np.pps[0][0] == "of":
        head = np.head
        others = [lemma(t.low) for t in np.words[:-1] if t.kind == "word"]
        if head not in lx.ATTRIBUTE_NOUNS | lx.GENERIC_NOUNS:
            break
        if any(
            w not in lx.ATTRIBUTE_NOUNS | lx.GENERIC_NOUNS | lx.WEAK_MODIFIERS | {"of"} for w in others
        ):
            break
        inner = np.pps[0][1]
        if inner.head in lx.IMAGE_NOUNS or inner.head in lx.PRONOUNS:
            break
        asked = asked or head
        inner = NP(words=inner.words, det=inner.det, pps=inner.pps + np.pps[1:], start=np.start, end=np.end)
        np = inner
    return np, asked


def clean(np: NP) -> NP:
    """Drop weak modifiers and phrases like "in the image" / "in question" from a phrase."""
    words = [t for t in np.words if not (t.kind == "word" and t.low in lx.WEAK_MODIFIERS)] or np.words[-1:]
    while words and words[0].low in {"and", "or", "&"}:
        words = words[1:]
    pps = [(p, clean(s)) for p, s in np.pps if s.head not in lx.IMAGE_NOUNS]
    return NP(words=words or np.words[-1:], det=np.det, pps=pps, start=np.start, end=np.end)


def noun_phrases(toks: list[Tok]) -> list[NP]:
    """All maximal noun phrases of a tagged sentence, left to right."""
    out: list[NP] = []
    i = 0
    while i < len(toks):
        if toks[i].tag in NOUNISH or toks[i].tag == "DET":
            np, j = parse_np(toks, i)
            if np is not None:
                out.append(np)
                i = max(j, i + 1)
                continue
        i += 1
    return out


# --------------------------------------------------------------------------- user turns


@dataclass
class TurnParse:
    """What a user turn says, before the tracker decides the act."""

    frame: str
    """One of command, explain_cmd, ident, where, attr, topic, yesno, exists, np, other."""
    target: NP | None = None
    asked: str | None = None
    """Property asked about ("colour", "name", "position"), if any."""
    refers: bool = False
    """The turn points back with a pronoun ("it", "that", "this one")."""
    question: bool = False
    toks: list[Tok] = field(default_factory=list)
    mentions: list[NP] = field(default_factory=list)

    @property
    def generic(self) -> bool:
        """The target is a placeholder ("which part", "what elements")."""
        return self.target is not None and self.target.head in lx.GENERIC_NOUNS


def strip_openers(toks: list[Tok]) -> list[Tok]:
    """Drop leading fillers ("ok, now"), punctuation and polite prefixes ("can you")."""
    changed = True
    while changed and toks:
        changed = False
        while toks and (toks[0].kind == "punct" or (toks[0].kind == "word" and toks[0].low in lx.FILLERS)):
            if toks[0].low == "right" and len(toks) > 1 and toks[1].kind == "word" and toks[1].low in {"one", "side"}:
                break
            toks = toks[1:]
            changed = True
        for prefix in lx.POLITE_PREFIXES:
            k = len(prefix)
            if len(toks) > k and all(toks[j].low == w for j, w in enumerate(prefix)):
                toks = toks[k:]
                changed = True
                break
    return toks


_ABOUT_ADJ = frozenset(
    "notable noticeable special interesting unique significant important remarkable "
    "distinctive striking unusual different visible said known written odd strange".split()
)
_HOW_PROPERTY = {
    "big": "size",
    "large": "size",
    "small": "size",
    "tall": "size",
    "wide": "size",
    "long": "size",
    "high": "size",
    "far": "distance",
    "old": "age",
    "bright": "colour",
    "dark": "colour",
}
_SEE_VERBS = frozenset("see seen find found identify spot notice observe view read make".split())
_COLOUR_ASKS = frozenset({"color", "colour", "colors", "colours", "shade", "hue", "tint"})


def canonical_asked(noun: str | None) -> str | None:
    """Map an asked property noun to the attribute key it fills (``colour``, ``text``, ...)."""
    if noun is None:
        return None
    n = lemma(noun)
    if n in {"color", "colour", "shade", "hue", "tint"}:
        return "colour"
    if n in {"name", "title", "brand", "word", "wording", "text", "message", "content", "slogan"}:
        return "text"
    if n in {"position", "location", "placement", "positioning", "orientation"}:
        return "position"
    if n in {"size", "dimension", "height", "width", "length"}:
        return "size"
    return n


def analyse_turn(text: str) -> TurnParse:
    """Read a user turn into a :class:`TurnParse` (frame, target phrase, asked property)."""
    all_toks = analyse_tokens(text)
    toks = strip_openers(all_toks)
    mentions = [clean(unwrap(np)[0]) for np in noun_phrases(all_toks)]
    question = text.rstrip().endswith("?") or bool(
        toks and (toks[0].tag == "WH" or (toks[0].tag == "AUX" and toks[0].low not in {"'s"}))
    )
    res = _frame(toks)
    res.toks = toks
    res.mentions = mentions
    res.question = question or res.frame in {"ident", "where", "attr", "topic", "yesno", "exists"}
    if res.target is not None:
        tgt, asked = unwrap(res.target)
        res.target = clean(tgt)
        res.asked = res.asked or asked
    if res.target is None and not res.refers:
        res.refers = any(t.tag == "PRON" and t.low in lx.REFERRING_PRONOUNS for t in toks)
        concrete = [m for m in mentions if is_concrete(m)]
        if concrete and not res.refers:
            res.target = concrete[0]
    if res.target is not None and res.target.det in lx.DEMONSTRATIVES:
        res.refers = True
    res.asked = canonical_asked(res.asked)
    return res


def _skip(toks: list[Tok], i: int, tags: set[str], words: Iterable[str] = ()) -> int:
    ws = set(words)
    while i < len(toks) and (toks[i].tag in tags or toks[i].low in ws):
        i += 1
    return i


def _np_or_ref(toks: list[Tok], i: int) -> tuple[NP | None, bool, int]:
    """Parse a noun phrase at ``i``; a lone pronoun there is a reference instead."""
    if i < len(toks) and toks[i].tag == "PRON":
        ref = toks[i].low in lx.REFERRING_PRONOUNS or toks[i].low in {"one", "ones"}
        return None, ref, i + 1
    np, j = parse_np(toks, i)
    return np, False, j


def _after_about(toks: list[Tok], i: int) -> TurnParse | None:
    for k in range(i, len(toks)):
        if toks[k].low == "about":
            np, ref, _ = _np_or_ref(toks, k + 1)
            return TurnParse("topic", target=np, refers=ref)
    return None


def _trailing_pps(toks: list[Tok], i: int) -> list[tuple[str, NP]]:
    """Prepositional phrases right after ``i`` (after skipping predicates/adverbs/"you see")."""
    pps: list[tuple[str, NP]] = []
    n = len(toks)
    i = _skip(toks, i, {"ADV", "AUX", "PRED"}, {"you", "we", "i"} | _SEE_VERBS)
    while i < n and toks[i].tag == "PREP":
        prep = toks[i].low.replace(" ", "_")
        if prep not in lx.ATTACHING_PREPOSITIONS:
            break
        sub, j = parse_np(toks, i + 1)
        if sub is None:
            break
        pps.append((prep, sub))
        i = _skip(toks, j, {"ADV"})
    return pps


def _frame(toks: list[Tok]) -> TurnParse:
    n = len(toks)
    if not n:
        return TurnParse("other")
    t0 = toks[0].low
    if toks[0].tag == "WH" or t0 in lx.WH_WORDS:
        if t0 in {"what", "which"}:
            return _what_frame(toks)
        if t0 == "where":
            i = _skip(toks, 1, {"AUX", "ADV"})
            np, ref, _ = _np_or_ref(toks, i)
            return TurnParse("where", target=np, refers=ref)
        if t0 == "how":
            if n > 1 and toks[1].low in {"many", "much"}:
                np, ref, _ = _np_or_ref(toks, 2)
                return TurnParse("ident", target=np, refers=ref)
            if n > 1 and toks[1].low in _HOW_PROPERTY:
                i = _skip(toks, 2, {"AUX", "ADV"})
                np, ref, _ = _np_or_ref(toks, i)
                return TurnParse("attr", target=np, asked=_HOW_PROPERTY[toks[1].low], refers=ref)
            i = _skip(toks, 1, {"AUX", "ADV"})
            np, ref, _ = _np_or_ref(toks, i)
            return TurnParse("topic", target=np, refers=ref)
        if t0 in {"who", "whose", "whom"}:
            if n > 1 and toks[1].tag in NOUNISH:
                np, _ = parse_np(toks, 1)
                return TurnParse("ident", target=np)
            i = _skip(toks, 1, {"AUX", "ADV", "VERB", "PRED"})
            np, ref, _ = _np_or_ref(toks, i)
            return TurnParse("topic", target=np, refers=ref)
        i = _skip(toks, 1, {"AUX", "ADV"})
        np, ref, _ = _np_or_ref(toks, i)
        return TurnParse("topic", target=np, refers=ref)
    if toks[0].tag == "AUX":
        if n > 1 and toks[1].low == "there":
            np, ref, _ = _np_or_ref(toks, _skip(toks, 2, {"ADV"}))
            return TurnParse("exists", target=np, refers=ref)
        i = 1
        if n > 1 and toks[1].low in {"you", "we", "i"}:
            i = _skip(toks, 2, {"ADV", "VERB", "AUX"}, {"see", "find", "show", "tell", "me", "us"})
            about = _after_about(toks, i)
            if about:
                about.frame = "topic"
                return about
            np, ref, _ = _np_or_ref(toks, i)
            return TurnParse("command" if toks[i - 1].low in lx.SEGMENT_VERBS else "yesno", target=np, refers=ref)
        np, ref, _ = _np_or_ref(toks, i)
        return TurnParse("yesno", target=np, refers=ref)
    if t0 in lx.SEGMENT_VERBS and (toks[0].tag != "NOUN" or n == 1 or toks[1].tag in {"DET", "PRON", "QUOTE"} or toks[1].low in {"me", "us", "out", "all", "where", "only", "just"}):
        i = _skip(toks, 1, {"ADV"}, {"me", "us", "out", "all", "to", "for", "at", "up", "on"})
        if i < n and toks[i].low == "where":
            np, ref, _ = _np_or_ref(toks, i + 1)
            return TurnParse("command", target=np, refers=ref)
        np, ref, _ = _np_or_ref(toks, i)
        return TurnParse("command", target=np, refers=ref)
    if t0 in lx.EXPLAIN_VERBS:
        about = _after_about(toks, 1)
        if about:
            about.frame = "explain_cmd"
            return about
        i = _skip(toks, 1, {"ADV", "WH", "SUB", "AUX"}, {"me", "us"})
        np, ref, _ = _np_or_ref(toks, i)
        return TurnParse("explain_cmd", target=np, refers=ref)
    if toks[0].tag in NOUNISH | {"DET", "PRON"}:
        np, ref, j = _np_or_ref(toks, 0)
        rest = [t for t in toks[j:] if t.kind != "punct"]
        return TurnParse("np" if not rest or rest[0].tag in {"PREP", "CONJ", "ADV"} else "other", target=np, refers=ref)
    return TurnParse("other")


def _what_frame(toks: list[Tok]) -> TurnParse:
    n = len(toks)
    if n < 2:
        return TurnParse("other")
    if toks[1].tag in NOUNISH or (toks[1].tag == "DET" and toks[1].low not in lx.DEMONSTRATIVES):
        asked, j = parse_np(toks, 1, attach=True)
        if asked is None:
            return TurnParse("other")
        k = _skip(toks, j, {"AUX", "ADV"})
        topic = None
        if k < n and (toks[k].tag in NOUNISH or toks[k].tag == "DET") and k > j:
            topic, _ = parse_np(toks, k)
        elif k < n and toks[k].tag == "PRON" and toks[k].low in lx.REFERRING_PRONOUNS and k > j:
            return TurnParse("attr", target=None, asked=asked.head, refers=True)
        pps = [] if topic is not None else _trailing_pps(toks, k)
        head_is_property = asked.head in lx.ATTRIBUTE_NOUNS and not asked.pps
        if topic is not None and (head_is_property or asked.head in lx.GENERIC_NOUNS):
            return TurnParse("attr", target=topic, asked=asked.head)
        if topic is not None:
            return TurnParse("ident", target=asked)
        if head_is_property:
            anchor = pps[0][1] if pps else None
            if anchor is not None and is_concrete(anchor):
                return TurnParse("attr", target=anchor, asked=asked.head)
            asked.pps.extend(pps)
            return TurnParse("attr", target=asked, asked=asked.head)
        asked.pps.extend(pps)
        return TurnParse("ident", target=asked)
    if toks[1].tag == "AUX":
        k = _skip(toks, 2, {"ADV"})
        if k < n and toks[k].low in _ABOUT_ADJ | {"be"}:
            about = _after_about(toks, k)
            if about:
                return about
        if toks[1].low in {"can", "could", "would", "will", "do", "does", "did", "should", "might"}:
            about = _after_about(toks, k)
            if about:
                return about
            if k < n and toks[k].low in {"you", "we", "i"}:
                pps = _trailing_pps(toks, _skip(toks, k + 1, {"VERB", "ADV", "AUX"}, _SEE_VERBS))
                if pps:
                    return TurnParse("ident", target=NP(words=[Tok("object", "word", "NOUN")], pps=pps))
                return TurnParse("other")
            np, ref, _ = _np_or_ref(toks, k)
            return TurnParse("topic", target=np, refers=ref)
        if k < n and toks[k].tag in {"PRED", "VERB"}:
            pps = _trailing_pps(toks, k + 1)
            if pps:
                asked = "text" if toks[k].low in {"written", "printed", "shown", "displayed", "said"} else None
                return TurnParse("ident", target=pps[0][1], asked=asked)
        np, ref, _ = _np_or_ref(toks, k)
        if np is not None:
            return TurnParse("ident" if is_concrete(unwrap(np)[0]) else "attr", target=np)
        return TurnParse("attr" if ref else "other", refers=ref)
    if toks[1].tag in {"VERB", "PRED"}:
        k = _skip(toks, 2, {"ADV", "AUX", "PRON"})
        np, ref, _ = _np_or_ref(toks, k)
        return TurnParse("topic", target=np, refers=ref)
    return TurnParse("other")


# --------------------------------------------------------------------------- answers

_DISPLAY_VERBS = frozenset(
    "shows displays features has have had includes contains bears reads says mentions depicts "
    "lists wearing holding showing displaying featuring see carries carrying sports".split()
)
_ANSWER_OPENERS = frozenset("yes no certainly sure indeed well absolutely definitely".split())


@dataclass
class AnswerParse:
    """What an assistant answer introduces."""

    subject: NP | None = None
    obj: NP | None = None
    introduced: NP | None = None
    quotes: list[str] = field(default_factory=list)
    colours: list[str] = field(default_factory=list)
    mentions: list[NP] = field(default_factory=list)
    complement: NP | None = None


def analyse_answer(text: str) -> AnswerParse:
    """Read an assistant answer: its subject, the object of "shows"/"has", quoted text, colours."""
    toks = analyse_tokens(text)
    out = AnswerParse()
    out.quotes = [t.text for t in toks if t.kind == "quote"]
    out.mentions = [clean(unwrap(np)[0]) for np in noun_phrases(toks)]
    i = 0
    while i < len(toks) and (toks[i].kind == "punct" or toks[i].low in _ANSWER_OPENERS):
        i += 1
    toks = toks[i:]
    n = len(toks)
    out.colours = [t.low for t in toks if t.kind == "word" and t.low in lx.COLOURS]
    if n and toks[0].low == "there" and n > 1 and toks[1].tag == "AUX":
        k = _skip(toks, 2, {"ADV"})
        np, j = parse_np(toks, k)
        if np is not None:
            np.pps.extend(_trailing_pps(toks, j))
            out.introduced = clean(np)
        return out
    if n > 2 and toks[0].low in {"i", "we", "you"}:
        k = _skip(toks, 1, {"AUX", "ADV", "VERB"} - {"VERB"})
        if k < n and toks[k].low in _SEE_VERBS | {"notice", "observe", "spot"}:
            np, _ = parse_np(toks, _skip(toks, k + 1, {"ADV"}))
            out.introduced = clean(np) if np is not None else None
            return out
    subj, j = parse_np(toks, 0)
    if subj is None:
        return out
    out.subject = clean(unwrap(subj)[0])
    k = _skip(toks, j, {"ADV"})
    if k < n and toks[k].tag == "AUX":
        k2 = _skip(toks, k + 1, {"ADV", "AUX"})
        if k2 < n and toks[k2].low in _DISPLAY_VERBS:
            obj, _ = parse_np(toks, _skip(toks, k2 + 1, {"ADV"}))
            out.obj = clean(obj) if obj is not None else None
        elif k2 < n and toks[k2].tag in {"PRED", "VERB"}:
            pps = _trailing_pps(toks, k2 + 1)
            if pps and not out.subject.pps:
                out.subject.pps.extend(pps)
        elif k2 < n and (toks[k2].tag in NOUNISH or toks[k2].tag == "DET"):
            comp, _ = parse_np(toks, k2)
            out.complement = clean(comp) if comp is not None else None
    elif k < n and toks[k].low in _DISPLAY_VERBS:
        obj, _ = parse_np(toks, _skip(toks, k + 1, {"ADV"}))
        out.obj = clean(obj) if obj is not None else None
    out.introduced = out.obj if is_concrete(out.obj) else (out.subject if is_concrete(out.subject) else None)
    return out
