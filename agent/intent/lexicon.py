"""Small hand-written lexicons the rule tracker runs on (no downloaded NLP models).

Every list here is a closed class of English words or a short list of domain words seen in
text-rich photos (labels, logos, signs). They are *general* vocabulary, not phrases of any data
set. The groups:

* function words: :data:`DETERMINERS`, :data:`PRONOUNS`, :data:`PREPOSITIONS` (+ multi-word
  :data:`MULTI_PREPOSITIONS`), :data:`AUXILIARIES`, :data:`WH_WORDS`, :data:`CONJUNCTIONS`,
  :data:`ADVERBS`, :data:`FILLERS` (turn openers such as "ok", "now", "please");
* verbs: :data:`VERBS` (inflected forms that are (almost) never nouns), :data:`AMBIGUOUS_VERBS`
  (third-person forms that are also plural nouns: "shows", "displays", "features"; tagged as
  verbs only between a noun and a noun phrase), :data:`PREDICATES` (presentational participles
  and adjectives that end a noun phrase: "visible", "displayed", "located");
* command verbs: :data:`SEGMENT_VERBS` ("find", "segment", "show me"), :data:`EXPLAIN_VERBS`
  ("describe", "explain");
* attribute values: :data:`COLOURS`, :data:`SIZES` (word -> canonical size), :data:`POSITIONS`
  (word -> canonical position), :data:`ORDINALS`, :data:`SHAPES`, :data:`MATERIALS`;
* noun classes: :data:`ATTRIBUTE_NOUNS` (what a question asks *about* a target: "colour",
  "position", "name" -> unwrapped: "the colour of the beer" points at "beer"),
  :data:`GENERIC_NOUNS` (placeholders an answer fills in: "element", "object", "part"),
  :data:`TEXT_NOUNS` (things that carry printed words: "label", "logo", "sign"),
  :data:`PLACEHOLDER_HEADS` ("one", "ones" in "the left one"), :data:`IMAGE_NOUNS`
  ("image", "picture": "in the image" adds nothing), :data:`WEAK_MODIFIERS` ("visible",
  "specific", "prominent": dropped from target phrases because they do not pick an object),
  :data:`INFO_NOUNS` (printed values: "time", "distance", "year"), :data:`LANGUAGE_WORDS`
  ("English text" names a script, not the printed words);
* relations: :data:`RELATION_PREPOSITIONS` (preposition -> :class:`agent.types.Relation` kind)
  and :data:`DIRECTIONAL_KINDS` (kinds that always become relations);
* dialogue acts: :data:`CHITCHAT_WORDS`, :data:`RESET_PATTERNS`, :data:`CORRECTION_OPENERS`,
  :data:`SEGMENT_REQUEST_PATTERNS` (PRIST's final "segment the conversation above" requests).
"""

from __future__ import annotations

import re

DETERMINERS = frozenset(
    "the a an this that these those its their his her my your our some any each every all both "
    "another either neither several".split()
)
"""Words that open a noun phrase and are dropped from target phrases."""

DEMONSTRATIVES = frozenset("this that these those".split())
"""Determiners that, alone, point back at the current target ("what does that say")."""

PRONOUNS = frozenset(
    "it its itself they them their theirs he him his she her i me we us you my mine our your "
    "something anything everything nothing someone anyone one ones".split()
)
"""Pronouns; ``it``/``that``/``this``/``them`` as an anchor resolve to the current target."""

REFERRING_PRONOUNS = frozenset("it its itself they them this that these those".split())
"""Pronouns that refer back to something already mentioned."""

PREPOSITIONS = frozenset(
    "of on in inside at near beside behind under below above over against with within beneath "
    "underneath along around across between among amongst atop onto into upon from by for to "
    "about like through toward towards during without outside throughout via per than as "
    "alongside except".split()
)
"""Single-word prepositions (a noun phrase ends before one unless it attaches, see below)."""

MULTI_PREPOSITIONS: dict[tuple[str, ...], str] = {
    ("next", "to"): "next to",
    ("close", "to"): "close to",
    ("adjacent", "to"): "adjacent to",
    ("to", "the", "left", "of"): "left of",
    ("to", "the", "right", "of"): "right of",
    ("on", "the", "left", "of"): "left of",
    ("on", "the", "right", "of"): "right of",
    ("on", "the", "left", "side", "of"): "left of",
    ("on", "the", "right", "side", "of"): "right of",
    ("left", "of"): "left of",
    ("right", "of"): "right of",
    ("on", "top", "of"): "on top of",
    ("in", "front", "of"): "in front of",
    ("in", "relation", "to"): "in relation to",
    ("in", "addition", "to"): "in addition to",
    ("out", "of"): "out of",
    ("because", "of"): "because of",
    ("such", "as"): "such as",
}
"""Multi-word prepositions, matched longest first and treated as one token."""

ATTACHING_PREPOSITIONS = frozenset(
    "of on in inside at near beside behind under below above over against with within beneath "
    "underneath along around between atop from upon next_to close_to adjacent_to left_of "
    "right_of on_top_of in_front_of".split()
)
"""Prepositions whose phrase stays attached to a noun phrase ("label on the large bottle")."""

RELATION_PREPOSITIONS: dict[str, str] = {
    "next to": "next_to",
    "beside": "next_to",
    "near": "next_to",
    "close to": "next_to",
    "adjacent to": "next_to",
    "left of": "left_of",
    "right of": "right_of",
    "above": "above",
    "over": "above",
    "atop": "on",
    "on top of": "on",
    "below": "below",
    "under": "below",
    "beneath": "below",
    "underneath": "below",
    "inside": "inside",
    "within": "inside",
    "in": "inside",
    "on": "on",
    "upon": "on",
}
"""Preposition -> :class:`agent.types.Relation` kind."""

DIRECTIONAL_KINDS = frozenset({"next_to", "left_of", "right_of", "above", "below"})
"""Relation kinds that always become a relation; ``inside``/``on`` only do for a known anchor."""

RELATION_WORDS = {
    "next_to": "next to",
    "left_of": "left of",
    "right_of": "right of",
    "above": "above",
    "below": "below",
    "inside": "inside",
    "on": "on",
}
"""Relation kind -> how it reads in a phrase."""

AUXILIARIES = frozenset(
    "is are was were be been being am do does did can could will would should shall may might "
    "must has have had isn't aren't wasn't weren't doesn't don't didn't can't couldn't won't "
    "'s 're".split()
)
"""Auxiliaries and copulas."""

WH_WORDS = frozenset("what which where why how who whose whom when".split())
"""Question words."""

CONJUNCTIONS = frozenset("and or but nor & plus".split())
"""Coordinators; ``and``/``or``/``&`` may join words inside one noun phrase."""

SUBORDINATORS = frozenset(
    "that which who whom whose where when while because since although though if unless "
    "whether so".split()
)
"""Words that open a clause and so end a noun phrase (``that`` only when not a determiner)."""

ADVERBS = frozenset(
    "very quite also just only still even too now then here there not never always often rather "
    "more most less least well again almost approximately roughly about really actually maybe "
    "perhaps probably likely possibly typically usually generally commonly clearly prominently "
    "directly exactly simply mainly mostly primarily particularly especially further instead "
    "already yet ever n't".split()
)
"""Adverbs that are never part of a target phrase (words ending in -ly are treated alike)."""

LY_NOUNS = frozenset(
    "family italy fly butterfly jelly belly july rally supply assembly ally bully lily holly "
    "dragonfly firefly reply anomaly monopoly poly".split()
)
"""Words ending in -ly that are nouns, not adverbs."""

FILLERS = frozenset(
    "ok okay so and now then also please well hmm um uh alright right great cool nice thanks "
    "next oh ah hey yes yeah yep sure fine good perfect".split()
)
"""Turn openers stripped before parsing ("ok, now the port next to it")."""

POLITE_PREFIXES: tuple[tuple[str, ...], ...] = (
    ("can", "you"),
    ("could", "you"),
    ("would", "you"),
    ("will", "you"),
    ("can", "we"),
    ("could", "we"),
    ("i", "want", "you", "to"),
    ("i'd", "like", "you", "to"),
    ("i", "would", "like", "you", "to"),
    ("i", "want", "to", "see"),
    ("i", "would", "like", "to", "see"),
    ("i'd", "like", "to", "see"),
    ("i", "want"),
    ("i", "need"),
    ("i'd", "like"),
    ("i", "would", "like"),
    ("let's",),
    ("let", "us"),
    ("help", "me"),
    ("try", "to"),
    ("go", "ahead", "and"),
)
"""Request openers stripped before parsing ("can you find ..." -> "find ...")."""

SEGMENT_VERBS = frozenset(
    "find segment show highlight select mark outline locate detect isolate mask circle get pick "
    "identify point give display cut extract track choose indicate spot grab crop box draw "
    "color colour paint look search".split()
)
"""Imperative verbs that ask for a (new) mask: "find the HDMI label", "show me the port"."""

EXPLAIN_VERBS = frozenset("describe explain tell read say discuss summarize summarise".split())
"""Imperative verbs that ask for an explanation: "describe the logo"."""

_VERB_FORMS = """
read reads reading
say says saying said
suggest suggests suggesting suggested
indicate indicates indicating
imply implies implying implied
appear appears appearing appeared
seem seems seeming seemed
contain contains containing contained
include includes including included
mention mentions mentioning
depict depicts depicting
represent represents representing represented
help helps helping helped
make makes making made
give gives giving gave given
allow allows allowing allowed
affect affects affecting affected
relate relates relating related
reflect reflects reflected
contribute contributes contributing contributed
confirm confirms confirming confirmed
enhance enhances enhancing enhanced
emphasize emphasizes emphasizing emphasized emphasise emphasises emphasised
highlights highlighting highlighted
identify identifies identifying identified
describe describes describing described
tell tells telling told
explain explains explaining explained
mean means meaning meant
signify signifies signifying signified
correspond corresponds corresponding corresponded
accompany accompanies accompanying accompanied
aids aided aiding
lacks lacking lacked
misses missing missed
needed
require requires required
hinting hinted
reveal reveals revealing revealed
demonstrate demonstrates demonstrating demonstrated
illustrate illustrates illustrating
denote denotes denoting denoted
identify identifies
specify specifies specifying specified
advertise advertises advertising advertised
promote promotes
celebrate celebrates celebrating celebrated
commemorate commemorates commemorating commemorated
targeted
sell sells selling sold
matching matched
complementing complemented
contrasting contrasted
resemble resembles resembling resembled
mirroring mirrored
involve involves involving involved
belong belongs
refer refers referring referred
planning planned
enjoy enjoys enjoying enjoyed
perform performs performing performed
attempting attempted
try tries trying tried
supports
connect connects connecting connected
convey conveys conveying conveyed
provide provides providing provided
offer offers offering offered
support supports supporting supported
draw draws drawing drew drawn
catch catches catching caught
stand stood
sit sits sitting sat
lie lies lying lay
hang hangs hanging hung
wear wears wearing wore worn
hold holds holding held
carry carries carrying carried
look looks looking looked
see sees seeing saw seen
find finds finding found
show showing showed shown
think thinks thinking thought
know knows knowing knew known
believe believes believing believed
consider considers considering considered
notice notices noticing noticed
observe observes observing observed
infer inferred inferring
conclude concludes concluding concluded
determine determines determining determined
distinguish distinguishes distinguishing distinguished
differentiate differentiates differentiating differentiated
recognize recognizes recognizing recognized recognise recognises recognising recognised
associate associates associating associated
belong belongs belonging belonged
serve serves serving served
play plays playing played
become becomes becoming became
remain remains remaining remained
feel feels feeling felt
get gets getting got gotten
go goes going went gone
come comes coming came
take takes taking took taken
put puts putting
use uses using used
ensure ensures ensuring ensured
create creates creating created
enable enables enabling enabled
promote promotes promoting promoted
encourage encourages encouraging encouraged
attract attracts attracting attracted
add adds adding added
serve serves
stands standing
lean leans leaning leaned leant
rest rests resting rested
face faces facing faced
point points pointing pointed
cover covers covering covered
surround surrounds surrounding surrounded
locate locates locating located
place placing placed
position positioning positioned
situate situated
write writes writing wrote written
print printed printing
display displaying displayed
feature featuring featured
list listing listed
label labeled labelled labeling labelling
mark marked marking
name named naming
call called calling
depicted
visible
present
shown
"""

VERBS = frozenset(w for w in _VERB_FORMS.split())
"""Inflected verb forms treated as verbs (some also in :data:`PREDICATES`)."""

AMBIGUOUS_VERBS = frozenset(
    "shows displays features lists labels marks names signs prints places positions points faces "
    "covers stands rests states bears reads lacks needs hints targets matches complements "
    "contrasts mirrors plans attempts offers costs".split()
)
"""Third-person verb forms that are also plural nouns; verbs only between a noun and an object."""

AMBIGUOUS_BASE = frozenset(
    "display feature list label mark name sign print place position point face cover stand "
    "rest state aid show look use help play read offer need plan match cost lack hint contrast "
    "mirror target attempt support stand".split()
)
"""Base forms that are also nouns; verbs only after an auxiliary, ``to`` or a pronoun subject."""

PREDICATES = frozenset(
    "visible seen shown displayed present depicted written printed located placed positioned "
    "situated mentioned listed featured labeled labelled marked found attached mounted "
    "associated considered known called named noticeable apparent evident observed used "
    "highlighted indicated shown painted engraved stamped inscribed embossed displayed available "
    "included contained illustrated pictured represented portrayed set kept stored".split()
)
"""Presentational predicates: they end a noun phrase, and a phrase after them may attach."""

WEAK_MODIFIERS = frozenset(
    "visible specific particular certain additional prominent prominently noticeable notable "
    "distinct distinctive main primary various different same such similar key overall "
    "dominant predominant clear obvious recognizable recognisable identifiable visual "
    "significant important unique special specified given shown displayed depicted mentioned "
    "listed featured located placed positioned exact precise actual entire whole respective "
    "relevant common typical usual general possible potential".split()
)
"""Modifiers that do not help pick an object; dropped from target phrases."""

INFO_NOUNS = frozenset(
    "time date year day price cost distance speed temperature score percentage address phone "
    "altitude elevation capacity version".split()
)
"""Property nouns whose value is printed ("what time is shown on the screen?"): with a place
after them they name that printed value, and the answer's number becomes ``text``."""

SHAPES = frozenset(
    "square round circular rectangular oval triangular hexagonal octagonal cylindrical "
    "spherical curved straight flat pointed diamond-shaped heart-shaped star-shaped".split()
)
"""Shape words (``attributes["shape"]`` when a question asks for the shape)."""

MATERIALS = frozenset(
    "metal metallic steel iron wooden wood plastic glass leather paper cardboard fabric cotton "
    "wool silk stone concrete brick ceramic porcelain rubber transparent golden silver copper "
    "brass marble".split()
)
"""Material words (``attributes["material"]`` when a question asks for the material)."""

LANGUAGE_WORDS = frozenset(
    "english arabic chinese japanese korean french german spanish italian russian latin greek "
    "hindi portuguese dutch hebrew thai turkish polish swedish norwegian danish finnish "
    "vietnamese indonesian persian urdu cyrillic roman".split()
)
"""Capitalised language words: "English text" names a script, not the printed words."""

COLOURS = frozenset(
    "red green blue yellow orange purple pink brown black white grey gray silver gold golden "
    "beige violet cyan magenta maroon navy teal turquoise tan cream ivory crimson scarlet "
    "indigo lime olive khaki bronze copper amber burgundy lavender".split()
)
"""Colour words (a leading run of them becomes ``attributes["colour"]``)."""

COLOUR_SHADES = frozenset("dark light bright pale deep".split())
"""Shade words kept with a following colour ("dark blue")."""

SIZES: dict[str, str] = {
    "bigger": "bigger",
    "larger": "bigger",
    "taller": "bigger",
    "wider": "bigger",
    "smaller": "smaller",
    "shorter": "smaller",
    "narrower": "smaller",
    "biggest": "biggest",
    "largest": "biggest",
    "tallest": "biggest",
    "widest": "biggest",
    "smallest": "smallest",
    "shortest": "smallest",
    "tiniest": "smallest",
    "big": "large",
    "large": "large",
    "huge": "large",
    "giant": "large",
    "tall": "large",
    "small": "small",
    "little": "small",
    "tiny": "small",
}
"""Size word -> canonical value of ``attributes["size"]``."""

POSITIONS: dict[str, str] = {
    "left": "left",
    "leftmost": "left",
    "right": "right",
    "rightmost": "right",
    "top": "top",
    "upper": "top",
    "topmost": "top",
    "bottom": "bottom",
    "lower": "bottom",
    "bottommost": "bottom",
    "center": "center",
    "centre": "center",
    "central": "center",
    "middle": "center",
    "centered": "center",
    "centrally": "center",
    "front": "front",
    "back": "back",
    "rear": "back",
    "foreground": "front",
    "background": "back",
}
"""Position word -> canonical value of ``attributes["position"]``."""

POSITION_PREMODIFIERS = frozenset(
    "left leftmost right rightmost top upper topmost bottom lower bottommost middle central "
    "center centre".split()
)
"""Position words taken out of a noun phrase's modifiers ("the left bottle")."""

ORDINALS: dict[str, str] = {
    "first": "first",
    "1st": "first",
    "second": "second",
    "2nd": "second",
    "third": "third",
    "3rd": "third",
    "fourth": "fourth",
    "4th": "fourth",
    "fifth": "fifth",
    "5th": "fifth",
    "sixth": "sixth",
    "seventh": "seventh",
    "eighth": "eighth",
    "ninth": "ninth",
    "tenth": "tenth",
    "last": "last",
    "final": "last",
}
"""Ordinal word -> ``attributes["ordinal"]``."""

ATTRIBUTE_NOUNS = frozenset(
    "color colour colors colours shade hue tint shape form size dimension dimensions position "
    "positions location placement arrangement orientation layout name title brand type kind "
    "sort style design aspect aspects material texture pattern appearance look condition state "
    "quality purpose role function meaning significance symbolism importance relevance "
    "message content contents information info detail details feature features characteristic "
    "characteristics amount count quantity time date year age price value distance "
    "height width length weight speed direction angle posture pose expression mood emotion "
    "theme setting context origin source font temperature score percentage address altitude typeface wording language "
    "visibility prominence presence absence use usage effect impact relation relationship "
    "connection association contrast combination placement positioning".split()
)
"""Nouns naming a property of a target; "the colour of X" and "what colour is X" point at X."""

GENERIC_NOUNS = frozenset(
    "element elements item items object objects thing things part parts piece pieces area areas "
    "region regions section sections portion portions component components feature features "
    "detail details structure structures product products accessory accessories entity "
    "entities stuff one ones something anything spot spots marking markings symbol symbols".split()
)
"""Placeholder nouns: a question about "what elements" is answered by the answer's noun."""

TEXT_NOUNS = frozenset(
    "text texts word words letter letters label labels logo logos sign signs signage title "
    "titles name names brand brands sticker stickers badge badges banner banners poster "
    "posters tag tags plate plates caption captions heading headline slogan writing inscription "
    "lettering number numbers numeral numerals digit digits code barcode emblem emblems "
    "message display screen board billboard placard plaque stamp seal trademark wordmark "
    "monogram initials acronym phrase sentence line lines note notice print printing "
    "ticket receipt cover spine page menu shirt jersey".split()
)
"""Things that carry printed words: capitalised words just before them are their text."""

PURE_TEXT_NOUNS = frozenset(
    "text word words letter letters title name phrase numbers number numeral digits "
    "inscription lettering writing caption slogan heading headline wording".split()
)
"""Nouns that *are* text; a text value reads after them ("text 'EXIT'"), not before."""

PLACEHOLDER_HEADS = frozenset(
    "one ones part parts bit bits piece pieces portion portions area areas region regions "
    "section sections side half".split()
)
"""Heads of refinements that keep the target: "the left one", "the red part"."""

IMAGE_NOUNS = frozenset(
    "image images picture pictures photo photos photograph photographs scene frame shot "
    "question view screenshot".split()
)
"""A phrase like "in the image" or "in question" adds nothing and is dropped."""

CHITCHAT_WORDS = frozenset(
    "hi hello hey hiya yo greetings thanks thank thx ty you ok okay k cool great nice awesome "
    "good perfect fine sure alright right got it bye goodbye cheers lol wow amazing excellent "
    "that's thats this is was it looks well done yes yeah yep no nope sounds works job lovely "
    "super brilliant neat morning evening afternoon how are doing much very so a lot appreciated "
    "see ya later there".split()
)
"""A short turn made only of these words is chit-chat ("hi", "thanks", "ok cool")."""

CHITCHAT_PATTERNS = (
    re.compile(r"^(who|what) are you\b"),
    re.compile(r"^what can you do\b"),
    re.compile(r"^how are you\b"),
    re.compile(r"^(nice|good) to meet you\b"),
    re.compile(r"^help$"),
)
"""Small-talk questions that are chit-chat despite the question form."""

RESET_PATTERNS = (
    re.compile(r"^(let'?s )?(start|begin) (over|again|afresh|from scratch)\b"),
    re.compile(r"^(let'?s )?restart\b"),
    re.compile(r"^reset\b"),
    re.compile(r"^forget (it|that|this|everything|all( of)?( that| this| it)?|about it)\b"),
    re.compile(r"^clear (it|that|this|everything|all|the (selection|mask|target))\b"),
    re.compile(r"^never ?mind\b"),
    re.compile(r"^scratch that\b"),
    re.compile(r"^new (image|session|conversation)\b"),
)
"""Turns (after openers are stripped) that clear the intent."""

CORRECTION_OPENERS = (
    re.compile(r"^(no|nope|nah|wrong|incorrect|not quite|not really|not that)\b"),
    re.compile(r"^(that'?s|that is|this is|it'?s|it is) (not|wrong|incorrect)\b"),
    re.compile(r"^(you|u) (got|picked|selected|segmented|found|highlighted) (the )?wrong\b"),
    re.compile(r"^wrong (one|thing|object|part)\b"),
    re.compile(r"^(i|i've) (meant|mean|said|wanted)\b"),
    re.compile(r"^actually\b"),
    re.compile(r"^not\b"),
    re.compile(r"^(oops|sorry)\b"),
)
"""Turn openings that mark a correction of the current mask."""

SEGMENT_REQUEST_PATTERNS = (
    re.compile(
        r"\b(segment|segments|segmentation|segmenting|divide|structure|outline|split|partition"
        r"|mask)\b.*\b(conversation|dialogue|dialog|discussion|chat|answers?)\b"
    ),
    re.compile(
        r"\b(conversation|dialogue|dialog|discussion|chat)\b.*\b(segment|segments|segmentation"
        r"|divide|structure|outline|mask)\b"
    ),
    re.compile(
        r"^(now |please |ok |okay |so )*(segment|mask|outline|highlight)( it| that| this| them)?"
        r"( now| please)?$"
    ),
    re.compile(r"^(show|give) (me )?the (mask|segmentation)\b"),
    re.compile(r"^(do|run|produce|generate|make) (the |a )?(segmentation|mask)\b"),
    re.compile(
        r"\bwhat we (talked|discussed|spoke) about\b.*\b(segment|mask)\b|"
        r"\b(segment|mask)\b.*\bwhat we (talked|discussed|spoke) about\b"
    ),
)
"""Final "segment the conversation above" requests (all PRIST templates) and short asks."""

STOP_WORDS = frozenset(
    "the a an of on in to and is are with for at by that this it its which what as from be "
    "or was were".split()
)
"""Words ignored when comparing target heads."""
