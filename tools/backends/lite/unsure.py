"""Which of the detections the detector was unsure of become candidates of a turn: those the
current mask already shows, those on the side of the image the user named, those of the colour
the user named; each only when no sure detection answers the same cue."""

from __future__ import annotations

import numpy as np

from agent.types import IntentOp
from tools.backends.lite import colours
from tools.backends.lite.analysis import ImageAnalysis
from tools.backends.lite.cues import Cues
from tools.backends.lite.detector import Detection
from tools.backends.lite.geometry import ellipse_in_box
from tools.backends.lite.sources import Lookup

SHOWN = 0.5
"""An unsure detection whose box the current mask covers this much was shown to the user."""
NAMED_COLOUR = 0.35
"""A detection's box ellipse with this much of the colour the user named has it (see
:func:`of_named_colour`)."""
SIDES = {
    "left": lambda x, y: x < 0.5, "right": lambda x, y: x > 0.5,
    "top": lambda x, y: y < 0.5, "bottom": lambda x, y: y > 0.5,
    "center": lambda x, y: 1 / 3 < x < 2 / 3,
}  # fmt: skip
"""Where a box's centre (as a share of the image's width and height) lies on a side the user named."""


def shown_before(lookup: Lookup, cues: Cues, previous: np.ndarray | None) -> list[Detection]:
    """Return the unsure detections the current mask already shows, when a refinement picks one of the
    things shown ("just the one on the left" after "all three kittens", whose count was filled
    from unsure detections): they are candidates again, not only the sure ones."""
    t = cues.target
    picks = bool(t.positions) or t.ordinal is not None or t.size is not None
    if previous is None or cues.op != IntentOp.REFINE or not picks or cues.count is not None:
        return []
    shown = []
    for det in lookup.unsure:
        x0, y0, x1, y1 = det.box
        inside = previous[y0 : y1 + 1, x0 : x1 + 1]
        if inside.size and inside.mean() >= SHOWN:
            shown.append(det)
    return shown


def on_named_side(lookup: Lookup, cues: Cues, shape: tuple[int, ...]) -> list[Detection]:
    """Return the unsure detections on the side of the image the user named when no sure one is
    there ("the cab on the right edge" when the detector is sure only of a car on the left, and
    unsure of the taxi cut by the right edge): the user has said where to look."""
    sides = [SIDES[p] for p in cues.target.positions if p in SIDES]
    if not sides or cues.count is not None or lookup.weak:
        return []
    height, width = shape[:2]

    def there(det: Detection) -> bool:
        x0, y0, x1, y1 = det.box
        return all(side((x0 + x1) / 2 / width, (y0 + y1) / 2 / height) for side in sides)

    if any(there(det) for det in lookup.detections):
        return []
    return [det for det in lookup.unsure if there(det)]


def of_named_colour(lookup: Lookup, cues: Cues, an: ImageAnalysis) -> list[Detection]:
    """Return the unsure detections of the colour the user named when no sure one has it ("the
    red car on the road" when the detector is sure of a dozen grey and white cars and unsure of
    the small red one): the user has said what it looks like."""
    said = cues.target.colours
    if not said or cues.count is not None or lookup.weak or not lookup.unsure:
        return []
    if any(coloured(an, det, said) for det in lookup.detections):
        return []
    return [det for det in lookup.unsure if coloured(an, det, said)]


def coloured(an: ImageAnalysis, det: Detection, said: list[str]) -> bool:
    """Whether a detection's box ellipse has one of the named colours (:data:`NAMED_COLOUR`)."""
    hist = colours.histogram(an.cmap, ellipse_in_box(an.shape, det.box))
    return any(colours.colour_score(hist, c) >= NAMED_COLOUR for c in said)
