"""A question that offers a choice: "which is bigger, the cup or the spoon? highlight that one".
The tracker keeps the things offered and the size word; lite finds each and keeps the one the
word picks (by area), and the answer names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.coordination import listed_things, offered_things
from agent.intent import RuleIntentTracker
from agent.nlp import ParseCache
from agent.types import Act, Intent
from graphs.evalset import load_evalset
from tests._data import open_on_photo

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    ("phrase", "offered"),
    [("cup or the bowl", ["cup", "bowl"]), ("limo or the pickup truck", ["limo", "pickup truck"]),
     ("cup and the bowl", []), ("cup", [])],
)  # fmt: skip
def test_things_offered_with_or_are_not_a_list(phrase, offered):
    cache = ParseCache(8)
    assert offered_things(cache, phrase) == offered
    if offered:  # a choice is not a list of things to find each of
        assert listed_things(cache, phrase) == []


@pytest.mark.parametrize(
    ("said", "target", "size"),
    [("which is bigger, the cup or the bowl? highlight that one", "cup or the bowl", "bigger"),
     ("who is taller, the referee or the coach? please mask him", "referee or the coach", "taller")],
)  # fmt: skip
def test_a_question_offering_a_choice_keeps_the_things_and_the_size_word(said, target, size):
    result = RuleIntentTracker().track(intent=Intent(), dialogue=[], user_text=said, turn=0, has_image=True, has_mask=False)
    assert result.act is Act.NEW_TARGET
    assert result.intent.target == target and result.intent.attributes.get("size") == size


def _iou(a, b) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_the_size_word_picks_one_of_the_things_offered(lite_runtime):
    drawn = load_evalset(DATA / "eval" / "dev.json").objects["coffee.png"]
    photo = DATA / "photos" / "coffee.png"
    rt = lite_runtime
    session, bigger = open_on_photo(rt, "which is bigger, the cup or the spoon? highlight that one", photo)
    assert _iou(bigger.masks[0].mask.array, drawn["cup"]) >= 0.7
    assert bigger.reply.startswith("Here is the cup")
    smaller = rt.run_turn_sync(session, "which is smaller, the cup or the spoon?")
    assert _iou(smaller.masks[0].mask.array, drawn["spoon"]) >= 0.4


def test_taller_and_shorter_compare_heights_and_ignore_the_sides_that_name_the_things(lite_runtime):
    drawn = load_evalset(DATA / "eval" / "test.json").objects["zidane.jpg"]
    photo = DATA / "photos" / "zidane.jpg"
    rt = lite_runtime
    session, taller = open_on_photo(rt, "who is taller, the man on the left or the man on the right? mask him", photo)
    tall = taller.masks[0].mask.array
    assert _iou(tall, drawn["person-2"]) >= 0.6 > _iou(tall, drawn["person-1"]), taller.reply
    shorter = rt.run_turn_sync(session, "who is shorter, the man on the left or the man on the right?")
    short = shorter.masks[0].mask.array
    assert _iou(short, drawn["person-1"]) >= 0.5 > _iou(short, drawn["person-2"]), shorter.reply
