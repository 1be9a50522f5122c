"""Reading whole turns: which frame a user turn uses, and what an assistant answer introduces.

* :func:`analyse_turn` reads a *user* turn and says which frame it uses (a command such as
  "find X", a question "what X is visible on Y", "where is X", "how does X ...", a bare noun
  phrase) and which noun phrase it points at, unwrapping property nouns ("the colour of the
  beer" -> "beer", asked: colour).
* :func:`analyse_answer` reads an *assistant* answer and finds the noun phrase it introduces
  (the object of "shows"/"features"/"has", the noun of "there is ...", or the subject of
  "X is visible ..."), its quoted text, colour words and first number-like value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.intent import lexicon as lx
from agent.intent.phrases import (
    NP,
    clean,
    is_compound,
    is_concrete,
    lemma,
    noun_phrases,
    parse_np,
    unwrap,
)
from agent.intent.tokens import NOUNISH, Tok, analyse_tokens

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
        while toks and (
            toks[0].kind == "punct" or (toks[0].kind == "word" and toks[0].low in lx.FILLERS)
        ):
            if (
                toks[0].low == "right"
                and len(toks) > 1
                and toks[1].kind == "word"
                and toks[1].low in {"one", "side"}
            ):
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


def canonical_asked(noun: str | None) -> str | None:
    """Map an asked property noun to the attribute key it fills (``colour``, ``text``, ...)."""
    if noun is None:
        return None
    n = lemma(noun)
    if n in {"color", "colour", "shade", "hue", "tint"}:
        return "colour"
    if n in {"name", "title", "brand", "word", "wording", "text", "message", "content", "slogan"}:
        return "text"
    if n in lx.INFO_NOUNS:
        return "text"
    if n in {"shape", "form"}:
        return "shape"
    if n in {"material", "texture"}:
        return "material"
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
            return TurnParse(
                "command" if toks[i - 1].low in lx.SEGMENT_VERBS else "yesno", target=np, refers=ref
            )
        np, ref, _ = _np_or_ref(toks, i)
        return TurnParse("yesno", target=np, refers=ref)
    if t0 in lx.SEGMENT_VERBS and (
        toks[0].tag != "NOUN"
        or n == 1
        or toks[1].tag in {"DET", "PRON", "QUOTE"}
        or toks[1].low in {"me", "us", "out", "all", "where", "only", "just"}
    ):
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
        return TurnParse(
            "np" if not rest or rest[0].tag in {"PREP", "CONJ", "ADV"} else "other",
            target=np,
            refers=ref,
        )
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
        head_is_property = (
            asked.head in lx.ATTRIBUTE_NOUNS and not asked.pps and not is_compound(asked)
        )
        if topic is not None and head_is_property:
            return TurnParse("attr", target=topic, asked=asked.head)
        if topic is not None:
            return TurnParse("ident", target=asked)
        if head_is_property and asked.head in lx.INFO_NOUNS and pps:
            asked.pps.extend(pps)  # "what distance is shown on the sign?": the printed distance
            return TurnParse("attr", target=asked, asked=asked.head)
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
                k2 = _skip(toks, k + 1, {"ADV", "AUX"})
                pps = _trailing_pps(toks, k2 + 1) if k2 < n and toks[k2].low in _SEE_VERBS else []
                if pps:  # "what can you see on the table?": a placeholder the answer fills
                    return TurnParse(
                        "ident", target=NP(words=[Tok("object", "word", "NOUN")], pps=pps)
                    )
                return TurnParse("other")
            np, ref, _ = _np_or_ref(toks, k)
            return TurnParse("topic", target=np, refers=ref)
        if k < n and toks[k].tag in {"PRED", "VERB"}:
            pps = _trailing_pps(toks, k + 1)
            if pps:
                printed = toks[k].low in {"written", "printed", "shown", "displayed", "said"}
                return TurnParse("ident", target=pps[0][1], asked="text" if printed else None)
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


_VALUE_RE = re.compile(
    r"[$€£]?\d[\d.,:/]*\d?(?:\s?(?:%|km|kilometers|kilometres|miles|mi|m|cm|mm|kg|g|mph|km/h|"
    r"am|pm|a\.m\.|p\.m\.|degrees|°[cf]?|cents|dollars|euros|years|hours|minutes))?(?![\w])",
    re.IGNORECASE,
)


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
    words: list[str] = field(default_factory=list)
    """All lower-cased words of the answer, in order."""
    value: str | None = None
    """The first number-like value with its unit ("220 km", "6:33", "1999"), if any."""


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
    out.words = [t.low for t in toks if t.kind == "word"]
    m = _VALUE_RE.search(text)
    out.value = m.group(0).strip() if m else None
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
    if k < n and toks[k].tag == "PRED":
        # reduced relative clause: "The standard mentioned (on the box) is '802.11n'"
        k2 = k + 1
        while k2 < n and toks[k2].tag == "PREP":
            _, k3 = parse_np(toks, k2 + 1)
            if k3 == k2 + 1:
                break
            k2 = k3
        if k2 < n and toks[k2].tag == "AUX":
            k = k2
    if (
        k < n
        and toks[k].low in {"has", "have", "had"}
        and k + 1 < n
        and toks[k + 1].tag in NOUNISH | {"DET"}
    ):
        obj, _ = parse_np(toks, k + 1)  # possession: "The sash has the letters 'PO'"
        out.obj = clean(obj) if obj is not None else None
    elif k < n and toks[k].tag == "AUX":
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
    obj_is_thing = (
        out.obj is not None
        and is_concrete(out.obj)
        and any(t.kind != "quote" for t in out.obj.words)
    )
    out.introduced = (
        out.obj if obj_is_thing else (out.subject if is_concrete(out.subject) else None)
    )
    return out
