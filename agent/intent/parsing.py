"""Noun phrases out of spaCy's parse: quoted strings merged, phrases built from the dependency tree.

:func:`parse` reads a text with the owner's cache and merges each quoted string into one token;
:func:`phrases_of` lists the top-level noun phrases (:class:`agent.intent.phrase.Phrase`), each
with its own modifiers, attached prepositional phrases ("next to it", "to the left of the
label", "on top of the box") and relative clauses. :func:`verb_as_noun` repairs the tagger's
most common slip on short requests ("the stop *sign*" read as a verb).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent import nlp
from agent.intent import vocab as vb
from agent.intent.language import QUOTE_RE
from agent.intent.phrase import LEFT_DEPS, Phrase
from agent.intent.words import is_quote, lemma, lower, number_value

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

WH_TAGS = frozenset({"WDT", "WP", "WP$", "WRB"})
"""Penn tags of question words."""


def parse(cache: nlp.ParseCache, text: str) -> Doc:
    """Parse with the owner's cache, re-read nouns the tagger took for another word class, and
    merge quoted strings into single tokens (once per doc)."""
    doc = cache.parse(text)
    if "pixelrs_nouns" not in doc.user_data:
        doc.user_data["pixelrs_nouns"] = _with_nouns_read(cache, doc)
    doc = doc.user_data["pixelrs_nouns"] or doc
    if not doc.user_data.get("pixelrs_quotes"):
        spans: list[Span] = []
        for m in QUOTE_RE.finditer(doc.text):
            span = doc.char_span(m.start(), m.end(), alignment_mode="expand")
            if span is not None and len(span) > 1 and not spans_overlap(spans, span):
                spans.append(span)
        if spans:
            with doc.retokenize() as retok:
                for span in spans:
                    retok.merge(span, attrs={"POS": "PROPN", "TAG": "NNP", "LEMMA": span.text})
        doc.user_data["pixelrs_quotes"] = True
    return doc


_STAND_IN_NOUN = "machine"
"""A plain noun the small parser always reads as one: put where it misread a rarer noun."""
_STAND_IN_ADJECTIVE = "old"
"""A plain adjective: put where it read a participle before a noun ("both *parked* cars") as a verb."""
_BEFORE_PHRASE = frozenset({"DT", "PDT", "CD", "PRP$"})
"""Tags of words that open a noun phrase (an article, "both", a number, "my")."""


def _with_nouns_read(cache: nlp.ParseCache, doc: Doc) -> Doc | None:
    """Return the parse with words the small tagger misread put right, or None when none was.

    The small English model tags a rare noun after a noun or an article as an adverb or an
    adjective ("the fire *extinguisher*"), and a participle between an article and its noun as
    the sentence's verb ("segment both *parked* cars"), and parses the phrase around that. Such a
    noun (one the pipeline's dictionary knows only as a noun) is replaced by a plain noun, such a
    participle by a plain adjective, the text parsed again, and the new parse given the user's words."""
    from spacy.tokens import Doc as SpacyDoc

    from agent.intent.spelling import word_classes

    stand_ins: dict[int, str] = {}
    for t in doc:
        if t.i == 0 or not t.is_alpha or len(t) <= 3:
            continue
        before = doc[t.i - 1]
        if t.pos_ in {"ADV", "ADJ"} and before.pos_ in {"NOUN", "PROPN", "ADJ", "DET"} and (
            word_classes(lower(t)) | word_classes(lemma(t)) == {"noun"}
        ):
            stand_ins[t.i] = _STAND_IN_NOUN
        elif t.tag_ in {"VBD", "VBN"} and before.tag_ in _BEFORE_PHRASE and t.i + 1 < len(doc) and doc[t.i + 1].tag_ in {"NN", "NNS"}:
            stand_ins[t.i] = _STAND_IN_ADJECTIVE
    if not stand_ins:
        return None
    again = cache.parse("".join(stand_ins.get(t.i, t.text) + t.whitespace_ for t in doc))
    read_as = {_STAND_IN_NOUN: "NOUN", _STAND_IN_ADJECTIVE: "ADJ"}
    if len(again) != len(doc) or any(again[i].pos_ != read_as[w] for i, w in stand_ins.items()):
        return None
    return SpacyDoc(
        doc.vocab,
        words=[t.text for t in doc],
        spaces=[bool(t.whitespace_) for t in doc],
        heads=[t.head.i for t in again],
        deps=[t.dep_ for t in again],
        pos=[t.pos_ for t in again],
        tags=[t.tag_ for t in again],
        lemmas=[lower(doc[t.i]) if t.i in stand_ins else t.lemma_ for t in again],
        morphs=[str(t.morph) for t in again],
    )


_RELATIVE_WORDS = frozenset({"which", "that", "who", "what"})
"""Words that open a relative clause (non-native English uses "what": "the one what is ...")."""


def _only_a_comment(verb: Token) -> bool:
    """Whether a relative clause is only a personal pronoun and its verb ("the ones *I guess*",
    "the one *I mean*"): the speaker's aside, which says nothing that picks the thing out."""
    children = list(verb.children)
    return len(children) == 1 and children[0].dep_ == "nsubj" and children[0].tag_ == "PRP" and children[0].i < verb.i


def _located_by_be(verb: Token) -> bool:
    """Whether a relative clause is a relative word, a form of "be" and a place ("which is in the
    middle", "that is next to the door"), and nothing else."""
    if lemma(verb) != "be":
        return False
    children = [c for c in verb.children if c.dep_ != "punct"]
    subject = [c for c in children if c.dep_ in {"nsubj", "nsubjpass"}]
    if len(subject) != 1 or lower(subject[0]) not in _RELATIVE_WORDS:
        return False
    places = [c for c in children if c.dep_ == "prep" or lower(c) in vb.PREPOSITION_PREFIXES]
    return bool(places) and len(places) + 1 == len(children)


def spans_overlap(spans: list[Span], span: Span) -> bool:
    """Return whether ``span`` overlaps one of ``spans``."""
    return any(s.start < span.end and span.start < s.end for s in spans)


def phrase_at(head: Token, depth: int = 0) -> Phrase:
    """Build the phrase headed by ``head``: its own words, attached phrases and clauses.

    A partitive ("both of the cups", "two of the dogs") is the phrase of its "of" object, with
    the quantity's words kept as its ``quantifier``."""
    inner = partitive_object(head)
    if inner is not None and depth < 3:
        phrase = phrase_at(inner, depth)
        phrase.quantifier = [t for t in head.subtree if t.i < inner.left_edge.i and t.dep_ not in {"advmod", "punct"}]
        return phrase
    words: dict[int, Token] = {head.i: head}
    preps: list[tuple[str, Phrase]] = []
    clauses = []
    as_noun = verb_as_noun(head) or modal_as_noun(head)
    if head.i > 0 and colour_before_noun(head.doc[head.i - 1]):
        # "the grey kitten" read as the noun "grey" and a stray "kitten": the colour is its modifier
        words.update({t.i: t for t in head.doc[head.i - 1].subtree if t.i < head.i})
    if head.dep_ == "dobj" and depth == 0:
        # "find the knife and fork", the second noun read as a verb coordinated with "find"
        for verb in head.head.children:
            gap = head.doc[verb.i - 1] if verb.i > 0 else None
            if (
                verb.dep_ == "conj" and verb.pos_ == "VERB" and verb.tag_ in {"VB", "VBP"} and not list(verb.children)
                and gap is not None and gap.i == head.right_edge.i + 1 and lower(gap) in {"and", "or", "&"}
            ):
                words.update({gap.i: gap, verb.i: verb})
    if _one_after_attribute(head):
        # "the rightmost one" read as "one" in apposition to the noun "rightmost"
        words.update({t.i: t for t in head.head.subtree if t.i < head.i})
    if modal_as_noun(head):
        # "the watering can": the noun before it is its modifier, wherever the parser hung it
        before = head.doc[head.i - 1]
        words.update({t.i: t for t in before.subtree if t.i < head.i})
        place = head.head
        if place.i == head.i + 1 and lower(place) in vb.PREPOSITION_PREFIXES and depth < 3:
            # "the trash can next to the door", read as "can [be] next to"
            for sub in place.children:
                found = prep_object(sub, depth, name_prefix=lower(place)) if sub.dep_ == "prep" else None
                if found:
                    preps.append(found)
    as_noun = as_noun or head.pos_ in {"NOUN", "PROPN"}  # a noun has no subject: "the trash [nsubj] can"
    for child in head.children:
        dep = child.dep_
        if child.i < head.i and (
            dep in LEFT_DEPS or (dep == "punct" and is_quote(child)) or (as_noun and dep == "nsubj" and child.tag_ != "PRP")
        ):  # a pronoun "subject" of a noun is a sentence whose copula was left out ("they regulation size?")
            if dep == "advmod" and any(c.dep_ == "prep" for c in child.children):
                continue  # "back to the motorcycle, the right half": its own phrase, not a modifier
            for t in child.subtree:
                if not (t.dep_ == "nsubj" and t.tag_ == "PRP" and t.i != child.i):
                    words[t.i] = t
        elif child.i > head.i and dep in {"nummod", "compound"} or (dep == "appos" and is_quote(child)):
            for t in child.subtree:
                words[t.i] = t
        elif dep == "conj" and child.i > head.i and _left_out(head, child) and depth < 3:
            # "the people but not the kid", "everything but the sky": the conjunct is left out
            preps.append(("except", phrase_at(child, depth + 1)))
        elif dep == "conj" and child.pos_ in {"NOUN", "PROPN"} and child.i > head.i:
            for t in child.subtree:
                if t.dep_ != "prep" and not any(a.dep_ == "prep" for a in t.ancestors if a.i > child.i and a in child.subtree):
                    words[t.i] = t
            words.update({c.i: c for c in head.children if c.dep_ == "cc"})
        elif dep == "prep" and depth < 3:
            found = prep_object(child, depth)
            if found:
                preps.append(found)
        elif dep == "appos" and child.i > head.i and lower(head) in {"one", "ones"} and preps and child.pos_ in {"NOUN", "PROPN"}:
            # the parser's reading of "the one in the black jacket and red shirt": the
            # appositive continues the description's object
            obj = preps[-1][1]
            extra = [*(c for c in obj.head.children if c.dep_ == "cc" and c.i > obj.head.i), *child.subtree]
            obj.words = sorted({t.i: t for t in [*obj.words, *extra]}.values(), key=lambda t: t.i)
        elif child.i > head.i and lower(child) in vb.PREPOSITION_PREFIXES and dep in {"advmod", "amod", "acl", "relcl", "acomp", "npadvmod"}:
            # "the port left of it", "the bike which is left of the door"
            for sub in child.children:
                if sub.dep_ == "prep" and depth < 3:
                    found = prep_object(sub, depth, name_prefix=lower(child))
                    if found:
                        preps.append(found)
        elif dep == "relcl" and _only_a_comment(child):
            continue  # "the pink ones I guess", "the one I mean": the speaker's aside, not a description
        elif dep == "relcl" and depth < 2 and _located_by_be(child):
            # "the one which is in the middle", non-native "the one what is in the middle": a
            # clause that only says where the thing is reads as the place phrase itself
            for c in child.children:
                if c.dep_ == "prep":
                    found = prep_object(c, depth)
                    if found:
                        preps.append(found)
                elif lower(c) in vb.PREPOSITION_PREFIXES:
                    preps.extend(p for sub in c.children if sub.dep_ == "prep" for p in [prep_object(sub, depth, name_prefix=lower(c))] if p)
        elif dep in {"relcl", "acl"} and depth < 2:
            if child.tag_ == "VBN" or (child.pos_ == "ADJ"):
                preps.extend(p for c in child.children if c.dep_ == "prep" for p in [prep_object(c, depth)] if p)
            else:
                clauses.append(child.doc[child.left_edge.i : child.right_edge.i + 1])
        elif dep == "amod" and child.i > head.i:
            preps.extend(p for c in child.children if c.dep_ == "prep" for p in [prep_object(c, depth)] if p)
    if head.dep_ == "dobj" and depth == 0 and any(lower(w) in vb.ORDINALS for w in words.values()):
        # "select the third cygnet from the right", "from the right" hung on the verb: the
        # side the ordinal counts from belongs to the thing
        for prep in head.head.children:
            if prep.dep_ == "prep" and lower(prep) == "from" and prep.i == head.right_edge.i + 1:
                found = prep_object(prep, depth)
                if found and lower(found[1].head) in vb.POSITIONS:
                    preps.append(found)
    participle = head.head
    if head.dep_ == "nsubj" and participle.i > head.i and participle_clause(participle) and depth < 2:
        # "the shirts hanging on the rail" read as a clause whose subject is the noun: the
        # participle describes the noun (a reduced relative clause, as the parser reads "the
        # people standing near the door"); the noun stays the head
        clauses.append(participle.doc[participle.i : participle.right_edge.i + 1])
    # "not the blue one": a "not" the parser hung on a modifier negates the whole phrase
    negation = [t for t in words.values() if t.dep_ == "neg" and t.i < head.i]
    phrase = Phrase(head=head, words=[words[i] for i in sorted(words) if words[i] not in negation], preps=preps, clauses=clauses)
    if lower(head) in _SOMEONE:
        phrase.stand_in = "person"  # "there's somebody by the door": a person, not a pronoun to resolve
    phrase.negated = any(c.dep_ == "neg" for c in head.children) or "no" in phrase.determiners or bool(negation)
    return phrase


_SOMEONE = frozenset({"someone", "somebody", "anyone", "anybody"})


def participle_clause(tok: Token) -> bool:
    """Return whether a verb is a present participle describing the noun before it, with words
    of its own after it: "the shirts *hanging on the rail*", "the man *sitting on the bench*"
    (not "the Jameson *branding*", a noun, nor a finite verb: "the dog sits")."""
    if tok.tag_ != "VBG" or tok.dep_ == "ROOT" and tok.i == 0:
        return False
    before = tok.doc[tok.i - 1] if tok.i > 0 else None
    if before is None or before.dep_ != "nsubj" or before.head.i != tok.i or before.pos_ not in {"NOUN", "PROPN"}:
        return False
    if any(c.dep_ == "aux" for c in tok.children):
        return False  # "the dog is sitting": a finite clause
    return any(c.i > tok.i and c.dep_ in {"prep", "dobj", "advmod", "prt", "npadvmod", "attr", "dative"} for c in tok.children)


def _one_after_attribute(tok: Token) -> bool:
    """Return whether "one"/"ones" follows a modifier the parser took for its head noun: "the
    rightmost one", "the triangular one" (the modifier tagged a noun, "one" hung on it as an
    apposition): the modifier describes "one", the placeholder."""
    if lower(tok) not in {"one", "ones"} or tok.i == 0 or tok.dep_ not in {"appos", "npadvmod", "dep", "nummod"}:
        return False
    attr = tok.head
    if attr.i != tok.i - 1 or attr.pos_ not in {"NOUN", "PROPN", "ADJ"} or is_quote(attr):
        return False
    return lemma(attr) not in vb.GEOMETRIC_PART_HEADS


def modal_as_noun(tok: Token) -> bool:
    """Return whether a "can" the tagger read as a modal is the noun: "the watering *can*", "a
    trash *can*", "the oil can on the shelf". It follows a noun phrase's words and no verb
    follows it (a modal always governs one)."""
    if tok.tag_ != "MD" or lower(tok) != "can" or tok.i < 2:
        return False
    doc = tok.doc
    nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
    follows = {"please", "too", "again"} | vb.PREPOSITION_PREFIXES
    if nxt is not None and not (nxt.is_punct or nxt.pos_ in {"ADP", "CCONJ", "SCONJ"} or lower(nxt) in follows):
        return False
    before = doc[tok.i - 1]
    if before.pos_ not in {"NOUN", "PROPN", "ADJ"} and before.tag_ != "VBG":
        return False
    return any(t.pos_ == "DET" or t.dep_ == "poss" for t in doc[max(0, before.left_edge.i - 1) : before.i])


def _left_out(head: Token, conj: Token) -> bool:
    """Whether a conjunct is left out of its phrase: it is negated ("the people *but not the
    kid*", "the cups and not the plates"), or it follows "but" after a whole ("everything *but
    the sky*", "everyone but the driver")."""
    if conj.pos_ not in {"NOUN", "PROPN", "NUM", "PRON"} and lower(conj) not in {"one", "ones"}:
        return False
    if any(c.dep_ == "neg" for c in conj.children) or (conj.i > 1 and lower(conj.doc[conj.left_edge.i - 1]) in {"not", "n't"}):
        return True
    but = any(c.dep_ == "cc" and lower(c) == "but" and c.i < conj.i for c in head.children)
    return but and (lower(head) in vb.UNIVERSAL_PRONOUNS or lower(head) in {"all", "every", "each"})


def partitive_object(tok: Token) -> Token | None:
    """Return the noun a quantity word takes "of" ("both of the *cups*", "two of the *dogs*",
    "each of the *windows*"), if ``tok`` is such a word; pronouns ("both of them") are not."""
    if lower(tok) not in vb.COUNT_DETERMINERS and number_value(tok) is None:
        return None
    if tok.dep_ in {"det", "predet", "nummod", "quantmod"}:
        return None
    if lower(tok) in {"one", "ones"} and any(c.dep_ in {"amod", "compound"} and c.i < tok.i for c in tok.children):
        return None  # "the largest one of them": a placeholder picked from the set, not a count
    of = next((c for c in tok.children if c.dep_ == "prep" and lower(c) == "of"), None)
    obj = next((c for c in of.children if c.dep_ == "pobj"), None) if of is not None else None
    return obj if obj is not None and (obj.pos_ in {"NOUN", "PROPN"} or lower(obj) in {"them", "these", "those"}) else None


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
                side = next((lower(c) for c in obj.children if lower(c) in {"left", "right", "other", "opposite"}), "side")
            kind = {
                "left": "left of", "right": "right of", "top": "on top of", "front": "in front of",
                "other": "other side of", "opposite": "other side of",
            }.get(side, f"{name} {side} of")
            return kind, phrase_at(inner, depth + 1)
    return name, phrase_at(obj, depth + 1)


def _noun_heads(doc: Doc) -> list[Token]:
    """Heads of top-level noun phrases: nouns, names, quotes, pronouns and "one" not inside another phrase."""
    heads = []
    for tok in doc:
        if colour_before_noun(tok):
            continue  # "grey" in "the grey kitten" read as a noun of its own
        if tok.i > 0 and colour_before_noun(doc[tok.i - 1]):
            heads.append(tok)
            continue
        if verb_as_noun(tok) or modal_as_noun(tok) or (partitive_object(tok) is not None and tok.dep_ not in {"pobj"}):
            heads.append(tok)
            continue
        if tok.dep_ == "nsubj" and verb_as_noun(tok.head):
            continue
        if tok.i + 1 < len(doc) and (modal_as_noun(doc[tok.i + 1]) or _one_after_attribute(doc[tok.i + 1])):
            continue  # "watering" in "the watering can", "rightmost" in "the rightmost one": modifiers
        if tok.dep_ == "nsubj" and tok.head.pos_ in {"NOUN", "PROPN"} and tok.head.i > tok.i:
            continue  # "trash" in "where's the trash can?" read as the subject of the noun
        if tok.pos_ not in {"NOUN", "PROPN", "PRON", "NUM"} and not is_quote(tok):
            if not (lower(tok) in {"one", "ones"} or _adjective_as_noun(tok)):
                continue
        if tok.pos_ == "NUM" and lower(tok) not in {"one", "ones"} and tok.dep_ in {"nummod"}:
            continue
        # a noun the parser hung on a verb or on a discourse word ("ok, the bus then") heads its own phrase
        under_verb = tok.head.pos_ in {"VERB", "AUX", "INTJ"} and not verb_as_noun(tok.head) and tok.pos_ in {"NOUN", "PROPN"}
        if tok.dep_ in {"compound", "poss", "nmod", "amod", "nummod", "quantmod", "npadvmod", "det", "predet", "case", "expl"} and not (
            under_verb and tok.dep_ in {"compound", "amod", "npadvmod"}
        ):
            continue
        if tok.pos_ == "PRON" and tok.tag_ in WH_TAGS:
            continue
        if tok.pos_ == "PRON" and lower(tok) in {"i", "you", "we", "me", "us", "there"}:
            continue
        heads.append(tok)
    return heads


_ATTRIBUTE_WORDS = frozenset(vb.COLOURS) | frozenset(vb.SIZES) | frozenset(vb.ORDINALS)


def _adjective_as_noun(tok: Token) -> bool:
    """Return whether an adjective stands where a noun must be: a position ("on the left"), or a word with
    its own article and nothing after it ("is there a *croissant*?", the tagger's slip on rare
    nouns). Colour, size and ordinal words stay adjectives: "the red" means "the red one"."""
    if tok.pos_ != "ADJ" or tok.dep_ not in {"pobj", "dobj", "ROOT", "nsubj", "attr"}:
        return False
    if lower(tok) in vb.POSITIONS:
        return True
    if lower(tok) in _ATTRIBUTE_WORDS or lemma(tok) in _ATTRIBUTE_WORDS or tok.tag_ in {"JJR", "JJS"}:
        return False
    return any(c.dep_ == "det" and lower(c) in {"a", "an", "the", "this", "that"} for c in tok.children) and not any(
        c.i > tok.i and c.dep_ not in {"punct"} for c in tok.children
    )


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
    "a trident and laurel *leaves*", "Jameson *branding*", "show me *sign* above the door". It has no clause of its own (object,
    auxiliary, complement) and either stands as an object or has a noun right before it."""
    if tok.pos_ != "VERB" or tok.tag_ not in {"VB", "VBP", "VBZ", "VBG"} or participle_clause(tok):
        return False
    if any(c.dep_ in _CLAUSE_DEPS for c in tok.children):
        return False
    if any(c.dep_ == "nsubj" and lower(c) in {"i", "you", "we", "he", "she", "it", "they", "this", "that"} for c in tok.children):
        return False
    if tok.i == 0:
        return tok.dep_ in {"dobj", "pobj"} and any(c.dep_ in {"det", "amod", "compound", "nsubj"} and c.i < tok.i for c in tok.children)
    if tok.dep_ == "dobj" and lemma(tok.head) in vb.SEGMENT_VERBS and tok.head.i < tok.i and tok.tag_ == "VB":
        return True  # "show me sign above the door" (no article): a request's object is a thing
    before = tok.doc[tok.i - 1]
    if lower(before) in {"and", "or"} and tok.i >= 2 and tok.doc[tok.i - 2].pos_ in {"NOUN", "PROPN"} and tok.tag_ in {"VB", "VBP"}:
        if tok.doc[tok.i - 2].head.i == tok.i and (tok.i + 1 == len(tok.doc) or tok.doc[tok.i + 1].is_punct):
            return True  # "the knife and *fork*" read as "the knife and [will] fork"
    noun_before = before.pos_ in {"NOUN", "PROPN"} and before.head.i == tok.i
    if noun_before and before.dep_ in {"compound", "amod"}:
        return True
    if noun_before and before.dep_ == "nsubj":
        # "the stop sign" read as "the stop [will] sign": a bare base form after "the/a + noun",
        # or any verb form standing where an object should be
        plain_det = any(c.dep_ == "det" and c.tag_ not in WH_TAGS for c in before.children)
        return (tok.tag_ == "VB" and plain_det) or tok.dep_ in {"dobj", "pobj", "ccomp"}
    return tok.dep_ in {"dobj", "pobj"} and any(c.dep_ in {"det", "amod", "compound", "nsubj"} and c.i < tok.i for c in tok.children)


def colour_before_noun(tok: Token) -> bool:
    """Return whether a colour word the tagger read as a noun stands right before the noun it
    describes ("the grey kitten" parsed as "the grey" and a stray "kitten")."""
    if lower(tok) not in vb.COLOURS or tok.pos_ not in {"NOUN", "PROPN"} or tok.dep_ in {"compound", "amod"}:
        return False
    nxt = tok.doc[tok.i + 1] if tok.i + 1 < len(tok.doc) else None
    if nxt is None or not nxt.is_alpha or nxt.pos_ not in {"NOUN", "PROPN"} or nxt.is_stop:
        return False
    return nxt.dep_ not in {"compound", "amod"} and lower(nxt) not in vb.COLOURS


def _depth(tok: Token) -> int:
    """Return how many heads lie between a token and its sentence root."""
    depth = 0
    while tok.head.i != tok.i and depth < 50:
        tok = tok.head
        depth += 1
    return depth



__all__ = ["WH_TAGS", "modal_as_noun", "parse", "partitive_object", "phrase_at", "phrases_of", "prep_object", "verb_as_noun"]
