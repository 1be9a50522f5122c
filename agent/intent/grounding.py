"""Grounding: filling the intent in from the assistant's last answer.

In a conversation the assistant often names the target more precisely than the user did
("What label is visible on the large bottle?" -> "The label on the large bottle reads 'Sky
Cola'."). Before reading a user turn the tracker reads the answer before it (with the same
parser) and *fills in* what the intent lacks; it never overwrites what the user said:

* a placeholder target ("elements near the bus", "what structures") becomes the thing the
  answer introduces ("Traffic cones are present near the bus");
* when the user's "what X is on Y?" question introduced the target and the answer names it with
  another noun ("What animal is on the coin?" -> "A beaver is depicted on the coin."), that
  noun becomes the target;
* when the answer repeats the target with extra words ("figure on the label" + "The label
  features a devil-like figure"), they are added;
* a missing ``text`` comes from quoted words in the matching phrase, or from any quote when the
  target carries text or the question asked for a name; a missing ``colour`` (shape, material)
  from the answer when the question asked for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent import nlp
from agent.intent import vocab as vb
from agent.intent.parsing import parse, phrases_of
from agent.intent.phrase import Phrase, unwrap
from agent.intent.reading import Reading, read
from agent.intent.splitting import EXAMPLE_PREPOSITIONS, prep_tokens
from agent.intent.words import lemma, lower, number_value, render
from agent.prist import SEG_TOKEN
from agent.types import Act, DialogueTurn, Intent

_INTRODUCING_ACTS = frozenset({None, Act.NEW_TARGET, Act.CORRECT})
_VALUE_RE = re.compile(
    r"[$€£]?\d[\d.,:/]*\d?(?:\s?(?:%|km|kilometers|kilometres|miles|mi|m|cm|mm|kg|g|mph|km/h|am|pm|"
    r"degrees|°[cf]?|cents|dollars|euros|years|hours|minutes))?(?![\w])",
    re.IGNORECASE,
)
_DISPLAY_LEMMAS = frozenset(
    "show display feature have include contain bear read say mention depict list wear hold carry "
    "sport present".split()
)


@dataclass
class Answer:
    """What an assistant answer introduces."""

    subject: Phrase | None = None
    obj: Phrase | None = None
    complement: Phrase | None = None
    introduced: Phrase | None = None
    phrases: list[Phrase] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    value: str | None = None
    verb: str = ""
    """Lemma of the sentence's main verb ("read" in "The label reads 'Sky Cola'")."""
    predicate: str | None = None
    """An adjective said of the subject ("square" in "The clock is square in shape")."""


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z'\"‘“])")


def first_sentence(text: str) -> str:
    """Return the answer's first sentence: the one grounding reads (the rest is not parsed)."""
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def read_answer(cache: nlp.ParseCache, text: str) -> Answer:
    """Read an answer's first sentence: its subject, the object of "shows/has", "there is X"."""
    from agent.intent.reading import prepared

    cleaned, _, _ = prepared(cache, first_sentence(text))
    out = Answer()
    if not cleaned:
        return out
    doc = parse(cache, cleaned)
    sent = next(iter(doc.sents), doc[:])
    out.phrases = [p for p in phrases_of(doc) if p.head.sent.start == sent.start]
    out.quotes = [t.text[1:-1].strip() for t in sent if len(t.text) > 2 and t.text[0] in "'\"‘“"]
    out.words = [lower(t) for t in sent if t.is_alpha]
    m = _VALUE_RE.search(sent.text)
    out.value = m.group(0).strip() if m else None
    root = sent.root
    out.verb = lemma(root)
    if any(c.dep_ == "neg" for c in root.children) or any(lower(c) == "no" and c.dep_ == "det" for c in sent):
        return out  # "I don't see a cat", "I can't find the seat", "there is no dog": nothing is there
    acomp = next((c for c in root.children if c.dep_ == "acomp" and c.pos_ == "ADJ"), None)
    out.predicate = lower(acomp) if acomp is not None else None

    def phrase_of(tok: object) -> Phrase | None:
        return next((p for p in out.phrases if p.head.i == getattr(tok, "i", -1)), None)

    if any(c.dep_ == "expl" for c in root.children):  # "There are tents visible in the background"
        out.introduced = phrase_of(next((c for c in root.children if c.dep_ in {"attr", "nsubj", "dobj"} and c.dep_ != "expl" and c.pos_ != "PRON"), None))
        return out
    subj = next((c for c in root.children if c.dep_ in {"nsubj", "nsubjpass"}), None)
    if subj is not None and lower(subj) in {"i", "we", "you"}:
        out.introduced = phrase_of(next((c for c in root.children if c.dep_ == "dobj"), None))
        return out
    out.subject = phrase_of(subj)
    verb = root
    xcomp_attr = next((a for c in root.children if c.dep_ == "xcomp" for a in c.children if a.dep_ == "attr"), None)
    if lemma(root) in _DISPLAY_LEMMAS or root.pos_ == "VERB":
        out.obj = phrase_of(next((c for c in verb.children if c.dep_ == "dobj"), None))
    out.complement = phrase_of(next((c for c in root.children if c.dep_ in {"attr", "acomp"}), None)) or phrase_of(xcomp_attr)
    if out.subject is not None and out.subject.pronoun and out.complement is not None and out.complement.concrete:
        out.introduced = out.complement  # "It appears to be a vintage radio."
        return out
    thing = out.obj is not None and out.obj.concrete and not all(t.text[:1] in "'\"‘“" for t in out.obj.words)
    if thing and lemma(root) in _DISPLAY_LEMMAS:
        out.introduced = out.obj
    elif out.subject is not None and out.subject.concrete:
        out.introduced = out.subject
    return out


def ground_from_answer(
    cache: nlp.ParseCache, intent: Intent, dialogue: Sequence[DialogueTurn]
) -> tuple[Intent, str, list[tuple[str, str]]]:
    """Fill the intent in from the last assistant answer (module docstring).

    Returns the (possibly) updated intent without a new history entry, a note saying what
    changed (``""`` when nothing did) and (role, words) evidence from the answer.
    """
    if not answer_needed(cache, intent, dialogue):
        return intent, "", []
    last_user = next((d for d in reversed(dialogue[:-1]) if d.role == "user"), None)
    q = read(cache, last_user.text) if last_user is not None else None
    introduced_here = last_user is None or last_user.act in _INTRODUCING_ACTS or not intent.target
    a = read_answer(cache, dialogue[-1].text)
    current = _target_phrase(cache, intent.target)
    asked = q.asked if q is not None else None
    attrs = dict(intent.attributes)
    target = intent.target
    notes: list[str] = []
    evidence: list[tuple[str, str]] = []
    matched: Phrase | None = None

    pick, why = None, ""
    carry = True
    if introduced_here and (current is None or not current.concrete):
        pick = a.introduced or (a.complement if a.complement is not None and a.complement.concrete else None)
        why = "target from the answer"
        if pick is not None and current is not None and any(pick.lemmas & sub.lemmas for _, sub in current.preps):
            pick = None  # the answer's subject is the place the question named ("text on the t-shirt")
    elif introduced_here and q is not None and q.frame == "object" and current is not None:
        pick, why, carry = (a.obj if a.obj is not None and a.obj.concrete else None), "target named by the answer", False
        if pick is not None:
            attrs = {}  # the question's attributes described the one holding it
    elif introduced_here and current is not None and _answer_identifies(q, current, a):
        pick, why = a.introduced, "target named by the answer"
        if pick is not None and pick.lemmas & current.lemmas and a.complement is not None:
            pick = a.complement  # "The large building is a cathedral."
    if pick is not None:
        pick, _ = unwrap(pick)
    if pick is not None and pick.concrete:
        split = pick.split(plural_count=False, clauses=False)
        if split.target:
            new_target = split.target
            if carry and not pick.preps and current is not None and current.preps:
                new_target = f"{new_target} {_preps_text(current)}"
            target, matched = new_target, pick
            introduced_here = True
            for key, value in split.attributes.items():
                attrs.setdefault(key, value)
            notes.append(f"{why}: {new_target!r}")
            evidence.append(("target", pick.text()))
    elif current is not None and intent.target and introduced_here and (q is None or q.question):
        # only an answer to a question names the target better: after a request ("find the
        # bag" -> "Here is the brown leather bag") the user's own words say what they want
        matched, specified = _specialise(current, a, intent.target)
        if specified and specified != intent.target:
            target = specified
            notes.append(f"specified by the answer: {specified!r}")
            evidence.append(("target", matched.text() if matched else specified))

    if q is not None and q.main is not None and current is not None and not (q.main.lemmas & current.lemmas):
        asked = None  # the question asked about something else
    colours = [w for w in a.words if w in vb.COLOURS]
    if "colour" not in attrs and asked == "colour" and colours:
        attrs["colour"] = colours[0]
        notes.append(f"colour from the answer: {colours[0]}")
        evidence.append(("colour", colours[0]))
    if matched is not None and introduced_here:
        count = matched.split().attributes.get("count")
        if count and count != "all" and "count" not in attrs:
            attrs["count"] = count
            notes.append(f"count from the answer: {count}")
            evidence.append(("count", count))
        numbers = _numbers_after_head(matched)
        if numbers and "text" not in attrs and (not target or numbers not in target):
            attrs["text"] = numbers
            notes.append(f"text from the answer: {numbers!r}")
            evidence.append(("text", numbers))
    for key in ("shape", "material"):
        if key not in attrs and asked == key and a.predicate and a.predicate not in vb.WEAK_ADJECTIVES:
            attrs[key] = a.predicate
            notes.append(f"{key} from the answer: {a.predicate}")
            evidence.append((key, a.predicate))
    if "text" not in attrs:
        text = _answer_text(a, matched, target, asked, cache, first_answer=introduced_here)
        if text and (not target or text.lower() not in target.lower()):
            attrs["text"] = text
            notes.append(f"text from the answer: {text!r}")
            evidence.append(("text", text))
    if not notes:
        return intent, "", []
    grounded = intent.model_copy(update={"target": target, "attributes": attrs}, deep=True)
    return grounded, "; ".join(notes), evidence


def answer_needed(cache: nlp.ParseCache, intent: Intent, dialogue: Sequence[DialogueTurn]) -> bool:
    """Whether the answer before this turn can fill anything in (else it is not even parsed).

    An answer is read after the turn that introduced the target (or while nothing is tracked),
    and after another turn only when that question asked for a property the intent lacks.
    """
    if not dialogue or dialogue[-1].role != "assistant" or SEG_TOKEN in dialogue[-1].text:
        return False
    last_user = next((d for d in reversed(dialogue[:-1]) if d.role == "user"), None)
    if last_user is None or last_user.act in _INTRODUCING_ACTS or not intent.target:
        return True
    asked = read(cache, last_user.text).asked
    return asked in {"colour", "shape", "material", "text"} and asked not in intent.attributes


def _target_phrase(cache: nlp.ParseCache, target: str | None) -> Phrase | None:
    from agent.intent.history import target_phrase_of

    return target_phrase_of(cache, target)


def _preps_text(phrase: Phrase) -> str:
    """Return the attached phrases of a target, as written ("on the label"), clauses left out."""
    rest = [t for name, sub in phrase.preps if name not in EXAMPLE_PREPOSITIONS for t in [*prep_tokens(sub), *sub.tokens()]]
    return render(sorted({t.i: t for t in rest}.values(), key=lambda t: t.i))


def _numbers_after_head(phrase: Phrase) -> str:
    """Numbers right after the head noun: "route number 20" -> "20" (they read as its text)."""
    after = [t for t in phrase.words if t.i > phrase.head.i and number_value(t) is not None]
    return render(after)


def _answer_identifies(q: Reading | None, current: Phrase, a: Answer) -> bool:
    """Whether the answer names what a "what X is on Y?" question asked for, with another noun."""
    if q is None or q.main is None or not (q.frame in {"which", "exists"} or q.asked == "type"):
        return False
    if not (q.main.lemmas & current.lemmas):
        return False
    pick = a.introduced
    if pick is not None and pick.lemmas & current.lemmas and a.complement is not None and a.complement.concrete:
        pick = a.complement  # "X is a Y": Y names X
    if pick is a.subject and a.obj is not None and a.obj.lemmas & current.lemmas:
        return False  # "The character is giving a thumbs-up gesture": the object is the gesture asked for
    if pick is None or not pick.concrete or pick.lemmas & current.lemmas:
        return False
    if all(t.text[:1] in "'\"‘“" for t in pick.words):
        return False
    anchors: set[str] = set()
    for _, sub in current.preps:
        anchors |= sub.lemmas
    return not (pick.lemmas & anchors)


_NOT_SPECIFIC = frozenset({"such", "own", "same", "other", "various", "many", "few", "several", "similar", "certain"})


def _specialise(current: Phrase, a: Answer, target: str) -> tuple[Phrase | None, str | None]:
    """Find the answer's phrase for the current target; return it and the more specific target.

    The answer's extra noun and adjective modifiers are added ("figure" -> "devil-like figure",
    "logo" -> "Chase Bank logo"); a phrase whose own modifiers differ from the target's ("area
    name" for "city name") is another thing and changes nothing.
    """
    have = {lower(t) for t in current.tokens()}
    own_mods = {lower(t) for t in current.words if t.dep_ in {"compound", "amod"}}
    for phrase in (a.subject, a.obj, a.introduced, a.complement):
        if phrase is None or not (phrase.lemmas & current.lemmas):
            continue
        mods = {lower(t) for t in phrase.words if t.dep_ in {"compound", "amod"}}
        if own_mods and mods and not (own_mods & mods):
            return None, None  # another thing with the same head noun
        matched = phrase
        if phrase is a.subject and a.complement is not None and a.complement.quotes and not phrase.quotes:
            matched = a.complement  # "The standard mentioned is '802.11n Wi-Fi'"
        extra: list = []
        for t in phrase.words:
            if t.i == phrase.head.i or t.dep_ not in {"compound", "amod"} or t.pos_ not in {"NOUN", "PROPN", "ADJ"}:
                continue
            words = [w for w in t.subtree if w.i < phrase.head.i]
            low = {lower(w) for w in words if w.is_alpha}
            if not low or low <= have or low & (vb.COLOURS | vb.WEAK_ADJECTIVES | set(vb.SIZES) | _NOT_SPECIFIC):
                continue
            if lemma(t) in current.lemmas or t.text[:1] in "'\"‘“":
                continue
            extra.extend(w for w in words if w not in extra)
        if not extra or (current.preps and len(extra) > 3):
            return matched, None
        return matched, f"{render(sorted(extra, key=lambda w: w.i))} {target}"
    return None, None


def _answer_text(
    a: Answer, matched: Phrase | None, target: str | None, asked: str | None,
    cache: nlp.ParseCache, *, first_answer: bool,
) -> str | None:
    """Return the target's text: a quote in the matched phrase, any quote in the answer to the question
    that introduced a text-carrying target, or a value/name asked for by "what brand/distance"."""
    if matched is not None and matched.quotes:
        return matched.quotes[0]
    tgt = _target_phrase(cache, target)
    if tgt is not None and tgt.plural and len(a.quotes) > 1:
        return None  # several values for several things: no one text
    if matched is not None and matched is a.subject and a.quotes and a.verb in {"read", "say", "state", "show", "display", "spell"}:
        return a.quotes[0]  # "The Spanish description reads 'BEBIDA DE CAFE CON LECHE'"
    if not a.quotes:
        if asked != "text":
            return None
        if a.value and tgt is not None and tgt.lemma in vb.PROPERTY_NOUNS:
            return a.value
        return _capitalised_run(a)
    if asked == "text" or (first_answer and tgt is not None and tgt.lemma in vb.TEXT_NOUNS):
        return a.quotes[0]
    return None


def _capitalised_run(a: Answer) -> str | None:
    """Return a capitalised name in the answer ("The phone brand is Sony") for "what brand" questions."""
    for phrase in (a.complement, a.obj, a.subject, *a.phrases):
        if phrase is None or phrase.start == 0:
            continue
        run = [t for t in phrase.words if t.text[:1].isupper() and lower(t) != "i" and t.is_alpha]
        if run:
            return render(run)
    return None


__all__ = ["Answer", "answer_needed", "first_sentence", "ground_from_answer", "read_answer"]
