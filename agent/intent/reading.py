"""Reading one turn with spaCy: is it English, what kind of sentence it is, and what it names.

:func:`read` prepares the text (whitespace, chat spellings, a bounded length, obvious typos of
closed-class words), parses it with the tracker's :class:`agent.nlp.ParseCache`, merges quoted
strings into single tokens, and returns a :class:`Reading`: the sentence frame (a command, a
question and its kind, a bare noun phrase), the noun phrases (:class:`agent.intent.phrase.Phrase`)
and the one the turn is about (``main``), negation, "only/just", and the words that decided.

English or not is read from the pipeline's own vocabulary (its stop words and lemmatizer
tables): a turn mostly made of words the English pipeline does not know, or written in another
script, is not read at all (``english=False``), so the tracker keeps the intent and says so.
"""

from __future__ import annotations

import difflib
import functools
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent import nlp
from agent.intent import vocab as vb
from agent.intent.phrase import (
    FILLER_OBJECTS,
    LEFT_DEPS,
    Phrase,
    is_quote,
    lemma,
    lower,
    unwrap,
)

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

MAX_CHARS = 600
"""Only the first sentences of a longer turn are parsed (a request is read, not a document)."""

_QUOTE_RE = re.compile(
    r"(?<![\w])'(?P<a>(?:[^'\n]|(?<=\w)'(?=\w)){1,80}?)'(?![\w])|‘(?P<b>[^’\n]{1,80}?)’"
    r"|\"(?P<c>[^\"\n]{1,80}?)\"|“(?P<d>[^”\n]{1,80}?)”"
)
_POLITE_EDGES = re.compile(
    r"^(?:please|pls|plz)\b[\s,]*|[\s,]*\b(?:please|pls|plz|thanks|thank you|thx)(?P<end>[.!?]*)\s*$",
    re.IGNORECASE,
)
"""A "please" or "thanks" that opens or closes a request (it confuses the parse of a fragment)."""
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_MARKUP_RE = re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]{0,200})?/?>")
_OPENER_LEMMAS = frozenset(
    "ok okay so and now then also please well hmm um uh alright great cool nice next oh ah hey "
    "yes yeah yep sure fine good perfect but".split()
)
"""Discourse words that open a turn and carry no request ("ok, now the port next to it")."""
_NEGATIVE_OPENERS = frozenset({"no", "nope", "nah", "wrong", "incorrect", "not", "oops", "sorry", "actually"})
_WH_TAGS = frozenset({"WDT", "WP", "WP$", "WRB"})
_PREP_PREFIXES = frozenset({"next", "close", "adjacent", "left", "right", "relative", "such"})
"""Words that make one preposition with the next: "next to", "left of", "close to"."""
_LOCATION_PREPS = frozenset(
    "on in at inside near beside behind under below above over within beneath underneath along "
    "around atop upon against next to close".split()
)


@dataclass
class Reading:
    """What a user turn says, as read from its parse."""

    text: str
    """The text that was parsed (whitespace collapsed, cut, chat spellings and typos fixed)."""
    doc: Doc | None = None
    english: bool = True
    notes: list[str] = field(default_factory=list)
    """What was changed before parsing ("read 'fnd' as 'find'")."""
    frame: str = "other"
    """``command``, ``np`` (a bare noun phrase), ``where``, ``which`` (what/which X), ``count``
    (how many), ``exists`` (is there), ``about`` (what about X), ``yesno``, ``wh`` (other
    questions), ``other``."""
    question: bool = False
    verb: Token | None = None
    """The command verb ("find", "describe", "leave"), if the turn is one."""
    command: str | None = None
    """``segment``, ``explain``, ``exclude`` or ``return`` for a command verb."""
    main: Phrase | None = None
    """The phrase the turn is about."""
    phrases: list[Phrase] = field(default_factory=list)
    """Every top-level noun phrase, in order."""
    asked: str | None = None
    """The property a question asks about (``colour``, ``text``, ``position``, ...)."""
    openers: list[Token] = field(default_factory=list)
    negative: bool = False
    """The turn opens with a negation or says something is wrong ("no", "not the logo", "wrong")."""
    meant: bool = False
    """"I meant X": the turn restates the target."""
    only: bool = False
    """"only"/"just"/"merely" before the main phrase."""
    returning: bool = False
    """The turn asks to go back to an earlier target ("go back to the logo", "the cup again")."""
    excluding: bool = False
    """The turn leaves something out ("leave out the child", "don't include the plates")."""

    def words(self, tokens: list[Token]) -> str:
        """Return the text of some tokens of this turn."""
        return " ".join(t.text for t in sorted(tokens, key=lambda t: t.i))


# --------------------------------------------------------------------------- preparing the text


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
    words.update(vb.POLITE_WORDS | set(vb.SLANG) | _NEGATIVE_OPENERS | _OPENER_LEMMAS)
    return frozenset(w.lower() for w in words)


@functools.lru_cache(maxsize=1)
def _closed_words() -> tuple[str, ...]:
    """Words a typo is corrected to: function words and the tracker's command/attribute words."""
    pipe = nlp.pipeline()
    words = set(pipe.Defaults.stop_words) | vb.SEGMENT_VERBS | vb.EXPLAIN_VERBS | vb.COLOURS
    words |= set(vb.POSITIONS) | set(vb.ORDINALS) | vb.OTHER_WORDS | {"one", "ones", "wrong", "half"}
    return tuple(sorted(w for w in words if len(w) >= 3 and "'" not in w))


def known(word: str) -> bool:
    """Whether a lower-case word (or a regular inflection of it) is English to the pipeline."""
    vocab = english_vocabulary()
    if word in vocab:
        return True
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("ly", ""), ("er", ""), ("est", ""), ("'s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2 and word[: -len(suffix)] + repl in vocab:
            return True
    return False


def _transposed(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with two neighbouring letters swapped ("teh" -> "the")."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _edits(word: str) -> set[str]:
    """Words one deletion, insertion or substitution away from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    out.discard(word)
    return out


def fix_typo(word: str) -> tuple[str, bool] | None:
    """Return the word an unknown word is a typo of, and whether the fix is a swap of two letters.

    Closed-class words (function words, command, colour and position words) are fixed when
    one edit away and that word is the clear best match ("fnd" -> "find", "teh" -> "the");
    other English words only when two neighbouring letters were swapped and the word is long
    enough to be unambiguous ("lable" -> "label"). Quoted and capitalised words are never
    touched (the caller skips them).
    """
    closed = _closed_words()
    swapped = [c for c in closed if _transposed(word, c)]
    if len(swapped) == 1:
        return swapped[0], True
    near = sorted(
        ((difflib.SequenceMatcher(None, word, c).ratio(), c) for c in _edits(word) if c in closed_set()),
        reverse=True,
    )
    if near and (len(near) == 1 or near[0][0] > near[1][0]) and near[0][0] >= 0.75:
        return near[0][1], False
    if len(word) >= 5:
        vocab = english_vocabulary()
        swaps = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
        found = sorted(w for w in swaps if w in vocab and w != word)
        if len(found) == 1:
            return found[0], True
    return None


@functools.lru_cache(maxsize=1)
def closed_set() -> frozenset[str]:
    """:func:`_closed_words` as a set."""
    return frozenset(_closed_words())


def _script_is_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return True
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    return latin >= 0.5 * len(letters)


def prepare(text: str) -> tuple[str, bool, list[str]]:
    """Clean a turn for parsing: (text, is it English, notes on what was changed)."""
    text = _MARKUP_RE.sub(" ", text or "")
    text = "".join(c if c.isprintable() or c in "\n\t" else " " for c in text)
    text = " ".join(text.split())
    if len(text) > MAX_CHARS:
        cut = text.rfind(" ", 0, MAX_CHARS)
        text = text[: cut if cut > MAX_CHARS // 2 else MAX_CHARS]
    text = _POLITE_EDGES.sub(lambda m: m.group("end") or "", text).strip()
    if not text:
        return "", True, []
    plain = _QUOTE_RE.sub(" ", text)
    if not _script_is_latin(plain):
        return text, False, ["written in another script"]
    stop = nlp.pipeline().Defaults.stop_words
    notes: list[str] = []
    score, counted = 0.0, 0
    for k, w in enumerate(_WORD_RE.findall(plain)):
        if not (w.islower() or (k == 0 and w[:1].isupper() and w[1:].islower())):
            continue  # names, ALL-CAPS and capitalised words say nothing about the language
        low = w.lower().replace("’", "'")
        if low in stop or low in vb.SLANG:
            score, counted = score + 1, counted + 1
        elif len(low) >= 3:
            counted += 1
            if known(low):
                score += 1
            else:
                fix = fix_typo(low)
                score += 0 if fix is None else (1 if fix[1] else 0.5)
    if counted >= 2 and score <= 0.5 * counted:
        return text, False, ["not English to the parser"]

    def repl(m: re.Match[str]) -> str:
        word = m.group(0)
        low = word.lower().replace("’", "'")
        if low in vb.SLANG:
            return vb.SLANG[low]
        if not word.islower() or len(low) < 3 or known(low):
            return word
        fix = fix_typo(low)
        if fix is None:
            return word
        notes.append(f"read {word!r} as {fix[0]!r}")
        return fix[0]

    fixed = _fix_outside_quotes(text, repl)
    return fixed, True, notes


def _fix_outside_quotes(text: str, repl: Callable[[re.Match[str]], str]) -> str:
    out, pos = [], 0
    for m in _QUOTE_RE.finditer(text):
        out.append(_WORD_RE.sub(repl, text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_WORD_RE.sub(repl, text[pos:]))
    return "".join(out)


def parse(cache: nlp.ParseCache, text: str) -> Doc:
    """Parse with the owner's cache and merge quoted strings into single tokens (once per doc)."""
    doc = cache.parse(text)
    if not doc.user_data.get("pixelrs_quotes"):
        spans: list[Span] = []
        for m in _QUOTE_RE.finditer(doc.text):
            span = doc.char_span(m.start(), m.end(), alignment_mode="expand")
            if span is not None and len(span) > 1 and not spans_overlap(spans, span):
                spans.append(span)
        if spans:
            with doc.retokenize() as retok:
                for span in spans:
                    retok.merge(span, attrs={"POS": "PROPN", "TAG": "NNP", "LEMMA": span.text})
        doc.user_data["pixelrs_quotes"] = True
    return doc


def spans_overlap(spans: list[Span], span: Span) -> bool:
    """Return whether ``span`` overlaps one of ``spans``."""
    return any(s.start < span.end and span.start < s.end for s in spans)


# --------------------------------------------------------------------------- phrases


def phrase_at(head: Token, depth: int = 0) -> Phrase:
    """Build the phrase headed by ``head``: its own words, attached phrases and clauses."""
    words: dict[int, Token] = {head.i: head}
    preps: list[tuple[str, Phrase]] = []
    clauses = []
    as_noun = verb_as_noun(head)
    for child in head.children:
        dep = child.dep_
        if child.i < head.i and (dep in LEFT_DEPS or (dep == "punct" and is_quote(child)) or (as_noun and dep == "nsubj")):
            for t in child.subtree:
                words[t.i] = t
        elif child.i > head.i and dep in {"nummod", "compound"} or (dep == "appos" and is_quote(child)):
            for t in child.subtree:
                words[t.i] = t
        elif dep == "conj" and child.pos_ in {"NOUN", "PROPN"} and child.i > head.i:
            for t in child.subtree:
                if t.dep_ != "prep" and not any(a.dep_ == "prep" for a in t.ancestors if a.i > child.i and a in child.subtree):
                    words[t.i] = t
            words.update({c.i: c for c in head.children if c.dep_ == "cc"})
        elif dep == "prep" and depth < 3:
            found = prep_object(child, depth)
            if found:
                preps.append(found)
        elif child.i > head.i and lower(child) in _PREP_PREFIXES and dep in {"advmod", "amod", "acl", "acomp", "npadvmod"}:
            for sub in child.children:
                if sub.dep_ == "prep" and depth < 3:
                    found = prep_object(sub, depth, name_prefix=lower(child))
                    if found:
                        preps.append(found)
        elif dep in {"relcl", "acl"} and depth < 2:
            if child.tag_ == "VBN" or (child.pos_ == "ADJ"):
                preps.extend(p for c in child.children if c.dep_ == "prep" for p in [prep_object(c, depth)] if p)
            else:
                clauses.append(child.doc[child.left_edge.i : child.right_edge.i + 1])
        elif dep == "amod" and child.i > head.i:
            preps.extend(p for c in child.children if c.dep_ == "prep" for p in [prep_object(c, depth)] if p)
    phrase = Phrase(head=head, words=[words[i] for i in sorted(words)], preps=preps, clauses=clauses)
    phrase.negated = any(c.dep_ == "neg" for c in head.children) or "no" in phrase.determiners
    return phrase


def prep_object(prep: Token, depth: int, name_prefix: str = "") -> tuple[str, Phrase] | None:
    """Read "on the bottle", "next to it", "to the left of the label" into (name, object phrase)."""
    obj = next((c for c in prep.children if c.dep_ in {"pobj", "pcomp"}), None)
    if obj is None or obj.pos_ in {"VERB", "AUX"}:
        return None
    name = f"{name_prefix} {lower(prep)}".strip()
    of = next((c for c in obj.children if c.dep_ == "prep" and lower(c) == "of"), None)
    if of is not None and lemma(obj) in {"left", "right", "top", "front", "back", "side"}:
        inner = next((c for c in of.children if c.dep_ == "pobj"), None)
        if inner is not None:
            side = lower(obj)
            if side == "side":
                side = next((lower(c) for c in obj.children if lower(c) in {"left", "right"}), "side")
            kind = {"left": "left of", "right": "right of", "top": "on top of", "front": "in front of"}.get(side, f"{name} {side} of")
            return kind, phrase_at(inner, depth + 1)
    return name, phrase_at(obj, depth + 1)


def _noun_heads(doc: Doc) -> list[Token]:
    """Heads of top-level noun phrases: nouns, names, quotes, pronouns and "one" not inside another phrase."""
    heads = []
    for tok in doc:
        if verb_as_noun(tok):
            heads.append(tok)
            continue
        if tok.dep_ == "nsubj" and verb_as_noun(tok.head):
            continue
        if tok.pos_ not in {"NOUN", "PROPN", "PRON", "NUM"} and not is_quote(tok):
            if not (lower(tok) in {"one", "ones"} or (tok.pos_ == "ADJ" and tok.dep_ in {"pobj", "dobj", "ROOT", "nsubj", "attr"} and lower(tok) in vb.POSITIONS)):
                continue
        if tok.pos_ == "NUM" and lower(tok) not in {"one", "ones"} and tok.dep_ in {"nummod"}:
            continue
        under_verb = tok.head.pos_ in {"VERB", "AUX"} and not verb_as_noun(tok.head) and tok.pos_ in {"NOUN", "PROPN"}
        if tok.dep_ in {"compound", "poss", "nmod", "amod", "nummod", "quantmod", "npadvmod", "det", "predet", "case", "expl"} and not (
            under_verb and tok.dep_ in {"compound", "amod", "npadvmod"}
        ):
            continue
        if tok.pos_ == "PRON" and tok.tag_ in _WH_TAGS:
            continue
        if tok.pos_ == "PRON" and lower(tok) in {"i", "you", "we", "me", "us", "there"}:
            continue
        heads.append(tok)
    return heads


def phrases_of(doc: Doc) -> list[Phrase]:
    """Top-level phrases of a parse, left to right (objects of attached phrases are inside them)."""
    heads = _noun_heads(doc)
    used: set[int] = set()
    out: list[Phrase] = []
    for head in sorted(heads, key=lambda t: (_depth(t), t.i)):
        if head.i in used:
            continue
        phrase = phrase_at(head)
        toks = phrase.tokens()
        if any(t.i in used for t in toks if t.i != head.i) and head.dep_ == "pobj":
            continue
        used.update(t.i for t in toks)
        out.append(phrase)
    return sorted(out, key=lambda p: p.head.i)


_CLAUSE_DEPS = frozenset({"dobj", "aux", "auxpass", "ccomp", "xcomp", "attr", "acomp", "dative", "neg", "prt"})


def verb_as_noun(tok: Token) -> bool:
    """Return a word the tagger read as a verb where the sentence needs a noun: "the stop *sign*",
    "a trident and laurel *leaves*", "Jameson *branding*". It has no clause of its own (object,
    auxiliary, complement) and either stands as an object or has a noun right before it."""
    if tok.pos_ != "VERB" or tok.tag_ not in {"VB", "VBP", "VBZ", "VBG"}:
        return False
    if any(c.dep_ in _CLAUSE_DEPS for c in tok.children):
        return False
    if any(c.dep_ == "nsubj" and lower(c) in {"i", "you", "we", "he", "she", "it", "they", "this", "that"} for c in tok.children):
        return False
    if tok.i == 0:
        return tok.dep_ in {"dobj", "pobj"} and any(c.dep_ in {"det", "amod", "compound", "nsubj"} and c.i < tok.i for c in tok.children)
    before = tok.doc[tok.i - 1]
    noun_before = before.pos_ in {"NOUN", "PROPN"} and before.head.i == tok.i
    if noun_before and before.dep_ in {"compound", "amod"}:
        return True
    if noun_before and before.dep_ == "nsubj":
        # "the stop sign" read as "the stop [will] sign": a bare base form after "the/a + noun",
        # or any verb form standing where an object should be
        plain_det = any(c.dep_ == "det" and c.tag_ not in _WH_TAGS for c in before.children)
        return (tok.tag_ == "VB" and plain_det) or tok.dep_ in {"dobj", "pobj", "ccomp"}
    return tok.dep_ in {"dobj", "pobj"} and any(c.dep_ in {"det", "amod", "compound", "nsubj"} and c.i < tok.i for c in tok.children)


def _depth(tok: Token) -> int:
    depth = 0
    while tok.head is not tok and depth < 50:
        tok = tok.head
        depth += 1
    return depth


# --------------------------------------------------------------------------- the turn


class ReadingCache(nlp.ParseCache):
    """A tracker's parse cache that also keeps what it derived from a text (its cleaned form,
    its reading, a stored target's phrase): bounded, content-keyed, owned by one tracker.

    Kept values are used read-only once built, so a turn that reads a text again (the previous
    question when grounding, the current target) does not redo the work."""

    def __init__(self, entries: int = 512) -> None:
        super().__init__(entries)
        self._memo: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._memo_lock = threading.Lock()

    def memo(self, kind: str, key: str, make: Callable[[], Any]) -> Any:
        """Return the value kept for (``kind``, ``key``), building it with ``make`` the first time."""
        slot = (kind, key[:MAX_CHARS])
        with self._memo_lock:
            if slot in self._memo:
                self._memo.move_to_end(slot)
                return self._memo[slot]
        value = make()
        if self.entries:
            with self._memo_lock:
                self._memo[slot] = value
                while len(self._memo) > 3 * self.entries:
                    self._memo.popitem(last=False)
        return value


def prepared(cache: nlp.ParseCache, text: str) -> tuple[str, bool, list[str]]:
    """:func:`prepare`, kept by a :class:`ReadingCache`."""
    if isinstance(cache, ReadingCache):
        return cache.memo("prepare", text, lambda: prepare(text))  # type: ignore[no-any-return]
    return prepare(text)


def read(cache: nlp.ParseCache, raw: str) -> Reading:
    """Read one user turn (see the module docstring); kept by a :class:`ReadingCache`."""
    if isinstance(cache, ReadingCache):
        return cache.memo("read", raw, lambda: _read(cache, raw))  # type: ignore[no-any-return]
    return _read(cache, raw)


def _read(cache: nlp.ParseCache, raw: str) -> Reading:
    text, english, notes = prepare(raw)
    reading = Reading(text=text, english=english, notes=notes)
    if not text or not english:
        return reading
    doc = parse(cache, text)
    reading.doc = doc
    reading.phrases = [p for p in phrases_of(doc) if not _is_chat_word(p)]
    toks = [t for t in doc if not t.is_space]
    i = 0
    while i < len(toks) and (toks[i].is_punct or (lemma(toks[i]) in _OPENER_LEMMAS | _NEGATIVE_OPENERS and toks[i].dep_ not in {"det"}) or toks[i].pos_ == "INTJ"):
        if lower(toks[i]) in _NEGATIVE_OPENERS or lower(toks[i]) in {"no", "nope", "nah"}:
            reading.negative = True
        reading.openers.append(toks[i])
        i += 1
    body = toks[i:]
    opener_ids = {t.i for t in reading.openers}
    reading.phrases = [p for p in reading.phrases if p.head.i not in opener_ids]
    reading.question = text.rstrip().endswith("?")
    reading.negative = reading.negative or (not reading.question and _says_wrong(doc, body))
    reading.only = any(lower(t) in {"only", "just", "merely", "solely"} for t in body[:3])
    reading.returning = any(lower(t) in vb.RETURN_WORDS for t in body) and not reading.question
    _frame(reading, body)
    return reading


def _is_chat_word(phrase: Phrase) -> bool:
    """Return a phrase that is only a greeting or a thanks ("thanks", "pls")."""
    return len(phrase.words) == 1 and lower(phrase.head) in vb.POLITE_WORDS | {"please", "thank"}


def _says_wrong(doc: Doc, body: list[Token]) -> bool:
    """"that's not it", "still not right", "you picked the wrong animal", "I meant X"."""
    for tok in body:
        low = lower(tok)
        if low in {"wrong", "incorrect"}:
            return True
        if tok.dep_ == "neg" and tok.head.dep_ == "ROOT" and (tok.head.pos_ in {"AUX", "ADJ"} or lemma(tok.head) == "be"):
            return True
    return False


def _frame(reading: Reading, body: list[Token]) -> None:
    """Find the sentence frame, the command verb and the main phrase."""
    if not body:
        return
    doc = body[0].doc
    first = body[0]
    phrases = reading.phrases

    def phrase_of(tok: Token | None) -> Phrase | None:
        if tok is None:
            return None
        return next((p for p in phrases if p.head.i == tok.i), None) or next(
            (p for p in phrases if tok in p.tokens()), None
        )

    def after(tok: Token) -> Phrase | None:
        return next((p for p in phrases if p.head.i > tok.i and not p.pronoun or (p.head.i > tok.i and p.refers_back)), None)

    # "I meant X", "I want (to see) X", "can you find X", "let's find X", "please show X"
    verb = _command_verb(body)
    wh = next((t for t in body[:2] if t.tag_ in _WH_TAGS), None)
    if lower(first) in {"i"} and any(lemma(t) in {"mean", "say"} for t in body[1:3]):
        reading.meant = True
        reading.negative = True
    if wh is not None and not (verb is not None and verb.i < wh.i):
        reading.question = True
        _question(reading, wh, body, phrase_of, after)
        return
    if first.pos_ == "AUX" and lemma(first) in {"be", "do", "can", "could", "will", "would", "have", "may", "should"}:
        reading.question = True
        if any(t.dep_ == "expl" for t in body[:3]):
            reading.frame = "exists"
            reading.main = phrase_of(next((t for t in body if t.dep_ in {"attr", "nsubj"} and t.dep_ != "expl" and t.pos_ != "PRON"), None)) or after(first)
            return
        subject = next((t for t in body if t.dep_ in {"nsubj", "nsubjpass"}), None)
        seeing = next((t for t in body if lemma(t) in {"see", "spot", "notice"} and t.pos_ == "VERB"), None)
        if seeing is not None and subject is not None and lower(subject) in {"you", "we"}:
            reading.frame = "exists"  # "can you see any animals?": is there one, and which
            reading.main = _object_of(seeing, phrase_of, after)
            return
        if verb is not None and (subject is None or lower(subject) in {"you", "we", "u"}):
            reading.frame, reading.verb = "command", verb
            reading.command = _command_kind(verb)
            reading.main = _object_of(verb, phrase_of, after)
            return
        reading.frame = "yesno"
        subj = next((t for t in body if t.dep_ in {"nsubj", "nsubjpass"}), None)
        reading.main = phrase_of(subj) or after(first)
        return
    if verb is not None:
        reading.frame, reading.verb = "command", verb
        reading.command = _command_kind(verb)
        reading.main = _object_of(verb, phrase_of, after)
        if reading.command == "exclude":
            reading.excluding = True
        return
    if lower(first) == "what" or lower(first) == "how":
        reading.question = True
    root = next((t for t in body if t.dep_ == "ROOT"), body[0])
    main = phrase_of(root) if root.pos_ in {"NOUN", "PROPN", "PRON", "NUM", "ADJ"} or is_quote(root) else None
    if main is None and phrases:
        starting = [p for p in phrases if p.start <= body[0].i + 2]
        main = starting[0] if starting else None
    if main is not None:
        reading.frame, reading.main = "np", main
        return
    reading.frame = "other"
    reading.main = next((p for p in phrases if p.concrete), None)
    del doc


def _command_verb(body: list[Token]) -> Token | None:
    """Return the imperative or requested verb of a command, by lemma (the tagger may call it a noun)."""
    for k, tok in enumerate(body[:6]):
        lem, low = lemma(tok), lower(tok)
        if lem in {"go", "come", "switch", "return", "get"} and any(lower(t) in {"back", "again", "to"} for t in body[k + 1 : k + 3]):
            return tok
        if lem == "leave" and any(lower(t) == "out" for t in body[k + 1 : k + 4]):
            return tok
        if lem == "include" and any(t.dep_ == "neg" for t in tok.children):
            return tok
        if (lem in vb.SEGMENT_VERBS or low in vb.SEGMENT_VERBS or lem in vb.EXPLAIN_VERBS or lem in vb.EXCLUDE_VERBS) and (
            tok.tag_ in {"VB", "VBP", "NN", "NNP"} and tok.dep_ in {"ROOT", "xcomp", "ccomp", "conj", "advcl"}
            or k == 0
        ):
            if k > 0 and tok.tag_ not in {"VB", "VBP"} and body[k - 1].pos_ in {"DET", "ADJ", "NOUN"}:
                continue  # "the stop sign": a noun, not a command
            if lem == "see" and not any(lower(t) in {"me", "i", "let"} for t in body[:k]):
                continue  # "what can you see": a question, handled as one
            return tok
    return None


def _command_kind(verb: Token) -> str:
    lem, low = lemma(verb), lower(verb)
    if lem in {"go", "come", "switch", "return", "get"}:
        return "return"
    if lem in {"leave", "include"} or lem in vb.EXCLUDE_VERBS:
        return "exclude"
    if lem in vb.EXPLAIN_VERBS:
        return "explain"
    return "segment" if lem in vb.SEGMENT_VERBS or low in vb.SEGMENT_VERBS else "explain"


def _object_of(verb: Token, phrase_of, after) -> Phrase | None:  # type: ignore[no-untyped-def]
    """Return the object of a command verb: its direct object, "at X", "to X", or the next phrase.

    Location phrases the parser hung on the verb ("select the cup *on the left*") belong to it.
    """
    for child in verb.children:
        if child.dep_ in {"dobj", "attr", "oprd", "nsubj"} and child.i > verb.i:
            found = phrase_of(child)
            if found is not None:
                for extra in verb.children:
                    if extra.i > child.i and extra.dep_ in {"prep", "advmod"}:
                        for place in _location_of(extra):
                            if place[1].head.i not in {t.i for t in found.tokens()}:
                                found.preps.append(place)
                return found
    for child in verb.subtree:
        if child.dep_ == "pobj" and child.i > verb.i and lower(child.head) in {"at", "to", "on", "for", "out"}:
            found = phrase_of(child)
            if found is not None:
                return found
    return after(verb)


def _question(reading: Reading, wh: Token, body: list[Token], phrase_of, after) -> None:  # type: ignore[no-untyped-def]
    """Frame of a wh-question and the phrase it asks about (property nouns peeled off)."""
    low = lower(wh)
    doc = wh.doc
    root = next((t for t in body if t.dep_ == "ROOT"), wh.head)
    subj = next((t for t in root.children if t.dep_ in {"nsubj", "nsubjpass"} and t.tag_ not in _WH_TAGS), None)
    if lemma(root) in {"write", "print", "say", "read", "label", "inscribe"}:
        reading.asked = "text"  # "what is written on it?", "what does the sign say?"
    if low == "what" and wh.i + 1 < len(doc) and lower(doc[wh.i + 1]) == "about":
        reading.frame = "about"
        reading.main = phrase_of(next((c for c in doc[wh.i + 1].children if c.dep_ == "pobj"), None)) or after(wh)
        return
    if low == "where":
        reading.frame = "where"
        reading.main = _peeled(reading, phrase_of(subj) or after(wh))
        return
    if low == "how" and wh.i + 1 < len(doc) and lower(doc[wh.i + 1]) in {"many", "much"}:
        reading.frame = "count"
        reading.main = phrase_of(doc[wh.i + 1].head) or after(wh)
        return
    if low in {"what", "which"} and wh.dep_ == "det":
        asked = phrase_of(wh.head)
        if asked is None:
            reading.frame, reading.main = "wh", after(wh)
            return
        asked = _with_predicate_preps(asked, root)
        if asked.property_noun and asked.lemma in vb.VALUE_NOUNS and asked.of_object is None and asked.preps:
            reading.frame, reading.asked, reading.main = "which", "text", asked  # the printed value
            return
        if asked.property_noun:
            reading.asked = asked.property_noun
            args = [c for c in root.children if c.dep_ in {"nsubj", "nsubjpass", "attr", "dobj"} and c.i != asked.head.i]
            other = next((p for p in (phrase_of(c) for c in args) if p is not None and not p.pronoun), None)
            reading.frame = "wh"
            inner, _ = unwrap(asked)
            reading.main = _peeled(reading, other) if other is not None else (
                inner if inner is not asked else _predicate_object(root, phrase_of) or asked
            )
            return
        seeing = lemma(asked.head.head) in {"see", "notice", "spot", "find", "observe", "identify", "show"}
        if asked.head.dep_ in {"nsubj", "nsubjpass", "attr"} or (asked.head.dep_ == "dobj" and seeing):
            reading.frame, reading.main = "which", asked
            return
        # "what inference can you make about X", "what message does the awning convey": asks
        # for information about the other argument, not for a thing
        reading.frame = "wh"
        args = [c for c in root.children if c.dep_ in {"nsubj", "nsubjpass", "dobj"} and c.i != asked.head.i]
        reading.main = next((p for p in (phrase_of(c) for c in args) if p is not None and not p.pronoun), None) or asked
        return
    if low in {"what", "who"} and wh.dep_ in {"nsubj", "nsubjpass"} and subj is None:
        # "what is on the plate?", "what is written on the sign?", "who is next to the car?"
        preps = [found for c in root.children if c.dep_ in {"prep", "advmod"} for found in _location_of(c)]
        if preps:
            written = lemma(root) in {"write", "print", "inscribe", "say"}
            stand_in = "person" if low == "who" else "text" if written else "thing"
            reading.frame = "which"
            reading.main = Phrase(head=wh, words=[wh], preps=preps, stand_in=stand_in)
            return
    main = _peeled(reading, phrase_of(subj)) if subj is not None else None
    as_object = wh.dep_ == "dobj" or (wh.dep_ == "attr" and root.pos_ == "VERB" and lemma(root) != "be")
    if low == "what" and as_object and main is not None and main.concrete and lemma(root) not in vb.MEANING_VERBS:
        reading.frame, reading.main = "object", main  # "what is the man holding?": the answer names it
        return
    if low in {"what", "which"} and main is not None:
        identifies = lemma(root) == "be" and wh.dep_ in {"attr", "nsubj"} and not main.property_noun
        reading.frame = "which" if identifies and not main.refers_back else "wh"
        if reading.frame == "which":
            reading.main = _with_predicate_preps(main, root)
            return
        reading.main = main
        if root.tag_ == "VBN" and main.pronoun:
            reading.main = _predicate_object(root, phrase_of) or main
        return
    reading.frame = "wh"
    reading.main = main or after(wh)
    if root.tag_ == "VBN" and reading.main is None:
        reading.main = _predicate_object(root, phrase_of)


def _location_of(child: Token) -> list[tuple[str, Phrase]]:
    """Return a predicate's location phrase ("on the plate", "next to the car"), if ``child`` is one."""
    if child.dep_ == "prep" and lower(child) in _LOCATION_PREPS:
        found = prep_object(child, 0)
    elif child.dep_ == "advmod" and lower(child) in _PREP_PREFIXES:
        sub = next((c for c in child.children if c.dep_ == "prep"), None)
        found = prep_object(sub, 0, name_prefix=lower(child)) if sub is not None else None
    else:
        return []
    if found is None or found[1].lemma in FILLER_OBJECTS or found[1].image:
        return []
    return [found]


def _peeled(reading: Reading, phrase: Phrase | None) -> Phrase | None:
    """Unwrap a property noun and note the property asked about."""
    if phrase is None:
        return None
    inner, asked = unwrap(phrase)
    if asked:
        reading.asked = reading.asked or asked
    return inner


def _predicate_object(root: Token, phrase_of) -> Phrase | None:  # type: ignore[no-untyped-def]
    """Return the object of a location phrase on the predicate ("what is written *on the sign*")."""
    for child in root.children:
        if child.dep_ == "prep" and lower(child) in _LOCATION_PREPS:
            obj = next((c for c in child.children if c.dep_ == "pobj"), None)
            found = phrase_of(obj)
            if found is not None and found.lemma not in FILLER_OBJECTS:
                return found
    return None


def _with_predicate_preps(phrase: Phrase, root: Token) -> Phrase:
    """Attach a predicate's location phrases to the subject it describes.

    "What label is visible on the large bottle?" -> "label on the large bottle"; the same for a
    passive ("is shown on"), and an intransitive verb ("appears on the sign").
    """
    if phrase.preps or phrase.head.dep_ not in {"nsubj", "nsubjpass", "attr", "dobj"}:
        return phrase
    sources = [c for c in root.children if c.dep_ in {"acomp", "attr", "oprd"} and c.pos_ == "ADJ"]
    no_object = not any(c.dep_ in {"dobj", "ccomp", "xcomp"} for c in root.children)
    if lemma(root) == "be" or root.tag_ == "VBN" or (root.pos_ == "VERB" and no_object):
        sources.insert(0, root)
    for src in sources:
        for child in src.children:
            if child.dep_ == "prep" and lower(child) in _LOCATION_PREPS:
                found = prep_object(child, 0)
                if found and found[1].lemma not in FILLER_OBJECTS and not found[1].image:
                    phrase.preps.append(found)
    return phrase


__all__ = ["MAX_CHARS", "Reading", "ReadingCache", "prepared", "english_vocabulary", "fix_typo", "known", "parse", "phrase_at", "phrases_of", "prepare", "read"]
