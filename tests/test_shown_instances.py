"""Picking one of the masks shown for several things: "both giraffes, each as its own mask", then
"now keep just the one on the left" keeps the very mask the user saw (a new search drew the left
giraffe with a strip of the other's neck), and "no, the other one" then picks again among the masks
shown, through memory, the turn graph and lite."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.types import Intent, IntentOp, IntentRevision, Mask, MaskOut
from tests._data import open_on_photo
from tests.test_lite_objects import photo
from tools.backends.base import SegmentRequest

GIRAFFES = Path(__file__).resolve().parents[1] / "data" / "photos" / "fa_two_giraffes.webp"


def _instances(summary) -> list[np.ndarray]:
    return [m.mask.array for m in summary.masks if m.role == "instance"]


def test_the_one_on_the_left_is_the_left_mask_already_shown(lite_runtime):
    rt = lite_runtime
    session, both = open_on_photo(rt, "could you mask both giraffes, each one as its own mask?", GIRAFFES)
    shown = _instances(both)
    assert len(shown) == 2
    history = rt.history(session)
    assert [m.role for m in history.current_instances] == ["instance", "instance"]

    left = rt.run_turn_sync(session, "now keep just the one on the left")
    kept = next(m for m in left.masks if m.role == "target").mask.array
    leftmost = min(shown, key=lambda m: np.nonzero(m)[1].mean())
    assert np.array_equal(kept, leftmost)
    assert rt.history(session).current_instances == ()  # one thing now
    assert len(rt.history(session).picked_from) == 2  # ... picked from the two shown

    other = rt.run_turn_sync(session, "no, the other one")
    rightmost = max(shown, key=lambda m: np.nonzero(m)[1].mean())
    assert np.array_equal(next(m for m in other.masks if m.role == "target").mask.array, rightmost)
    back = rt.run_turn_sync(session, "no sorry, the left one after all")
    assert np.array_equal(next(m for m in back.masks if m.role == "target").mask.array, leftmost)

    top = rt.run_turn_sync(session, "only its top half")
    half = top.masks[0].mask.array
    assert half.any() and not (half & ~leftmost).any()


def _request(intent: Intent, shown: list[np.ndarray]) -> SegmentRequest:
    rgb, ref = photo(GIRAFFES.name)
    return SegmentRequest(
        image=rgb, image_ref=ref, intent=intent, dialogue=[],
        previous_mask=Mask(np.logical_or.reduce(shown)),
        previous_instances=[
            MaskOut(Mask(m), label=f"giraffes {i}", score=0.8, role="instance")
            for i, m in enumerate(shown, start=1)
        ],
    )  # fmt: skip


def _halves(shape: tuple[int, int]) -> list[np.ndarray]:
    left, right = np.zeros(shape, bool), np.zeros(shape, bool)
    left[100:300, 50:200] = True
    right[100:300, 400:600] = True
    return [left, right]


def _refined(target: str, **attributes: str) -> Intent:
    history = [
        IntentRevision(turn=0, op=IntentOp.NEW, target="giraffes"),
        IntentRevision(turn=1, op=IntentOp.REFINE, target=target),
    ]
    return Intent(target=target, attributes=attributes, op=IntentOp.REFINE, history=history)


def test_a_side_order_or_size_picks_among_the_shown_masks_of_that_kind(lite):
    rgb, _ = photo(GIRAFFES.name)
    left, right = _halves(rgb.shape[:2])
    for intent, chosen in [
        (_refined("giraffes", position="right"), right),
        (_refined("giraffe", ordinal="1"), left),
        (_refined("giraffes", size="big"), right),
    ]:
        got = lite.segment(_request(intent, [left, right])).masks[0].mask.array
        assert np.array_equal(got, chosen), intent.attributes


def test_another_kind_of_thing_is_searched_for_not_picked_from_the_shown_masks(lite):
    rgb, _ = photo(GIRAFFES.name)
    shown = _halves(rgb.shape[:2])
    got = lite.segment(_request(_refined("tree", position="left"), shown))
    assert all(not np.array_equal(m.mask.array, shown[0]) for m in got.masks)
