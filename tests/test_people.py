"""agent.people: one table of the nouns that name a person, for the tracker and the lite backend."""

from __future__ import annotations

import pytest

from agent.people import PERSON_NOUNS, PERSON_PARTS, names_a_person
from tools.backends.lite.categories import ALIASES, Vocabulary


@pytest.mark.parametrize("noun", ["teacher", "Players", "fisherman", "saleswoman", "grownup", "catcher"])
def test_people_are_named(noun):
    assert names_a_person(noun)


@pytest.mark.parametrize("noun", ["snowman", "ottoman", "desk", "man hole", "tea"])
def test_things_are_not_people(noun):
    assert not names_a_person(noun)


def test_the_backend_maps_the_same_table_to_its_person_category():
    assert ALIASES["person"] is PERSON_NOUNS
    assert Vocabulary().match("the conductor on the left").category == "person"


def test_parts_of_a_person_are_the_body_and_what_is_worn():
    assert {"hand", "face", "tie", "shoes"} <= PERSON_PARTS and not {"desk", "bag", "laptop"} & PERSON_PARTS
