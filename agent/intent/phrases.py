"""Noun phrases: ``[determiners] modifiers* head (preposition noun-phrase)*``.

Also the phrase helpers the tracker uses: a crude :func:`lemma`, :func:`unwrap` (property nouns
are peeled off: "the colour of the beer" -> "beer"), :func:`clean` (weak modifiers and "in the
image" dropped), :func:`is_concrete` (does the phrase name a thing?).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.intent import lexicon as lx
from agent.intent.tokens import NOUNISH, Tok, analyse_tokens

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
        """The head word, lower-cased, possessive and plural ``s`` stripped.

        Trailing numbers after a noun are not the head ("route number 20" -> "number").
        """
        words = [t for t in self.words if t.kind == "word" and t.tag != "PUNCT"]
        while len(words) > 1 and words[-1].tag == "NUM" and words[-2].tag != "NUM":
            words.pop()
        if words:
            return lemma(words[-1].low)
        return lemma(self.words[-1].low) if self.words else ""

    @property
    def heads(self) -> set[str]:
        """The head plus heads of coordinated parts ("hammer and sickle" -> both)."""
        out = {self.head}
        for i, t in enumerate(self.words):
            if t.low in {"and", "or", "&"}:
                before = [
                    w
                    for w in self.words[:i]
                    if w.kind == "word" and any(c.isalpha() for c in w.text)
                ]
                if before:
                    out.add(lemma(before[-1].low))
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


def parse_np(
    toks: list[Tok], i: int, *, attach: bool = True, depth: int = 0
) -> tuple[NP | None, int]:
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
            and (
                toks[i + 1].tag in NOUNISH
                or (toks[i + 1].tag == "DET" and _nounish_at(toks, i + 2))
            )
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
        if t.low in {"one", "ones"} and (words or det):
            words.append(t)  # "the other one", "the one": a placeholder head
            i += 1
            break
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
            sub: NP | None
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
    """Tell whether the words from ``i`` read as a new clause (noun then verb), not a conjunct."""
    np, j = parse_np(toks, i, attach=False)
    return (
        np is not None
        and j < len(toks)
        and toks[j].tag in {"VERB", "AUX"}
        and toks[j].low
        not in {
            "has",
            "have",
        }
    )


def parse_text_np(text: str) -> NP | None:
    """Parse a stored target phrase back into a noun phrase."""
    toks = analyse_tokens(text)
    np, _ = parse_np(toks, 0)
    return np


def is_concrete(np: NP | None) -> bool:
    """Tell whether a phrase names a thing (not a property, a placeholder, a pronoun or the image)."""
    if np is None or not np.words:
        return False
    for head in np.heads:
        if head in lx.PRONOUNS or head in lx.IMAGE_NOUNS or head in lx.GENERIC_NOUNS:
            continue
        if head not in lx.ATTRIBUTE_NOUNS or is_compound(np):
            return True
        if head in lx.INFO_NOUNS and np.pps:
            return True  # "time on the screen" names the printed time
    return False


_ADJECTIVAL = (
    lx.WEAK_MODIFIERS
    | lx.COLOURS
    | frozenset(lx.SIZES)
    | frozenset(lx.POSITIONS)
    | frozenset(lx.ORDINALS)
)


def is_compound(np: NP) -> bool:
    """Tell whether a property noun has a noun modifier, naming a thing: "brand name", "route number".

    Adjectives (size, colour, weak ones) and possessives ("the aircraft's design") do not count.
    """
    mods = [
        t
        for t in np.words[:-1]
        if t.kind == "quote"
        or (
            t.kind == "word" and t.low not in _ADJECTIVAL and not t.low.endswith(("'s", "’s", "s'"))
        )
    ]
    return bool(mods) and np.head in lx.ATTRIBUTE_NOUNS


_UNWRAPPABLE = lx.ATTRIBUTE_NOUNS | lx.GENERIC_NOUNS | {"number", "numbers", "of"}


def unwrap(np: NP) -> tuple[NP, str | None]:
    """Strip property nouns: "the colour of the beer in the glass" -> ("beer in the glass", "colour")."""
    asked = None
    while np.pps and np.pps[0][0] == "of":
        head = np.head
        others = [lemma(t.low) for t in np.words[:-1] if t.kind == "word"]
        if head not in _UNWRAPPABLE:
            break
        if any(w not in _UNWRAPPABLE | lx.WEAK_MODIFIERS for w in others):
            break
        inner = np.pps[0][1]
        if inner.head in lx.IMAGE_NOUNS or inner.head in lx.PRONOUNS:
            break
        asked = asked or head
        inner = NP(
            words=inner.words, det=inner.det, pps=inner.pps + np.pps[1:], start=np.start, end=np.end
        )
        np = inner
    return np, asked


def clean(np: NP) -> NP:
    """Drop weak modifiers and phrases like "in the image" / "in question" from a phrase."""
    words = [
        t for t in np.words[:-1] if not (t.kind == "word" and t.low in lx.WEAK_MODIFIERS)
    ] + np.words[-1:]
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
