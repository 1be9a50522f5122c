"""Narrowing the current target (``REFINE``): placeholders ("the left one", "the one in the black
jacket"), parts ("only the top half of it", "just the seat"), one member of a set ("just the man in
the beige coat" after "all the people"), the current noun said again with new attributes, and what
a predicate says of the one meant ("which of them is bigger?").
"""

from __future__ import annotations

from agent import nlp
from agent.coordination import listed_things
from agent.intent import vocab as vb
from agent.intent.decision import Decision, exclusion_text, relations_of, with_relations
from agent.intent.history import head_lemmas
from agent.intent.phrase import Phrase, Split
from agent.intent.reading import Reading
from agent.intent.words import lemma, lower, render, size_value
from agent.types import Act, Intent


def _this_one(phrase: Phrase) -> bool:
    """Tell a demonstrative that points back at the current target: "that one", "this one", "that"."""
    head = lower(phrase.head)
    return phrase.refers_back and (head in {"one", "that", "this"}) and not phrase.preps


def refine(cache: nlp.ParseCache, intent: Intent, reading: Reading, current: set[str]) -> Decision | None:
    """REFINE when the turn narrows the current target; None when it does not."""
    main = reading.main
    if reading.command == "explain":
        return None
    if main is None:
        return None
    if reading.question and reading.frame not in {"about", "np", "which", "wh", "command"}:
        return None
    if not reading.question and _whole_of_it(main, current):
        # "the whole thing", "the entire one", "the whole bike": all of the target, not a part of it
        attrs = {k: v for k, v in intent.attributes.items() if k != "part"}
        return Decision(Act.REFINE, {"attributes": attrs}, "refinement: the whole of it", [("part", main.text())])
    split = main.split(current=current)
    attrs = dict(intent.attributes)
    evidence = list(split.evidence)
    whole = main.part_of
    if whole is not None and whole.pronoun and whole is main.possessor and reading.question and reading.frame not in {"np", "command"}:
        # "what does its label say?": a question about the current target, not a part ("and its
        # rim?", a bare phrase, and "can you do just its rim?", a request, ask for the part)
        whole = None
    if whole is not None and (whole.pronoun or whole.lemmas & current or _this_one(whole)):
        part = split.attributes.get("part") or part_words(main)
        attrs["part"] = part
        attrs.pop("count", None) if lower(main.head) == "one" else None
        if main.quantifier or any(role == "count" for role, _ in split.evidence):
            said = split.attributes.get("count")  # "both of its eyes": the parts' count ("one of": none)
            if said:
                attrs["count"] = said
            else:
                attrs.pop("count", None)
        changes: dict[str, object] = {"attributes": attrs}
        listed_member = _listed_member(cache, intent, whole)
        if listed_member:  # "only the top half of the lime" after "the lemon and the lime"
            changes["target"] = listed_member
        return Decision(Act.REFINE, changes, f"refinement to a part: {part!r}", [("part", main.text()), *evidence])
    if whole is not None and whole.concrete:
        return None  # a part of another thing named here: that thing is the new target
    member = names_a_member(intent, main, current)
    if reading.selects_one and (main.pronoun or member or main.lemmas & current):
        # "which of them is bigger?": one of the current set, picked by the predicate
        attrs.pop("count", None)
        return refined(intent, attrs, predicate_attributes(reading, main), main, evidence, reading, single=True)
    if reading.question and reading.frame in {"wh", "which"} and not main.placeholder:
        return None
    exclusions = [e for e in split.exclusions]
    predicate = predicate_attributes(reading, main)
    same = bool(main.lemmas & current)
    if split.placeholder or main.pronoun:
        new = {**split.attributes, **predicate}
        if (split.description or split.modifier) and not main.pronoun:
            new_target = described(cache, intent, main, split.description, split.modifier)
            if new_target:
                decision = refined(intent, attrs, new, main, evidence, reading)
                decision.changes["target"] = new_target
                decision.reason += f", target {new_target!r}"
                return decision
        one_of = bool(main.quantifier) and any(role == "count" for role, _ in split.evidence) and "count" not in split.attributes
        if one_of and not reading.question:
            return refined(intent, attrs, new, main, evidence, reading, single=True)  # "one of them"
        if not new and not exclusions and not reading.only:
            return None if main.pronoun or reading.question else refined(intent, attrs, {}, main, evidence, reading)
        return refined(intent, attrs, new, main, evidence, reading)
    if member and split.target and not main.plural and not reading.question:
        # "just the man in the beige coat" after "all the people": one of the set, as described
        kept = {k: v for k, v in attrs.items() if k not in {"count", "other", "part", "position", "ordinal"}}
        decision = refined(intent, kept, split.attributes, main, evidence, reading, single=True)
        decision.changes["target"] = split.target
        decision.reason = f"one of the {intent.target}: {split.target!r}"
        return decision
    if reading.only and split.target and not same and (intent.target or "").lower() not in vb.UNIVERSAL_PRONOUNS:
        # ("everything" has no parts: "the sky only" after it names a thing of its own)
        attrs["part"] = part_words(main)
        return Decision(Act.REFINE, {"attributes": attrs}, f"refinement to a part: {attrs['part']!r}", [("part", main.text()), *evidence])
    if same and split.target and len(current) > 1 and main.lemmas < current and not reading.question:
        # "only the cat" after "the dog and the cat": one of the things named together
        kept = {k: v for k, v in attrs.items() if k not in {"count", "other", "part"}}
        decision = refined(intent, kept, split.attributes, main, evidence, reading)
        decision.changes["target"] = split.target
        decision.reason = f"one of the {intent.target}: {split.target!r}"
        return decision
    if same and not reading.question and (split.attributes or split.relations or not main.preps):
        new = {k: v for k, v in split.attributes.items() if k != "count" or intent.attributes.get("count")}
        kept = {k: v for k, v in attrs.items() if k not in {"other"}}
        if not new or _whole_again(main):
            kept.pop("part", None)
        decision = refined(intent, kept, new, main, evidence, reading)
        if split.target and main.preps and _described_by_own_words(main, split):
            decision.changes["target"] = split.target  # the noun said again with a new description
        return decision
    return None


def _listed_member(cache: nlp.ParseCache, intent: Intent, whole: Phrase) -> str | None:
    """Return the one thing of a listed target ("the lemon and the lime") that a part's owner
    names ("the top half of *the lime*"), as the target said it; None otherwise."""
    if whole.pronoun:
        return None
    listed = listed_things(cache, intent.target)
    named = [thing for thing in listed if head_lemmas(cache, thing) <= whole.lemmas]
    return named[0] if len(named) == 1 else None


def _described_by_own_words(main: Phrase, split: Split) -> bool:
    """Whether a restated noun carries words of its own beyond its head ("person cut off at the edge")."""
    return split.target is not None and split.target.strip().lower() != main.head.text.lower()


def names_a_member(intent: Intent, main: Phrase, current: set[str]) -> bool:
    """Whether ``main`` names one member of a current set: "the man" of "all the people", "the
    red car" of "the cars" (a set is a target with a count)."""
    if intent.attributes.get("count") in (None, "1") or main.plural or main.pronoun:
        return False
    return bool(main.lemmas & current) or (main.lemma in vb.PERSON_NOUNS and bool(current & vb.PERSON_NOUNS))


def described(
    cache: nlp.ParseCache, intent: Intent, phrase: Phrase, description: str | None, modifier: str | None = None
) -> str | None:
    """Return the current target's noun with a new description ("the one in the black jacket" ->
    "man in the black jacket", "the wooden one" -> "wooden chair"): the noun's own modifiers are
    kept, its old description dropped."""
    from agent.intent.history import target_phrase_of
    current = target_phrase_of(cache, intent.target)
    if current is None or not current.concrete:
        return None
    noun = lemma(current.head) if lower(phrase.head) == "one" else current.head.text
    if noun.lower() == "people" and lower(phrase.head) == "one":
        noun = "person"  # the one plural whose lemma the parser keeps as is
    words = [t for t in current.words if t.dep_ not in {"det", "predet", "poss", "case", "nummod"} and t.i != current.head.i]
    if modifier:
        words = [t for t in words if t.dep_ == "compound"]  # a new description replaces the old: "road" stays, "wooden" goes
    kept = [t for t in words if t.i < current.head.i]
    before = render(kept)
    joined = render([*kept, current.head])  # "grown-up", "t-shirt": as written, hyphen and all
    if kept and joined.endswith(current.head.text):
        before, noun = "", joined[: -len(current.head.text)] + noun
    return " ".join(w for w in (modifier, before, noun, description) if w)


def _whole_again(main: Phrase) -> bool:
    return any(lower(t) in {"whole", "entire", "all"} for t in main.words)


_WHOLE_WORDS = frozenset({"whole", "entire"})


def _whole_of_it(main: Phrase, current: set[str]) -> bool:
    """Whether a phrase asks for all of the current target: "whole"/"entire" with a word that
    stands for it (a placeholder, a generic noun, a pronoun) or its own noun."""
    if not any(lower(w) in _WHOLE_WORDS for w in main.words) or main.preps:
        return False
    return main.placeholder or main.generic or main.pronoun or bool(main.lemmas & current)


def part_words(phrase: Phrase) -> str:
    split = phrase.split(keep_count=False)
    if split.attributes.get("part"):
        return split.attributes["part"]
    words = [t for t in phrase.words if t.dep_ not in {"det", "predet", "poss", "case", "advmod"} and not (t.pos_ == "PRON")]
    return render(words) or phrase.head.text


def predicate_attributes(reading: Reading, main: Phrase) -> dict[str, str]:
    """"which one is the tallest?": the predicate adjective is an attribute of the placeholder."""
    out: dict[str, str] = {}
    root = reading.predicate if reading.predicate is not None else main.head.head
    for child in root.children:
        if child.dep_ in {"attr", "acomp"} and child.pos_ == "ADJ":
            size = size_value(child)
            if size:
                out["size"] = size
            elif lower(child) in vb.COLOURS:
                out["colour"] = lower(child)
    return out


LOCATORS = frozenset({"position", "ordinal"})
"""Attributes that say where the one meant is: a new one replaces the old ("the second person
from the right", then "the person at the left edge")."""


def refined(
    intent: Intent, attrs: dict[str, str], new: dict[str, str], main: Phrase, evidence: list[tuple[str, str]],
    reading: Reading, *, single: bool = False,
) -> Decision:
    attrs = {k: v for k, v in attrs.items() if k != "other"}
    if "part" in new:
        attrs.pop("position", None)
    if LOCATORS & set(new):
        attrs = {k: v for k, v in attrs.items() if k not in LOCATORS}
    if lower(main.head) == "one" or single:
        attrs.pop("count", None)
    # "the red ones" says no count ("all" from the plural is not one); "the two ones" does
    attrs.update({k: v for k, v in new.items() if not (k == "count" and v == "all" and lower(main.head) == "ones")})
    split = main.split()
    relations = with_relations(list(intent.relations), relations_of(split, None, intent))
    exclusions = list(intent.exclusions) + [
        exclusion_text(p, intent) for p in split.exclusions if exclusion_text(p, intent) not in intent.exclusions
    ]
    added = [f"{r.kind} {r.anchor}" for r in relations if r not in intent.relations]
    detail = ", ".join([*(f"{k}={v}" for k, v in new.items()), *added]) or "same target"
    changes = {"attributes": attrs, "relations": relations, "exclusions": exclusions}
    return Decision(Act.REFINE, changes, f"refinement: {detail}", [("act", main.text()), *evidence])


def singular(target: str, main: Phrase) -> str:
    """Return the target with its plural head said in the singular ("men in full view" -> "man in full view")."""
    words = target.split(" ")
    for k, word in enumerate(words):
        if word == main.head.text:
            words[k] = lemma(main.head)
            break
    return " ".join(words)


__all__ = ["LOCATORS", "described", "names_a_member", "part_words", "predicate_attributes", "refine", "refined", "singular"]
