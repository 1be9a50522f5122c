"""The offline intent tracker: rules over spaCy's parse of each turn.

Each user turn goes through three steps.

1. **Grounding** (:func:`agent.intent.grounding.ground_from_answer`): the assistant's last answer
   may name the target better than the user did; the tracker only *fills in* what the intent
   lacks. A turn that keeps the intent but whose grounding changed it is recorded as ``REFINE``.
2. **Reading** (:func:`agent.intent.reading.read`): is the turn English at all, its sentence
   frame (command, question, bare noun phrase), the phrase it is about, negation, "only/just".
   A turn the parser cannot read (another language, another script) keeps the intent and the
   reason says so.
3. **The act** (first match wins):

   * ``SEGMENT_REQUEST`` -- PRIST's "segment the conversation above", "segment it", "mask them
     both", "the same thing (in this one)";
   * ``RESET`` -- "start over", "forget that", "never mind";
   * ``CHITCHAT`` -- greetings, thanks (also borrowed: "merci !"), acknowledgements, remarks
     ("interesting", "nice one!", "you're really good at this"), small talk, an empty turn;
   * ``CORRECT`` -- "no", "wrong", "not X, Y", "I meant X", "I asked for X", "try again", "you
     picked the wrong one", "that's a man" (what the mask shows, not the target), "it's not X,
     it's Y": negated phrases become exclusions, a new noun the target, "the other one"/"the one
     on the right" another instance (``other=yes``) of the kept target ("the other one" drops the
     position that located the current one); "the one in the black jacket" is that kind of thing
     so described ("man in the black jacket"), never the jacket;
   * going back -- "go back to the logo", "the cup again", "the previous one": the earlier
     target is restored from the history with its attributes and relations (``NEW_TARGET``),
     then the rest of the turn applies ("back to the motorcycle, only the right half of it");
   * ``REFINE`` -- something left out ("leave out the child", "without the candles", "all
     except the white one", "and the bruised one" right after a leave-out), or where the target
     is ("it's on the shelf");
   * ``NEW_TARGET`` -- the current noun with a new count ("both men" after "the taller man"): a
     fresh selection, nothing that picked one instance carried over; the current target named
     again with no mask of it on the current image (a new image): found afresh;
   * ``REFINE`` -- the turn narrows the current target (:mod:`agent.intent.refining`): a
     placeholder ("the left one", "the bigger one", "which one is the tallest?"), the current
     noun with new attributes (a new position or ordinal replaces the old ones), a part ("the
     handle of it", "only the top half of it", "just his tie", "and its rim?"), one member of a
     set ("just the man in the beige coat" after "all the people", "only the cat" after "the dog
     and the cat"), something left out ("but not the red ones"); an attribute whose noun is left
     out ("the biggest", a bare "left") is read as "the biggest one" first
     (:mod:`agent.intent.reading`);
   * ``NEW_TARGET`` -- a command or a bare phrase that names another thing (a part of another
     named thing targets that thing: "just the handle of the cup" while the saucer is tracked), a
     question that names a thing when nothing is tracked yet, asks where/whether there is a
     different thing, picks one of a set ("which of the two men is bigger?"), or names a thing
     more specific than the current one (:mod:`agent.intent.focus`: "what does the label on
     the bottle say?");
   * ``EXPLAIN`` -- any other question or "describe/explain ..." (the intent is kept).

Target phrases: colour, size, position, ordinal and count words move out into attributes
(:meth:`agent.intent.phrase.Phrase.split`); printed words and compounds stay; prepositional
phrases stay unless they are relations ("next to", "left of", "above"; "on"/"in" only when the
anchor is the current target or a pronoun). A pronoun anchor is the thing last named in the same
turn, else the current target. Every revision records which words of which turn caused it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from agent import nlp
from agent.intent import spelling
from agent.intent import vocab as vb
from agent.intent.confirming import again_alone, confirms, pointing_request
from agent.intent.decision import (
    Decision,
    anchor_text,
    exclusion_text,
    quote,
    relations_of,
    with_relations,
)
from agent.intent.focus import FocusOptions, moved_focus
from agent.intent.grounding import answer_needed, first_sentence, ground_from_answer
from agent.intent.history import find_earlier, head_lemmas, target_phrase_of
from agent.intent.phrase import Phrase, Split
from agent.intent.protocol import TrackResult
from agent.intent.reading import REQUEST_VERBS, Reading, ReadingCache, prepared, read
from agent.intent.refining import (
    LOCATORS,
    described,
    part_words,
    predicate_attributes,
    refine,
    singular,
)
from agent.intent.words import lemma, lower, size_value
from agent.types import Act, DialogueTurn, Evidence, Intent, IntentOp, Relation

if TYPE_CHECKING:
    from spacy.tokens import Token

_OP_FOR_ACT = {
    Act.NEW_TARGET: IntentOp.NEW,
    Act.REFINE: IntentOp.REFINE,
    Act.CORRECT: IntentOp.CORRECT,
    Act.RESET: IntentOp.RESET,
}
_CLEARED: dict[str, Any] = {"target": None, "attributes": {}, "relations": [], "exclusions": [], "mask_id": None}
_NEW_THING_FRAMES = frozenset({"where", "exists", "count"})
"""Question frames that, once something is tracked, ask for a different thing: "where is the
calendar?", "is there a dog?", "how many cars are there?". Other questions keep the intent unless
they name a more specific thing (:mod:`agent.intent.focus`)."""
_FOCUS = FocusOptions()


class RuleIntentTracker:
    """Deterministic offline tracker over spaCy's parse (module docstring for the rules).

    It never raises on odd text (markup, SQL, emoji, other scripts, 4000 characters): the
    parser reads a bounded prefix, and what it cannot read keeps the intent. Parses are cached
    per tracker (:class:`agent.nlp.ParseCache`); the pipeline loads once per process.
    """

    name = "rules"

    def __init__(self, *, cache_entries: int = 512, focus: FocusOptions | None = None) -> None:
        self.cache = ReadingCache(cache_entries)
        """Parses and readings of the texts this tracker read (bounded, content-keyed, its own)."""
        self.focus = focus or _FOCUS
        """Which later questions move the target (:class:`agent.intent.focus.FocusOptions`)."""

    def warm(self) -> None:
        """Load the parser and the word lists the reading uses (several seconds on first use), so
        the first turn does not pay for them while it holds its session's turn lock."""
        nlp.pipeline()
        spelling.english_vocabulary()
        self.track(intent=Intent(), dialogue=[], user_text="segmnet the rde cup", turn=0)

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
        self._prefetch(intent, dialogue, user_text)
        grounded, note, answer_evidence = ground_from_answer(self.cache, intent, dialogue)
        reading = read(self.cache, user_text or "")
        decision = classify(self.cache, grounded, reading, self.focus, has_mask=has_mask)
        op = _OP_FOR_ACT.get(decision.act, IntentOp.KEEP)
        if op is IntentOp.KEEP and note:
            op = IntentOp.REFINE
        reason = decision.reason
        if reading.notes and reading.english:
            reason += f" ({'; '.join(reading.notes)})"
        if note:
            reason = f"{reason}; {note}"
        if not has_image and decision.act.segments:
            reason += " (no image yet)"
        evidence = [Evidence(turn=turn, words=w, role=r, source="answer") for r, w in answer_evidence]
        evidence += [Evidence(turn=turn, words=w, role=r) for r, w in decision.evidence if w]
        evidence += decision.history
        revised = grounded.revised(turn=turn, op=op, reason=reason, evidence=evidence, **decision.changes)
        return TrackResult(act=decision.act, intent=revised, reason=reason)


    def _prefetch(self, intent: Intent, dialogue: list[DialogueTurn], user_text: str) -> None:
        """Parse the texts this turn will read (the message, the answer before it, the target)
        in one batch; the reading steps then find them in the cache."""
        texts = [prepared(self.cache, user_text or "")[0]]
        if answer_needed(self.cache, intent, dialogue):
            texts.append(prepared(self.cache, first_sentence(dialogue[-1].text))[0])
        if intent.target:
            texts.append(f"the {intent.target}")
        try:
            self.cache.parse_many([t for t in texts if t])
        except Exception:  # noqa: BLE001 - only an optimisation; reading parses what it needs
            return


# --------------------------------------------------------------------------- acts


def classify(
    cache: nlp.ParseCache, intent: Intent, reading: Reading, focus: FocusOptions = _FOCUS, *, has_mask: bool = True
) -> Decision:
    """Decide the act of a read turn given the (grounded) intent (module docstring order);
    ``focus`` says which later questions move the target (:mod:`agent.intent.focus`);
    ``has_mask``: whether the current image has a mask of the target (not after a new image)."""
    text = reading.text
    if not text:
        return Decision(Act.CHITCHAT, reason="empty message: kept the intent", evidence=[("kept", "")])
    said = [w.lower() for w in text.replace("!", " ").replace(".", " ").replace(",", " ").split()]
    if not reading.english and len(said) <= 3 and any(w in vb.BORROWED_POLITE for w in said):
        return Decision(Act.CHITCHAT, reason=f"chit-chat (a thanks or greeting): {quote(text)}", evidence=[("act", text[:80])])
    if not reading.english or reading.doc is None:
        # a question about the target is answered; a short word or two without a question mark
        # ("ありがとう", "teşekkürler") is most likely thanks or a greeting
        asks = any(mark in text for mark in "?？؟") or len(said) > 2
        act = Act.EXPLAIN if intent.target and asks else Act.CHITCHAT
        why = "; ".join(reading.notes) or "not readable"
        return Decision(act, reason=f"could not read this turn ({why}): kept the intent", evidence=[("kept", text[:80])])
    low = " ".join(text.lower().replace("’", "'").split())
    body = " ".join(lower(t) for t in reading.doc if t not in reading.openers and not t.is_punct)
    pointing, count = pointing_request(reading)
    about_answer = bool(intent.target) and vb.OUTPUT_REQUEST.search(low) is not None
    if vb.SEGMENT_REQUEST.search(low) or pointing or about_answer:
        changes: dict[str, Any] = {}
        if count is None and about_answer:  # "both of them, as separate masks"
            count = "2" if re.search(r"\bboth\b", low) else "all" if re.search(r"\ball of them\b", low) else None
        if intent.target and count is not None and intent.attributes.get("count") != count:
            changes["attributes"] = {**intent.attributes, "count": count}  # "select all of them"
        return Decision(Act.SEGMENT_REQUEST, changes, f"segmentation request: {quote(text)}", [("act", text[:80])])
    if intent.target and (_same_again(reading) or again_alone(reading)):
        return Decision(Act.SEGMENT_REQUEST, reason=f"the same again: {quote(text)}", evidence=[("act", text[:80])])
    if vb.RESET.search(body) or vb.RESET.search(low) or vb.RESET_IDIOMS.search(low):
        return Decision(Act.RESET, dict(_CLEARED), f"reset: {quote(text)}", [("act", text[:80])])
    if intent.target and has_mask and not reading.question and vb.MASK_ERROR.search(low):
        return Decision(Act.CORRECT, reason=f"says what is wrong with the mask: {quote(text)}", evidence=[("act", text[:80])])
    if _chitchat(reading, body):
        return Decision(Act.CHITCHAT, reason=f"chit-chat: {quote(text)}", evidence=[("act", text[:80])])
    if intent.target and confirms(reading):
        return Decision(Act.CHITCHAT, reason=f"chit-chat (confirms the selection): {quote(text)}", evidence=[("act", text[:80])])
    current = head_lemmas(cache, intent.target) if intent.target else set()
    # a bare phrase with a question mark is the phrase said with a rising tone ("and the other
    # one?"): it asks for it as the phrase alone does
    fragment = not reading.question or reading.frame == "np"
    asks_other = reading.main is not None and fragment and (
        reading.main.placeholder or reading.main.lemmas & current
    ) and any(lower(t) in vb.OTHER_WORDS for t in reading.main.words)
    shown = _shown_instead(reading, current) if intent.target else None
    if shown is not None:
        # "that's a man. I want the woman": what the mask shows is named, and it is not the target
        reading = replace(reading, negative=True, phrases=[p for p in reading.phrases if p is not shown])
    if reading.negative and reading.returning and reading.returned_to is not None:
        back = _go_back(cache, intent, reading)  # "sorry, could we go back to the winner?"
        if back is not None:
            return back
    if (reading.negative or asks_other) and (intent.target or any(p.concrete for p in reading.phrases)):
        return _correct(cache, intent, reading, current)
    if reading.command == "return" or (reading.returning and reading.frame in {"command", "np"}):
        back = _go_back(cache, intent, reading)
        if back is not None:
            return back
    if intent.target and (reading.command == "exclude" or _continues_exclusion(intent, reading)):
        return _exclude(intent, reading, _target_head(cache, intent))
    if intent.target and reading.main is not None and _new_count(intent, reading, current):
        return _new_target(intent, reading.main, reading, "a new count of the same thing, a fresh selection")
    if intent.target:
        located = _located(intent, reading)
        if located is not None:
            return located
    if intent.target and not has_mask and _names_it_again(intent, reading, current):
        # "find the dog" on a new image while the dog is tracked: found afresh, not narrowed
        return _new_target(intent, reading.main, reading, "the current target asked for again with no mask of it")  # type: ignore[arg-type]
    if intent.target:
        refined = refine(cache, intent, reading, current)
        if refined is not None:
            return refined
    return _new_or_explain(intent, reading, current, focus)


_SAME_FILLERS = frozenset(
    "same the do again here too please now thing things one ones stuff it in on for with this that new "
    "and here there as well".split()
)
"""What "the same (thing) again, in this one" may say besides "same" and a request verb."""


def _same_again(reading: Reading) -> bool:
    """Return whether the turn asks for the current target again with "same" and nothing new:
    "same thing in this one", "do the same here", "the same one please" (a request verb,
    "again", "here", the new picture may be said). It repeats the request on the current target."""
    if reading.doc is None or reading.question:
        return False
    words = [t for t in reading.doc if t.is_alpha and t not in reading.openers]
    if not any(lower(t) == "same" for t in words):
        return False
    return all(
        lower(t) in _SAME_FILLERS or lemma(t) in vb.IMAGE_NOUNS or (reading.verb is not None and t.i == reading.verb.i)
        for t in words
    )


def _names_it_again(intent: Intent, reading: Reading, current: set[str]) -> bool:
    """Whether a request names the current target again and nothing new ("find the dog", "where
    is the dog (in this one)?" while the dog is tracked): the same noun, no attribute or relation
    the intent lacks."""
    main = reading.main
    asks = reading.command == "segment" or (reading.frame == "where" and not _places_it(reading))
    if not asks or main is None or main.placeholder or main.pronoun or not (main.lemmas & current):
        return False
    split = main.split(current=current)
    return all(intent.attributes.get(k) == v for k, v in split.attributes.items()) and not split.relations


def _places_it(reading: Reading) -> bool:
    """Whether a where-question names a place of its own ("where is the logo among the signs?",
    "where is the beaver on the coin?"): it asks about where the thing is, not for it afresh. A
    place that is only the picture ("in this one", "in the new photo") is none."""
    for tok in reading.doc or []:
        if tok.dep_ != "prep":
            continue
        obj = next((c for c in tok.children if c.dep_ == "pobj"), None)
        if obj is not None and not (lemma(obj) in vb.IMAGE_NOUNS or lower(obj) in {"one", "it", "this", "here"}):
            return True
    return False


def _new_count(intent: Intent, reading: Reading, current: set[str]) -> bool:
    """Whether a request names the current noun with another count: "both men" after "the taller
    man" (and "not that one, the other one"), "all the cars" after "the red car", "the men" after
    "the man". That starts a fresh selection: what picked one instance (size, position, "other",
    the exclusions) does not carry over to the set."""
    main = reading.main
    if main is None or reading.question or main.placeholder or main.pronoun or main.part_of is not None:
        return False
    if not (main.lemmas & current):
        return False
    split = main.split(current=current)
    said = split.attributes.get("count")
    before = intent.attributes.get("count")
    explicit = bool(main.quantifier) or any(role == "count" for role, _ in split.evidence)
    if explicit:
        return said is not None and said != before
    return main.plural and said == "all" and before in (None, "1")


def _shown_instead(reading: Reading, current: set[str]) -> Phrase | None:
    """Return the thing a statement says the selection is, when it is not the current target:
    "that's a man" (the woman was asked for), "this is a shadow". A demonstrative subject, a
    form of "be" and an indefinite noun, said not asked; the user names what the mask shows
    instead of what they meant, which makes the turn a correction."""
    if reading.doc is None:
        return None
    for sent in reading.doc.sents:
        root = sent.root
        if sent.text.rstrip().endswith("?") or lemma(root) != "be" or any(c.dep_ == "neg" for c in root.children):
            continue
        if not any(c.dep_ == "nsubj" and lower(c) in {"that", "this", "it"} for c in root.children):
            continue
        attr = next((c for c in root.children if c.dep_ == "attr" and c.pos_ in {"NOUN", "PROPN"}), None)
        if attr is None or not any(lower(d) in {"a", "an"} for d in attr.children if d.dep_ == "det"):
            continue
        phrase = next((p for p in reading.phrases if p.head.i == attr.i), None)
        if phrase is not None and phrase.concrete and not (phrase.lemmas & current):
            return phrase
    return None


def _chitchat(reading: Reading, body: str) -> bool:
    if vb.CHITCHAT.search(body):
        return True
    words = [lower(t) for t in reading.doc or [] if t.is_alpha]
    if not words:
        return True  # emoji, punctuation
    fillers = {lower(t) for t in reading.doc or [] if t.pos_ == "INTJ" and lower(t) not in vb.NEGATIVE_OPENERS | {"no"}}
    polite = [w for w in words if w in vb.POLITE_WORDS or w in fillers or w in {"please", "thank", "so", "a", "it"}]
    praised = [t for t in reading.doc or [] if t.is_alpha]
    one = words[-1] == "one" and len(praised) > 1 and praised[-2].pos_ == "ADJ" and len(polite) == len(words) - 1
    if len(words) <= 10 and (len(polite) == len(words) or one):
        return True  # "ok thanks", "nice one!" (not "that one": it points)
    return _remark(reading) or _about_the_assistant(reading) or _personal_remark(reading) or _past_story(reading)


_FIRST_PERSON = frozenset({"i", "we"})
_OWN_SUBJECTS = _FIRST_PERSON | {"he", "she", "they"}
_THOUGHT_VERBS = frozenset({"want", "need", "like", "mean", "think", "guess", "believe", "wonder", "prefer", "look", "see", "wish"})
_WISH_NOUNS = frozenset({"day", "evening", "night", "morning", "afternoon", "weekend", "week", "time", "one"})


def _personal_remark(reading: Reading) -> bool:
    """Tell whether the turn is a statement about the user's own world, asking for nothing: "my son loves this
    playground", "I hope you're having a good day", "he'll be so pleased", "you're a
    lifesaver", "have a lovely evening". Not a want or a thought ("I need the green sign", "I
    think it's the bottle"), not a statement that names what something is ("it's the cat"), not
    a question, a correction or a command."""
    doc = reading.doc
    if doc is None or not _statement(reading):
        return False
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None or root.pos_ not in {"VERB", "AUX"} or lemma(root) in REQUEST_VERBS | _THOUGHT_VERBS:
        return False
    if any(c.dep_ == "aux" and c.tag_ == "MD" and lower(c) in {"can", "could", "would"} for c in root.children):
        return False
    subject = next((c for c in root.children if c.dep_ in {"nsubj", "nsubjpass"} and lower(c) not in {"cheers", "thanks", "thx", "ty"}), None)
    named = next((c for c in root.children if c.dep_ in {"attr", "dobj"} and c.pos_ in {"NOUN", "PROPN"}), None)
    if subject is None:  # "have a lovely evening"
        return lemma(root) in {"have", "enjoy"} and named is not None and lemma(named) in _WISH_NOUNS
    if lower(subject) in {"you", "u"} and lemma(root) == "be":
        return named is not None  # "you're a lifesaver": the assistant is no thing in the photo
    if lower(subject) in _FIRST_PERSON and lemma(root) == "be" and any(lower(c) == "from" for c in root.children):
        return True  # "I am from Portugal": where the user comes from, not where a thing is
    if not _own(subject, _OWN_SUBJECTS) or any(t.dep_ == "pobj" and t.pos_ in {"NOUN", "PROPN"} for t in doc):
        return False  # "they are next to the sofa": where the target is
    if any(t.pos_ in {"NOUN", "PROPN"} and t.i < subject.i for t in doc):
        return False  # "the hat she's wearing": a thing, described by a clause
    if lemma(root) == "be" and named is not None and lower(subject) not in _FIRST_PERSON:
        return False  # "she's the shop cat", "he's the one on the left": it names the target
    return True


_TOLD_VERBS = frozenset({"ask", "say", "tell", "mean", "want", "need", "click", "try", "expect", "hope", "think"})


def _past_story(reading: Reading) -> bool:
    """Tell whether the turn only tells of the past: "I almost lost my sunglasses in the sand lol",
    "my grandfather was a fisherman", "the sea was freezing". Every sentence's verb is in the past
    tense, told by the user of themselves or their own people (not of the selection or the
    assistant: "it was the wrong one", "you missed one"), and none says what was asked for ("I
    asked for the dog", "I meant the cup")."""
    doc = reading.doc
    if doc is None or not _statement(reading):
        return False
    for sent in doc.sents:
        root = sent.root
        helpers = [c for c in root.children if c.dep_ in {"aux", "auxpass", "cop"}]
        if not (root.tag_ == "VBD" or any(c.tag_ == "VBD" for c in helpers)):
            return False
        if lemma(root) in _TOLD_VERBS or any(c.tag_ == "MD" for c in helpers):
            return False
        subject = next((c for c in root.children if c.dep_ in {"nsubj", "nsubjpass"}), None)
        if subject is None or not _own(subject, _FIRST_PERSON):
            return False  # "the vehicle cut off at the left edge": a thing described, not a story
    return True


def _statement(reading: Reading) -> bool:
    """Whether a turn states something: it asks nothing, denies nothing and commands nothing."""
    return not (reading.question or reading.negative or reading.command is not None)


def _own(subject: Token, pronouns: frozenset[str]) -> bool:
    """Whether a subject is the user's own: one of ``pronouns`` ("I", "we"), or a thing or
    person the user calls theirs ("my grandfather", "our dog")."""
    return lower(subject) in pronouns or any(c.dep_ == "poss" and lower(c) in {"my", "our"} for c in subject.children)


def _remark(reading: Reading) -> bool:
    """"hmm", "wow", "interesting", "so cute!": interjections and evaluative adjectives alone
    react to the answer; they ask for nothing. Attribute words alone are requests ("red", "bigger":
    the one so described) and a negation is a correction ("no")."""
    if reading.doc is None or reading.negative or reading.question:
        return False
    content = [t for t in reading.doc if t.is_alpha and t not in reading.openers]
    if not content:
        return True
    if not all(t.pos_ in {"ADJ", "ADV", "INTJ"} for t in content) or not any(t.pos_ == "ADJ" for t in content):
        return False
    return not any(
        lower(t) in vb.COLOURS or lower(t) in vb.POSITIONS or lower(t) in vb.ORDINALS or lower(t) in vb.OTHER_WORDS
        or size_value(t) or t.tag_ in {"JJR", "JJS"} or lower(t) in vb.COUNT_DETERMINERS
        for t in content
    )


def _about_the_assistant(reading: Reading) -> bool:
    """"you're really good at this", "you did it!", "you rock": a statement whose subject is the
    assistant and that names nothing but pronouns is small talk (a compliment, a remark), not a
    request; with a modal ("you should look at ...") or a thing named it is one."""
    if reading.doc is None or not _statement(reading):
        return False
    root = next((t for t in reading.doc if t.dep_ == "ROOT"), None)
    if root is None or not any(c.dep_ == "nsubj" and lower(c) in {"you", "u"} for c in root.children):
        return False
    if any(c.dep_ == "aux" and c.tag_ == "MD" for c in root.children):
        return False
    return all(p.pronoun for p in reading.phrases)


_PLACE_NOUNS = frozenset({"front", "back", "rear", "side", "left", "right", "top", "bottom", "middle", "edge", "corner"})


def _place_of_verb(phrase: Phrase) -> bool:
    """Tell a place noun the parser hung on a verb ("crouched *in front of him*", "sitting *at the back*")."""
    head = phrase.head
    return lemma(head) in _PLACE_NOUNS and head.dep_ == "pobj" and head.head.head.pos_ in {"VERB", "AUX"}


def _correct(cache: nlp.ParseCache, intent: Intent, reading: Reading, current: set[str]) -> Decision:
    """Read a correction phrase by phrase: negated ones are left out, a new noun is the target,
    a placeholder or the current noun asks for another instance."""
    attrs = dict(intent.attributes)
    attrs.pop("part", None)
    exclusions = list(intent.exclusions)
    relations = list(intent.relations)
    target: str | None = None
    last_named: str | None = None
    said = " ".join(t.text for t in reading.openers if not t.is_punct)
    evidence: list[tuple[str, str]] = [("act", said or reading.text[:40])]
    why: list[str] = []
    other = False
    for phrase in reading.phrases:
        if phrase.pronoun and not phrase.refers_back:
            continue
        if target is not None and _place_of_verb(phrase):
            continue  # "the catcher crouched in front of him": where the named one is, not a target
        negated = phrase.negated or _after_not(phrase)
        split = phrase.split(current=current)
        if negated and not reading.meant:
            if phrase.refers_back and not phrase.pronoun and (split.placeholder or phrase.lemmas & current):
                # "not that bird", "not this one": the instance shown is rejected, not the noun
                text = phrase.text()
                if lower(phrase.head) in {"one", "ones"}:
                    text = exclusion_text(phrase, intent)
                if text not in exclusions:
                    exclusions.append(text)
                other = True
                why.append(f"exclude {text!r}")
                evidence.append(("exclusion", phrase.text()))
                continue
            if (split.target or split.placeholder) and not phrase.pronoun:
                text = split.target or exclusion_text(phrase, intent, _target_head(cache, intent))
                if text not in exclusions:
                    exclusions.append(text)
                last_named = text
                why.append(f"exclude {text!r}")
                evidence.append(("exclusion", phrase.text()))
            else:
                other = True
            continue
        wrong = any(lower(t) == "wrong" for t in phrase.words)
        same = bool(phrase.lemmas & current)
        if not wrong and split.attributes.get("part") and not split.target and not phrase.pronoun:
            # "actually I want the bottom half" after the top half: the same thing, another part
            attrs["part"] = split.attributes["part"]
            why.append(f"part {attrs['part']!r}")
            evidence.extend(split.evidence)
            continue
        if wrong or split.placeholder or not split.target or phrase.pronoun:
            other = True
            if (split.description or split.modifier) and not phrase.pronoun:
                new_target = described(cache, intent, phrase, split.description, split.modifier)
                if new_target:
                    target, last_named = new_target, new_target
                    evidence.append(("target", phrase.text()))
            attrs.update({k: v for k, v in split.attributes.items() if k != "count"})
            if lower(phrase.head) == "one":
                attrs.pop("count", None)
            # A correction's own relations replace the old ones, which picked the wrong instance.
            relations = relations_of(split, last_named, intent) or relations
            why.append("another instance")
            evidence.extend(split.evidence)
            continue
        if same and split.attributes and not phrase.preps:
            attrs = {k: v for k, v in attrs.items() if k in {"text"}}
            attrs.update(split.attributes)
            why.append(f"same target, {', '.join(f'{k}={v}' for k, v in split.attributes.items())}")
            evidence.extend(split.evidence)
            continue
        target, last_named = split.target, split.target
        attrs = dict(split.attributes)
        relations = relations_of(split, last_named if target is None else _last_excluded(exclusions, intent), intent)
        evidence.extend(split.evidence)
        why.append(f"target {split.target!r}")
    if other or not why:
        attrs["other"] = "yes"
    if target is None and _says_other(reading):
        # "the other one" after "the left one": another instance is not where the current one
        # is, so what located that one goes; what describes it (colour, size) stays
        named = {key for p in reading.phrases for key in p.split(current=current).attributes}
        attrs = {k: v for k, v in attrs.items() if k not in LOCATORS or k in named}
    changes: dict[str, Any] = {"attributes": attrs, "exclusions": exclusions, "relations": relations}
    if target is not None:
        changes["target"] = target
        if not intent.target:
            return Decision(Act.NEW_TARGET, changes, f"new target (nothing to correct yet): {quote(reading.text)}", evidence)
    elif not intent.target:
        return Decision(Act.EXPLAIN, {}, f"nothing to correct yet: {quote(reading.text)}", evidence)
    leaving_out = reading.openers and all(lower(t) in {"but", "and", "also", "not"} for t in reading.openers)
    if leaving_out and target is None and not other and exclusions != intent.exclusions:
        return Decision(Act.REFINE, changes, f"leave out: {', '.join(why)}", evidence)
    detail = f" ({', '.join(why)})" if why else ""
    return Decision(Act.CORRECT, changes, f"correction: {quote(reading.text)}{detail}", evidence)


def _says_other(reading: Reading) -> bool:
    """Whether the turn asks for another instance in words ("the other one", "another one")."""
    return any(lower(t) in vb.OTHER_WORDS for p in reading.phrases for t in p.words)


def _last_excluded(exclusions: list[str], intent: Intent) -> str | None:
    new = [e for e in exclusions if e not in intent.exclusions]
    return new[-1] if new else None


def _after_not(phrase: Phrase) -> bool:
    """Whether "not" stands right before the phrase ("..., not the red one")."""
    doc = phrase.head.doc
    start = phrase.start
    return start > 0 and lower(doc[start - 1]) in {"not", "n't"}


def _go_back(cache: nlp.ParseCache, intent: Intent, reading: Reading) -> Decision | None:
    """Restore an earlier target from the history ("go back to the logo", "the previous one"),
    then apply what else the turn says ("back to the motorcycle, only the right half of it")."""
    main = reading.returned_to or reading.main
    split = main.split() if main is not None else Split(target=None)
    said = {lower(t) for t in reading.doc} if reading.doc is not None else set()
    found = find_earlier(cache, intent, main, split.attributes, said)
    if found is None:
        return None
    changes: dict[str, Any] = {
        "target": found.target,
        "attributes": dict(found.attributes),
        "relations": list(found.relations),
        "exclusions": list(found.exclusions),
        "mask_id": None,
    }
    words = reading.text
    history = [Evidence(turn=found.turn, words=found.target, role="target", source="history")]
    back = Decision(
        Act.NEW_TARGET, changes, f"back to an earlier target: {found.target!r} (turn {found.turn})",
        [("act", words[:80])], history,
    )
    if reading.rest is not None:
        restored = intent.model_copy(update=changes, deep=True)
        only = reading.only or any(lower(t) in vb.ONLY_WORDS for t in reading.rest.words)
        about_rest = replace(reading, main=reading.rest, only=only)
        rest = refine(cache, restored, about_rest, head_lemmas(cache, found.target))
        if rest is not None:
            back.changes.update(rest.changes)
            back.reason += f", then {rest.reason}"
            back.evidence.extend(rest.evidence)
    return back


def _located(intent: Intent, reading: Reading) -> Decision | None:
    """"it's on the desk", "they are next to the sofa", "it's on the left": a statement that
    says where the current target is narrows it to the one there (a relation or a position)."""
    from agent.intent.parsing import prep_object
    from agent.intent.splitting import position_phrase

    if reading.doc is None or reading.question or reading.negative:
        return None
    root = next((t for t in reading.doc if t.dep_ == "ROOT"), None)
    if root is None or lemma(root) != "be" or any(c.dep_ == "neg" for c in root.children):
        return None
    if not any(c.dep_ == "nsubj" and lower(c) in {"it", "they", "this", "that", "he", "she"} for c in root.children):
        return None
    places = []
    for child in root.children:
        if child.dep_ == "prep" and lower(child) in vb.LOCATION_PREPOSITIONS | {"to"}:
            places.append(prep_object(child, 0))
        elif child.dep_ in {"acomp", "advmod"} and lower(child) in vb.PREPOSITION_PREFIXES:
            prep = next((c for c in child.children if c.dep_ == "prep"), None)
            places.append(prep_object(prep, 0, name_prefix=lower(child)) if prep is not None else None)
    attrs = {k: v for k, v in intent.attributes.items() if k != "other"}
    new: list[Relation] = []
    evidence: list[tuple[str, str]] = [("act", reading.text[:80])]
    for found in places:
        if found is None or found[1].pronoun or found[1].image:
            continue
        name, sub = found
        position = position_phrase(name, sub)
        kind = vb.RELATION_KINDS.get(name)
        anchor = anchor_text(sub)
        if position:
            attrs["position"] = position
            evidence.append(("position", f"{name} {sub.text()}"))
        elif kind and anchor:
            new.append(Relation(kind=kind, anchor=anchor))  # type: ignore[arg-type]
            evidence.append(("relation", f"{name} {sub.text()}"))
    if not new and attrs == {k: v for k, v in intent.attributes.items() if k != "other"}:
        return None
    changes = {"attributes": attrs, "relations": with_relations(list(intent.relations), new)}
    said = ", ".join([*(f"{r.kind} {r.anchor}" for r in new), *([f"position={attrs['position']}"] if "position" in attrs else [])])
    return Decision(Act.REFINE, changes, f"refinement: where it is ({said})", evidence)


def _continues_exclusion(intent: Intent, reading: Reading) -> bool:
    """"and the bruised one", "also the plates" right after a turn that left something out: the
    list of what is left out goes on (a bare phrase opened by "and"/"also"/"plus")."""
    if reading.frame != "np" or reading.question or reading.main is None or not intent.history:
        return False
    if not any(lower(t) in {"and", "also", "plus"} for t in reading.openers):
        return False
    last = intent.history[-1]
    before = intent.history[-2].exclusions if len(intent.history) > 1 else []
    return last.op is IntentOp.REFINE and len(last.exclusions) > len(before)


def _target_head(cache: nlp.ParseCache, intent: Intent) -> Any:
    """Return the head token of the current target's phrase (None without one)."""
    found = target_phrase_of(cache, intent.target)
    return found.head if found is not None else None


def _exclude(intent: Intent, reading: Reading, noun: Any) -> Decision:
    """"leave out the child", "don't include the plates", "without the lid", "all except the
    white one": refine with exclusions (the phrases after the verb or preposition)."""
    exclusions = list(intent.exclusions)
    evidence = [("act", reading.verb.text if reading.verb is not None else "")]
    after = reading.verb.i if reading.verb is not None else -1
    for phrase in reading.phrases:
        if phrase.pronoun or phrase.head.i < after:
            continue
        if any(q is not phrase and phrase.head in q.tokens() for q in reading.phrases):
            continue  # "the woman in red": "red" is the woman's, not a thing of its own
        text = exclusion_text(phrase, intent, noun)
        if text and text not in exclusions:
            exclusions.append(text)
            evidence.append(("exclusion", phrase.text()))
    return Decision(Act.REFINE, {"exclusions": exclusions}, f"leave out: {', '.join(exclusions)}", evidence)


def _mentions_current(reading: Reading, intent: Intent, current: set[str]) -> bool:
    """Whether the turn names the current target (or its text) other than as its main phrase."""
    text = intent.attributes.get("text", "").lower()
    main = reading.main
    if text and main is not None and any(q.lower() == text for q in main.quotes):
        return True

    def inside(phrase: Phrase, depth: int = 0) -> bool:
        for _, sub in phrase.preps:
            if sub.lemmas & current or (text and any(q.lower() == text for q in sub.quotes)):
                return True
            if depth < 3 and inside(sub, depth + 1):
                return True
        return False

    for phrase in reading.phrases:
        if phrase is not main and (phrase.lemmas & current or (text and any(q.lower() == text for q in phrase.quotes))):
            return True
        if inside(phrase):
            return True
    return False


def _new_or_explain(intent: Intent, reading: Reading, current: set[str], focus: FocusOptions) -> Decision:
    main = reading.main
    if main is not None and (main.pronoun or (main.refers_back and not _points_at_another(intent, main, current))):
        main = None
    text = reading.text
    names = main is not None and (main.concrete or main.generic)
    if main is not None and names and reading.command in {"segment", "return"}:
        return _new_target(intent, main, reading, "new target")
    if main is not None and names and reading.frame in {"np", "about", "other"} and not (reading.question and reading.frame == "other"):
        if not (main.lemmas & current) or not intent.target:
            return _new_target(intent, main, reading, "new target")
    if not intent.target:
        if main is not None and (main.concrete or main.generic or main.property_noun == "text"):
            why = "the question names the target" if reading.question else "new target"
            return _new_target(intent, main, reading, why)
        return Decision(Act.EXPLAIN, {}, f"question without a target: {quote(text)}", [("act", text[:80])])
    if (
        main is not None
        and main.concrete
        and (reading.frame in _NEW_THING_FRAMES or reading.selects_one)
        and not _about_pronoun(reading)
        and not main.clauses
        and not (main.lemmas & current)
        and not _mentions_current(reading, intent, current)
    ):
        return _new_target(intent, main, reading, "asks for another thing")
    if main is not None:
        moved = moved_focus(intent, reading, main, current, focus)
        if moved:
            return _new_target(intent, main, reading, moved)
    return Decision(Act.EXPLAIN, {}, f"about the current target: {quote(text)}", [("act", text[:80])])


def _points_at_another(intent: Intent, main: Phrase, current: set[str]) -> bool:
    """Whether a demonstrative phrase points at a thing other than the current target: "select
    *that guy*" while a woman is tracked, "what's *that shiny thing*?" with nothing tracked yet.
    A demonstrative refers back only to what it can be: the current noun, a placeholder ("that
    one"), or a generic word ("this thing") once something is tracked."""
    if main.placeholder or main.lemmas & current:
        return False
    return main.concrete or (main.generic and not intent.target)


def _about_pronoun(reading: Reading) -> bool:
    """Read "what pattern does it have?", "what language is it?": a question whose subject or object
    is a pronoun pointing back asks about the current target, not for the noun it names."""
    return any(p.pronoun and p.refers_back and p.head.dep_ in {"nsubj", "nsubjpass", "attr", "dobj"} for p in reading.phrases)


def _new_target(intent: Intent, main: Phrase, reading: Reading, why: str) -> Decision:
    whole = main.part_of
    split = main.split(current=set(), plural_count=not reading.question, clauses=not reading.question)
    attrs = dict(split.attributes)
    if reading.frame == "count":
        attrs.pop("count", None)
    if reading.frame == "exists":
        attrs["asked"] = "exists"  # "is there a dog?": the answer may well be "no"
    target = split.target
    evidence = list(split.evidence)
    if whole is not None and not whole.pronoun:
        whole_split = whole.split(current=set())
        attrs = {**whole_split.attributes, **{k: v for k, v in attrs.items() if k != "part"}}
        attrs["part"] = split.attributes.get("part") or part_words(main)
        target = whole_split.target
        evidence.append(("part", main.text()))
    if reading.selects_one:
        # "which of the two men is bigger?": one man, picked by what is said of him
        attrs.pop("count", None)
        attrs.update(predicate_attributes(reading, main))
        if target and main.plural and whole is None:
            target = singular(target, main)
    relations = relations_of(split, None, intent)
    exclusions = [exclusion_text(p, intent, main.head) for p in split.exclusions]  # "every chair except the one on the left"
    if reading.command == "segment" and reading.verb is not None:
        for child in reading.verb.children:
            if child.dep_ == "prep" and lower(child) in vb.EXCLUDE_PREPOSITIONS:
                obj = next((c for c in child.children if c.dep_ == "pobj"), None)
                if obj is not None:
                    exclusions.append(obj.text if obj.pos_ != "NOUN" else _noun_words(obj))
                    evidence.append(("exclusion", f"{child.text} {obj.text}"))
    changes = {"target": target, "attributes": attrs, "relations": relations, "exclusions": exclusions}
    return Decision(Act.NEW_TARGET, changes, f"{why}: {target!r}", [("act", reading.verb.text if reading.verb is not None else ""), *evidence])


def _noun_words(tok: Any) -> str:
    from agent.intent.parsing import phrase_at

    return phrase_at(tok).split().target or tok.text


__all__ = ["Decision", "FocusOptions", "RuleIntentTracker", "classify"]
