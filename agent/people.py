"""Nouns that name a person: everyday words, roles, jobs and kin, and any noun built on man, woman or person.

One table for the whole program: the lite backend maps them to the detector's "person" category,
and the tracker reads "the teacher's desk" as a desk (a thing a person has), not a part of the
teacher, while "the teacher's hand" or "his tie" stay parts (:data:`PERSON_PARTS`).
"""

from __future__ import annotations

PERSON_NOUNS: tuple[str, ...] = (
        "people", "human", "man", "men", "woman", "women", "guy", "guys", "lady", "ladies",
        "gentleman", "boy", "girl", "kid", "child", "children", "baby", "toddler", "teenager",
        "adult", "someone", "somebody", "pedestrian", "passenger", "player", "athlete", "rider",
        "astronaut", "officer", "soldier", "worker", "photographer", "cameraman", "driver",
        "coach", "referee", "tourist", "student", "admiral", "dude", "fellow", "individual",
        "figure", "crowd", "folks", "mother", "father", "mom", "dad", "husband", "wife",
        "blonde", "blondes", "blond", "brunette", "brunettes", "redhead", "redheads",
        # roles, jobs and kin: what people are called by what they do or who they are
        "farmer", "farmhand", "rancher", "shepherd", "gardener", "builder", "labourer", "laborer",
        "mechanic", "technician", "engineer", "scientist", "janitor", "plumber", "electrician",
        "waiter", "waitress", "chef", "cook", "baker", "butcher", "barista", "bartender",
        "cashier", "clerk", "vendor", "seller", "shopkeeper", "customer", "shopper", "guest",
        "host", "hostess", "receptionist", "nurse", "doctor", "surgeon", "patient", "teacher",
        "professor", "pupil", "schoolboy", "schoolgirl", "dancer", "singer", "musician",
        "guitarist", "drummer", "pianist", "violinist", "performer", "actor", "actress", "clown",
        "juggler", "magician", "artist", "runner", "jogger", "walker", "hiker", "climber",
        "swimmer", "diver", "surfer", "skier", "snowboarder", "skater", "skateboarder",
        "cyclist", "biker", "golfer", "batter", "goalkeeper", "goalie", "umpire", "jockey",
        "cowboy", "cowgirl", "lifeguard", "guard", "cop", "firefighter", "pilot", "sailor",
        "captain", "angler", "hunter", "tailor", "barber", "priest", "monk", "nun", "bride",
        "groom", "bridesmaid", "spectator", "onlooker", "bystander", "passerby", "commuter",
        "traveller", "traveler", "visitor", "villager", "resident", "neighbour", "neighbor",
        "friend", "grandma", "grandpa", "granny", "grandmother", "grandfather", "grandson",
        "granddaughter", "son", "daughter", "brother", "sister", "uncle", "aunt", "infant",
        "newborn", "youngster", "youth", "senior", "pensioner", "grownup",
        "conductor", "bassist", "cellist", "trumpeter", "saxophonist", "flautist", "flutist",
        "harpist", "percussionist", "vocalist", "keyboardist", "rapper", "presenter", "lecturer",
        "preacher", "pastor", "vicar", "politician", "king", "queen", "prince", "princess",
        "knight", "warrior", "wrestler", "footballer", "cricketer", "paramedic", "courier",
        "catcher", "fielder", "outfielder", "infielder", "baserunner", "hitter", "defender",
        "midfielder", "striker", "keeper", "quarterback", "linebacker", "boxer", "fencer", "archer",
        "rower", "paddler", "kayaker", "canoeist", "tennis player", "sprinter",
        "backpacker", "camper", "protester", "demonstrator", "porter", "attendant", "steward",
        "stewardess", "usher", "audience", "graduate", "schoolchild", "schoolkid",
)  # fmt: skip
"""Everyday names of people (a reviewed, closed list)."""

PERSON_SUFFIXES = ("man", "men", "woman", "women", "person", "persons", "people")
"""A noun ending in these names a person ("fisherman", "policewoman", "salesperson")..."""
NOT_PEOPLE = frozenset({"snowman", "snowmen", "ottoman", "ottomans", "walkman", "caiman", "caimans"})
"""...except these."""

PERSON_PARTS = frozenset(
    "face head hair eye eyes ear ears nose mouth lip lips teeth tooth tongue chin cheek cheeks "
    "forehead beard moustache mustache neck shoulder shoulders arm arms elbow hand hands finger "
    "fingers thumb wrist leg legs knee knees foot feet toe toes back chest belly body skin "
    "hat cap helmet hood scarf glasses sunglasses shirt t-shirt jacket coat sweater jumper hoodie "
    "vest jersey tie dress skirt trousers pants jeans shorts shoe shoes boot boots sock socks "
    "glove gloves uniform apron mask collar sleeve sleeves pocket".split()
)
"""What of a person is a part of them (the body, and what is worn); anything else a person has
("the teacher's desk", "the bag of the player") is a thing of its own."""


def names_a_person(noun: str) -> bool:
    """Whether a one-word noun (a lemma or a plural) names a person."""
    noun = noun.lower()
    if noun in _PEOPLE or noun == "person" or (noun.endswith("s") and noun[:-1] in _PEOPLE):
        return True
    if " " in noun or noun in NOT_PEOPLE:
        return False
    return any(noun.endswith(s) and len(noun) > len(s) + 2 for s in PERSON_SUFFIXES)


_PEOPLE = frozenset(PERSON_NOUNS)
