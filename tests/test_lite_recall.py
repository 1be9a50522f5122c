"""What lite makes of photos its detector half understands (the blind split of data/eval, read and
developed on since stop 17, and one photo of the reserve split, read after its first run): a tiny
box GrabCut cannot cut, a dog's head the tile pass calls a bear, a mug in front of the cat that
curls around it, several things listed in one request, one of them picked or cut afterwards, and
nouns built on "man".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.types import DialogueTurn, ImageRef, Intent, IntentOp, IntentRevision, Mask
from graphs.evalset import load_evalset
from tests.test_lite_objects import iou, segment
from tools.backends.base import SegmentRequest
from tools.backends.lite import stuff
from tools.backends.lite.categories import Vocabulary
from tools.backends.lite.cues import Cues, PhraseCues, parse_phrase
from tools.backends.lite.detector import Detection
from tools.backends.lite.finder import Found, Scored, pick_one
from tools.backends.lite.sources import Lookup
from tools.backends.lite.unsure import shown_before

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def drawn():
    return load_evalset(DATA / "eval" / "blind.json").objects


def _intent(target: str, *, before: str | None = None, op: IntentOp = IntentOp.NEW, **attributes: str) -> Intent:
    """An intent as the tracker leaves it, with the previous revision's target when given."""
    history = [IntentRevision(turn=0, op=IntentOp.NEW, target=before)] if before else []
    history.append(IntentRevision(turn=len(history), op=op, target=target))
    return Intent(target=target, attributes=attributes, op=op, history=history)


def test_a_figure_too_small_for_grabcut_still_gets_a_mask_of_its_size(lite, drawn):
    # The man on the raft is a 26x39 px box: GrabCut alone kept 3 pixels of him.
    result = segment(lite, "raft.jpg", _intent("fisherman"))
    mask = result.masks[0].mask.array
    assert mask.sum() > 200
    assert iou(mask, drawn["raft.jpg"]["person"]) >= 0.4


def test_an_animal_inside_an_animals_box_is_the_same_animal_misnamed(lite):
    # After the tile pass, SSD calls the dog's head a bear (0.93) inside the dog's box: it is
    # no thing in front of the dog, so the dog keeps its head (the reserve split's forest dog).
    reserve = load_evalset(DATA / "eval" / "reserve.json").objects["rb_forest_dog.jpg"]
    segment(lite, "rb_forest_dog.jpg", _intent("person", count="all"))  # runs the tile pass
    dog = segment(lite, "rb_forest_dog.jpg", _intent("dog")).masks[0].mask.array
    assert iou(dog, reserve["dog"]) >= 0.8


def test_a_mug_in_front_of_the_cat_leaves_the_cats_mask(lite, drawn):
    cat = segment(lite, "desk_cat.jpg", _intent("cat")).masks[0].mask.array
    mug = drawn["desk_cat.jpg"]["cup"]
    assert (cat & mug).sum() < 0.1 * mug.sum()


def test_things_listed_together_are_found_one_mask_each(lite, drawn):
    result = segment(lite, "desk_cat.jpg", _intent("mug and the lamp"))
    instances = [m for m in result.masks if m.role == "instance"]
    assert [m.label.rsplit(" ", 1)[0] for m in instances] == ["mug", "lamp"]
    assert iou(instances[0].mask.array, drawn["desk_cat.jpg"]["cup"]) >= 0.7
    assert result.evidence["listed"] == ["mug", "lamp"]


def test_a_part_of_one_listed_thing_is_cut_from_that_thing(lite, drawn):
    listed = segment(lite, "desk_cat.jpg", _intent("mug and the lamp"))
    union = Mask(listed.masks[0].mask.array)
    narrowed = _intent("mug", before="mug and the lamp", op=IntentOp.REFINE, part="top half")
    got = segment(lite, "desk_cat.jpg", narrowed, previous=union).masks[0].mask.array
    mug = drawn["desk_cat.jpg"]["cup"]
    assert (got & mug).sum() >= 0.8 * got.sum()  # the mug's top half, not the union's (the lamp)


def _square(x: int, size: int = 10) -> np.ndarray:
    mask = np.zeros((40, 100), bool)
    mask[10 : 10 + size, x : x + size] = True
    return mask


def _cues(**target: object) -> Cues:
    return Cues(target=PhraseCues(phrase="", **target), op=IntentOp.REFINE)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cue", "chosen"),
    [({"positions": ["right"]}, "lamp"), ({"positions": ["left"]}, "mug"), ({"ordinal": 1}, "plant"), ({"ordinal": -1}, "lamp"), ({"size": "big"}, "plant")],
)
def test_one_of_the_listed_things_is_picked_by_side_order_or_size(cue, chosen):
    found = Found(
        several=True,
        targets=[Scored(_square(5), 0.8, "object", "mug"), Scored(_square(70), 0.8, "object", "lamp"), Scored(_square(40, 20), 0.8, "object", "plant")],
    )
    picked = pick_one(found, _cues(**cue), None)
    assert not picked.several and [t.label for t in picked.targets] == [chosen]


def test_the_other_listed_thing_is_the_one_not_shown():
    found = Found(several=True, targets=[Scored(_square(5), 0.8, "object", "mug"), Scored(_square(70), 0.8, "object", "lamp")])
    other = Cues(target=PhraseCues(phrase=""), other=True, op=IntentOp.CORRECT)
    assert pick_one(found, other, _square(5)).targets[0].label == "lamp"


def test_unsure_instances_already_shown_are_candidates_when_one_is_picked():
    shown = Detection("cat", 0.2, (10, 10, 20, 20))
    unseen = Detection("cat", 0.2, (60, 10, 70, 20))
    lookup = Lookup("cat", [Detection("cat", 0.7, (80, 10, 95, 25))], unsure=[shown, unseen])
    previous = _square(10, 12)
    assert shown_before(lookup, _cues(positions=["left"]), previous) == [shown]
    assert shown_before(lookup, _cues(), previous) == []  # no pick: the sure ones answer
    new = Cues(target=PhraseCues(phrase="", positions=["left"]), op=IntentOp.NEW)
    assert shown_before(lookup, new, previous) == []


@pytest.mark.parametrize(
    ("phrase", "category"),
    [("the fisherman", "person"), ("a policewoman", "person"), ("the salesperson", "person"), ("the snowman", None), ("the roman", None)],
)
def test_nouns_built_on_man_woman_or_person_name_a_person(phrase, category):
    match = Vocabulary().match(phrase)
    assert (match.category if match else None) == category


def test_the_listed_thing_said_to_have_a_colour_is_picked_by_it():
    found = Found(several=True, targets=[Scored(_square(5), 0.8, "object", "sedan"), Scored(_square(70), 0.8, "object", "black car")])
    assert pick_one(found, _cues(colours=["black"]), None).targets[0].label == "black car"
    # a colour no listed thing was said to have picks nothing by itself: the first stays first
    assert pick_one(found, _cues(colours=["red"]), None).targets[0].label == "sedan"


@pytest.mark.parametrize(
    ("phrase", "category"),
    [("the black thermos standing on the desk", None), ("the jacket of the guy", "person"), ("the burgers", "sandwich"), ("the silver station wagon", "car")],
)
def test_an_anchor_after_the_head_is_not_the_thing_asked_for(phrase, category):
    match = Vocabulary().match(phrase)
    assert (match.category if match else None) == category


def test_an_unsure_detection_on_the_side_the_user_named_is_a_candidate(lite):
    # The taxi cut by the right edge of the reserve split's street scores 0.25 (unsure); the
    # detector is sure only of the white SUV on the far left. "On the right edge" says where to
    # look: the taxi is returned, with the low-confidence caveat.
    reserve = load_evalset(DATA / "eval" / "reserve.json").objects["ra_double_decker.jpg"]
    result = segment(lite, "ra_double_decker.jpg", _intent("cab", position="right"))
    mask = result.masks[0].mask.array
    assert iou(mask, reserve["car-2"]) >= 0.7
    assert (result.masks[0].score or 0.0) < 0.5
    # without a side the sure car is the answer, as before
    plain = segment(lite, "ra_double_decker.jpg", _intent("cab")).masks[0].mask.array
    assert iou(plain, reserve["car-1"]) >= 0.5


def test_a_breed_is_found_as_its_coco_category(lite):
    # ImageNet's breeds and models name a COCO category: a husky is a dog, an airliner a plane
    reserve = load_evalset(DATA / "eval" / "reserve.json").objects["ra_horse_dog.jpg"]
    result = segment(lite, "ra_horse_dog.jpg", _intent("husky"))
    assert result.masks and iou(result.masks[0].mask.array, reserve["dog"]) >= 0.7


@pytest.mark.parametrize("phrase", ["the farmer", "the two waiters", "the skier in red", "the bride", "the cook on the left"])
def test_people_named_by_role_or_kin_are_people(phrase):
    match = Vocabulary().match(phrase)
    assert match is not None and match.category == "person"


def test_a_car_the_detector_calls_a_truck_is_a_car(lite):
    # SSD scores the red vintage roadster "truck" 0.93 and is sure of no car there (the vault
    # split's vintage cars): a lookalike's sure box is a candidate, named as what was asked.
    vault = load_evalset(DATA / "eval" / "vault.json").objects["vb_vintage_cars.jpg"]
    red = segment(lite, "vb_vintage_cars.jpg", _intent("car", colour="red"))
    assert red.masks and iou(red.masks[0].mask.array, vault["car-1"]) >= 0.7
    every = segment(lite, "vb_vintage_cars.jpg", _intent("car", count="all"))
    assert len(every.masks) >= 2
    assert max(iou(m.mask.array, vault["car-1"]) for m in every.masks) >= 0.7


@pytest.mark.parametrize(
    ("phrase", "category"),
    [
        ("both lattes", "cup"), ("the iced coffee", "cup"), ("the cupcake at the top", "cake"),
        ("the cygnet", "bird"), ("the coffee table", "dining table"),
        # a compound before the head only says which kind: a coffee grinder is no coffee
        ("the coffee grinder", None), ("the tea pot", None), ("the guy's jacket", "person"),
    ],
)  # fmt: skip
def test_drinks_cakes_and_young_birds_name_their_category_but_modifiers_do_not(phrase, category):
    match = Vocabulary().match(phrase)
    assert (match.category if match else None) == category


@pytest.mark.parametrize(
    ("phrase", "positions"),
    [
        ("burger in front", ["front"]), ("man at the back", ["back"]), ("nearest car", ["front"]),
        ("the furthest one", ["back"]), ("car in front of the bus", []), ("front wheel", []),
        ("swan furthest to the left", ["left"]),
    ],
)  # fmt: skip
def test_depth_words_are_positions_but_relations_and_parts_are_not(phrase, positions):
    assert parse_phrase(phrase).positions == positions


@pytest.mark.parametrize(
    ("phrase", "kind"),
    [("the sky", "sky"), ("the blue sky above the sheep", "sky"), ("grass behind them", "grass"),
     ("the house by the lake", None), ("the water bottle", None), ("the lawn", "grass")],
)  # fmt: skip
def test_the_stuff_a_phrase_names_is_its_head(phrase, kind):
    assert stuff.kind_of(phrase) == kind


@pytest.fixture(scope="module")
def crate():
    return load_evalset(DATA / "eval" / "crate.json").objects


def test_the_sky_is_found_by_its_colour_and_place_as_a_flagged_guess(lite, crate):
    result = segment(lite, "cc_sheep_field.jpg", _intent("sky"))
    assert result.masks and iou(result.masks[0].mask.array, crate["cc_sheep_field.jpg"]["sky"]) >= 0.7
    assert result.masks[0].score < 0.5  # a guess from colour and place carries the caveat
    grass = segment(lite, "cc_sheep_field.jpg", _intent("grass"))
    assert not grass.masks or iou(grass.masks[0].mask.array, crate["cc_sheep_field.jpg"]["sky"]) < 0.1
    assert segment(lite, "chelsea.png", _intent("sky")).absent  # a cat on a rug has no sky


def test_asked_whether_it_is_there_an_unsure_detection_answers_no(lite):
    # SSD scores a "tripod"-like guess and a "boat" on a lake below the presence threshold:
    # "is there a boat?" is answered no, not with a mask of the guess (the crate split)
    assert segment(lite, "cb_swans.webp", _intent("boat", asked="exists")).absent
    assert segment(lite, "cb_swans.webp", _intent("boat")).masks  # asked for, the guess is shown


def test_the_burger_in_front_is_the_nearer_one(lite, crate):
    drawn = crate["cc_two_burgers.jpg"]
    front = segment(lite, "cc_two_burgers.jpg", _intent("burger in front")).masks[0].mask.array
    back = segment(lite, "cc_two_burgers.jpg", _intent("burger at the back")).masks[0].mask.array
    assert iou(front, drawn["sandwich-2"]) >= 0.6 and iou(back, drawn["sandwich-1"]) >= 0.6


def test_hands_over_a_cup_do_not_take_the_cup_away(lite, crate):
    # the arms' boxes cover the latte; their mask took the cup's pixels, leaving it empty
    mask = segment(lite, "ca_coffee_toast.jpg", _intent("latte")).masks[0].mask.array
    drawn = crate["ca_coffee_toast.jpg"]
    assert max(iou(mask, drawn["cup-2"]), iou(mask, drawn["cup-3"])) >= 0.3


@pytest.mark.parametrize(("said", "lightness"), [("the darker square", 60), ("the lighter square", 200), ("the palest one", 200)])
def test_lighter_or_darker_picks_by_lightness(lite, said, lightness):
    img = np.full((200, 300, 3), 120, np.uint8)
    img[:, :, 1] = 160  # a green ground, two grey squares on it
    img[60:140, 30:110] = 60
    img[60:140, 190:270] = 200
    ref = ImageRef(sha256=f"tone-{lightness}", width=300, height=200)
    intent = Intent(target=said.removeprefix("the "))
    result = lite.segment(SegmentRequest(image=img, image_ref=ref, intent=intent, dialogue=[DialogueTurn(role="user", text=said)]))
    ys, xs = np.nonzero(result.masks[0].mask.array)
    assert abs(int(np.median(img[ys, xs, 0])) - lightness) < 10


def test_a_family_word_finds_whichever_member_is_there(lite):
    # "the animal" on a beach with a horse and a girl: the horse (the depot split)
    drawn = load_evalset(DATA / "eval" / "depot.json").objects["db_horse_beach.jpg"]
    assert Vocabulary().match("the animals").members and Vocabulary().match("any pets").members == ("cat", "dog")
    mask = segment(lite, "db_horse_beach.jpg", _intent("animal")).masks[0].mask.array
    assert iou(mask, drawn["horse"]) >= 0.7


def test_a_hyphenated_name_is_read_as_the_table_writes_it():
    assert Vocabulary().match("just the grown-up").category == "person"
    assert Vocabulary().match("the teddy-bear").category == "teddy bear"


def test_the_sign_with_all_the_words_said_beats_one_with_some(lite):
    # OCR reads 'Coca-Cola' on one sign and 'COLA' on another: "the coca cola sign" is the first
    drawn = load_evalset(DATA / "eval" / "depot.json").objects["dc_soda_signs.jpg"]
    mask = segment(lite, "dc_soda_signs.jpg", _intent("coca cola sign", text="coca cola")).masks[0].mask.array
    assert iou(mask, drawn["sign-1"]) >= 0.5 and iou(mask, drawn["sign-2"]) == 0


def test_a_support_the_classifier_takes_for_a_thing_is_masked_as_a_thing(lite, crate):
    # SSD calls the lit tent a bench (a support: its box minus what stands on it, nearly nothing
    # here); ImageNet takes the box for a mountain tent, so it is masked as a thing
    mask = segment(lite, "ca_night_tent.jpg", _intent("tent")).masks[0].mask.array
    assert iou(mask, crate["ca_night_tent.jpg"]["tent"]) >= 0.7


def test_an_empty_bench_is_masked_as_a_thing_not_as_a_support(lite):
    # nothing detected sits on the bench: what stands out in its box is the bench itself (the
    # ember split's bench with a sea view), not a table's box minus what stands on it
    drawn = load_evalset(DATA / "eval" / "ember.json").objects["ec_bench_view.jpg"]
    mask = segment(lite, "ec_bench_view.jpg", _intent("bench")).masks[0].mask.array
    assert iou(mask, drawn["bench"]) >= 0.8


@pytest.mark.parametrize("said", ["pitcher", "jug", "ewer"])
def test_a_pitcher_is_any_of_the_classifiers_jugs(lite, said):
    # The flint split's stoneware jug: the classifier calls it a water jug, the user a pitcher.
    jug = load_evalset(DATA / "eval" / "flint.json").objects["fb_jug_chairs.jpg"]["jug"]
    result = segment(lite, "fb_jug_chairs.jpg", _intent(said))
    assert result.masks and iou(result.masks[0].mask.array, jug) >= 0.8


def test_what_was_asked_before_on_the_photo_does_not_change_what_the_classifier_finds():
    # "the small brown cup" runs the tile pass, whose sure "cup" box over the jug used to hide
    # the jug from the classifier's candidates: "the pitcher" was found alone and not after it.
    from tools.backends.lite import LiteBackend

    fresh = LiteBackend()
    jug = load_evalset(DATA / "eval" / "flint.json").objects["fb_jug_chairs.jpg"]["jug"]
    segment(fresh, "fb_jug_chairs.jpg", _intent("small brown cup", size="small", colour="brown"))
    result = segment(fresh, "fb_jug_chairs.jpg", _intent("pitcher"))
    assert result.masks and iou(result.masks[0].mask.array, jug) >= 0.8
