"""Grounding: filling the intent in from the assistant's last answer.

In a conversation the assistant often names the target more precisely than the user did
("What label is visible on the large bottle?" -> "The label on the large bottle reads 'Sky
Cola'."). Before reading a user turn, the tracker looks at the answer that preceded it and
*fills in* what the intent lacks; it never overwrites what the user said:

* a placeholder target ("elements near the bus", "which part ...", "the aircraft's design")
  becomes the noun the answer introduces ("Traffic cones are present near the bus");
* when the user's "what X is on Y?" question introduced the target and the answer names it with
  another noun ("What animal is on the coin?" -> "A beaver is depicted on the coin."), that noun
  becomes the target;
* when the answer repeats the target with extra words, they are added ("figure on the label" +
  "The label features a devil-like figure." -> "devil-like figure on the label");
* a missing ``text`` comes from quoted words in the phrase that matched, or from any quote when
  the target carries text ("label", "sign") or the question asked for a name;
* a missing ``colour`` comes from the answer when the question asked for a colour.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.intent import lexicon as lx
from agent.intent.attributes import split_attributes
from agent.intent.frames import AnswerParse, TurnParse, analyse_answer, analyse_turn
from agent.intent.phrases import NP, is_concrete, lemma, parse_text_np
from agent.intent.tokens import NOUNISH, Tok
from agent.prist import SEG_TOKEN
from agent.types import Act, DialogueTurn, Intent

MAX_PARSE_CHARS = 600
"""Only the first sentences of a very long message are parsed (keeps a turn well under 50 ms)."""

_INTRODUCING_ACTS = frozenset({None, Act.NEW_TARGET, Act.CORRECT})


def ground_from_answer(intent: Intent, dialogue: Sequence[DialogueTurn]) -> tuple[Intent, str]:
    """Fill the intent in from the last assistant answer (module docstring).

    Returns the (possibly) updated intent, without a new history entry, and a note saying
    what changed (``""`` when nothing did).
    """
    if not dialogue or dialogue[-1].role != "assistant" or SEG_TOKEN in dialogue[-1].text:
        return intent, ""
    last_user = next((d for d in reversed(dialogue[:-1]) if d.role == "user"), None)
    q = analyse_turn(last_user.text[:MAX_PARSE_CHARS]) if last_user is not None else None
    introduced_here = last_user is None or last_user.act in _INTRODUCING_ACTS
    a = analyse_answer(dialogue[-1].text[:MAX_PARSE_CHARS])
    asked = q.asked if q else None
    current = parse_text_np(intent.target) if intent.target else None
    attrs = dict(intent.attributes)
    target = intent.target
    notes: list[str] = []
    matched: NP | None = None

    pick: NP | None = None
    why = ""
    if current is None or not is_concrete(current):
        pick = a.introduced or (a.complement if is_concrete(a.complement) else None)
        why = "target from the answer"
    elif introduced_here and _answer_identifies(q, current, a):
        pick = a.introduced
        why = "target named by the answer"
    if pick is not None and is_concrete(pick):
        if not pick.pps and current is not None and current.pps:
            pick = NP(words=pick.words, det=pick.det, pps=list(current.pps))
        split = split_attributes(pick)
        if split.target:
            target, matched = split.target, pick
            introduced_here = True  # the answer itself introduced the target
            for key, value in split.attributes.items():
                attrs.setdefault(key, value)
            notes.append(f"{why}: {split.target!r}")
    elif current is not None and intent.target:
        matched, specified = _specialise(current, a)
        if specified and specified != intent.target:
            target = specified
            notes.append(f"specified by the answer: {specified!r}")

    if (
        q is not None
        and q.target is not None
        and current is not None
        and not (q.target.heads & current.heads)
    ):
        asked = None  # the question asked about something else ("the colour of the casing")
    if "colour" not in attrs and asked == "colour" and a.colours:
        attrs["colour"] = a.colours[0]
        notes.append(f"colour from the answer: {a.colours[0]}")
    for key, words in (("shape", lx.SHAPES), ("material", lx.MATERIALS)):
        found = next((w for w in a.words if w in words), None)
        if key not in attrs and asked == key and found:
            attrs[key] = found
            notes.append(f"{key} from the answer: {found}")
    if "text" not in attrs:
        text = _answer_text(a, matched, target, asked, first_answer=introduced_here)
        if text and (not target or text.lower() not in target.lower()):
            attrs["text"] = text
            notes.append(f"text from the answer: {text!r}")
    if not notes:
        return intent, ""
    return intent.model_copy(update={"target": target, "attributes": attrs}, deep=True), "; ".join(
        notes
    )


def _specialise(current: NP, a: AnswerParse) -> tuple[NP | None, str | None]:
    """Find the answer's phrase for the current target; return it and the specified target.

    The specified target adds the answer's extra modifiers ("devil-like") and takes the
    answer's number for the head ("logos" -> "logo"); None when nothing changes.
    """
    heads = current.heads
    for np in (a.subject, a.obj, a.introduced, a.complement):
        if np is None or not (np.heads & heads):
            continue
        matched = np
        if np is a.subject and a.complement is not None and a.complement.quotes and not np.quotes:
            matched = a.complement  # "The standard mentioned is '802.11n Wi-Fi'"
        have = {w.low for w in current.words}
        numbers = _numbers_after_head(np)
        if numbers and not np.quotes and numbers not in have:
            matched = NP(words=[*np.words, Tok(numbers, "quote", "QUOTE")], det=np.det, pps=np.pps)
        extra = [
            t.text
            for t in np.words[:-1]
            if t.kind == "word"
            and t.tag in NOUNISH
            and t.low not in have
            and t.low not in lx.WEAK_MODIFIERS
            and t.low not in {"and", "or", "&"}
            and t.low not in lx.COLOURS
            and t.low not in lx.SIZES
            and lemma(t.low) not in heads
        ]
        if not (extra and (not current.pps or len(extra) <= 2)):
            extra = []
        words = list(current.words)
        head_tok = _head_token(np)
        own = _head_token(current)
        if head_tok is not None and own is not None and own.low != head_tok.low:
            if lemma(own.low) == lemma(head_tok.low):  # "logos" -> the answer's one "logo"
                words[words.index(own)] = head_tok
        if not extra and words == current.words:
            return matched, None
        return matched, " ".join([*extra, NP(words=words, pps=current.pps).render()])
    return None, None


def _head_token(np: NP) -> Tok | None:
    for t in reversed(np.words):
        if t.kind == "word" and t.tag not in {"NUM", "PUNCT"}:
            return t
    return None


def _numbers_after_head(np: NP) -> str:
    """Numbers right after the head noun: "route number 20" -> "20" (they read as its text)."""
    tail: list[str] = []
    for t in reversed(np.words):
        if t.tag != "NUM":
            break
        tail.append(t.text)
    return " ".join(reversed(tail)) if tail and len(tail) < len(np.words) else ""


def _answer_identifies(q: TurnParse | None, current: NP, a: AnswerParse) -> bool:
    """Whether the answer names what a "what X is on Y?" question asked for, with another noun.

    True when that question introduced the current target, and the answer's noun is concrete,
    is not a bare quote, shares no head with the target and is not the place the question named.
    """
    if q is None or q.frame not in {"ident", "exists"} or q.target is None:
        return False
    if not (q.target.heads & current.heads):
        return False
    pick = a.introduced
    if pick is None or not is_concrete(pick) or pick.heads & current.heads:
        return False
    if all(t.kind == "quote" for t in pick.words):
        return False  # a quoted name is the target's text, not another thing
    anchors: set[str] = set()
    for _, sub in current.pps:
        anchors |= sub.heads
    return not (pick.heads & anchors)


def _answer_text(
    a: AnswerParse, matched: NP | None, target: str | None, asked: str | None, *, first_answer: bool
) -> str | None:
    """Pick the target's text: a quote in the matched phrase, any quote in the answer to the
    question that introduced a text-carrying target, or a name asked for by "what brand"."""
    if matched is not None and matched.quotes:
        return matched.quotes[0]
    if not a.quotes:
        if asked != "text":
            return None
        tgt = parse_text_np(target) if target else None
        if tgt is not None and tgt.head in lx.INFO_NOUNS and a.value:
            return a.value  # "What distance is shown?" -> "220 km"
        return _capitalised_run(a)
    tgt = parse_text_np(target) if target else None
    if asked == "text" or (first_answer and tgt is not None and tgt.head in lx.TEXT_NOUNS):
        return a.quotes[0]
    return None


def _capitalised_run(a: AnswerParse) -> str | None:
    """Find a capitalised name in the answer ("The phone brand is Sony") for "what brand" questions."""
    for np in (a.complement, a.obj, a.subject, *a.mentions):
        if np is None or np.start == 0:
            continue
        run = [
            t.text for t in np.words if t.kind == "word" and t.text[:1].isupper() and t.low != "i"
        ]
        if run:
            return " ".join(run)
    return None
