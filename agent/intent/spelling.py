"""Which words the English pipeline knows, and what an unknown word is a typo or a short form of.

A word is *known* when the pipeline's own data has it (its lemmatizer tables and stop words) or
a regular inflection of it. Only an unknown word is ever changed, and only when one reading is
clearly meant (:func:`fix_typo`):

* the tracker's own small words (function words, command, colour, position, size and ordinal
  words, openers and thanks) are reached by one edit ("fnd" -> "find", "plese" -> "please", "teh"
  -> "the": an edit is an insertion, a deletion, a substitution or two neighbouring letters
  swapped), or by two for words of six letters or more ("hilight" -> "highlight");
* any other known word (nouns, verbs: "bycicle" -> "bicycle", "scisors" -> "scissors") by two
  letters exchanged (words of five letters or more) or by one edit (six or more), keeping the
  first letter, when exactly one known word is that close;
* a word of four letters or more missing one vowel ("burgr", "othr") is the one known word that
  vowel completes;
* a request verb cut short by a power user ("seg it") is the one request verb it begins.

Where two of the tracker's words are equally close, the one that keeps the typed first letter
wins ("hwo" -> "how", not "who"), and an open-class fix must keep it ("hoodie" is not "foodie"):
people seldom mistype the first letter of a word, a long-standing finding of spelling-error
studies (Yannakoudakis and Fawthrop, 1983), so it is the better evidence. Quoted
and capitalised words are never touched (the caller skips them).
"""

from __future__ import annotations

import difflib
import functools
import re

from agent import nlp
from agent.intent import vocab as vb

OPEN_CLASS_SWAP_LENGTH = 5
"""Shortest unknown word corrected to an open-class word by exchanging two of its letters."""
OPEN_CLASS_EDIT_LENGTH = 6
"""Shortest unknown word corrected to an open-class word by one other edit: shorter words have too
many rare neighbours one edit away (Spanish "perro" is one letter from "perry") for one of
them to be clearly meant."""
VOWEL_DROP_LENGTH = 4
"""Shortest unknown word read as a known word with one vowel put back ("othr" -> "other"): a
dropped vowel is the commonest slip of fast typing, and one vowel rarely fits two words."""
_CLUSTER = re.compile(r"[^aeiouy]{3}")
"""Three consonants in a row: where a vowel was dropped ("bu*rgr*", "o*thr*"), not a brand ("audi")."""
CLOSED_TWO_EDITS_LENGTH = 6
"""Shortest unknown word that may be two edits from one of the tracker's own words."""
ABBREVIATION_MIN_LENGTH = 3
"""Shortest beginning of a request verb read as that verb ("seg" -> "segment")."""

_CLITICS = frozenset({"s", "t", "re", "ve", "ll", "d", "m"})
"""What English writes after an apostrophe ("it's", "don't", "we'll", "I'm")."""
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@functools.lru_cache(maxsize=1)
def english_vocabulary() -> frozenset[str]:
    """Every word the English pipeline's lemmatizer tables and stop words know (model data)."""
    pipe = nlp.pipeline()
    words: set[str] = set(pipe.Defaults.stop_words)
    try:
        lookups = pipe.get_pipe("lemmatizer").lookups  # type: ignore[attr-defined]
        for name in ("lemma_index", "lemma_exc"):
            if lookups.has_table(name):
                for entries in lookups.get_table(name).values():
                    words.update(entries if isinstance(entries, list) else [])
        if lookups.has_table("lemma_exc"):
            for entries in lookups.get_table("lemma_exc").values():
                if isinstance(entries, dict):
                    words.update(entries)
    except (KeyError, ValueError):  # a pipeline without a rule lemmatizer: stop words only
        pass
    words.update(vb.SEGMENT_VERBS | vb.EXPLAIN_VERBS | vb.COLOURS | set(vb.POSITIONS) | set(vb.ORDINALS))
    words.update(vb.POLITE_WORDS | set(vb.SLANG) | vb.NEGATIVE_OPENERS | vb.OPENER_WORDS)
    return frozenset(w.lower() for w in words)


@functools.lru_cache(maxsize=1)
def _word_class_index() -> dict[str, frozenset[str]]:
    """Return the lemmatizer's word lists per class (``noun``, ``verb``, ``adj``, ``adv``; model data)."""
    pipe = nlp.pipeline()
    out: dict[str, frozenset[str]] = {}
    try:
        table = pipe.get_pipe("lemmatizer").lookups.get_table("lemma_index")  # type: ignore[attr-defined]
    except (KeyError, ValueError):
        return out
    for name in ("noun", "verb", "adj", "adv"):
        key = pipe.vocab.strings[name]
        if key in table:
            out[name] = frozenset(table[key])
    return out


def word_classes(lemma: str) -> frozenset[str]:
    """Return the classes the pipeline's dictionary gives a lemma ("lid" -> noun; "whistle" ->
    noun, verb; "cute" -> adj): what a word can be, whatever the tagger made of it in one turn."""
    return frozenset(name for name, words in _word_class_index().items() if lemma in words)


@functools.lru_cache(maxsize=1)
def _closed_words() -> tuple[str, ...]:
    """Words a typo is corrected to first: function words and the tracker's own words."""
    pipe = nlp.pipeline()
    words = set(pipe.Defaults.stop_words) | vb.SEGMENT_VERBS | vb.EXPLAIN_VERBS | vb.COLOURS
    words |= set(vb.POSITIONS) | set(vb.ORDINALS) | vb.OTHER_WORDS | {"one", "ones", "wrong", "half"}
    words |= {form for size in vb.SIZES for form in graded(size)}
    words |= (vb.OPENER_WORDS | vb.POLITE_WORDS) - vb.BORROWED_POLITE
    return tuple(sorted(w for w in words if len(w) >= 3 and "'" not in w))


@functools.lru_cache(maxsize=1)
def closed_set() -> frozenset[str]:
    """:func:`_closed_words` as a set."""
    return frozenset(_closed_words())


def graded(adjective: str) -> tuple[str, str, str]:
    """Return an adjective with its comparative and superlative by English spelling rules:
    "big" -> bigger, biggest (a final consonant after one vowel doubles), "large" -> larger,
    largest, "tiny" -> tinier, tiniest."""
    vowels = "aeiou"
    if adjective.endswith("e"):
        stem, er, est = adjective, "r", "st"
    elif adjective.endswith("y") and len(adjective) > 2 and adjective[-2] not in vowels:
        stem, er, est = adjective[:-1], "ier", "iest"
    elif (
        len(adjective) >= 3 and adjective[-1] not in vowels + "wxy" and adjective[-2] in vowels
        and adjective[-3] not in vowels and sum(c in vowels for c in adjective) == 1
    ):
        stem, er, est = adjective + adjective[-1], "er", "est"
    else:
        stem, er, est = adjective, "er", "est"
    return adjective, stem + er, stem + est


def known(word: str) -> bool:
    """Whether a lower-case word (or a regular inflection of it) is English to the pipeline; a
    contraction is when its first part is ("it's", "we'll", "can't")."""
    vocab = english_vocabulary()
    if word in vocab:
        return True
    stem, apostrophe, clitic = word.replace("’", "'").partition("'")
    if apostrophe and clitic in _CLITICS and (stem in vocab or stem + "n" in vocab or stem.endswith("n")):
        return True  # "can't" = "ca" + "n't", "won't" = "wo" + "n't"
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("ly", ""), ("er", ""), ("est", ""), ("'s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2 and word[: -len(suffix)] + repl in vocab:
            if suffix in {"er", "est"} and word not in graded(word[: -len(suffix)]):
                continue  # "bigest", "thiner": not how "big", "thin" grade (a typo of "biggest")
            return True
    return False


COMPOUND_PART = 4
"""Each half of a closed compound read as known ("clown|fish") has at least this many letters."""


def _compound(word: str) -> bool:
    """Whether a word is two known words written as one, the second a noun ("clownfish",
    "toothbrush", "weddingcake"): a real word to keep, not a typo to fix ("clownish"). It does
    not make the word English ("beaucoup" is "beau" + "coup")."""
    vocab = english_vocabulary()
    for cut in range(COMPOUND_PART, len(word) - COMPOUND_PART + 1):
        head, tail = word[:cut], word[cut:]
        if head in vocab and tail in vocab and "noun" in word_classes(tail):
            return True
    return False


def _transposed(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with two neighbouring letters swapped ("teh" -> "the")."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def _swaps(word: str) -> set[str]:
    """Words made by exchanging two letters of ``word``, neighbours or not ("bycicle" -> "bicycle")."""
    out = set()
    for i in range(len(word) - 1):
        for j in range(i + 1, len(word)):
            if word[i] != word[j]:
                out.add(word[:i] + word[j] + word[i + 1 : j] + word[i] + word[j + 1 :])
    return out


def _edits(word: str) -> set[str]:
    """Words one deletion, insertion or substitution away from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    out.discard(word)
    return out


def _abbreviated(word: str) -> str | None:
    """Return the request verb an unknown word is the beginning of, if exactly one ("seg" ->
    "segment"): a power user's short form of a command."""
    if len(word) < ABBREVIATION_MIN_LENGTH:
        return None
    verbs = sorted(v for v in vb.SEGMENT_VERBS | vb.EXPLAIN_VERBS if v.startswith(word) and v != word)
    return verbs[0] if len(verbs) == 1 else None


def distance(a: str, b: str) -> int:
    """Edits between two words: insertions, deletions, substitutions and swaps of neighbouring
    letters (the optimal string alignment distance)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def _deletions(word: str, depth: int) -> set[str]:
    """Return the word and every string made by deleting up to ``depth`` of its letters."""
    out = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


@functools.lru_cache(maxsize=1)
def _closed_index() -> dict[str, tuple[str, ...]]:
    """Every deletion (up to two letters) of the tracker's own words -> the words it comes from:
    two words within two edits share one, so a typo's candidates are looked up, not searched
    for (the symmetric-delete method)."""
    index: dict[str, set[str]] = {}
    for word in _closed_words():
        for key in _deletions(word, 2):
            index.setdefault(key, set()).add(word)
    return {k: tuple(sorted(v)) for k, v in index.items()}


def _unstretched(word: str) -> str | None:
    """Return a word typed with a letter held down ("noo", "pleeease", "sooo", "cooool") as
    written: its runs of a letter cut to two, else to one, when that is a dictionary word (else a
    known inflection)."""
    if not re.search(r"(\w)\1", word):
        return None
    cuts = [c for c in (re.sub(r"(\w)\1{2,}", r"\1\1", word), re.sub(r"(\w)\1+", r"\1", word)) if c != word]
    vocab = english_vocabulary()
    return next((c for c in cuts if c in vocab), None) or next((c for c in cuts if known(c)), None)


def _closed_fix(word: str) -> tuple[str, bool] | None:
    """Return the tracker's own word an unknown word is a typo of (module docstring): two neighbouring
    letters swapped, else one edit away, or two for words of six letters or more ("hilight" ->
    "highlight"); the nearest, then the one that keeps the first letter, then the most alike
    (:class:`difflib.SequenceMatcher`) must be one word."""
    swapped = [c for c in _closed_words() if _transposed(word, c)]
    kept = [c for c in swapped if c[:1] == word[:1]] or swapped
    if len(kept) == 1:
        return kept[0], True
    bound = 1 if len(word) < CLOSED_TWO_EDITS_LENGTH else 2
    index = _closed_index()
    candidates = {c for key in _deletions(word, bound) for c in index.get(key, ())}
    scored = []
    for cand in candidates:
        edits = distance(word, cand)
        if 0 < edits <= bound:
            ratio = difflib.SequenceMatcher(None, word, cand).ratio()
            scored.append(((edits, cand[:1] != word[:1], -round(ratio, 6)), cand))
    if not scored:
        return None
    scored.sort()
    best_key, best = scored[0]
    if (len(scored) > 1 and scored[1][0] == best_key) or -best_key[2] < 0.75:
        return None
    return best, False


GLUE_WORDS = frozenset(
    "the a an one ones on in at of to it is this that these those and or with by my your its "
    "you i me can could please".split()
)
"""Short words a fast typist runs into the next one ("selectthe", "isit", "ontheleft")."""


def unglued(word: str) -> str | None:
    """Return an unknown word split into the two or three known words it was typed from, when one
    of them is a short function word and one split has more of those than any other ("selectthe"
    -> "select the", "ontheleft" -> "on the left", "isit" -> "is it" rather than "i sit"); None
    otherwise ("clownfish" has no function word in it)."""
    vocab = english_vocabulary()

    def fits(part: str) -> bool:
        return part in GLUE_WORDS or (len(part) >= 3 and part in vocab)

    found = {
        f"{word[:i]} {word[i:]}" for i in range(1, len(word)) if fits(word[:i]) and fits(word[i:])
    }
    if not found:
        found = {
            f"{word[:i]} {word[i:j]} {word[j:]}"
            for i in range(1, len(word) - 1)
            for j in range(i + 1, len(word))
            if fits(word[:i]) and fits(word[i:j]) and fits(word[j:])
        }
    found = {f for f in found if len(f.rsplit(" ", 1)[1]) > 1}  # "maki" is no "mak i": "i"/"a" do not end a run
    scored = sorted((-sum(w in GLUE_WORDS for w in f.split()), f) for f in found)
    scored = [(n, f) for n, f in scored if n < 0]  # at least one function word
    if not scored or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None  # none fits, or two fit as well ("isit": "is it" beats "i sit" on glue words)
    return scored[0][1]


def fix_typo(word: str) -> tuple[str, bool] | None:
    """Return the word an unknown word is a typo or a short form of, and whether the fix only
    swaps letters (the module docstring says which fixes are made and how ties are broken)."""
    stretched = _unstretched(word)
    if stretched is not None:
        return stretched, True
    fixed = _closed_fix(word)
    if fixed is not None:
        return fixed
    if _compound(word):
        return None  # "clownfish" is no typo of "clownish"
    short = _abbreviated(word)
    if short is not None:
        return short, False
    vocab = english_vocabulary()
    if len(word) >= OPEN_CLASS_SWAP_LENGTH:
        found = sorted(w for w in _swaps(word) if w in vocab and w[:1] == word[:1])
        if len(found) == 1:
            return found[0], True
    if len(word) >= OPEN_CLASS_EDIT_LENGTH:
        found = sorted(w for w in _edits(word) if w in vocab and w[:1] == word[:1])
        if len(found) == 1:
            return found[0], False
    if len(word) >= VOWEL_DROP_LENGTH and _CLUSTER.search(word):
        found = sorted({word[:i] + v + word[i:] for i in range(1, len(word) + 1) for v in "aeiou"} & vocab)
        if len(found) == 1:
            return found[0], False  # a vowel left out by a fast typist: "burgr", "othr", "stnd"
    return None


__all__ = ["closed_set", "distance", "word_classes", "english_vocabulary", "fix_typo", "graded", "known", "unglued"]
