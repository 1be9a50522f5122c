"""Anchors and exclusions found among an object source's detections: "the cup next to the laptop".

lite's :class:`~tools.backends.lite.rank.Ranker` finds an anchor or an excluded thing by the text
it reads, a colour or a position, and cannot find a bare noun. With an object source (lite's
COCO detector, or an open-vocabulary model) a noun the source knows is findable, so
:class:`DetectionRanker` asks the source after text (printed text the user names still wins):
the anchor of a relation is the best detection of it, and an exclusion removes every confident
detection of it.
"""

from __future__ import annotations

import numpy as np

from tools.backends.lite import regions
from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.cues import Cues
from tools.backends.lite.rank import Ranker
from tools.backends.lite.regions import Candidate
from tools.backends.lite.sources import ObjectSource
from tools.backends.lite.textmatch import TextMatch
from tools.backends.lite.wearing import PEOPLE, Worn, band_box

GARMENT_SEEN = 0.1
"""The classifier must give a garment this much probability on someone for the cue to count."""


class DetectionRanker(Ranker):
    """lite's ranker whose anchors and exclusions may be detections of the source."""

    def __init__(
        self,
        an: ImageAnalysis,
        cues: Cues,
        previous: np.ndarray | None,
        objects: list[Candidate] | None = None,
        extra: list[Candidate] | None = None,
        *,
        source: ObjectSource,
    ) -> None:
        super().__init__(an, cues, previous, objects=objects, extra=extra)
        self.source = source

    def resolve(
        self, phrase: str, many: bool = False
    ) -> tuple[list[Candidate], list[TextMatch], str]:
        """Text read in the image first, then detections of the phrase, then lite's colour/position regions."""
        cands, matches, name = super().resolve(phrase, many)
        if matches:
            return cands, matches, name
        lookup = self.source.lookup(self.an, phrase, every=many)
        if lookup is None or not lookup.detections or (many and lookup.weak):
            return cands, matches, name
        found = []
        for det in lookup.detections if many else lookup.detections[:1]:
            cand = regions.mask_candidate(
                self.source.mask(self.an, det), "object", self.an.cmap, self.an.lab,
                label=det.category, confidence=det.score,
            )  # fmt: skip
            if cand is not None:
                found.append(cand)
        if not found:
            return cands, matches, name
        unsure = " (unsure)" if lookup.weak else ""
        return found, [], f"the detected {lookup.name}{unsure}"

    def garment_factor(self, cands: list[Candidate], worn: Worn) -> dict[int, float] | None:
        """Score people by how much the band where ``worn`` sits looks like it to the source's
        classifier ("the man with the hat": the cowboy hat is a class), relative to the person
        who looks most like wearing it; None when the source cannot tell or no one does."""
        judge = getattr(self.source, "looks_like", None)
        people = [c for c in cands if c.label in PEOPLE]
        if judge is None or not people:
            return None
        seen = {id(c): judge(self.an, band_box(c.bbox, worn.band), worn.garment) for c in people}
        known = [v for v in seen.values() if v is not None]
        best = max(known, default=0.0)
        if best < GARMENT_SEEN:
            return None
        return {id(c): (seen.get(id(c)) or 0.0) / best for c in cands}
