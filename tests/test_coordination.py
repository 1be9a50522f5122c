"""The things a target phrase lists (agent/coordination.py), read with the real English parser."""

from __future__ import annotations

import pytest

from agent.coordination import listed_things
from agent.nlp import ParseCache


@pytest.fixture(scope="module")
def cache() -> ParseCache:
    return ParseCache(64)


@pytest.mark.parametrize(
    ("phrase", "things"),
    [
        ("lemon and the lime", ["lemon", "lime"]),
        ("the cup, the plate and the fork", ["cup", "plate", "fork"]),
        ("red cup and the blue plate", ["red cup", "blue plate"]),
        ("man and his raft", ["man", "raft"]),
        ("man with the hat and the man", ["man with the hat", "man"]),
        ("woman and the child walking together", ["woman", "child"]),  # parsed as a clause
        ("black and white cat", []),  # two colours of one thing
        ("salt and pepper shakers", []),  # nouns that only modify the thing
        ("man next to the cup and the plate", []),  # the list is the anchor's, not the target's
        ("cup", []),
        ("", []),
        (None, []),
    ],
)
def test_listed_things_are_each_said_on_their_own(cache, phrase, things):
    assert listed_things(cache, phrase) == things
