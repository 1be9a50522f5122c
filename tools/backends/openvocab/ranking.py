"""lite's finder for the open-vocabulary source: anchors and exclusions are resolved over
detections by lite itself (:mod:`tools.backends.lite.anchors`); only the rule for what stands in
front of a thing differs."""

from __future__ import annotations

import numpy as np

from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.detector import Detection
from tools.backends.lite.finder import Finder


class OpenVocabFinder(Finder):
    """lite's finder for the open-vocabulary source (only what stands in front is treated apart)."""

    def _in_front(self, an: ImageAnalysis, det: Detection, name: str) -> np.ndarray:
        """Subtract nothing: lite cuts detected people and smaller things out of a COCO thing's
        mask (the rider in front of a bus), but here any phrase may name a person ("the astronaut") or something a
        person wears or holds ("his red shirt"), whose mask would then lose itself; SAM's box mask
        already follows the visible object."""
        return np.zeros(an.shape, bool)
