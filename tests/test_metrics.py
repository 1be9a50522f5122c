"""graphs.metrics on hand-computable masks: IoU, cIoU vs gIoU, pixel P/R/F1, Boundary IoU."""

from __future__ import annotations

import numpy as np
import pytest

from agent.types import Mask
from graphs.metrics import (
    MaskScores,
    boundary_iou,
    boundary_width,
    confusion,
    iou,
    mask_boundary,
    score_sample,
)


def rect(shape: tuple[int, int], y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Boolean mask with rows y0..y1-1 and columns x0..x1-1 set."""
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def test_two_overlapping_rectangles() -> None:
    gt = rect((20, 20), 0, 10, 0, 10)  # 100 px
    pred = rect((20, 20), 0, 10, 5, 15)  # 100 px, 50 shared
    assert confusion(pred, gt) == (50, 50, 50)
    assert iou(pred, gt) == pytest.approx(50 / 150)
    s = score_sample(pred, gt, name="a")
    assert (s.intersection, s.union, s.pred_area, s.gt_area) == (50, 150, 100, 100)
    assert s.precision == pytest.approx(0.5) and s.recall == pytest.approx(0.5)


def test_empty_masks() -> None:
    empty, full = np.zeros((8, 8), bool), rect((8, 8), 2, 4, 2, 4)
    assert iou(empty, empty) == 1.0
    assert boundary_iou(empty, empty) == 1.0
    assert iou(empty, full) == 0.0 and iou(full, empty) == 0.0
    assert boundary_iou(empty, full) == 0.0
    missed = score_sample(empty, full)
    assert missed.precision == 0.0 and missed.recall == 0.0
    hallucinated = score_sample(full, empty)
    assert hallucinated.precision == 0.0 and hallucinated.recall == 0.0
    nothing = score_sample(empty, empty)
    assert nothing.precision == 1.0 and nothing.recall == 1.0


def test_ciou_is_cumulative_and_giou_is_the_per_sample_mean() -> None:
    scores = MaskScores()
    big = rect((20, 20), 0, 10, 0, 10)  # perfect on 100 px
    scores.add(big, big, name="big")
    scores.add(rect((20, 20), 0, 2, 0, 2), rect((20, 20), 10, 12, 10, 12), name="small")  # I=0, U=8
    assert scores.ciou == pytest.approx(100 / 108)  # ΣI/ΣU: the big mask dominates
    assert scores.giou == pytest.approx(0.5)  # what the MIRAS eval calls "cIoU"
    assert [s.name for s in scores.samples] == ["big", "small"]
    assert len(scores) == 2


def test_empty_vs_empty_counts_one_in_giou() -> None:
    scores = MaskScores()
    scores.add(np.zeros((5, 5)), np.zeros((5, 5)))
    scores.add(rect((5, 5), 0, 1, 0, 1), rect((5, 5), 4, 5, 4, 5))
    assert scores.giou == pytest.approx(0.5)
    assert scores.ciou == 0.0


def test_pixel_precision_recall_f1_over_the_set() -> None:
    scores = MaskScores()
    gt = rect((10, 10), 0, 10, 0, 4)  # 40 px
    scores.add(rect((10, 10), 0, 10, 0, 2), gt)  # TP 20, FP 0, FN 20
    scores.add(rect((10, 10), 0, 10, 0, 8), gt)  # TP 40, FP 40, FN 0
    assert (scores.summary()["tp"], scores.summary()["fp"], scores.summary()["fn"]) == (60, 40, 20)
    assert scores.precision == pytest.approx(60 / 100)
    assert scores.recall == pytest.approx(60 / 80)
    p, r = scores.precision, scores.recall
    assert scores.f1 == pytest.approx(2 * p * r / (p + r))
    assert scores.ciou == pytest.approx(60 / 120)


def test_empty_set_reports_none() -> None:
    summary = MaskScores().summary()
    assert summary["count"] == 0
    assert all(summary[k] is None for k in ("ciou", "giou", "precision", "recall", "f1", "boundary_iou"))


def test_shape_mismatch_and_bad_dimensions_raise_value_error() -> None:
    with pytest.raises(ValueError, match="differ in size: 10x8 vs 10x9"):
        iou(np.zeros((8, 10), bool), np.zeros((9, 10), bool))
    with pytest.raises(ValueError, match="2-D"):
        iou(np.zeros((1, 8, 8), bool), np.zeros((8, 8), bool))
    with pytest.raises(ValueError):
        MaskScores().add(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError):
        boundary_iou(np.zeros((4, 4)), np.zeros((5, 4)))


def test_errors_name_the_input_at_fault() -> None:
    flat, cube = np.zeros((8, 8), bool), np.zeros((1, 8, 8), bool)
    with pytest.raises(ValueError, match=r"^prediction must be a 2-D \(H, W\) mask, got shape \(1, 8, 8\)$"):
        iou(cube, flat)
    with pytest.raises(ValueError, match=r"^ground truth must be a 2-D \(H, W\) mask, got shape \(1, 8, 8\)$"):
        score_sample(flat, cube)
    with pytest.raises(ValueError, match=r"^mask must be a 2-D \(H, W\) mask"):
        mask_boundary(cube, 1)
    with pytest.raises(ValueError, match=r"^boundary width must be at least 1 pixel, got 0$"):
        mask_boundary(flat, 0)

def test_accepts_mask_objects_and_0_255_arrays() -> None:
    gt = rect((6, 6), 1, 5, 1, 5)
    assert iou(Mask(gt), (gt * 255).astype(np.uint8)) == 1.0
    assert boundary_iou(Mask(gt), gt.astype(np.float32)) == 1.0


def test_boundary_width_is_two_percent_of_the_diagonal_at_least_one() -> None:
    assert boundary_width((100, 100)) == 3  # 0.02 * 141.4 = 2.83
    assert boundary_width((427, 639)) == 15  # the HDMI photo: 0.02 * 768.5 = 15.4
    assert boundary_width((10, 10)) == 1  # 0.28 rounds to 0, floored at 1


def test_mask_boundary_is_the_inner_band() -> None:
    square = rect((100, 100), 40, 60, 40, 60)  # 20x20
    band = mask_boundary(square, 3)
    assert band.sum() == 400 - 14 * 14
    assert not (band & ~square).any()  # inside the mask only (G_d ∩ G)
    full = np.ones((10, 10), bool)  # the image border counts as boundary
    assert mask_boundary(full, 1).sum() == 100 - 64


def test_boundary_iou_hand_computed_shift() -> None:
    gt = rect((10, 10), 2, 8, 2, 8)  # 6x6, d = 1: a 20-pixel ring
    pred = rect((10, 10), 2, 8, 3, 9)  # shifted right by 1 column
    # rings share only their top and bottom rows over columns 3..7: 10 px; union 20 + 20 - 10
    assert boundary_iou(pred, gt) == pytest.approx(10 / 30)
    assert iou(pred, gt) == pytest.approx(30 / 42)


def test_perfect_prediction_scores_one_unlike_the_authors_biou() -> None:
    gt = rect((200, 200), 50, 90, 60, 110)  # the 40x50 rectangle of MIRAS_REFERENCE §E.1
    assert boundary_iou(gt.copy(), gt.astype(np.uint8)) == 1.0
    shifted = np.roll(gt, 2, axis=1)
    b, p = boundary_iou(shifted, gt), iou(shifted, gt)
    assert 0.0 < b < p < 1.0  # a boundary measure is stricter than pixel IoU on a shift


def test_to_dict_has_samples_and_summary() -> None:
    scores = MaskScores()
    scores.add(rect((4, 4), 0, 2, 0, 2), rect((4, 4), 0, 2, 0, 2), name="x")
    doc = scores.to_dict()
    assert doc["count"] == 1 and doc["giou"] == 1.0 and doc["boundary_iou"] == 1.0
    assert doc["samples"][0]["name"] == "x" and doc["samples"][0]["precision"] == 1.0
    other = MaskScores()
    other.extend(scores)
    assert other.summary() == scores.summary()


def test_sample_to_dict_has_every_field_by_name() -> None:
    gt = rect((10, 10), 2, 8, 2, 8)  # 6x6: 36 px, its d = 1 ring 20 px
    pred = rect((10, 10), 2, 8, 3, 10)  # 6x7: 42 px, 30 shared; its ring 42 - 4x5 = 22 px
    # the rings share the top and bottom rows over columns 3..7: 10 px of a 32 px union
    assert score_sample(pred, gt).to_dict() == {
        "name": "",
        "iou": 30 / 48,
        "boundary_iou": 10 / 32,
        "tp": 30,
        "fp": 12,
        "fn": 6,
        "precision": 30 / 42,
        "recall": 30 / 36,
        "pred_area": 42,
        "gt_area": 36,
    }
    assert MaskScores().add(pred, gt).name == ""


def test_a_set_ratio_sets_the_boundary_band_of_every_score() -> None:
    gt = rect((10, 10), 2, 8, 2, 8)
    pred = rect((10, 10), 2, 8, 3, 9)  # shifted right by 1 column
    assert boundary_width((10, 10), 0.15) == 2  # 0.15 * 14.1 = 2.1
    # d = 2: each ring is 36 - 2x2 = 32 px; they share columns 3..7 less both cores (6 px): 24 px
    assert boundary_iou(pred, gt, ratio=0.15) == pytest.approx(24 / 40)
    assert score_sample(pred, gt, ratio=0.15).boundary_iou == pytest.approx(24 / 40)
    scores = MaskScores(ratio=0.15)
    assert scores.add(pred, gt).boundary_iou == pytest.approx(24 / 40)
    assert scores.boundary_iou == pytest.approx(24 / 40)
    assert MaskScores().add(pred, gt).boundary_iou == pytest.approx(10 / 30)  # the default d = 1
