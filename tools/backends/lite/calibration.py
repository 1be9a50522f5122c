"""Turning lite's ranking scores into confidences: the chance that the mask is what was meant.

The ranking score of a detected object is its detection score times how clearly it won
(an even tie between three people scores 0.6 of a clear win). On the dev split of the evaluation
set (data/eval/dev.json) a clear single detection had IoU >= 0.5 with the hand-drawn mask about
4 times in 5, a salient guess for a thing no model knows about 2 times in 5: the factors below
bring scores to those rates, so a confidence reads as a probability and anything below
:data:`CAVEAT_BELOW` is said to be unsure. They were fitted on the dev split only; the test
split's reliability is reported with the evaluation (bench/bench_eval.py), not tuned on.
"""

from __future__ import annotations

SCALE = {
    "object": 0.8,  # detections: 10 of 13 clear wins on dev had IoU >= 0.5
    "part": 0.8,  # a detected part inside the target (a tie, a face)
    "previous": 0.85,  # a half of the current mask: exact geometry, as right as that mask
    "prompt": 0.9,  # the user's own clicks or box
    "salient": 1.0,  # already 0.25: a guess
}
"""Per kind of region: the factor from ranking score to confidence (1.0 where none is fitted)."""

CAVEAT_BELOW = 0.5
"""A mask whose confidence is below this always comes with the low-confidence caveat."""


def confidence(score: float, kind: str) -> float:
    """Return the confidence shown for a mask of ``kind`` ranked with ``score``, in 0..1, 3 decimals."""
    value = score * SCALE.get(kind, 1.0)
    return round(float(min(1.0, max(0.0, value))), 3)
