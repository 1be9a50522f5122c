"""Detector scores mapped onto the 0..1 scale that lite's finder and answers expect.

An open-vocabulary detector's raw score (OWLv2: the sigmoid of its class logit; Grounding DINO:
the sigmoid of its best token logit) means something else for every model family: OWLv2 rarely
goes above 0.5 for a clear object, and 0.1 is its usual "present" threshold. The finder, the
ranker and the answers read a detection score the way they read the packaged COCO detector's:
at least :data:`~tools.backends.lite.sources.PRESENT` (0.3) means "there", between
:data:`~tools.backends.lite.sources.WEAK` (0.15) and that means "unsure, say so", and
:data:`~tools.backends.lite.rank.DETECTION_SURE` (0.6) means "certainly of that kind".

:class:`Calibration` is the monotone, piecewise-linear map through those anchor points::

    raw:        0    weak    present    sure    1
    calibrated: 0    0.15    0.30       0.60    1

so a raw score at the detector's ``present`` threshold becomes exactly lite's PRESENT, and so on.
The raw anchors are options (``--threshold`` sets ``present``); their defaults per family are
:data:`DEFAULTS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agent.errors import BadInputError
from tools.backends.lite.rank import DETECTION_SURE
from tools.backends.lite.sources import PRESENT, WEAK

DEFAULTS: dict[str, tuple[float, float, float]] = {
    "owlv2": (0.05, 0.1, 0.3),
    "owlvit": (0.05, 0.1, 0.3),
    "grounding-dino": (0.2, 0.3, 0.5),
}
"""(weak, present, sure) raw scores per detector family: OWLv2's usual post-processing
threshold is 0.1 (transformers' zero-shot pipeline default); Grounding DINO's box threshold is
0.3 to 0.35 in its authors' demos."""


@dataclass(frozen=True)
class Calibration:
    """Raw detector scores at which a detection is weak, present and sure (strictly increasing)."""

    weak: float
    present: float
    sure: float

    def __post_init__(self) -> None:
        if not 0.0 < self.weak < self.present < self.sure < 1.0:
            raise BadInputError(
                "openvocab: thresholds must satisfy 0 < weak < present < sure < 1, got "
                f"weak={self.weak:g}, present={self.present:g}, sure={self.sure:g}"
            )

    @classmethod
    def for_family(
        cls, family: str, *, threshold: float | None = None, weak: float | None = None
    ) -> Calibration:
        """Return the family's defaults, with ``threshold`` (present) and ``weak`` overridden when given.

        Without an explicit ``weak``, a user threshold puts weak at half of it; ``sure`` moves up
        to halfway between present and 1 when the threshold passes the default ``sure``.
        """
        d_weak, d_present, d_sure = DEFAULTS.get(family, DEFAULTS["owlv2"])
        present = d_present if threshold is None else float(threshold)
        if not 0.0 < present < 1.0:
            raise BadInputError(f"openvocab: --threshold must be between 0 and 1, got {present:g}")
        low = d_weak if threshold is None else present / 2
        sure = d_sure if present < d_sure else (present + 1.0) / 2
        return cls(weak=low if weak is None else float(weak), present=present, sure=sure)

    def __call__(self, raw: np.ndarray | float) -> np.ndarray:
        """Map raw scores to calibrated ones (element-wise, monotone, 0 -> 0 and 1 -> 1)."""
        xp = [0.0, self.weak, self.present, self.sure, 1.0]
        fp = [0.0, WEAK, PRESENT, DETECTION_SURE, 1.0]
        return np.interp(np.asarray(raw, dtype=np.float64), xp, fp)
