"""Segmentation metrics: pure functions over boolean masks, named for what they compute.

Per sample: :func:`iou`, :func:`boundary_iou`, :func:`confusion`. Over a set: :class:`MaskScores`
accumulates samples and reports

* ``ciou`` -- cumulative IoU, ``ΣI / ΣU`` over the whole set, foreground only (LISA's
  ``ciou_true``). Large masks weigh more than small ones.
* ``giou`` -- the mean of per-sample IoUs; a sample where prediction and ground truth are both
  empty counts 1.0.
* ``precision``, ``recall``, ``f1`` -- pixel-level, from the set's cumulative TP/FP/FN.
* ``boundary_iou`` -- mean per-sample Boundary IoU (Cheng et al., CVPR 2021).

How these differ from the MIRAS authors' scripts (MIRAS_REFERENCE.md §E.1):

* Their offline PRIST eval calls a **mean of per-sample IoUs** "cIoU"; that is our ``giou``.
  Their training-time "ciou" averages background and foreground IoU, which inflates it.
  Ours is cumulative and foreground only.
* Their "bIoU" compares 1-pixel Canny edges with **no tolerance band** and runs Canny on a
  bool prediction against a uint8 ground truth, so a perfect prediction scores about 0.81.
  Ours is Boundary IoU with a band of width ``d`` = 2 % of the image diagonal (at least 1 px),
  computed on boolean masks, so a perfect prediction scores 1.0.
* Their "Pixel Accuracy in ROI" is recall. We report it as ``recall``, with precision and F1.

All inputs may be :class:`numpy.ndarray` (any dtype; non-zero is foreground) or
:class:`agent.types.Mask`. Prediction and ground truth must have the same 2-D shape; a
mismatch raises :class:`ValueError` and is never broadcast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from agent.types import Mask

BOUNDARY_RATIO = 0.02
"""Boundary band width as a fraction of the image diagonal (Cheng et al. 2021)."""

MaskLike = np.ndarray | Mask


def as_bool(mask: MaskLike, *, name: str = "mask") -> np.ndarray:
    """Return ``mask`` as a 2-D boolean array (non-zero is foreground); ValueError otherwise."""
    arr = mask.array if isinstance(mask, Mask) else np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) mask, got shape {tuple(arr.shape)}")
    return arr if arr.dtype == bool else arr != 0


def _pair(pred: MaskLike, gt: MaskLike) -> tuple[np.ndarray, np.ndarray]:
    p, g = as_bool(pred, name="prediction"), as_bool(gt, name="ground truth")
    if p.shape != g.shape:
        raise ValueError(
            f"prediction and ground truth differ in size: {p.shape[1]}x{p.shape[0]} vs "
            f"{g.shape[1]}x{g.shape[0]} (width x height)"
        )
    return p, g


def confusion(pred: MaskLike, gt: MaskLike) -> tuple[int, int, int]:
    """Pixel counts (TP, FP, FN) of a prediction against the ground truth."""
    p, g = _pair(pred, gt)
    tp = int(np.count_nonzero(p & g))
    return tp, int(np.count_nonzero(p)) - tp, int(np.count_nonzero(g)) - tp


def iou(pred: MaskLike, gt: MaskLike) -> float:
    """Intersection over union; 1.0 when both masks are empty."""
    tp, fp, fn = confusion(pred, gt)
    union = tp + fp + fn
    return 1.0 if union == 0 else tp / union


def boundary_width(shape: tuple[int, ...], ratio: float = BOUNDARY_RATIO) -> int:
    """Band width ``d`` in pixels: ``round(ratio * diagonal)``, at least 1."""
    h, w = int(shape[0]), int(shape[1])
    return max(1, int(round(ratio * math.hypot(h, w))))


def mask_boundary(mask: MaskLike, width: int) -> np.ndarray:
    """Return the inner boundary band of a mask: the mask minus its erosion by ``width`` pixels.

    As in Cheng et al.'s reference code, the erosion is ``width`` passes of a 3x3 kernel
    (chessboard distance) with the outside of the image counted as background, so the
    image border is boundary too. The result is ``G_d ∩ G``.
    """
    m = as_bool(mask).astype(np.uint8)
    if width < 1:
        raise ValueError(f"boundary width must be at least 1 pixel, got {width}")
    padded = cv2.copyMakeBorder(m, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=int(width))[1:-1, 1:-1]
    return (m > 0) & (eroded == 0)


def boundary_iou(pred: MaskLike, gt: MaskLike, *, ratio: float = BOUNDARY_RATIO) -> float:
    """Boundary IoU (Cheng et al. 2021): IoU of ``P_d ∩ P`` and ``G_d ∩ G``; 1.0 when both are empty.

    ``d`` = ``ratio`` of the image diagonal (2 % by default, at least 1 px).
    """
    p, g = _pair(pred, gt)
    d = boundary_width(p.shape, ratio)
    bp, bg = mask_boundary(p, d), mask_boundary(g, d)
    union = int(np.count_nonzero(bp | bg))
    return 1.0 if union == 0 else int(np.count_nonzero(bp & bg)) / union


def _ratio(num: int, den: int, *, empty: float) -> float:
    return empty if den == 0 else num / den


@dataclass(frozen=True)
class SampleScore:
    """One prediction scored against its ground truth."""

    name: str
    iou: float
    boundary_iou: float
    tp: int
    fp: int
    fn: int

    @property
    def intersection(self) -> int:
        """Pixels in both masks."""
        return self.tp

    @property
    def union(self) -> int:
        """Pixels in either mask."""
        return self.tp + self.fp + self.fn

    @property
    def pred_area(self) -> int:
        """Foreground pixels of the prediction."""
        return self.tp + self.fp

    @property
    def gt_area(self) -> int:
        """Foreground pixels of the ground truth."""
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when both masks are empty, 0.0 when only the prediction is."""
        return _ratio(self.tp, self.pred_area, empty=1.0 if self.fn == 0 else 0.0)

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when both masks are empty, 0.0 when only the ground truth is."""
        return _ratio(self.tp, self.gt_area, empty=1.0 if self.fp == 0 else 0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, the derived ones included."""
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "pred_area": self.pred_area,
            "gt_area": self.gt_area,
        }


def score_sample(pred: MaskLike, gt: MaskLike, *, name: str = "", ratio: float = BOUNDARY_RATIO) -> SampleScore:
    """Score one prediction: IoU, Boundary IoU and its confusion counts."""
    p, g = _pair(pred, gt)
    tp, fp, fn = confusion(p, g)
    return SampleScore(
        name=name, iou=iou(p, g), boundary_iou=boundary_iou(p, g, ratio=ratio), tp=tp, fp=fp, fn=fn
    )


@dataclass
class MaskScores:
    """Scores accumulated over a set of (prediction, ground truth) pairs.

    ``add`` one pair at a time; read the set metrics as properties or all at once with
    :meth:`summary`. Empty sets report ``None`` for every metric. See the module docstring
    for how ``ciou`` and ``boundary_iou`` differ from the MIRAS scripts' names.
    """

    samples: list[SampleScore] = field(default_factory=list)
    ratio: float = BOUNDARY_RATIO

    def add(self, pred: MaskLike, gt: MaskLike, *, name: str = "") -> SampleScore:
        """Score one pair, keep it, and return its :class:`SampleScore`."""
        sample = score_sample(pred, gt, name=name, ratio=self.ratio)
        self.samples.append(sample)
        return sample

    def extend(self, other: MaskScores) -> None:
        """Append another set's samples (e.g. to pool several sessions)."""
        self.samples.extend(other.samples)

    def __len__(self) -> int:
        return len(self.samples)

    def _sums(self) -> tuple[int, int, int]:
        return (
            sum(s.tp for s in self.samples),
            sum(s.fp for s in self.samples),
            sum(s.fn for s in self.samples),
        )

    @property
    def ciou(self) -> float | None:
        """Cumulative IoU ΣI/ΣU over the set, foreground only (1.0 if every mask is empty)."""
        if not self.samples:
            return None
        tp, fp, fn = self._sums()
        return _ratio(tp, tp + fp + fn, empty=1.0)

    @property
    def giou(self) -> float | None:
        """Mean per-sample IoU (empty-vs-empty counts 1.0); what the MIRAS eval calls "cIoU"."""
        return float(np.mean([s.iou for s in self.samples])) if self.samples else None

    @property
    def boundary_iou(self) -> float | None:
        """Mean per-sample Boundary IoU (band = 2 % of the diagonal)."""
        return float(np.mean([s.boundary_iou for s in self.samples])) if self.samples else None

    @property
    def precision(self) -> float | None:
        """Pixel precision ΣTP/(ΣTP+ΣFP); 0.0 when nothing was predicted but something was missed."""
        if not self.samples:
            return None
        tp, fp, fn = self._sums()
        return _ratio(tp, tp + fp, empty=1.0 if fn == 0 else 0.0)

    @property
    def recall(self) -> float | None:
        """Pixel recall ΣTP/(ΣTP+ΣFN) (the MIRAS eval's "Pixel Accuracy in ROI")."""
        if not self.samples:
            return None
        tp, fp, fn = self._sums()
        return _ratio(tp, tp + fn, empty=1.0 if fp == 0 else 0.0)

    @property
    def f1(self) -> float | None:
        """Pixel F1 = 2ΣTP / (2ΣTP + ΣFP + ΣFN), the harmonic mean of precision and recall."""
        if not self.samples:
            return None
        tp, fp, fn = self._sums()
        return _ratio(2 * tp, 2 * tp + fp + fn, empty=1.0)

    def summary(self) -> dict[str, Any]:
        """Set metrics as a JSON-ready dict (``count`` plus every metric)."""
        tp, fp, fn = self._sums()
        return {
            "count": len(self.samples),
            "ciou": self.ciou,
            "giou": self.giou,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "boundary_iou": self.boundary_iou,
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the summary plus the per-sample list."""
        return {**self.summary(), "samples": [s.to_dict() for s in self.samples]}
