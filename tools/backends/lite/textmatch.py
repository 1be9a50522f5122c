"""Fuzzy, case-insensitive matching of query words against OCR text ('HDMI label' finds 'HDMI')."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from tools.backends.lite.ocr import OcrWord

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def norm(text: str) -> str:
    """Lower-case and keep only letters and digits (so 'H.D.M.I' and 'hdmi' compare equal)."""
    return _NON_ALNUM.sub("", text.lower())


def similarity(query: str, text: str) -> float:
    """Score 0..1 for how well OCR ``text`` matches ``query`` (exact 1, containment high, else edit ratio)."""
    q, t = norm(query), norm(text)
    if not q or not t:
        return 0.0
    if q == t:
        return 1.0
    if len(q) >= 3 and q in t:
        return 0.8 + 0.15 * len(q) / len(t)
    if len(t) >= 3 and t in q:
        return 0.6 + 0.3 * len(t) / len(q)
    return SequenceMatcher(None, q, t).ratio()


@dataclass(frozen=True)
class TextQuery:
    """A string to look for in the image, where it came from, and how sure a match must be."""

    text: str
    source: str
    """'attribute', 'quoted' or 'target'."""
    threshold: float


@dataclass(frozen=True)
class TextMatch:
    """An OCR entry that matches a query, with its similarity."""

    query: TextQuery
    word: OcrWord
    similarity: float

    @property
    def score(self) -> float:
        """Similarity weighted by the OCR confidence."""
        return self.similarity * (0.5 + 0.5 * self.word.conf)


def match(queries: list[TextQuery], words: list[OcrWord]) -> list[TextMatch]:
    """All OCR entries (lines or single words) matching any query above its threshold, best first.

    For each query and line, only the better of the line and its best word is kept, preferring the
    single word when it matches as well (a tighter box).
    """
    found: list[TextMatch] = []
    for query in queries:
        per_line: dict[int, TextMatch] = {}
        for word in words:
            sim = similarity(query.text, word.text)
            if sim < query.threshold:
                continue
            cand = TextMatch(query, word, sim)
            best = per_line.get(word.line)
            if (
                best is None
                or sim > best.similarity + 1e-6
                or (abs(sim - best.similarity) <= 1e-6 and not word.is_line)
            ):
                per_line[word.line] = cand
        found.extend(per_line.values())
    found.sort(key=lambda m: -m.score)
    return found
