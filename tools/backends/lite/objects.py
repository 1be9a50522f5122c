"""Detected objects of one image: detections in working pixels, and their masks made on demand.

The whole-image detection runs with the rest of the per-image analysis; the tile pass (small
objects) and the masks (U²-Net-p on each box, completed by GrabCut seeded from it, or GrabCut
alone when the salient mask is implausible) run
only for the detections a request needs, once per image, and are kept for later turns.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from tools.backends.lite.detector import CocoDetector, Detection
from tools.backends.lite.geometry import box_inside, ellipse_in_box
from tools.backends.lite.refine import apply_box, grow_in_box
from tools.backends.lite.salient import SalientMasker

if TYPE_CHECKING:
    from tools.backends.lite.analysis import ImageAnalysis

MIN_FILL = 0.12
MAX_FILL = 0.97
"""A salient mask filling less (or more) of its box than this is implausible: GrabCut instead."""
MIN_SPAN = 0.6
"""A detector's box is tight around its object, so a salient mask spanning less than this share
of the box's width or height found something else in it (a cut-off person's backdrop): GrabCut."""
FOOTPRINT_SIDE = 160
"""Network input side of the coarse masks that take detected things away from the salient map."""
SUPPORTS = frozenset({"dining table", "bed", "couch", "bench"})
"""Categories other things stand or lie on: masked as their box minus the salient objects."""
ON_SUPPORT = 0.3
"""A sure detection of another kind with this share of its box inside a support's box stands,
sits or lies on it (so the support's mask is its box minus the salient objects)."""
SURE_ON = 0.5


@dataclass(eq=False)
class ObjectIndex:
    """What the detector found in one image (working pixels) and the masks made so far."""

    detections: list[Detection]
    tiled: bool = False
    """Whether the small-object tile pass has run."""
    whole_pass: list[Detection] = field(default_factory=list)
    """The whole-image pass's detections, kept as they were when the tile pass merges its own in:
    what depends on them (the classifier's candidates) is then the same whatever ran before."""
    _masks: dict[tuple[int, int, int, int], np.ndarray] = field(default_factory=dict, repr=False)
    _footprints: dict[tuple[int, int, int, int], np.ndarray] = field(
        default_factory=dict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if not self.whole_pass:
            self.whole_pass = list(self.detections)

    def nbytes(self) -> int:
        """Approximate memory held: the masks made so far plus the detections."""
        with self._lock:
            masks = [*self._masks.values(), *self._footprints.values()]
            return sum(m.nbytes for m in masks) + 100 * len(self.detections)

    def of(self, category: str, min_score: float, *, whole: bool = False) -> list[Detection]:
        """Return the detections of ``category`` scoring at least ``min_score``, best first; with
        ``whole``, those of the whole-image pass only (what a plain request sees, whatever ran before)."""
        pool = self.whole_pass if whole else self.detections
        return [d for d in pool if d.category == category and d.score >= min_score]

    def best_score(self, category: str) -> float:
        """Return the highest score any detection of ``category`` got (0 when none)."""
        return max((d.score for d in self.detections if d.category == category), default=0.0)

    def footprint(self, an: ImageAnalysis, det: Detection, masker: SalientMasker) -> np.ndarray:
        """Return what a detected thing covers, coarsely: U²-Net-p on its box at 160 px, ~4x
        cheaper than its mask (taking every confidently detected thing away from the salient map
        should not cost a full mask per box). Cached; the same whatever turns ran before."""
        with self._lock:
            cached = self._footprints.get(det.box)
        if cached is None:
            cached = masker.mask_in_box(an.rgb, det.box, side=FOOTPRINT_SIDE)
            with self._lock:
                self._footprints[det.box] = cached
        return cached

    def _holds_something(self, support: Detection) -> bool:
        """Whether a sure detection of another kind lies on the support (see :data:`ON_SUPPORT`)."""
        return any(
            d.score >= SURE_ON and d.category not in SUPPORTS and box_inside(d.box, support.box) >= ON_SUPPORT
            for d in self.detections
        )

    def add_small(self, an: ImageAnalysis, detector: CocoDetector) -> None:
        """Run the tile pass once for this image (finds objects too small for the 300-px pass)."""
        with self._lock:
            if self.tiled:
                return
            self.detections = detector.detect_small(an.rgb, self.detections)
            self.tiled = True

    def mask(self, an: ImageAnalysis, det: Detection, masker: SalientMasker) -> np.ndarray:
        """Return the working-size mask of one detection (cached)."""
        with self._lock:
            cached = self._masks.get(det.box)
        if cached is not None:
            return cached
        x0, y0, x1, y1 = det.box
        if det.category in SUPPORTS:
            # A table's box holds what stands on it, and the salient model finds those things:
            # the support is the box minus the salient objects.
            mask = np.zeros(an.shape, bool)
            mask[y0 : y1 + 1, x0 : x1 + 1] = True
            mask &= ~an.salient(masker)
            if not self._holds_something(det):
                # nothing detected stands or sits on it: what stands out in its box is the
                # empty bench itself, masked as a thing
                mask = box_mask(an, det.box, masker)
        else:
            mask = box_mask(an, det.box, masker)
        with self._lock:
            self._masks[det.box] = mask
        return mask


def box_mask(
    an: ImageAnalysis, box: tuple[int, int, int, int], masker: SalientMasker
) -> np.ndarray:
    """Return the mask of the object in a detector box: the salient mask completed by GrabCut when it is
    plausible, else GrabCut alone; when GrabCut fails too (small or low-contrast boxes: a figure
    on a raft, a tie on a shirt), the ellipse in the box (a detector's box is tight: its ellipse
    overlaps a small object better than a salient mask that found something else)."""
    salient = masker.mask_in_box(an.rgb, box)
    if MIN_FILL <= _fill(salient, box) <= MAX_FILL and _span(salient, box) >= MIN_SPAN:
        return grow_in_box(an, box, salient)
    cut = apply_box(an, box, [])
    if _fill(cut, box) >= MIN_FILL:
        return cut
    return ellipse_in_box(an.shape, box)


def _fill(mask: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Return the share of the box's area the mask covers."""
    x0, y0, x1, y1 = box
    return float(mask.sum()) / max(1, (x1 - x0 + 1) * (y1 - y0 + 1))


def unexplained_parts(
    salient: np.ndarray, explained: list[np.ndarray], least: float
) -> list[np.ndarray]:
    """Return the connected salient regions left once the ``explained`` masks are removed (what
    stands out but is not a confidently detected thing), largest first, each at least ``least``
    of the image."""
    for mask in explained:
        salient = salient & ~mask
    n, labels, stats, _ = cv2.connectedComponentsWithStats(salient.astype(np.uint8), connectivity=8)
    order = [int(i) + 1 for i in np.argsort(-stats[1:, cv2.CC_STAT_AREA])] if n > 1 else []
    return [labels == i for i in order if stats[i, cv2.CC_STAT_AREA] >= least * salient.size]


def _span(mask: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """How much of the box's width and height the mask spans (the smaller share; 0 when empty)."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return 0.0
    x0, y0, x1, y1 = box
    return min((xs.max() - xs.min() + 1) / (x1 - x0 + 1), (ys.max() - ys.min() + 1) / (y1 - y0 + 1))


def detect(rgb: np.ndarray, detector: CocoDetector) -> ObjectIndex:
    """Run the whole-image detection on the working copy and start the image's index."""
    return ObjectIndex(detector.detect(rgb))
