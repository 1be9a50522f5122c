"""Where object detections come from: the seam between lite's target search and a detector.

:class:`ObjectSource` is what :class:`~tools.backends.lite.finder.Finder` asks for the instances
of the thing a phrase names, and for their masks. :class:`CocoObjects` answers from the packaged
COCO-80 detector and U²-Net-p (or SAM, with ``--sam``); an open-vocabulary backend answers any
phrase with its own models and reuses everything else (cues, ranking, several targets, absent
targets, parts, answers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.categories import CategoryMatch, Vocabulary
from tools.backends.lite.detector import CocoDetector, Detection
from tools.backends.lite.geometry import box_iou
from tools.backends.lite.objects import SUPPORTS, ObjectIndex
from tools.backends.lite.salient import SalientMasker
from tools.backends.promptable.boxes import SamMasks

if TYPE_CHECKING:
    from tools.backends.promptable.boxes import BoxMasks

PRESENT = 0.3
"""A COCO detection scoring at least this counts as the category being there."""
EXPLAINED = 0.6
"""A detection this sure is what the detector says: it explains its salient region (it is not
an unknown thing asked for, nor a candidate for another noun)."""
WEAK = 0.15
"""COCO detections between this and :data:`PRESENT` are used only when nothing better exists,
and the answer then carries the low-confidence caveat."""
SAM_MEMO = "sam-masks"
"""Key of an image's SAM state (:class:`SamMasks`) among its analysis' per-image values."""
LOOKALIKES: dict[str, tuple[str, ...]] = {"car": ("truck",), "truck": ("car",)}
"""Categories the detector often takes one for the other (a vintage roadster scores "truck"
0.93): a sure detection of a lookalike that no detection of the named category covers is one
more candidate, at :data:`LOOKALIKE_FACTOR` of its score."""
LOOKALIKE_FACTOR = 0.6
SAME_THING = 0.5
"""Boxes overlapping this much (IoU) are one thing seen as two categories."""
SUPPORT_KEEP = 0.5
"""A support's SAM mask loses the salient objects on it unless they would take more than this
share of it (then the salient model took the table itself for an object: SAM's mask is kept)."""


@dataclass
class Lookup:
    """The instances of what a phrase names in one image (working pixels), best first."""

    name: str
    """What was looked for, as the answer should call it ("cup", "red kite")."""
    detections: list[Detection] = field(default_factory=list)
    weak: bool = False
    """Only low-scoring detections were found: the answer must carry the caveat."""
    best: float = 0.0
    """The highest score any detection of it got, including those below every threshold."""
    unsure: list[Detection] = field(default_factory=list)
    """Detections below the presence threshold, best first: they fill a count the user gave
    ("both cups") when too few sure ones were found."""


@runtime_checkable
class ObjectSource(Protocol):
    """Finds instances of a named thing and masks them; per-image work is cached by the source."""

    def lookup(
        self, an: ImageAnalysis, phrase: str, *, every: bool = False, head_only: bool = False
    ) -> Lookup | None:
        """Return the instances of what ``phrase`` names; None when the source does not know
        that kind of thing (the caller then ranks regions by other cues). An empty
        ``detections`` means the source knows the thing and found none: it is absent.
        ``every``: the caller needs every instance (several targets, ordinals, "the other one").
        ``head_only``: only the phrase's head names the thing ("handle of the cup" is a handle).
        """
        ...

    def mask(self, an: ImageAnalysis, det: Detection) -> np.ndarray:
        """Return the working-size boolean mask of one detection."""
        ...


class CocoObjects:
    """The packaged source: SSD-MobileNet-v2 detections of 80 COCO categories, U²-Net-p masks
    (SAM's masks when ``sam`` is set: lite's ``--sam``)."""

    def __init__(
        self,
        detector: CocoDetector,
        masker: SalientMasker,
        vocabulary: Vocabulary,
        sam: BoxMasks | None = None,
    ) -> None:
        self.detector = detector
        self.masker = masker
        self.vocabulary = vocabulary
        self.sam = sam

    def lookup(
        self, an: ImageAnalysis, phrase: str, *, every: bool = False, head_only: bool = False
    ) -> Lookup | None:
        """Return the detections of the COCO category the phrase's noun names (tiles when needed)."""
        match = self.vocabulary.match(phrase, head_only=head_only)
        if match is not None and match.members:
            return self.lookup_family(an, match)
        return None if match is None else self.lookup_category(an, match, every=every)

    def lookup_family(self, an: ImageAnalysis, match: CategoryMatch) -> Lookup | None:
        """Return the detections of every category of a family ("the animal": the horse, the
        dog...), all instances found; None when none of them is there at all, so that another
        model may know the thing ("the animal" may be a meerkat)."""
        index = an.objects
        index.add_small(an, self.detector)
        dets = sorted((d for c in match.members for d in index.of(c, PRESENT)), key=lambda d: -d.score)
        unsure = sorted(
            (d for c in match.members for d in index.of(c, WEAK) if d.score < PRESENT), key=lambda d: -d.score
        )
        best = max((index.best_score(c) for c in match.members), default=0.0)
        if dets:
            return Lookup(match.noun, dets, False, best, unsure)
        return Lookup(match.noun, unsure, True, best) if unsure else None

    def lookup_category(self, an: ImageAnalysis, match: CategoryMatch, *, every: bool = False) -> Lookup:
        """Return the detections of a category (then of its second choices while only weak ones are found)."""
        index = an.objects
        first: Lookup | None = None
        for category in (match.category, *match.also):  # "the glass": a wine glass, else a cup
            # a plain request sees the whole-image pass whenever that finds the thing, so that what
            # an earlier request ran (the tile pass) does not change its answer
            dets = index.of(category, PRESENT, whole=not every)
            whole = bool(dets) and not every
            if not dets or every:
                index.add_small(an, self.detector)
                dets = index.of(category, PRESENT)
            unsure = [d for d in index.of(category, WEAK, whole=whole) if d.score < PRESENT]
            for other in _lookalikes(index, category, [*dets, *unsure]):
                (dets if other.score >= PRESENT else unsure).append(other)
            dets.sort(key=lambda d: -d.score)
            unsure.sort(key=lambda d: -d.score)
            found = (
                Lookup(category, dets, False, index.best_score(category), unsure)
                if dets
                else Lookup(category, unsure, True, index.best_score(category))
            )
            if not found.weak:
                return found
            first = first or found
        assert first is not None
        return first

    def mask(self, an: ImageAnalysis, det: Detection) -> np.ndarray:
        """Return the box's mask, cached with the image's analysis: U²-Net-p's (GrabCut when implausible;
        a support is its box minus the salient objects), or SAM's when it is loaded (a support
        then loses the salient objects on it; lite's mask when SAM finds nothing in the box)."""
        if self.sam is None:
            return an.objects.mask(an, det, self.masker)
        mask = self.sam.mask(an.rgb, an.memo(SAM_MEMO, SamMasks), det.box)
        if det.category in SUPPORTS and mask.any():
            rest = mask & ~an.salient(self.masker)
            if rest.sum() >= SUPPORT_KEEP * mask.sum():
                mask = rest
        return mask if mask.any() else an.objects.mask(an, det, self.masker)


def _lookalikes(index: ObjectIndex, category: str, seen: list[Detection]) -> list[Detection]:
    """Sure detections of the category's lookalikes that no box of it covers, named as it and
    damped (see :data:`LOOKALIKES`)."""
    out: list[Detection] = []
    for other in LOOKALIKES.get(category, ()):
        for det in index.of(other, PRESENT):
            if all(box_iou(det.box, d.box) < SAME_THING for d in seen):
                out.append(Detection(category, det.score * LOOKALIKE_FACTOR, det.box, det.source))
    return out
