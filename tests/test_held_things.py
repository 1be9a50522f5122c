"""Who holds what: "the batter" is the person with the baseball bat, "the player holding it" the
person whose box holds the current mask, and two-word category names ("stop sign", "fire
hydrant") are read whatever the tagger makes of them. On a real baseball photo (heath split)."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphs.evalset import load_evalset
from tests._data import open_on_photo
from tools.backends.lite.categories import Vocabulary
from tools.backends.lite.cues import parse_phrase

DATA = Path(__file__).resolve().parents[1] / "data"
PHOTO = DATA / "photos" / "hb_ballgame.jpg"


@pytest.fixture(scope="module")
def drawn():
    return load_evalset(DATA / "eval" / "heath.json").objects[PHOTO.name]


def _best(mask, drawn) -> tuple[str, float]:
    scores = {name: float((mask & d).sum() / (mask | d).sum()) for name, d in drawn.items()}
    name = max(scores, key=scores.get)
    return name, scores[name]


def test_the_batter_is_the_person_with_the_bat(lite_runtime, drawn):
    _, answer = open_on_photo(lite_runtime, "segment the batter", PHOTO)
    assert answer.masks, answer.reply
    name, score = _best(answer.masks[0].mask.array, drawn)
    assert name == "person-2" and score >= 0.3, (name, score)
    assert "baseball bat" in answer.reply


def test_the_player_holding_it_is_the_one_holding_the_current_mask(lite_runtime, drawn):
    session, bat = open_on_photo(lite_runtime, "mask the bat", PHOTO)
    assert bat.masks and "bat" in bat.reply.split(".")[0]
    holder = lite_runtime.run_turn_sync(session, "now the player holding it")
    name, _ = _best(holder.masks[0].mask.array, drawn)
    assert name == "person-2", holder.reply


@pytest.mark.parametrize(
    ("said", "category"),
    [
        ("the stop sign on the left", "stop sign"),
        ("fire hydrant", "fire hydrant"),
        ("the bat", "baseball bat"),
        ("a racquet", "tennis racket"),
        ("hair dryer", "hair drier"),
        ("the man next to the stop sign", "person"),  # a name after "next to" is an anchor
    ],
)
def test_two_word_and_everyday_names_find_their_category(said, category):
    match = Vocabulary().match(said)
    assert match is not None and match.category == category


@pytest.mark.parametrize(
    ("phrase", "held"),
    [
        ("guy holding it", ["it"]),
        ("woman with the red umbrella near the door", ["the red umbrella"]),
        ("the batter", ["baseball bat"]),
        ("the man wearing a hat", []),  # what is worn is read as clothing, not held
        ("the red car", []),
    ],
)
def test_what_a_phrase_says_its_thing_holds(phrase, held):
    assert parse_phrase(phrase).held == held
