"""The deterministic, offline intent tracker.

Each user turn goes through two steps.

1. **Grounding** (:func:`agent.intent.grounding.ground_from_answer`). When the dialogue ends
   with an assistant answer, that answer may name the target more precisely than the user did
   ("What label is visible on the large bottle?" -> "The label on the large bottle reads 'Sky
   Cola'."). The tracker only *fills in* what the intent lacks (a placeholder target, extra
   modifiers, a missing text value or colour); nothing the user said is overwritten. A turn
   whose act keeps the intent but whose grounding changed it is recorded with op ``REFINE``.

2. **The act** of the user's own words, checked in this order (first match wins):

   * ``SEGMENT_REQUEST`` -- "segment/divide/structure/outline ... the conversation above" (all
     11 PRIST templates) or a bare "segment it"; the intent is kept.
   * ``RESET`` -- "start over", "forget that", "reset", "never mind", "clear it"; the intent is
     cleared (target, attributes, relations, exclusions, mask), the history is kept.
   * ``CORRECT`` -- the turn opens with "no"/"wrong"/"not"/"that's not it"/"I meant", or asks
     for "the other one". Clauses are read one by one: "not X" adds X to the exclusions,
     "I meant X" or a new noun sets the target, "the other one" sets ``other=yes`` and "the one
     on the right" sets ``position=right`` (and ``other=yes``) on the kept target.
   * ``CHITCHAT`` -- a short turn made only of greeting/thanks/acknowledgement words ("hi",
     "thanks", "ok cool"), or small talk ("who are you").
   * ``REFINE`` -- "only/just ..." or a phrase whose head is a placeholder ("the bigger one", "the
     red part", "the left half"), or the current target's noun with new attributes: the target is
     kept, attributes change ("just the text" -> ``part=text``).
   * ``NEW_TARGET`` -- a command that names a thing ("find/segment/show me X"), a bare noun
     phrase ("now the port next to it"), or a question that names a thing when nothing is
     tracked yet (the first question names the target) or that asks which/where a *different*
     thing is ("where is the TISSOT logo?").
   * ``EXPLAIN`` -- any other question or "describe/explain ...", in particular questions that
     point back with a pronoun ("what does it say?", "why is it important?") or that mention
     the current target; the intent is kept (op ``KEEP``).

Target phrases (decision, details in :mod:`agent.intent.attributes`): colour, size, position
and ordinal words are moved out of the phrase into attributes ("red car" -> target "car",
``colour=red``) so that a later "the blue one" can replace them; words printed on the thing
stay in the phrase and are also stored (``"HDMI label"``, ``text=HDMI``). Prepositional phrases
stay in the target ("label on the large bottle") unless they are relations: directional ones
("next to", "left of", "above", "under") always are, ``on``/``in``/``inside`` only when their
anchor is a pronoun or the current target ("the cap on it"). A pronoun anchor resolves to the
thing last named in the same turn ("not the logo, the text under it" -> below "logo"), else to
the current target phrase. :func:`agent.intent.target_phrase` puts it back together.
"""

from __future__ import annotations

import re
from typing import Any

from agent.intent import lexicon as lx
from agent.intent.attributes import split_attributes
from agent.intent.frames import TurnParse, analyse_turn, strip_openers
from agent.intent.grounding import MAX_PARSE_CHARS, ground_from_answer
from agent.intent.phrases import (
    NP,
    clean,
    is_concrete,
    noun_phrases,
    parse_np,
    parse_text_np,
    render_words,
    unwrap,
)
from agent.intent.protocol import TrackResult, target_phrase
from agent.intent.tokens import Tok, TokenCache, analyse_tokens, reading_with
from agent.types import Act, DialogueTurn, Intent, IntentOp

_OP_FOR_ACT = {
    Act.NEW_TARGET: IntentOp.NEW,
    Act.REFINE: IntentOp.REFINE,
    Act.CORRECT: IntentOp.CORRECT,
    Act.RESET: IntentOp.RESET,
}

Decision = tuple[Act, dict, str]
"""An act, the intent fields it changes, and the reason."""


class RuleIntentTracker:
    """Deterministic tracker built from the lexicons in :mod:`agent.intent.lexicon`.

    See the module docstring for the act rules. It never raises on odd text (HTML, SQL, emoji,
    4000 characters): such text is read as words like any other; only the first
    :data:`~agent.intent.grounding.MAX_PARSE_CHARS` characters are parsed.
    """

    def __init__(self, *, cache_entries: int = 512) -> None:
        self.tokens = TokenCache(cache_entries)
        """Tagged tokens of the texts this tracker read (bounded, content-keyed)."""

    def track(
        self,
        *,
        intent: Intent,
        dialogue: list[DialogueTurn],
        user_text: str,
        turn: int,
        has_image: bool = True,
        has_mask: bool = False,
    ) -> TrackResult:
        """Classify ``user_text`` and return the updated intent (one history entry added)."""
        text = " ".join((user_text or "").split())[:MAX_PARSE_CHARS]
        with reading_with(self.tokens):
            grounded, note = ground_from_answer(intent, dialogue)
            act, changes, reason = classify(grounded, text)
        op = _OP_FOR_ACT.get(act, IntentOp.KEEP)
        if op is IntentOp.KEEP and note:
            op = IntentOp.REFINE
        if note:
            reason = f"{reason}; {note}"
        if not has_image and act.segments:
            reason += " (no image yet)"
        return TrackResult(
            act=act, intent=grounded.revised(turn=turn, op=op, **changes), reason=reason
        )


# --------------------------------------------------------------------------- helpers

_PUNCT_RE = re.compile(r"[^\w' ]+")
_OPENER_WORDS = frozenset(
    "no nope nah wrong incorrect not quite really that's that it's it is this actually oops "
    "sorry i meant mean wanted said".split()
)
_MEANT = frozenset({"meant", "mean", "wanted", "said"})
_OTHER = frozenset({"other", "another", "different"})
_CLAUSE_BREAKS = frozenset({",", ";", ".", "!", "?", "-", "—", "–"})


def _norm(text: str) -> str:
    return " ".join(_PUNCT_RE.sub(" ", text.lower().replace("’", "'")).split())


def _quote(text: str, limit: int = 60) -> str:
    return f"'{text}'" if len(text) <= limit else f"'{text[: limit - 1]}…'"


def _current_heads(intent: Intent) -> set[str]:
    np = parse_text_np(intent.target) if intent.target else None
    return np.heads if np is not None else set()


def _anchor(intent: Intent) -> str | None:
    return target_phrase(intent, relations=False) or None


def _first_np(toks: list[Tok]) -> NP | None:
    found = noun_phrases(toks)
    return found[0] if found else None


# --------------------------------------------------------------------------- acts


def classify(intent: Intent, text: str) -> Decision:
    """Decide the act of ``text`` given the (grounded) ``intent`` (module docstring order)."""
    if not text:
        return Act.CHITCHAT, {}, "empty message"
    low = _norm(text)
    if any(p.search(low) for p in lx.SEGMENT_REQUEST_PATTERNS):
        return Act.SEGMENT_REQUEST, {}, f"segmentation request: {_quote(text)}"
    toks = analyse_tokens(text)
    stripped = strip_openers(toks)
    body = _norm(render_words(stripped)) if stripped else ""
    if any(p.search(body) or p.search(low) for p in lx.RESET_PATTERNS):
        cleared: dict[str, Any] = {
            "target": None,
            "attributes": {},
            "relations": [],
            "exclusions": [],
            "mask_id": None,
        }
        return Act.RESET, cleared, f"reset: {_quote(text)}"
    if _is_correction(low, body) and (
        intent.target or any(is_concrete(np) for np in noun_phrases(stripped))
    ):
        return _correct(intent, toks, text)
    words = [t.low for t in toks if t.kind == "word"]
    if not words or (len(words) <= 10 and all(w in lx.CHITCHAT_WORDS for w in words)):
        return Act.CHITCHAT, {}, f"chit-chat: {_quote(text)}"
    if any(p.search(body) for p in lx.CHITCHAT_PATTERNS):
        return Act.CHITCHAT, {}, f"small talk: {_quote(text)}"
    parse = analyse_turn(text)
    return _refine(intent, parse, stripped) or _new_or_explain(intent, parse, text)


def _is_correction(low: str, body: str) -> bool:
    if any(p.match(low) for p in lx.CORRECTION_OPENERS):
        return True
    return bool(
        re.search(
            r"^(the|that) (other|different)\b|\b(the )?(other|another|different) one\b|\bi meant\b"
            r"|\bwrong (one|object|thing|part)\b",
            body,
        )
    )


def _clauses(toks: list[Tok]) -> list[list[Tok]]:
    out: list[list[Tok]] = [[]]
    for t in toks:
        if (t.kind == "punct" and t.text in _CLAUSE_BREAKS) or t.low == "but":
            out.append([])
        else:
            out[-1].append(t)
    return [c for c in out if c]


def _correct(intent: Intent, toks: list[Tok], text: str) -> Decision:
    """Read a correction clause by clause: "not X", "I meant X", "the other one", a new noun."""
    exclusions = list(intent.exclusions)
    attrs = dict(intent.attributes)
    relations = list(intent.relations)
    heads = _current_heads(intent)
    target: str | None = None
    last_named: str | None = None
    why: list[str] = []
    for clause in _clauses(toks):
        i, negated, meant = 0, False, False
        while i < len(clause) and (clause[i].low in _OPENER_WORDS or clause[i].low in lx.FILLERS):
            negated = negated or clause[i].low == "not"
            meant = meant or clause[i].low in _MEANT
            i += 1
        rest = analyse_tokens(render_words(clause[i:])) if clause[i:] else []
        np = _first_np(rest)
        if np is None:
            if negated or any(t.low in {"no", "nope", "wrong", "incorrect"} for t in clause):
                attrs["other"] = "yes"
            continue
        np = clean(unwrap(np)[0])
        other = np.det == "another" or any(t.low in _OTHER for t in np.words)
        np = NP(
            words=[t for t in np.words if t.low not in _OTHER] or np.words, det=np.det, pps=np.pps
        )
        split = split_attributes(
            np, anchor_for_pronoun=last_named or _anchor(intent), current_heads=heads
        )
        if negated and not meant:
            if split.target and np.head not in lx.PRONOUNS:
                phrase = np.render()
                if phrase not in exclusions:
                    exclusions.append(phrase)
                last_named = phrase
                why.append(f"exclude {phrase!r}")
            else:
                attrs["other"] = "yes"
            continue
        if split.placeholder or not split.target or (other and np.heads & heads):
            attrs.update(split.attributes)
            attrs["other"] = "yes"
            relations += [r for r in split.relations if r not in relations]
            why.append("another instance")
            continue
        target, last_named = split.target, split.target
        attrs, relations = dict(split.attributes), list(split.relations)
        why.append(f"target {split.target!r}")
    if not why:
        attrs["other"] = "yes"  # a bare "no" / "wrong": another instance of the same thing
    changes: dict = {"attributes": attrs, "exclusions": exclusions, "relations": relations}
    if target is not None:
        changes["target"] = target
        if not intent.target:
            return Act.NEW_TARGET, changes, f"new target (nothing to correct yet): {_quote(text)}"
    detail = f" ({', '.join(why)})" if why else ""
    return Act.CORRECT, changes, f"correction: {_quote(text)}{detail}"


def _refine(intent: Intent, parse: TurnParse, stripped: list[Tok]) -> Decision | None:
    """REFINE when the turn narrows the current target: "only ...", "the bigger one", ..."""
    if not intent.target or (parse.question and parse.frame not in {"np", "other", "command"}):
        return None
    only = bool(stripped) and stripped[0].low in {"only", "just", "merely"}
    rest = stripped[1:] if only else stripped
    np = (
        parse.target
        if parse.frame == "command"
        else (parse_np(rest, 0)[0] if rest else None) or parse.target
    )
    if np is None:
        return None
    np = clean(unwrap(np)[0])
    heads = _current_heads(intent)
    split = split_attributes(np, anchor_for_pronoun=_anchor(intent), current_heads=heads)
    same = (
        bool(split.target) and bool(np.heads & heads) and bool(split.attributes or split.relations)
    )
    if only and split.target and not split.placeholder and not same:
        attrs = {**intent.attributes, **split.attributes, "part": split.target}
        return Act.REFINE, {"attributes": attrs}, f"refinement to a part: {split.target!r}"
    if not (split.placeholder or same):
        return None
    attrs = {**intent.attributes, **split.attributes}
    attrs.pop("other", None)
    relations = list(intent.relations) + [r for r in split.relations if r not in intent.relations]
    detail = ", ".join(f"{k}={v}" for k, v in split.attributes.items()) or "same target"
    return Act.REFINE, {"attributes": attrs, "relations": relations}, f"refinement: {detail}"


def _mentions_current(parse: TurnParse, intent: Intent) -> bool:
    """Whether the turn names the current target other than as a spatial anchor."""
    heads = _current_heads(intent)
    text = intent.attributes.get("text", "").lower()

    def walk(np: NP) -> bool:
        if np.heads & heads or (text and any(q.lower() == text for q in np.quotes)):
            return True
        return any(
            walk(sub)
            for prep, sub in np.pps
            if lx.RELATION_PREPOSITIONS.get(prep.replace("_", " ")) not in lx.DIRECTIONAL_KINDS
        )

    return any(walk(m) for m in parse.mentions)


def _new_or_explain(intent: Intent, parse: TurnParse, text: str) -> Decision:
    np = parse.target
    if np is not None and (parse.refers or np.head in lx.PRONOUNS):
        np = None  # the turn points back ("this label"): nothing new is named
    if np is not None and parse.frame in {"command", "np"}:
        return _new_target(intent, np, text, "new target", question=False)
    if not intent.target:
        if np is not None:
            why = "the question names the target" if parse.question else "new target"
            return _new_target(intent, np, text, why, question=parse.question)
        return Act.EXPLAIN, {}, f"question without a target: {_quote(text)}"
    if (
        np is not None
        and parse.frame in {"ident", "where", "exists"}
        and not (np.heads & _current_heads(intent))
    ):
        if parse.generic or not _mentions_current(parse, intent):
            return _new_target(intent, np, text, "asks for another thing", question=True)
    return Act.EXPLAIN, {}, f"about the current target: {_quote(text)}"


def _new_target(intent: Intent, np: NP, text: str, why: str, *, question: bool) -> Decision:
    split = split_attributes(
        np,
        anchor_for_pronoun=_anchor(intent),
        current_heads=_current_heads(intent),
        placeholders=not question,
    )
    if split.placeholder and not split.target:
        attrs = {**intent.attributes, **split.attributes}
        relations = list(intent.relations) + [
            r for r in split.relations if r not in intent.relations
        ]
        detail = ", ".join(f"{k}={v}" for k, v in split.attributes.items()) or "same target"
        return Act.REFINE, {"attributes": attrs, "relations": relations}, f"refinement: {detail}"
    changes = {
        "target": split.target,
        "attributes": split.attributes,
        "relations": split.relations,
        "exclusions": [],
    }
    return Act.NEW_TARGET, changes, f"{why}: {split.target!r} from {_quote(text)}"
