"""The few word lists the tracker needs that spaCy's parse does not give (small, general English).

Everything else comes from the parse (:mod:`agent.intent.reading`): parts of speech, lemmas,
dependency labels, comparative/superlative degree (``Degree=Cmp/Sup``), number and pronoun type,
and which words are English at all (the pipeline's stop words and lemmatizer tables). What stays
here is what a grammar cannot know:

* which verbs ask to segment or to explain (:data:`SEGMENT_VERBS`, :data:`EXPLAIN_VERBS`), to
  leave something out (:data:`EXCLUDE_VERBS`) or to return to an earlier target
  (:data:`RETURN_VERBS`, :data:`RETURN_WORDS`);
* the closed sets of attribute values the backends read: colour terms (:data:`COLOURS`),
  position words (:data:`POSITIONS`), size adjectives (:data:`SIZES`), ordinals
  (:data:`ORDINALS`; the packaged tagger has no ``NumType=Ord``), geometric parts
  (:data:`GEOMETRIC_PART_HEADS`);
* noun classes: property nouns a question asks *about* (:data:`PROPERTY_NOUNS`, "the colour of
  the beer" is about the beer), placeholders an answer or the current target fills in
  (:data:`PLACEHOLDER_NOUNS`, :data:`GENERIC_NOUNS`), nouns for the picture itself
  (:data:`IMAGE_NOUNS`), nouns that carry printed words (:data:`TEXT_NOUNS`), group nouns that
  are not parts ("a pair of shoes", :data:`GROUP_NOUNS`);
* person nouns (:data:`PERSON_NOUNS`): which words name one of "the people";
* presentational adjectives that never pick an object out (:data:`WEAK_ADJECTIVES`);
* relation prepositions (:data:`RELATION_KINDS`) and the dialogue formulas: resets, greetings,
  the fixed PRIST "segment the conversation above" requests (:data:`SEGMENT_REQUEST`).
"""

from __future__ import annotations

import re

SEGMENT_VERBS = frozenset(
    "find segment show highlight select mark outline locate detect isolate mask circle get pick "
    "point give display cut extract choose indicate spot grab crop box draw colour color paint "
    "look search identify see target track narrow limit restrict keep".split()
)
"""Lemmas of imperative verbs that ask for a mask ("find the HDMI label", "show me the port")."""

EXPLAIN_VERBS = frozenset("describe explain tell read say discuss summarize summarise".split())
"""Lemmas of imperative verbs that ask for an explanation ("describe it")."""

EXCLUDE_VERBS = frozenset("exclude remove skip ignore omit drop subtract".split())
"""Lemmas of verbs that leave something out of the target ("leave out" is read from its particle)."""

EXCLUDE_PREPOSITIONS = frozenset({"except", "without", "excluding", "minus", "besides"})
"""Prepositions whose object is left out ("every chair except the one on the left")."""

UNIVERSAL_PRONOUNS = frozenset({"everything", "everyone", "everybody"})
"""Pronouns that name a whole, not something said before: "everything except the dog" is a
target ("everything" left as said), unlike "it" or "them"."""

RETURN_WORDS = frozenset({"back", "again", "return", "previous", "earlier", "before"})
"""Words that send the user back to an earlier target ("go back to the logo", "the cup again")."""

RETURN_VERBS = frozenset({"go", "come", "switch", "return", "get"})
"""Lemmas of verbs that, with "back"/"again"/"to", go back to an earlier target ("return to the clock")."""

COLOURS = frozenset(
    "red green blue yellow orange purple violet pink brown black white grey gray silver gold "
    "golden beige tan cyan magenta turquoise teal navy maroon olive lime cream ivory khaki "
    "crimson scarlet indigo lavender bronze copper amber colorful colourful multicolored "
    "multicoloured transparent".split()
)
"""Colour terms (the value of ``attributes["colour"]``)."""

BASIC_COLOURS = frozenset("red green blue yellow orange purple pink brown black white grey gray".split())
"""Basic colour terms: a colour even as a noun modifier ("the orange cup"), unlike "ice *cream*"."""

COLOUR_SHADES = frozenset("light dark bright pale deep pastel neon".split())
"""Words that qualify a colour ("dark blue")."""

POSITIONS: dict[str, str] = {
    "left": "left", "leftmost": "left", "right": "right", "rightmost": "right",
    "top": "top", "upper": "top", "topmost": "top", "bottom": "bottom", "lower": "bottom",
    "bottommost": "bottom", "center": "center", "centre": "center", "central": "center",
    "middle": "center",
}  # fmt: skip
"""Position word -> value of ``attributes["position"]`` (the image plane: no front/back)."""

SIZES: dict[str, str] = {
    "big": "big", "large": "big", "huge": "big", "giant": "big", "great": "big",
    "small": "small", "little": "small", "tiny": "small",
    "tall": "tall", "short": "short", "long": "long", "wide": "wide", "narrow": "narrow",
    "thin": "thin", "thick": "thick", "high": "high", "low": "low",
}  # fmt: skip
"""Size adjective lemmas; the value is the word as said ("bigger", "tallest", "large")."""

MEANING_VERBS = frozenset(
    "do say mean suggest indicate imply tell think conclude infer make represent signify "
    "symbolize symbolise convey reveal explain relate contribute affect reflect".split()
)
"""Verbs whose "what" object is information, not a thing ("what does it suggest?")."""

ORDINALS: dict[str, str] = {
    "first": "first", "1st": "first", "second": "second", "2nd": "second", "third": "third",
    "3rd": "third", "fourth": "fourth", "4th": "fourth", "fifth": "fifth", "5th": "fifth",
    "sixth": "sixth", "6th": "sixth", "seventh": "seventh", "eighth": "eighth", "ninth": "ninth",
    "tenth": "tenth", "last": "last", "final": "last",
}  # fmt: skip
"""Ordinal word -> value of ``attributes["ordinal"]``."""

COUNT_DETERMINERS = {"all": "all", "every": "all", "each": "all", "both": "2"}
"""Determiners that say how many instances are meant (``attributes["count"]``)."""

GEOMETRIC_PART_HEADS = frozenset({"half", "side", "top", "bottom", "center", "centre", "middle", "corner", "edge"})
"""Head nouns of geometric parts: "the left half", "the top", "the left side"."""

PLACEHOLDER_NOUNS = frozenset(
    "one ones part parts bit bits piece pieces portion portions area areas region regions "
    "section sections".split()
)
"""Heads that stand for the current target ("the left one", "the red part")."""

GENERIC_NOUNS = frozenset(
    "element elements item items object objects thing things stuff feature features detail "
    "details structure structures product products accessory accessories entity entities "
    "symbol symbols marking markings component components something anything subject "
    "subjects".split()
)
"""Nouns an answer names more precisely ("What elements are near the bus?" -> "traffic cones")."""

PROPERTY_NOUNS: dict[str, str] = {
    "color": "colour", "colour": "colour", "shade": "colour", "hue": "colour", "tint": "colour",
    "shape": "shape", "form": "shape", "size": "size", "dimension": "size", "height": "size",
    "width": "size", "length": "size", "position": "position", "location": "position",
    "placement": "position", "positioning": "position", "orientation": "position",
    "arrangement": "position", "material": "material", "texture": "material",
    "name": "text", "title": "text", "wording": "text", "content": "text", "message": "text",
    "text": "text", "brand": "text", "type": "type", "kind": "type", "sort": "type",
    "style": "type", "design": "type", "appearance": "type", "look": "type", "condition": "type",
    "purpose": "meaning", "role": "meaning", "function": "meaning", "meaning": "meaning",
    "significance": "meaning", "importance": "meaning", "relevance": "meaning",
    "symbolism": "meaning", "use": "meaning", "time": "text", "date": "text", "year": "text",
    "price": "text", "distance": "text", "number": "text", "value": "text", "count": "text",
    "amount": "text", "presence": "meaning", "pose": "position", "posture": "position",
    "expression": "type", "mood": "type", "direction": "position", "angle": "position",
    "aspect": "type", "information": "text", "info": "text", "speed": "text",
    "temperature": "text", "score": "text", "percentage": "text", "address": "text",
}  # fmt: skip
"""Nouns naming a property of a thing -> the attribute a question about it fills."""

VALUE_NOUNS = frozenset(
    "distance time date year price number speed temperature score percentage amount address".split()
)
"""Property nouns for a printed value: "what distance is shown on the sign?" asks for the printed
distance (the target is "distance on the sign"), not about the sign."""

GROUP_NOUNS = frozenset(
    "pair group set bunch row stack pile couple lot number collection series line cluster "
    "crowd team flock herd".split()
)
"""Nouns that gather their "of" object rather than being a part of it ("a pair of shoes")."""

QUANTITY_NOUNS = frozenset({"lot", "load", "ton", "heap", "plenty", "dozen", "loads", "lots", "tons", "heaps", "dozens"})
"""Nouns that say how many, not what: without their "of" object ("there are loads") they name
no thing (with it, "lots of cups", the thing is the object)."""

TEXT_NOUNS = frozenset(
    "text word letter label logo sign signage title name brand sticker badge banner poster tag "
    "plate caption heading headline slogan writing inscription lettering number numeral digit "
    "code emblem message display screen board billboard placard plaque stamp trademark "
    "phrase note notice menu".split()
)
"""Lemmas of nouns that carry printed words: a capitalised name before them is their text."""

PURE_TEXT_NOUNS = frozenset(
    "text word letter title name phrase number numeral digit inscription lettering writing "
    "caption slogan heading headline wording".split()
)
"""Lemmas of nouns that *are* text; their text value reads after them ("text 'EXIT'")."""

IMAGE_NOUNS = frozenset(
    "image picture photo photograph scene frame shot question view screenshot".split()
)
"""Lemmas of nouns for the picture itself: "in the image" and "in question" add nothing."""

OUTPUT_NOUNS = frozenset("selection highlight outline segmentation cutout".split())
"""Lemmas of nouns for what the assistant returned: "the left half of the selection" is the
current target's; "mask" counts only after "this", "that", "your" or "current" (a mask may be worn)."""

SEPARATE_WORDS = frozenset("separate individual different own distinct".split())
"""Words that, before "masks", say how to answer ("as separate masks"), not what to find."""

WEAK_ADJECTIVES = frozenset(
    "visible specific particular certain additional prominent noticeable notable distinct "
    "distinctive main primary various clear obvious recognizable recognisable identifiable "
    "visual significant important unique special exact actual entire whole respective "
    "relevant apparent evident overall".split()
)
"""Adjectives that say a thing is seen or matters, not which thing it is; left out of targets."""

PERSON_NOUNS = frozenset(
    "person people man woman guy lady gentleman boy girl child kid baby adult teenager human "
    "individual player pedestrian passenger worker customer rider driver".split()
)
"""Lemmas of nouns for a person: "just the man in the beige coat" picks one of "all the people"
(the parse knows a noun, not that a man is a person)."""

ONLY_WORDS = frozenset({"only", "just", "merely", "solely"})
"""Words that narrow to what follows ("only the left one", "just the front wheel")."""

OTHER_WORDS = frozenset({"other", "another", "different", "else"})
"""Words asking for another instance than the current mask ("the other one")."""

RELATION_KINDS: dict[str, str] = {
    "next to": "next_to", "beside": "next_to", "near": "next_to", "close to": "next_to",
    "adjacent to": "next_to", "by": "next_to", "alongside": "next_to",
    "left of": "left_of", "right of": "right_of",
    "above": "above", "over": "above", "on top of": "above", "atop": "above",
    "below": "below", "under": "below", "beneath": "below", "underneath": "below",
    "inside": "inside", "in": "inside", "within": "inside", "on": "on", "upon": "on",
    "behind": "behind", "in back of": "behind", "in front of": "in_front_of",
}  # fmt: skip
"""Preposition (as read from the parse) -> :class:`agent.types.Relation` kind."""

DIRECTIONAL_KINDS = frozenset(
    {"next_to", "left_of", "right_of", "above", "below", "behind", "in_front_of"}
)
"""Relation kinds that always become relations; ``inside``/``on`` only with a known anchor."""

RELATION_WORDS = {
    "next_to": "next to", "left_of": "left of", "right_of": "right of", "above": "above",
    "below": "below", "inside": "inside", "on": "on", "behind": "behind",
    "in_front_of": "in front of",
}  # fmt: skip
"""Relation kind -> how it reads in a phrase."""

OPENER_WORDS = frozenset(
    "ok okay so and now then also please well hmm um uh alright great cool nice next oh ah hey "
    "yes yeah yep sure fine good perfect but".split()
)
"""Discourse words that open a turn and carry no request ("ok, now the port next to it")."""

PLEASE_WORDS = frozenset({"please", "pls", "plz", "plse", "pleas", "pleeease"})
"""A request's politeness, which may fall inside a phrase ("the lanterns along the top please")."""

AFFIRMATIVES = frozenset("yes yeah yep yup sure ok okay correct right exactly perfect".split())
"""Words that open a confirmation of what is shown ("yes that one", "yeah, him")."""

NEGATIVE_OPENERS = frozenset({"no", "nope", "nah", "wrong", "incorrect", "not", "oops", "sorry", "actually"})
"""Words that open a correction ("no, the other one", "actually I meant the cup")."""

LOCATION_PREPOSITIONS = frozenset(
    "on in at inside near beside behind under below above over within beneath underneath along "
    "around atop upon against next to close".split()
)
"""Prepositions of place: their phrase on a predicate locates the subject ("visible *on the sign*")."""

PREPOSITION_PREFIXES = frozenset({"next", "close", "adjacent", "left", "right", "relative", "such"})
"""Words that make one preposition with the next: "next to", "left of", "such as"."""

POLITE_WORDS = frozenset(
    "hi hello hey hiya yo greetings thanks thank thx ty cheers bye goodbye ok okay cool great "
    "nice awesome good perfect fine sure alright yes yeah yep lol wow amazing excellent lovely "
    "super brilliant neat welcome appreciate much very so lot morning evening afternoon job "
    "done well work works sounds right got it you that this is was looks there "
    "haha hahaha hehe lmao rofl aww aw ooh yay enough".split()
) | frozenset("merci gracias danke grazie obrigado obrigada arigato ciao hola bonjour salut adios".split())
"""Words a greeting, an acknowledgement or a reaction is made of ("ok cool", "great, thanks!",
"aww", "that's enough"), with the
thanks and greetings English chat borrows from other languages ("merci !", "ciao")."""

BORROWED_POLITE = frozenset("merci gracias danke grazie obrigado obrigada arigato ciao hola bonjour salut adios".split())
"""Thanks and greetings of other languages that English chat uses (also in :data:`POLITE_WORDS`):
a short turn with one of them is a thanks or a greeting even when the rest is not English
("muchas gracias", "danke schön")."""

SLANG = {
    "pls": "please", "plz": "please", "u": "you", "ur": "your", "thx": "thanks", "whats": "what's",
    "k": "ok", "kk": "ok", "ya": "yeah", "yea": "yeah", "prev": "previous", "qty": "quantity",
}  # fmt: skip
"""Chat spellings read as their words before parsing ("k" is "ok", "ya" is "yeah")."""

LAUGHTER = re.compile(r"(?<![\w'’])(?:lo+l|lmf?ao|rofl|omf?g|(?:ha){2,}h?|(?:he){2,}h?)(?![\w'’])", re.IGNORECASE)
"""Laughter and chat exclamations ("lol", "haha", "omg"): like emoji they carry no words, so they
are taken out before parsing ("that's a calculator lol" is "that's a calculator"); a turn of
nothing else is an empty one (chit-chat)."""

CHITCHAT = re.compile(
    r"^(who|what) are you\b|^what can you do\b|^how are you\b|^(nice|good) to meet you\b|^help$"
    r"|^how (does|do) (this|it|you) work\b"
    r"|^((good (morning|afternoon|evening|night|day)|hi|hello|hey|there|sup|wassup|what ?'?s up|yo|gg)\W*)+$"
    r"|^what an? (\w+ ){1,3}(that|this|it) (was|is)\b|^no (problem|worries)$"
)
"""Small talk (on the lower-cased turn, openers removed): questions about the assistant, a greeting
alone, an exclamation ("what a day that was") and "no problem"."""

RESET = re.compile(
    r"^(let ?'?s |please |ok,? |okay,? )*(start|begin) (over|again|afresh|fresh|from scratch)\b|^(let ?'?s )?restart\b"
    r"|^reset\b|^(let ?'?s )?forget (it|that|this|everything|all|about it)\b"
    r"|^clear (it|that|this|everything|all|the (selection|mask|target))\b|^never ?mind\b"
    r"|^scratch that\b|^new (session|conversation)\b"
)
"""Turns that clear the intent (on the lower-cased turn, openers removed)."""
RESET_IDIOMS = re.compile(
    r"\b(start|begin) (all )?(over|afresh|anew|new|from scratch|from the (beginning|start))\b"
    r"|\bwipe the slate\b|\bclean slate\b|\b(erase|clear|delete|wipe) (it all|everything|all of it)\b"
    r"|\bscratch (all )?(of )?(that|this)\b"
)
"""Idioms that clear the intent wherever they stand in a turn ("hmm, it missed a few. let's wipe
the slate clean", "ok scratch all that, let's start from scratch")."""

OUTPUT_REQUEST = re.compile(
    r"^(?:(?:and|ok|okay|um|uh|so|now|please|then|can you|could you)\s+)*"
    r"(?:download|save|export|send|keep)\b.*\b(?:mask|masks|it|that|this|them|png|jpe?g|file|image)\b"
    r"|\bshade (?:it|that|this|them) in\b"
    r"|^(?:(?:the )?outline|(?:as )?separate masks|(?:one|a) mask (?:each|per \w+))(?: only)?(?: please)?$"
    r"|\b(?:give|get|make) me a mask of (?:that|this|it|them)\b"
    r"|\bboth of them\b.*\bseparate(?:ly| masks)\b"
)
"""Asks about the answer itself, not a new thing: save or download it, shade it in, separate
masks, only the outline ("and um download the mask for me", "both of them, separate masks")."""

MASK_ERROR = re.compile(
    r"\b(?:you'?ve|you have|you|it|the mask) (?:still )?(?:got|included?|includes|caught|grabbed|"
    r"took|missed|misses|left out|cut off|clipped|is missing)\b.*\b(?:too|in there|as well|"
    r"also|shadow|reflection|background|half|part|bit|edge|mirror|missing)\b"
    r"|\b(?:that'?s|that is|this is|it'?s) (?:the|its|his|her|a|just) [\w ]{1,25}, not (?:the|its|his|her|a)\b"
    r"|^(?:only|just) got (?:half|part|some)\b"
    r"|^includes? \w+(?: \w+)?,? (?:remove|drop|take)\b"
)
"""Descriptions of what is wrong with the mask ("that's the shadow, not the dog", "you've
included its reflection too", "only got half"): a correction of the current target."""

SEGMENT_REQUEST = re.compile(
    r"\b(segment|segments|segmentation|segmenting|divide|structure|outline|split|partition|mask)\b"
    r".*\b(conversation|dialogue|dialog|discussion|chat|answers?)\b"
    r"|\b(conversation|dialogue|dialog|discussion|chat)\b.*\b(segment|segments|segmentation|divide"
    r"|structure|outline|mask)\b"
    r"|^(show|give) (me )?the (mask|segmentation)\b|^(do|run|produce|generate|make) (the |a )?(segmentation|mask)\b"
)
"""The fixed "segment the conversation above" requests of PRIST and short asks for the mask."""

__all__ = [name for name in dir() if name.isupper()]
