"""Reading one turn with spaCy: is it English, what kind of sentence it is, and what it names.

:func:`read` prepares the text (:mod:`agent.intent.language`), parses it with the tracker's
:class:`ReadingCache` (:mod:`agent.intent.parsing`), and returns a :class:`Reading`: the sentence frame (a command, a
question and its kind, a bare noun phrase), the noun phrases (:class:`agent.intent.phrase.Phrase`)
and the one the turn is about (``main``), negation, "only/just", and the words that decided.

A turn that is not English to the parser is not read at all (``english=False``), so the
tracker keeps the intent and says so. Some turns are parsed again in a form the small parser
reads better, and the reading's notes say so: a request verb read as a noun ("segment the box",
with "please" before it), an attribute whose noun is left out ("the biggest" as "the biggest
one", "both" as "both of them"); in a turn of several sentences, leading thanks are left out
and a later request that names a thing is read on its own ("is it real? segment the pot").
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent import nlp
from agent.intent import vocab as vb
from agent.intent.language import MAX_CHARS, prepare
from agent.intent.parsing import WH_TAGS, parse, phrases_of, prep_object
from agent.intent.phrase import FILLER_OBJECTS, Phrase, unwrap
from agent.intent.words import is_quote, lemma, lower, number_value, size_value

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

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
    returned_to: Phrase | None = None
    """What "back to X" names, when the turn also says more ("back to the motorcycle, only the
    right half of it"): the earlier target to restore before the rest applies."""
    rest: Phrase | None = None
    """What a turn that goes back says after the target it goes back to ("go back to the
    bicycle, *just the front wheel*"), read as a turn of its own about the restored target."""
    selects_one: bool = False
    """"which of the two men is bigger?": the main phrase is the set one member is picked from."""
    predicate: Token | None = None
    """The verb or copula the main phrase is the subject of, when it says something about it
    ("which of them *is* bigger", "the person *cut off* at the left edge")."""

    def words(self, tokens: list[Token]) -> str:
        """Return the text of some tokens of this turn."""
        return " ".join(t.text for t in sorted(tokens, key=lambda t: t.i))


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


def _read(cache: nlp.ParseCache, raw: str, depth: int = 0) -> Reading:
    text, english, notes = prepare(raw)
    reading = Reading(text=text, english=english, notes=notes)
    if not text or not english:
        return reading
    end = _pointing_tail(cache, text) if depth < 2 else 0
    rest = _read(cache, text[:end], depth + 1) if end else None
    if rest is not None and (text[end - 1] == "?" or _names_new_thing(rest.main)):
        # "is there a banana in the bin? segment it", "there's somebody by the door, can you
        # select them": the first part names what "it" is ("ok that one, mask it" names nothing)
        rest.text, rest.notes = text, [*notes, f"read {text[:end][:40]!r}; the rest asks to segment it", *rest.notes]
        return rest
    start = _request_start(parse(cache, text)) if depth < 2 else 0
    if start:
        # "great, thanks. now the spoon", "is it real? segment the pot": the request decides
        rest = _read(cache, text[start:], depth + 1)
        rest.notes = [*notes, f"read from {text[start:][:40]!r}", *rest.notes]
        return rest
    doc = _as_request(cache, text, parse(cache, text))
    doc, said = _bare_noun(cache, doc)
    if not said:
        doc, said = _side_first(cache, doc)
    if not said:
        doc, said = _elided_noun(cache, doc)
    if said:
        reading.notes.append(said)
    reading.doc = doc
    reading.phrases = [p for p in phrases_of(doc) if not _is_chat_word(p)]
    toks = [t for t in doc if not t.is_space]
    i = _opener_count(toks)
    for tok in toks[:i]:
        if lower(tok) in vb.NEGATIVE_OPENERS or lower(tok) in {"no", "nope", "nah"}:
            reading.negative = True
        reading.openers.append(tok)
    body = toks[i:]
    opener_ids = {t.i for t in reading.openers}
    reading.phrases = [p for p in reading.phrases if p.head.i not in opener_ids]
    for phrase in reading.phrases:  # "fine, the burger": the opener is no modifier of it, nor is "please"
        phrase.words = [t for t in phrase.words if t.i not in opener_ids and (lower(t) not in vb.PLEASE_WORDS or t is phrase.head)]
    reading.question = text.rstrip().endswith("?")
    reading.negative = reading.negative or (not reading.question and _says_wrong(doc, body)) or _asks_retry(body)
    reading.only = any(lower(t) in vb.ONLY_WORDS for t in body[:3])
    polite = bool(_POLITE_RETURN.match(text))  # "could we go back to the winner?" asks, it does not question
    reading.returning = any(lower(t) in vb.RETURN_WORDS for t in body) and (not reading.question or polite)
    _frame(reading, body)
    if reading.frame == "command" or (reading.main is not None and reading.main.head.dep_ == "dobj"):
        reading.main = _through_output_noun(reading.main, reading.phrases)
    if reading.returning:
        reading.returned_to = _returned_to(reading)
        reading.rest = _rest_after(reading)
    return reading


_POLITE_RETURN = re.compile(
    r"^(?:\w+[,.!]?\s+){0,2}(?:can|could|shall|may) (?:we|you|i) (?:please )?(?:go|get|switch|come|return)\b.*\bback\b",
    re.I,
)
"""A question that asks to go back ("sorry, could we go back to the winner?")."""


def _request_start(doc: Doc) -> int:
    """Return where the part of a turn of several sentences that decides it starts (0: all of it).

    Leading sentences that only thank or acknowledge ("great, thanks. now the spoon", "ok. what
    is it made of?") or speak of the picture itself ("new photo. where is the cat?") are left out, and a question followed by a request that names a thing ("is
    it real? segment the pot", "and here? find the dog") is decided by the request ("which of
    the dogs is the smallest? segment it" is not: "it" is the one the question asks for). A
    leading "no." stays: it is a correction."""
    buried = _buried_request(doc)
    if buried:
        return buried
    sents = list(doc.sents)
    if len(sents) < 2:
        return 0
    k = 0
    while k < len(sents) - 1:
        words = [lower(t) for t in sents[k] if t.is_alpha]
        polite = words and all(w in vb.POLITE_WORDS or w in vb.OPENER_WORDS or w in {"please", "thank"} for w in words)
        if not polite and not _about_the_picture(sents[k]) and not _aside(sents[k], sents[k + 1 :]):
            break
        k += 1
    if k < len(sents) - 1 and sents[k].text.rstrip().endswith("?"):
        for later in sents[k + 1 :]:
            first = next((t for t in later if not t.is_punct and lemma(t) not in vb.OPENER_WORDS), None)
            if first is None or lemma(first) not in REQUEST_VERBS:
                continue
            if any(t.pos_ in {"NOUN", "PROPN"} and t.i != first.i for t in later):  # "segment it" points into the question
                return later.start_char
    return sents[k].start_char if k else 0


_ASKING_VERBS = frozenset(
    "find segment highlight select outline locate mask cut extract isolate mark show circle detect "
    "identify pick crop".split()
)
"""Verbs that ask for a mask even deep in a long turn ("..., so could you segment the bride?");
not "see", "look" or "get", which a story uses for other things."""
_STORY_WORDS = 8
"""A request preceded by at least this many words of other talk is read on its own."""
_MODALS = frozenset({"can", "could", "would", "will"})


def _names_new_thing(main: Phrase | None) -> bool:
    """Whether a phrase names a thing of its own (not "it", "that one", "the other one")."""
    return main is not None and not (main.pronoun or main.refers_back or main.placeholder)


_TAIL_FILLERS = frozenset("please pls plz then too and also just now so can could would you u".split())
"""Words around the verb of a tail that asks to segment what the turn named ("can you select them")."""


def _pointing_tail(cache: nlp.ParseCache, text: str) -> int:
    """Return where a question ends when all that follows it asks to segment what it names
    ("is there a dog? outline it", "where are the keys? mask them please", "there's somebody by
    the door, can you select them"); 0 otherwise. Split at the question mark (the parser may not
    end the sentence there), or else at the last comma."""
    mark = text.find("?")
    if mark < 0:
        mark = text.rfind(",")
    if mark < 0 or not text[mark + 1 :].strip():
        return 0
    tail = parse(cache, text[mark + 1 :])
    words = [t for t in tail if t.is_alpha and lower(t) not in _TAIL_FILLERS]
    if len(words) < 2 or lemma(words[0]) not in vb.SEGMENT_VERBS:
        return 0
    rest = words[1:]
    if rest and lower(rest[0]) == "me":
        rest = rest[1:]
    if len(rest) != 1 or lower(rest[0]) not in {"it", "them", "that", "those", "this", "these"}:
        return 0
    return mark + 1


def _buried_request(doc: Doc) -> int:
    """Return where a request buried at the end of a long turn starts (0: none): a story or
    reasons first ("we went to the aquarium yesterday and ... so um can you like find that big
    blue fish for me"), then an imperative or a "can/could/would you" request. The last such
    request after at least :data:`_STORY_WORDS` words decides the turn, from its modal on."""
    for tok in reversed(list(doc)):
        if lemma(tok) not in _ASKING_VERBS or tok.pos_ not in {"VERB", "NOUN"}:
            continue
        before = [t for t in doc[max(0, tok.i - 4) : tok.i] if not t.is_punct]
        you = next((t for t in reversed(before) if lower(t) == "you"), None)
        start = tok
        if you is not None and you.i > 0 and lower(doc[you.i - 1]) in _MODALS:
            start = doc[you.i - 1]
        elif you is not None or (tok.i > 0 and not _before_request(doc[tok.i - 1])):
            continue  # "I want to show my mum": not a request to the assistant
        said = sum(1 for t in doc[: start.i] if t.is_alpha)
        if said >= _STORY_WORDS and any(t.pos_ in {"NOUN", "PROPN"} for t in doc[tok.i + 1 :]):
            return start.idx
        return 0
    return 0


def _before_request(tok: Token) -> bool:
    """Whether a word may stand right before a buried imperative: punctuation, a filler ("uh"),
    or a linking word ("so", "and then", "please")."""
    return tok.is_punct or tok.pos_ == "INTJ" or lower(tok) in {"so", "and", "please", "then", "now", "just", "like"}


def _aside(sent: Span, later: list[Span]) -> bool:
    """Whether a leading sentence is an aside before a request: it names no thing, denies
    nothing and asks nothing ("Oh I love this one! Could you find the peacock?", "wow. segment
    the boat"), and a later sentence asks for something with a request verb."""
    if sent.text.rstrip().endswith("?") or any(t.pos_ in {"NOUN", "PROPN"} and lower(t) not in {"one", "ones"} for t in sent):
        return False
    if any(t.dep_ == "neg" or lower(t) in vb.NEGATIVE_OPENERS | {"no", "wrong", "other"} for t in sent):
        return False
    return any(lemma(t) in REQUEST_VERBS for s in later for t in s)


def _about_the_picture(sent: Span) -> bool:
    """Whether a sentence only says something of the picture itself ("ok new photo.", "here is
    another picture.", "I uploaded a new image."): every noun in it names the image, and it asks
    nothing. What follows it is the request."""
    if sent.text.rstrip().endswith("?"):
        return False
    nouns = [t for t in sent if t.pos_ in {"NOUN", "PROPN"}]
    return bool(nouns) and all(lemma(t) in vb.IMAGE_NOUNS for t in nouns)


def _rest_after(reading: Reading) -> Phrase | None:
    """Return the phrase a going-back turn names after the earlier target ("back to the
    motorcycle, *only the right half of it*"), whichever of the two the frame made its main phrase."""
    back = reading.returned_to
    if back is None:
        return None
    if reading.main is not None and reading.main is not back:
        return reading.main
    end = max(t.i for t in back.tokens())
    return next((p for p in reading.phrases if p.start > end and not p.pronoun), None)


def _opener_count(toks: list[Token]) -> int:
    """Return how many tokens open the turn without asking anything ("ok, now", "no,", "please")."""
    i = 0
    while i < len(toks) and _opens(toks[i]):
        i += 1
    return i


def _opens(tok: Token) -> bool:
    """Whether a token opens the turn: punctuation, an interjection or a discourse word ("ok",
    "no", "wait"), unless it quantifies a noun ("no dogs here"; "no wait" parsed as a determiner
    of the verb still opens)."""
    if tok.is_punct or tok.pos_ == "INTJ":
        return True
    if lemma(tok) not in vb.OPENER_WORDS | vb.NEGATIVE_OPENERS | {"wait"}:
        return False  # "wait" is no opener word of the typo fixer's: "wat" is "what", not "wait"
    return tok.dep_ != "det" or tok.head.pos_ not in {"NOUN", "PROPN", "NUM", "ADJ", "PRON"}


REQUEST_VERBS = vb.SEGMENT_VERBS | vb.EXPLAIN_VERBS | vb.EXCLUDE_VERBS | vb.RETURN_VERBS
"""Verbs a request starts with ("segment the box", "describe it", "return to the clock")."""
_PARTICLES = frozenset({"out", "up", "off", "down", "back"})
_PHRASE_START_TAGS = frozenset({"DT", "PDT", "PRP$", "PRP", "CD"})


def _as_request(cache: nlp.ParseCache, text: str, doc: Doc) -> Doc:
    """Re-read a request whose opening verb the tagger took for a noun or a past form.

    A small tagger often reads a bare imperative as a noun ("*segment* the box", "*mask* both of
    ...", "ok, *return* to the clock") or as a past tense ("*cut* out the dog"), and then the
    rest is no object of it. A known request verb first in the turn (after openers), followed by
    what starts a noun phrase (a determiner, a pronoun, a number, "that" before a noun; for a
    return verb "to" or "back"), is parsed again with "please" before it, the form the tagger reads as an imperative.
    The new parse is kept only when it does read the verb as one.
    """
    toks = [t for t in doc if not t.is_space]
    k = _opener_count(toks)
    if k >= len(toks) - 1:
        return doc
    verb = toks[k]
    low = lower(verb)
    if low not in REQUEST_VERBS or (verb.tag_ == "VB" and verb.dep_ == "ROOT"):
        return doc
    nxt = k + 1
    while nxt < len(toks) - 1 and lower(toks[nxt]) in _PARTICLES and low not in vb.RETURN_VERBS:
        nxt += 1
    following = toks[nxt]
    after = toks[nxt + 1] if nxt + 1 < len(toks) else None
    pointing = lower(following) in {"this", "that", "these", "those"} and after is not None and after.pos_ in {"NOUN", "PROPN", "ADJ"}
    opens_phrase = (following.tag_ in _PHRASE_START_TAGS and lower(following) not in {"this", "that"} | {"i", "you"}) or pointing
    if low in vb.RETURN_VERBS:
        opens_phrase = lower(following) in {"to", "back"}
    if not opens_phrase:
        return doc
    again = parse(cache, f"{text[: verb.idx]}please {text[verb.idx :]}")
    moved = next((t for t in again if t.idx == verb.idx + len("please ")), None)
    if moved is None or moved.tag_ != "VB":
        return doc
    return again


_SIDE_WORDS = frozenset({"left", "right", "top", "bottom", "upper", "lower"})


def _side_first(cache: nlp.ParseCache, doc: Doc) -> tuple[Doc, str]:
    """Re-read "left half of it only", "left one pls", "top half": with no article the tagger reads
    "left" as the verb *leave*, or "half" as an adjective. A turn that opens (after openers) with
    "left" read as a verb followed by a noun or "one", or with a side word before a part noun
    not read as a noun, is parsed again with "the" before it; kept when the side word is then an
    adjective or noun. Returns the parse to use and a note ("" when unchanged)."""
    toks = [t for t in doc if not t.is_space]
    k = _opener_count(toks)
    if k + 1 >= len(toks):
        return doc, ""
    word, nxt = toks[k], toks[k + 1]
    left_as_verb = lower(word) == "left" and word.pos_ in {"VERB", "AUX"} and nxt.pos_ in {"NOUN", "NUM", "PROPN"}
    # "top half", "right half": a side word before a part noun the tagger did not read as a noun
    half_unread = lower(word) in _SIDE_WORDS and lower(nxt) in vb.GEOMETRIC_PART_HEADS and nxt.pos_ != "NOUN"
    if not (left_as_verb or half_unread):
        return doc, ""
    again = parse(cache, f"{doc.text[: word.idx]}the {doc.text[word.idx :]}")
    moved = next((t for t in again if t.idx == word.idx + len("the ")), None)
    if moved is None or moved.pos_ in {"VERB", "AUX"}:
        return doc, ""
    return again, f"read {word.text!r} as 'the {word.text}'"


def _bare_noun(cache: nlp.ParseCache, doc: Doc) -> tuple[Doc, str]:
    """Re-read a turn that is a bare noun the tagger took for another word class.

    A power user types the thing alone ("lid", "hydrant?", "blade only", "towel right of sink"),
    and the small tagger, with no article to go by, reads it as a verb, an adjective or an
    adverb. When the first word (after openers) is one the pipeline's dictionary knows only as a
    noun or a verb (not an adjective or adverb, not one of the tracker's own words) and what
    follows is nothing, "only"/"just", or a place that names something ("right of sink", "next
    to it"; not a verb's particle: "zoom in"), the turn is parsed again with "the" before it; the new parse is kept only when it reads the word
    as a noun. Returns the parse to use and a note ("" when unchanged)."""
    from agent.intent.spelling import word_classes

    toks = [t for t in doc if not t.is_space]
    k = _opener_count(toks)
    content = [t for t in toks[k:] if not t.is_punct]
    if not content or any(t.pos_ in {"AUX", "PRON", "DET"} for t in content):
        return doc, ""
    word = content[0]
    low = lower(word)
    if word.pos_ in {"NOUN", "PROPN"} or not word.is_alpha or not word.text.islower():
        return doc, ""
    own = vb.POLITE_WORDS | REQUEST_VERBS | vb.NEGATIVE_OPENERS | vb.RETURN_WORDS | vb.ONLY_WORDS | vb.OTHER_WORDS
    if low in own or lemma(word) in own or word.is_stop or low in vb.COLOURS or low in vb.POSITIONS or low in vb.ORDINALS:
        return doc, ""
    classes = word_classes(low) | word_classes(lemma(word))
    if "noun" not in classes or classes & {"adj", "adv"}:
        return doc, ""
    rest = content[1:]
    if rest and "verb" in classes and lower(rest[0]) in _PARTICLES | {"in", "on", "over", "away", "around"}:
        return doc, ""  # "zoom in", "zoom in on the dog": a verb and its particle
    named = any(t.pos_ in {"NOUN", "PROPN", "PRON"} for t in rest)
    place = named and (rest[0].pos_ == "ADP" or (lower(rest[0]) in vb.PREPOSITION_PREFIXES and len(rest) > 1))
    if rest and not place and not all(lower(t) in vb.ONLY_WORDS for t in rest):
        return doc, ""
    again = parse(cache, f"{doc.text[: word.idx]}the {doc.text[word.idx :]}")
    moved = next((t for t in again if t.idx == word.idx + len("the ")), None)
    if moved is None or moved.pos_ != "NOUN":
        return doc, ""
    return again, f"read {word.text!r} as 'the {word.text}'"


_ELLIPSIS_DEPS = frozenset({"ROOT", "dobj", "nsubj", "appos", "conj", "npadvmod", "dep", "pobj"})
"""Where an adjective stands as a noun phrase of its own ("*the biggest*", "show me *the red*")."""
_AFTER_ELLIPSIS = frozenset({"instead", "please", "again", "too", "now", "then", "then?", "also", "only"})
_BEFORE_ELLIPSIS = frozenset({"only", "just", "and", "but", "or", "no", "not", "maybe", "rather", "now", "also"})


_QUANTITY_WORDS = frozenset({"many", "much", "all", "both", "some", "any", "few", "each", "none", "most"})
"""Words whose "of" phrase is a partitive: "how many *of red*" counts the red ones."""
_COLOUR_THINGS = frozenset({"orange"})
"""Basic colour terms that, tagged as nouns, are first of all things ("find the orange")."""


def _elliptical(tok: Token) -> bool:
    """Whether ``tok`` is an attribute word standing for a noun phrase whose noun is left out:
    "the biggest", "the second from the left", "the other", a bare "left" / "red" / "smaller"."""
    low = lower(tok)
    determined = any(c.dep_ in {"det", "poss"} for c in tok.children)
    if (low in vb.POLITE_WORDS and not determined) or tok.dep_ not in _ELLIPSIS_DEPS or is_quote(tok):
        return False  # a bare "right", "great": an acknowledgement
    partitive = lower(tok.head) == "of" and (lower(tok.head.head) in _QUANTITY_WORDS or number_value(tok.head.head) is not None)
    if tok.dep_ == "pobj" and lower(tok.head) != "about" and not partitive:
        return False  # "the cup on the left": the place of another noun ("how many of red": of the red ones)
    if tok.pos_ == "NOUN" and not (
        (low in vb.BASIC_COLOURS and low not in _COLOUR_THINGS) or (low in vb.POSITIONS and low not in vb.GEOMETRIC_PART_HEADS)
    ):
        return False  # "the top": a part (geometric nouns); "the lime", "the orange": the fruit
    attribute = (
        low in vb.COLOURS or low in vb.ORDINALS or low in {"other", "another"}
        or (low in vb.POSITIONS and (tok.pos_ in {"ADJ", "VERB", "ADV"} or low not in vb.GEOMETRIC_PART_HEADS))
        or size_value(tok) is not None or tok.tag_ == "JJS"
        or (number_value(tok) not in {None, "0", "1"} and any(c.dep_ == "det" for c in tok.children))
    )
    if not attribute or any(c.dep_ in {"nsubj", "dobj", "aux", "auxpass"} for c in tok.children):
        return False
    doc = tok.doc
    nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
    if partitive and (nxt is None or nxt.pos_ not in {"NOUN", "PROPN", "ADJ", "NUM"}):
        return True  # "how many of red (there are)": of the red ones
    if nxt is not None and not (nxt.is_punct or nxt.pos_ in {"ADP", "SCONJ"} or lower(nxt) in _AFTER_ELLIPSIS):
        return False  # "the red car", "the left half": the noun is there
    if nxt is not None and lower(nxt) == "of" and number_value(tok) is not None:
        return False  # "the two of them": a partitive, already read as one
    before = [t for t in doc[: tok.i] if not t.is_punct]
    return not before or before[-1].pos_ in {"DET", "ADJ", "VERB", "PRON"} or lower(before[-1]) in _BEFORE_ELLIPSIS | vb.OPENER_WORDS


def _elided_noun(cache: nlp.ParseCache, doc: Doc) -> tuple[Doc, str]:
    """Re-read a noun phrase whose noun is left out (nominal ellipsis) with "one" put in.

    "the biggest", "only the tallest", "the second from the left", "and the other?" and a bare
    "left", "red" or "smaller" name one of the current things by an attribute; the parser reads
    the adjective as a sentence of its own (or "left" as a verb). They are read as "the biggest
    one", "the left one", ..., the placeholder the tracker knows. A lone quantifier ("both",
    "all") is read as "both of them". Returns the parse to use and a note ("" when unchanged).
    """
    words = [t for t in doc if not t.is_punct and not t.is_space and lower(t) not in vb.OPENER_WORDS | _BEFORE_ELLIPSIS]
    if len(words) == 1 and lower(words[0]) in vb.COUNT_DETERMINERS and lower(words[0]) != "every":
        tok = words[0]
        text = f"{doc.text[: tok.idx + len(tok.text)]} of them{doc.text[tok.idx + len(tok.text):]}"
        return parse(cache, text), f"read {tok.text!r} as '{tok.text} of them'"
    found = next((t for t in doc if _elliptical(t)), None)
    if found is None:
        return doc, ""
    while found.i + 1 < len(doc) and _elliptical(doc[found.i + 1]):
        found = doc[found.i + 1]  # "the big red": after the last of them
    has_det = any(t.pos_ == "DET" and t.i < found.i and t.head.i in {found.i, found.head.i} for t in doc) or any(
        c.dep_ in {"det", "predet", "poss"} for c in found.children
    )
    start = found.idx if has_det else next(
        (t.idx for t in doc if t.i <= found.i and (t.i == found.i or _elliptical(t)) and t.i >= found.i - 2 and t.pos_ != "DET"), found.idx
    )
    end = found.idx + len(found.text)
    head = "" if has_det else "the "
    noun = "ones" if number_value(found) is not None else "one"  # "the two on the left": two of them
    text = f"{doc.text[:start]}{head}{doc.text[start:end]} {noun}{doc.text[end:]}"
    again = parse(cache, text)
    said = doc.text[start:end]
    return again, f"read {said!r} as '{head}{said} {noun}'"


def _returned_to(reading: Reading) -> Phrase | None:
    """Return the object of "back to" / "return to" ("back to the motorcycle, ..."), if the turn has one."""
    for phrase in reading.phrases:
        prep = phrase.head.head
        if phrase.head.dep_ == "pobj" and lower(prep) == "to" and lower(prep.head) in vb.RETURN_WORDS | vb.RETURN_VERBS:
            return phrase
    return None


def _is_chat_word(phrase: Phrase) -> bool:
    """Return a phrase that is only a greeting or a thanks ("thanks", "pls"), or a "retry"."""
    if phrase.head.pos_ == "PRON":
        return False  # "it", "that", "this": they point back, they are not politeness
    return len(phrase.words) == 1 and lower(phrase.head) in vb.POLITE_WORDS | {"please", "thank", "retry", "redo"}


_RESTATING = frozenset({"say", "ask", "request", "want", "tell", "need"})
"""Verbs that, said in the past by "I", restate the request ("I asked for the chair")."""


def _restates(body: list[Token]) -> bool:
    """"I meant the cup", "I mean the cup", "you selected the table, I asked for the chair", "I said
    the blue one", "I wanted the dog": the user restates what they asked for, so what was
    shown is wrong. Only "mean" restates in the present ("I want the fridge" is a request)."""
    for k, tok in enumerate(body):
        if lower(tok) != "i":
            continue
        for verb in body[k + 1 : k + 4]:
            if lemma(verb) == "mean" or (lemma(verb) in _RESTATING and verb.tag_ in {"VBD", "VBN"}):
                return True
    return False


def _asks_retry(body: list[Token]) -> bool:
    """"try again", "retry", "redo it", also put as a question ("can you try again?"): another
    attempt is asked for because this one is wrong."""
    for k, tok in enumerate(body):
        if lemma(tok) in {"retry", "redo"} or (lemma(tok) == "try" and any(lower(t) == "again" for t in body[k + 1 : k + 3])):
            return True
    return False


def _says_wrong(doc: Doc, body: list[Token]) -> bool:
    """"that's not it", "still not right", "you picked the wrong animal", "that doesn't look
    right" (a retry is :func:`_asks_retry`)."""
    for tok in body:
        low = lower(tok)
        if low in {"wrong", "incorrect"}:
            return True
        clause = tok.head.dep_ == "ROOT" or (tok.head.dep_ in {"ccomp", "conj", "parataxis"} and tok.head.i < tok.head.head.i)
        if tok.dep_ == "neg" and clause and (tok.head.pos_ in {"AUX", "ADJ"} or lemma(tok.head) == "be"):
            return True  # "that's not it", "it's not the monitor, it's the TV"
        if tok.dep_ == "neg" and any(c.dep_ == "acomp" and lower(c) in {"right", "correct", "good"} for c in tok.head.children):
            return True  # "that doesn't look right", "it doesn't seem correct": a linking verb's complement denied
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

    if _leaves_out(reading, body, phrases):
        return
    # "I meant X", "I want (to see) X", "can you find X", "let's find X", "please show X"
    verb = _command_verb(body)
    wh = next((t for t in body[:2] if t.tag_ in WH_TAGS), None)
    if _restates(body):
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
        asks_to_see = verb is not None and lemma(verb) in {"see", "have", "get"} and subject is not None and lower(subject) == "i"
        if verb is not None and (subject is None or lower(subject) in {"you", "we", "u"} or asks_to_see):
            # "can you find X", "could I see X", "can I have X": a request put as a question
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
            if any(c.dep_ == "neg" for c in verb.children) and not any(lower(t) in {"no", "nope", "nah", "wrong"} for t in reading.openers):
                reading.negative = False  # "also not include the mat": the "not" is the exclusion's own
        return
    if lower(first) == "what" or lower(first) == "how":
        reading.question = True
    root = next((t for t in body if t.dep_ == "ROOT"), body[0])
    dropped = next((t for t in body if t.dep_ == "nsubj" and t.tag_ == "PRP" and t.head.pos_ in {"NOUN", "PROPN", "ADJ"}), None)
    if root.pos_ in {"NOUN", "PROPN", "ADJ"} and dropped is not None:
        # "they regulation size?", "it broken?": a pronoun and what is said of it, the copula left
        # out (terse or non-native English); it asks or says something of what the pronoun names
        said_of = phrase_of(dropped)
        if said_of is None or said_of.head.i != dropped.i:
            said_of = Phrase(head=dropped, words=[dropped])
            reading.phrases.insert(0, said_of)
        reading.frame = "yesno" if reading.question else "other"
        reading.main = said_of
        return
    main = phrase_of(root) if root.pos_ in {"NOUN", "PROPN", "PRON", "NUM", "ADJ"} or is_quote(root) else None
    if main is None and phrases:
        starting = [p for p in phrases if p.start <= body[0].i + 2]
        main = starting[0] if starting else None
    if main is not None:
        if not reading.question and root.pos_ == "VERB" and main.head.dep_ == "nsubj" and main.head.head.i == root.i:
            # "the person cut off at the left edge", "the car parked on the left": a noun described
            # by a participle the parser read as the sentence's verb; its place phrases are the noun's
            main = _with_predicate_preps(main, root)
            reading.predicate = root
        reading.frame, reading.main = "np", main
        return
    reading.frame = "other"
    reading.main = next((p for p in phrases if p.concrete), None)
    del doc


def _through_output_noun(main: Phrase | None, phrases: list[Phrase]) -> Phrase | None:
    """ "I'd like a mask of the fish", "could you make masks for the four people": in a request (the
    mask the object of a verb) the thing the mask is of is what the turn is about ("the mask of the
    goalie", a bare phrase, or "is the mask of the diver red?" may be about a worn mask)."""
    if main is None or (main.lemma != "mask" and main.lemma not in vb.OUTPUT_NOUNS):
        return main
    own = next((thing for prep, thing in main.preps if prep in {"of", "for"}), None)
    if own is not None:
        return own
    # "make masks for the lamps": the parser hangs the "for" phrase on the verb
    verb = main.head.head
    objects = [g for c in verb.children if c.dep_ == "prep" and lower(c) in {"of", "for"} for g in c.children if g.dep_ == "pobj"]
    return next((p for p in phrases if objects and p.head.i == objects[0].i), main)


def _leaves_out(reading: Reading, body: list[Token], phrases: list[Phrase]) -> bool:
    """Read a turn that is an exclusion on its own: "without the candles", "except the white one",
    "all except the white one", "all but the red ones", "minus the lid". It leaves the phrases
    after the preposition out of the current target (frame ``command``, command ``exclude``);
    return whether the turn is one."""
    words = [t for t in body if not t.is_punct]
    k = 1 if words and lower(words[0]) in {"all", "everything", "everyone", "everybody"} else 0
    if len(words) <= k + 1:
        return False
    word = words[k]
    pair = (lower(word), lower(words[k + 1]))
    before = word.doc[word.i - 1] if word.i > 0 else None
    if pair in {("not", "including"), ("not", "counting"), ("apart", "from"), ("other", "than"), ("aside", "from")}:
        word = words[k + 1]  # "not including the blue one", "apart from the dog"
    elif lower(word) in {"including", "counting"} and before is not None and lower(before) == "not":
        reading.negative = False  # "not" was read as the turn's opener: it belongs to "including"
    elif not (lower(word) in vb.EXCLUDE_PREPOSITIONS or (k == 1 and lower(word) == "but")):
        return False
    if not any(p.head.i > word.i for p in phrases):
        return False
    reading.frame, reading.command, reading.verb, reading.excluding = "command", "exclude", word, True
    reading.main = next((p for p in phrases if p.head.i > word.i), None)
    return True


def _command_verb(body: list[Token]) -> Token | None:
    """Return the imperative or requested verb of a command, by lemma (the tagger may call it a noun)."""
    for k, tok in enumerate(body[:6]):
        lem, low = lemma(tok), lower(tok)
        if lem in vb.RETURN_VERBS and any(lower(t) in {"back", "again", "to"} for t in body[k + 1 : k + 3]):
            return tok
        if lem == "leave" and any(lower(t) == "out" for t in body[k + 1 : k + 4]):
            return tok
        if (lem == "take" and any(lower(t) in {"out", "away", "off"} for t in body[k + 1 : k + 4])) or (
            lem == "get" and k + 1 < len(body) and lower(body[k + 1]) == "rid"
        ):
            return tok  # "take out the child", "get rid of the shadow": leave it out
        if lem == "do" and any(lower(t) in {"let", "'s", "us"} for t in body[:k]):
            return tok  # "let's do the bench": a request for it
        if lem == "do" and _asked_of_you(tok, body[:k]) and any(c.dep_ == "dobj" and c.tag_ not in WH_TAGS for c in tok.children):
            return tok  # "can you do the kettle?", "would you be able to do the same with the jug?"
        if lem == "include" and any(t.dep_ == "neg" for t in tok.children):
            return tok
        if any(c.dep_ == "neg" for c in tok.children) and any(c.dep_ == "nsubj" for c in tok.children):
            if _cannot_find(tok):
                return tok  # "I can't find my keys": the user needs them found
            continue  # "I can't see it": a statement, not a request
        if (lem in vb.SEGMENT_VERBS or low in vb.SEGMENT_VERBS or lem in vb.EXPLAIN_VERBS or lem in vb.EXCLUDE_VERBS) and (
            tok.tag_ in {"VB", "VBP", "NN", "NNP"} and tok.dep_ in {"ROOT", "xcomp", "ccomp", "conj", "advcl"}
            or k == 0
        ):
            if k > 0 and tok.tag_ not in {"VB", "VBP"} and (body[k - 1].pos_ in {"DET", "ADJ", "NOUN", "PROPN"} or body[k - 1].tag_ == "PRP$"):
                continue  # "the stop sign", "its colour": a noun, not a command
            if lem == "see" and not any(lower(t) in {"me", "i", "let"} for t in body[:k]):
                continue  # "what can you see": a question, handled as one
            return tok
    return None


def _cannot_find(verb: Token) -> bool:
    """Whether "I" say they cannot find or see a thing they name ("I can't find my keys", "I
    don't see the exit"): a need for it to be found. With a pronoun ("I can't see it") it is a
    remark on what is shown."""
    if lemma(verb) not in {"find", "see", "spot", "locate"}:
        return False
    if not any(c.dep_ == "nsubj" and lower(c) == "i" for c in verb.children):
        return False
    obj = next((c for c in verb.children if c.dep_ == "dobj"), None)
    return obj is not None and obj.pos_ in {"NOUN", "PROPN"}


def _asked_of_you(verb: Token, before: list[Token]) -> bool:
    """Whether a verb is asked of the assistant: a modal with "you" before it ("can you do",
    "would you be able to do")."""
    return any(t.tag_ == "MD" for t in before) and any(lower(t) in {"you", "u"} and t.dep_ == "nsubj" for t in before)


def _command_kind(verb: Token) -> str:
    lem, low = lemma(verb), lower(verb)
    after = verb.doc[verb.i + 1] if verb.i + 1 < len(verb.doc) else None
    if lem == "take" or (lem == "get" and after is not None and lower(after) == "rid"):
        return "exclude"
    if lem == "do":
        return "segment"
    if lem in vb.RETURN_VERBS:
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
        if child.dep_ == "dobj" and lower(child) == "same" and lemma(verb) == "do":
            # "do the same with the jug", "do the same for the cat": the thing the same is done to
            other = next((c for c in verb.children if c.dep_ == "prep" and lower(c) in {"with", "for", "to"}), None)
            found = phrase_of(next((c for c in other.children if c.dep_ == "pobj"), None)) if other is not None else None
            if found is not None:
                return found
        if child.dep_ in {"dobj", "attr", "oprd", "nsubj"} and child.i > verb.i:
            found = phrase_of(child)
            target = _narrowed_to(verb, phrase_of) if found is not None and found.pronoun else None
            if target is not None:
                return target  # "narrow it down to the red ones": what it is narrowed to
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


def _narrowed_to(verb: Token, phrase_of) -> Phrase | None:  # type: ignore[no-untyped-def]
    """Return X of "narrow it (down) to X", "limit them to X": the object of a "to" after the verb."""
    for child in verb.children:
        if child.dep_ == "prep" and lower(child) == "to":
            obj = next((c for c in child.children if c.dep_ == "pobj"), None)
            found = phrase_of(obj)
            if found is not None:
                return found
    return None


def _question(reading: Reading, wh: Token, body: list[Token], phrase_of, after) -> None:  # type: ignore[no-untyped-def]
    """Frame of a wh-question and the phrase it asks about (property nouns peeled off)."""
    low = lower(wh)
    doc = wh.doc
    root = next((t for t in body if t.dep_ == "ROOT"), wh.head)
    subj = next((t for t in root.children if t.dep_ in {"nsubj", "nsubjpass"} and t.tag_ not in WH_TAGS), None)
    if lemma(root) in {"write", "print", "say", "read", "label", "inscribe"}:
        reading.asked = "text"  # "what is written on it?", "what does the sign say?"
    if low in {"what", "how"} and wh.i + 1 < len(doc) and lower(doc[wh.i + 1]) == "about":  # "how about the cow?"
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
    of = next((c for c in wh.children if c.dep_ == "prep" and lower(c) == "of"), None)
    if low == "which" and of is not None:
        # "which of the two men is bigger?", "which of them is tallest?": one member of a set
        group = phrase_of(next((c for c in of.children if c.dep_ == "pobj"), None))
        if group is not None:
            reading.frame, reading.main, reading.selects_one, reading.predicate = "which", group, True, root
            return
    offered = _offered_choice(root) if low in {"which", "who"} and wh.dep_ == "nsubj" else None
    if offered is not None:
        # "which is bigger, the cup or the bowl?", "who is taller, the referee or the coach?":
        # one of the things offered, picked by what is said of it
        group = phrase_of(offered)
        if group is not None:
            reading.frame, reading.main, reading.selects_one, reading.predicate = "which", group, True, root
            return
    about = any(c.dep_ == "prep" and lower(c) == "about" for c in root.children)
    if low in {"what", "who"} and wh.dep_ in {"nsubj", "nsubjpass"} and subj is None and not about:
        # "what is on the plate?", "what is written on the sign?", "who is next to the car?"
        # (not "what can be said about X": that asks about X)
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
    found = reading.main
    if found is not None and found.head.dep_ == "dobj" and found.head.head.i == root.i and not found.preps:
        # "how can you identify the logo *on the sign*?": a place the parser hung on the verb
        for extra in root.children:
            if extra.i > found.head.i and extra.dep_ == "prep":
                found.preps.extend(_location_of(extra))


def _location_of(child: Token) -> list[tuple[str, Phrase]]:
    """Return a predicate's location phrase ("on the plate", "next to the car"), if ``child`` is one."""
    if child.dep_ == "prep" and lower(child) in vb.LOCATION_PREPOSITIONS:
        found = prep_object(child, 0)
    elif child.dep_ == "advmod" and lower(child) in vb.PREPOSITION_PREFIXES:
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
        if child.dep_ == "prep" and lower(child) in vb.LOCATION_PREPOSITIONS:
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
            if child.dep_ == "prep" and lower(child) in vb.LOCATION_PREPOSITIONS:
                found = prep_object(child, 0)
                if found and found[1].lemma not in FILLER_OBJECTS and not found[1].image:
                    phrase.preps.append(found)
    return phrase


def _offered_choice(root: Token) -> Token | None:
    """Return the first noun of "X or Y" said beside "is" and a size word ("which is bigger, the
    cup or the bowl?"); None when the question compares nothing offered."""
    if lemma(root) != "be" or not any(c.dep_ == "acomp" and size_value(c) for c in root.children):
        return None
    for tok in root.subtree:
        if tok.pos_ in {"NOUN", "PROPN"} and any(c.dep_ == "cc" and lower(c) == "or" for c in tok.children):
            if any(c.dep_ == "conj" and c.pos_ in {"NOUN", "PROPN"} for c in tok.children):
                return tok
    return None

__all__ = ["Reading", "ReadingCache", "prepared", "read"]
