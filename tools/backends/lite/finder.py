"""Finding the tracked target in one image: detected objects of a named category, else cue-ranked regions.

The decision order:

1. The target names printed text ("the HDMI label", "the word 'EXIT'"): OCR-ranked regions.
2. The target's noun is one of the detector's categories ("the cup", "the guy on the left",
   "all the people"): the detections of that category are the only candidates, ranked by the
   turn's other cues (position, ordinal, size, colour, relations, "the other one"). No
   detection at all, after the small-object pass, means the thing is **absent**.
3. Anything else ("the rocket", "the red part"): superpixel regions ranked by the cues, or the
   most salient region as a flagged guess when no cue applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.categories import CategoryMatch, Vocabulary
from tools.backends.lite.cues import Cues, strip_relations
from tools.backends.lite.detector import CocoDetector
from tools.backends.lite.geometry import iou
from tools.backends.lite.rank import Ranker, Ranking
from tools.backends.lite.refine import polish
from tools.backends.lite.salient import SalientMasker

MAX_ALTERNATIVES = 2
PRESENT = 0.3
"""A detection scoring at least this counts as the category being there."""
WEAK = 0.15
"""Detections between this and :data:`PRESENT` are used only when nothing better exists, and
the answer then carries the low-confidence caveat."""
MAX_INSTANCES = 12
"""At most this many instances are returned for "all the ..." (the best scoring ones)."""


@dataclass
class Scored:
    """One candidate mask (working pixels) with its score and the kind of region it came from."""

    mask: np.ndarray
    score: float
    kind: str
    label: str = ""


@dataclass
class Found:
    """What the search found: target masks (several for "all the ..."), alternatives, evidence."""

    targets: list[Scored] = field(default_factory=list)
    alternatives: list[Scored] = field(default_factory=list)
    several: bool = False
    """The user asked for several instances: ``targets`` holds one mask per instance."""
    absent: str | None = None
    """Why the target is judged not to be in the image (no mask is returned)."""
    evidence: dict[str, Any] = field(default_factory=dict)
    category: CategoryMatch | None = None


class Finder:
    """Locates the target of one turn; holds the models, the per-image state lives in the analysis."""

    def __init__(
        self, detector: CocoDetector | None, masker: SalientMasker, vocabulary: Vocabulary
    ) -> None:
        """Without a ``detector`` (lite built with ``objects=False``) only regions are ranked."""
        self.detector = detector
        self.masker = masker
        self.vocabulary = vocabulary

    def category(self, cues: Cues, target: str | None) -> CategoryMatch | None:
        """Return the detector category the target names, unless the target is printed text."""
        if self.detector is None or cues.target.text_noun:
            return None
        if any(q.source != "target" for q in cues.target.text):
            return None
        return self.vocabulary.match(strip_relations(target, cues.relations))

    def find(
        self, an: ImageAnalysis, cues: Cues, target: str | None, previous: np.ndarray | None
    ) -> Found:
        """Search the image for the target (see the module docstring for the order)."""
        match = self.category(cues, target)
        if match is None:
            return self._regions(an, cues, previous)
        return self._objects(an, cues, previous, match)

    # -- detected objects ----------------------------------------------------------------
    def _objects(
        self, an: ImageAnalysis, cues: Cues, previous: np.ndarray | None, match: CategoryMatch
    ) -> Found:
        index = an.objects
        assert self.detector is not None
        several = cues.count is not None
        dets = index.of(match.category, PRESENT)
        if not dets or several or (cues.other and len(dets) < 2):
            index.add_small(an, self.detector)
            dets = index.of(match.category, PRESENT)
        weak = False
        if not dets:
            dets, weak = index.of(match.category, WEAK), True
        best = index.best_score(match.category)
        found = Found(category=match, several=several)
        found.evidence["detections"] = len(dets)
        if not dets:
            found.absent = f"no {match.category} was detected anywhere in the image" + (
                f" (the best guess scored {best:.2f})" if best > 0 else ""
            )
            return found
        cands = index.candidates(an, dets[:MAX_INSTANCES], self.masker)
        cues.target.text = [q for q in cues.target.text if q.source != "target"]
        ranking = Ranker(an, cues, previous, objects=cands).rank()
        found.evidence.update(_ranking_evidence(ranking))
        if weak:
            found.evidence.setdefault("unmatched", []).append(
                f"the detector is unsure: its best {match.category} scored {best:.2f}"
            )
        if cues.other and previous is not None:
            fresh = [r for r in ranking.ranked if iou(an.segment_mask(r.cand), previous) < 0.5]
            if not fresh:
                found.absent = f"I see no other {match.category} than the one already selected"
                return found
        ranked = [
            Scored(
                an.segment_mask(r.cand), r.score * (0.5 if weak else 1.0), "object", r.cand.label
            )
            for r in ranking.ranked
        ]
        if several:
            found.targets = _instances(ranked, cues.count or 0)
            found.evidence["instances"] = len(found.targets)
            return found
        found.targets, found.alternatives = _calibrated(ranked, subtract=ranking.subtract)
        return found

    # -- cue-ranked regions (no category) ------------------------------------------------
    def _regions(self, an: ImageAnalysis, cues: Cues, previous: np.ndarray | None) -> Found:
        ranking = Ranker(an, cues, previous).rank()
        found = Found(evidence=_ranking_evidence(ranking))
        found.evidence["candidates"] = len(ranking.ranked)
        chosen: list[Scored] = []
        for r in ranking.ranked[:40]:
            m = an.segment_mask(r.cand)
            if ranking.subtract is not None:
                m = m & ~ranking.subtract
            if not m.any() or any(iou(m, c.mask) > 0.7 for c in chosen):
                continue
            chosen.append(Scored(m, r.score, r.cand.kind, r.cand.label))
            if len(chosen) == 1 + MAX_ALTERNATIVES:
                break
        if not chosen:
            return found
        best = chosen[0]
        if best.kind in ("segment", "colour"):
            best.mask = polish(an, best.mask)
            if ranking.subtract is not None:
                best.mask &= ~ranking.subtract
        if ranking.fallback:
            found.targets, found.alternatives = [best], chosen[1:]
            return found
        found.targets, found.alternatives = _calibrated(chosen)
        return found


def _ranking_evidence(ranking: Ranking) -> dict[str, Any]:
    """Collect the ranking's cues, OCR matches, unmatched cues and fallback note, as evidence."""
    ev: dict[str, Any] = {
        "cues": ranking.cues,
        "ocr": [m.word.to_evidence() for m in ranking.matches],
    }
    if ranking.unmatched:
        ev["unmatched"] = list(ranking.unmatched)
    if ranking.fallback:
        ev["fallback"] = ranking.fallback
    return ev


def _calibrated(
    ranked: list[Scored], subtract: np.ndarray | None = None
) -> tuple[list[Scored], list[Scored]]:
    """Keep the best mask (score scaled by its margin over the runner-up) and up to two alternatives."""
    distinct: list[Scored] = []
    for s in ranked:
        mask = s.mask & ~subtract if subtract is not None else s.mask
        if mask.any() and all(iou(mask, d.mask) <= 0.7 for d in distinct):
            distinct.append(Scored(mask, s.score, s.kind, s.label))
        if len(distinct) == 1 + MAX_ALTERNATIVES:
            break
    if not distinct:
        return [], []
    best = distinct[0]
    second = distinct[1].score if len(distinct) > 1 else 0.0
    margin = (best.score - second) / best.score if best.score > 0 else 0.0
    best.score *= 0.6 + 0.4 * margin
    for alt in distinct[1:]:
        alt.score *= 0.6
    return [best], distinct[1:]


def _instances(ranked: list[Scored], count: int) -> list[Scored]:
    """One mask per instance for "all the ..." (count 0) or "the two ..." (count n), left to right."""
    distinct: list[Scored] = []
    top = ranked[0].score if ranked else 0.0
    for s in ranked:
        if count == 0 and s.score < 0.3 * top:
            break
        if all(iou(s.mask, d.mask) <= 0.5 for d in distinct):
            distinct.append(s)
        if count and len(distinct) == count:
            break
    distinct.sort(key=lambda s: float(np.nonzero(s.mask)[1].mean()))
    return distinct
