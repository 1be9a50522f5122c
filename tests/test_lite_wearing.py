"""People told apart by what they wear and where they stand: garment colours scored on the band
of the person where the garment is worn, hair colour, depth ("at the back", "behind", "in front
of") and garments as parts of a person ("just his hat")."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent.types import DialogueTurn, ImageRef, Intent, IntentOp, Mask, Relation
from tools.backends.base import SegmentRequest
from tools.backends.lite import regions
from tools.backends.lite.backend import LiteBackend
from tools.backends.lite.colours import COLOUR_WORDS
from tools.backends.lite.cues import from_intent, parse_phrase
from tools.backends.lite.geometry import ellipse_in_box
from tools.backends.lite.rank import Ranker
from tools.backends.lite.spatial import extremal, relation_score
from tools.backends.lite.wearing import Worn, band_box, read_worn

DATA = Path(__file__).resolve().parents[1] / "data"


def worn_of(phrase: str) -> list[Worn]:
    return [w for _, w in read_worn(phrase.lower().split(), COLOUR_WORDS)]


def test_a_colour_before_a_garment_is_what_is_worn():
    assert worn_of("man in the black hat") == [Worn("hat", "head", "black")]
    assert worn_of("guy wearing a red and white shirt") == [
        Worn("shirt", "upper", "red"),
        Worn("shirt", "upper", "white"),
    ]
    assert worn_of("woman with blue jeans") == [Worn("jeans", "legs", "blue")]
    assert worn_of("the blonde on the right") == [Worn("hair", "head", "blonde")]
    assert worn_of("the guy in red") == [Worn("clothes", "body", "red")]
    assert worn_of("the red car") == []
    assert worn_of("red car with a black roof") == []


def test_a_garment_colour_is_not_the_whole_persons_colour():
    cues = parse_phrase("man in the black hat and the grey coat")
    assert cues.colours == []
    assert [(w.garment, w.colour) for w in cues.worn] == [("hat", "black"), ("coat", "grey")]
    assert parse_phrase("the red car with a black hat on it").colours == ["red"]
    assert not parse_phrase("the blonde").empty  # hair colour alone is a cue


def test_bands_follow_the_shape_of_the_box():
    standing = band_box((100, 0, 200, 400), "head")
    assert standing[1] == 0 and standing[3] == pytest.approx(45)  # 0.45 of the width
    assert standing[0] > 100 and standing[2] < 200  # narrower than the shoulders
    seated = band_box((0, 0, 300, 200), "head")  # cut off by a table: the head keeps its proportion
    assert seated[3] == pytest.approx(60)
    legs = band_box((100, 0, 200, 400), "legs")
    assert legs[1] == pytest.approx(200) and legs[3] == pytest.approx(360)


def _two_people() -> tuple[np.ndarray, tuple[int, int, int, int], tuple[int, int, int, int]]:
    """Two standing figures on a green ground. The left one wears a black hat and a big white
    coat, the right one a white hat and long black trousers, so that each hat's colour is the
    other figure's main colour; the left one stands further back (its feet end higher)."""
    image = np.full((300, 400, 3), (40, 160, 60), np.uint8)
    left, right = (40, 20, 140, 250), (240, 40, 340, 290)
    for x0, y0, x1, y1 in (left, right):
        image[y0:y1, x0:x1] = (128, 128, 128)
    image[20:60, 70:110] = (10, 10, 10)  # black hat
    image[70:240, 40:140] = (250, 250, 250)  # white coat
    image[40:80, 270:310] = (250, 250, 250)  # white hat
    image[130:290, 240:340] = (10, 10, 10)  # black trousers
    return image, left, right


@pytest.fixture(scope="module")
def people():
    image, left, right = _two_people()
    analysis = LiteBackend(ocr=False).analysis(
        image, ImageRef(sha256="w" * 64, width=400, height=300)
    )
    s = analysis.scale
    cands = []
    for box in (left, right):
        scaled = tuple(int(v * s) for v in box)
        cand = regions.mask_candidate(
            ellipse_in_box(analysis.shape, scaled), "object", analysis.cmap, analysis.lab,
            label="person", confidence=0.9,
        )  # fmt: skip
        cands.append(cand)
    return analysis, cands


def _rank(people, intent: Intent):
    analysis, cands = people
    cues = from_intent(intent, [DialogueTurn(role="user", text=intent.target or "")])
    cues.target.text = []
    return Ranker(analysis, cues, None, objects=list(cands)).rank()


@pytest.mark.parametrize(("hat", "which"), [("black", 0), ("white", 1)])
def test_the_man_in_the_coloured_hat_is_the_one_whose_head_has_that_colour(people, hat, which):
    ranking = _rank(people, Intent(target=f"man in the {hat} hat"))
    assert ranking.ranked[0].cand is people[1][which]
    assert f"{hat} hat" in ranking.cues
    assert ranking.ranked[0].score > 2 * ranking.ranked[1].score


@pytest.mark.parametrize(("where", "which"), [("at the back", 0), ("in the front", 1)])
def test_depth_words_pick_the_one_whose_feet_end_higher_or_lower(people, where, which):
    ranking = _rank(people, Intent(target=f"man {where}"))
    assert ranking.ranked[0].cand is people[1][which]


def test_behind_and_in_front_of_read_depth_from_where_boxes_end():
    _, cands = _fixtures_for_relations()
    bottle, cup_behind, cup_in_front = cands
    for kind, want, other in (
        ("behind", cup_behind, cup_in_front),
        ("in_front_of", cup_in_front, cup_behind),
    ):
        good = relation_score(want, kind, bottle, 400, 300)
        bad = relation_score(other, kind, bottle, 400, 300)
        assert good > 0.5 > bad, (kind, good, bad)


def _fixtures_for_relations():
    shape = (300, 400)
    lab = np.zeros((*shape, 3), np.float32)
    cmap = np.zeros(shape, np.uint8)
    boxes = [(180, 100, 220, 220), (190, 60, 230, 150), (170, 180, 230, 260)]
    cands = []
    for box in boxes:
        mask = np.zeros(shape, bool)
        mask[box[1] : box[3], box[0] : box[2]] = True
        cands.append(regions.mask_candidate(mask, "object", cmap, lab))
    return shape, cands


def test_extremal_back_and_front_order_by_the_foot_of_each_box():
    _, cands = _fixtures_for_relations()
    back = extremal(cands, ["back"], (400, 300))
    front = extremal(cands, ["front"], (400, 300))
    assert max(back, key=back.get) == id(cands[1])
    assert max(front, key=front.get) == id(cands[2])


def test_his_hat_is_the_top_of_the_person_not_an_absent_thing(lite):
    image, left, _ = _two_people()
    ref = ImageRef(sha256="h" * 64, width=400, height=300)
    person = np.zeros((300, 400), bool)
    person[left[1] : left[3], left[0] : left[2]] = True
    previous = Mask(person)
    result = lite.segment(
        SegmentRequest(
            image=image,
            image_ref=ref,
            previous_mask=previous,
            intent=Intent(
                target="man in the black hat", attributes={"part": "hat"}, op=IntentOp.REFINE
            ),
            dialogue=[DialogueTurn(role="user", text="just his hat")],
        )  # fmt: skip
    )
    assert not result.absent and result.masks
    got = result.masks[0].mask.array
    ys, _ = np.nonzero(got)
    assert ys.max() <= left[1] + 0.3 * (left[3] - left[1])  # the top of him only
    assert not (got & ~person).any()
    assert "where it is worn" in " ".join(result.evidence["cues"])


def test_a_relation_the_tracker_reads_as_depth():
    from agent.intent import RuleIntentTracker

    tracker = RuleIntentTracker()
    text = "the mug behind the kettle"
    result = tracker.track(
        intent=Intent(), dialogue=[DialogueTurn(role="user", text=text)], user_text=text, turn=0
    )
    assert result.intent.relations == [Relation(kind="behind", anchor="kettle")]
    text = "the stool in front of the piano"
    result = tracker.track(
        intent=Intent(), dialogue=[DialogueTurn(role="user", text=text)], user_text=text, turn=0
    )
    assert result.intent.relations == [Relation(kind="in_front_of", anchor="piano")]


def test_the_man_with_the_hat_is_the_one_the_classifier_sees_a_hat_on(lite):
    """voc_restaurant.jpg: only person-2 wears a (black, brimmed) hat; without a colour the
    classifier's headwear classes on each head tell him apart; a cap is no class it has."""
    from graphs.evalset import load_evalset

    truth = load_evalset(DATA / "eval" / "holdout.json").objects["voc_restaurant.jpg"]
    rgb = np.asarray(Image.open(DATA / "photos" / "voc_restaurant.jpg").convert("RGB"))
    ref = ImageRef(sha256=hashlib.sha256(rgb.tobytes()).hexdigest(), width=rgb.shape[1], height=rgb.shape[0])

    def ask(target: str):
        return lite.segment(
            SegmentRequest(
                image=rgb, image_ref=ref, intent=Intent(target=target),
                dialogue=[DialogueTurn(role="user", text=target)],
            )  # fmt: skip
        )

    hat = ask("the man with the hat")
    got = hat.masks[0].mask.array
    ious = {k: float((got & m).sum() / (got | m).sum()) for k, m in truth.items() if k.startswith("person")}
    assert max(ious, key=ious.get) == "person-2" and ious["person-2"] > 0.7, ious
    assert "wearing a hat" in hat.evidence["cues"]
    # the judgement itself: person-2's head looks like headwear, nobody else's does
    an = lite.analysis(rgb, ref)
    people = [d for d in an.objects.detections if d.category == "person" and d.score >= 0.4]
    cands = [
        regions.mask_candidate(
            ellipse_in_box(an.shape, d.box), "object", an.cmap, an.lab, label="person", confidence=d.score
        )
        for d in people
    ]
    ranker = lite.finder.ranker(an, from_intent(Intent(target="man with the hat")), None, objects=cands)
    factor = ranker.garment_factor(cands, Worn("hat", "head", ""))
    assert factor is not None
    hat_man = [c for c in cands if truth["person-2"][int(c.cy * rgb.shape[0]), int(c.cx * rgb.shape[1])]]
    assert len(hat_man) == 1 and factor[id(hat_man[0])] == 1.0
    assert sorted(factor.values())[-2] < 0.3
    cap = ask("the man wearing a cap")
    assert "no model here tells who wears a cap" in cap.evidence.get("unmatched", [])
