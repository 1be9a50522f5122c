"""Relations and exclusions resolved over detections: "the cup left of the laptop", "not the dog".

lite's :class:`~tools.backends.lite.rank.Ranker` finds an anchor or an excluded thing by the text
it reads, a colour or a position, and cannot find a bare noun ("the laptop"). With an
open-vocabulary source every noun is findable, so :class:`DetectionRanker` asks the source for
the phrase after text (printed text the user names still wins): the anchor of a relation is the
best detection of it, and an exclusion removes every confident detection of it.
"""

from __future__ import annotations

import numpy as np

from tools.backends.lite import regions
from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.cues import Cues
from tools.backends.lite.detector import Detection
from tools.backends.lite.finder import Finder
from tools.backends.lite.rank import Ranker
from tools.backends.lite.regions import Candidate
from tools.backends.lite.sources import ObjectSource
from tools.backends.lite.textmatch import TextMatch


class DetectionRanker(Ranker):
    """lite's ranker whose anchors and exclusions may be detections of the source."""

    def __init__(
        self,
        an: ImageAnalysis,
        cues: Cues,
        previous: np.ndarray | None,
        objects: list[Candidate] | None = None,
        *,
        source: ObjectSource,
    ) -> None:
        super().__init__(an, cues, previous, objects=objects)
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


class OpenVocabFinder(Finder):
    """lite's finder with relations and exclusions resolved over the source's detections."""

    def _people_in_front(self, an: ImageAnalysis, det: Detection, name: str) -> np.ndarray:
        """Subtract nothing: lite cuts detected people out of a COCO thing's mask (the rider in
        front of a bus), but here any phrase may name a person ("the astronaut") or something a
        person wears or holds ("his red shirt"), whose mask would then lose itself; SAM's box mask
        already follows the visible object."""
        return np.zeros(an.shape, bool)

    def ranker(
        self,
        an: ImageAnalysis,
        cues: Cues,
        previous: np.ndarray | None,
        objects: list[Candidate] | None = None,
    ) -> Ranker:
        """Build a :class:`DetectionRanker` over this finder's source (lite's ranker without one)."""
        if self.objects is None:
            return super().ranker(an, cues, previous, objects)
        return DetectionRanker(an, cues, previous, objects, source=self.objects)
