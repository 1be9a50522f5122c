"""Background "stuff" no packaged model knows: the sky, grass, water, snow and the road.

Users ask for them ("select the sky", "segment the grass") and the COCO detector, ImageNet and the
salient-object model all leave them out: the detector knows things, not surfaces, and a salient
model finds what stands out *against* them. What they have in common is colour, smoothness and
place (the sky is bright or blue, smooth and reaches the top edge; grass is green and lies low;
the road is grey and reaches the bottom edge), so each kind is a colour rule on the pixels, kept
where the kind's place allows, then snapped to the image's fine superpixels so that its edge
follows the photo's. These are priors, not a model: the answer is always a flagged guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from tools.backends.lite.analysis import ImageAnalysis

NAMES: dict[str, str] = {
    "sky": "sky", "skies": "sky", "skyline": "sky", "clouds": "sky", "cloud": "sky",
    "grass": "grass", "lawn": "grass", "meadow": "grass", "turf": "grass", "pasture": "grass",
    "water": "water", "sea": "water", "ocean": "water", "lake": "water", "river": "water",
    "pond": "water", "pool": "water",
    "snow": "snow",
    "road": "road", "street": "road", "asphalt": "road", "tarmac": "road", "pavement": "road",
}  # fmt: skip
"""The words for each kind of stuff (lower case, as said)."""
MIN_SHARE = 0.01
"""A kind covering less than this share of the image is not there."""
SNAP = 0.5
"""A fine superpixel joins the mask when this share of its pixels passed the colour rule."""
EDGE_BAND = 0.04
"""What "reaches an edge" means: within this share of the image's height of it."""
SMOOTH_PERCENTILE = 60
"""The sky and water are smoother than this percentile of the image's gradient magnitudes."""
SCORE = 0.3
"""A stuff mask's ranking score: below the caveat, since it is a guess from colour and place."""


@dataclass(frozen=True)
class Stuff:
    """One kind: which pixels look like it, and which of their connected parts it keeps."""

    looks: Callable[[np.ndarray, np.ndarray], np.ndarray]
    """(HSV image, smooth-pixel mask) -> pixels of the kind's colour."""
    keeps: Callable[[np.ndarray, int, int], bool]
    """(one connected part, image height, width) -> whether the part is where the kind lies."""


def _hue(hsv: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return (hsv[..., 0] >= lo) & (hsv[..., 0] <= hi)


def _touches_top(part: np.ndarray, h: int, w: int) -> bool:
    return bool(part[: max(1, int(EDGE_BAND * h))].any())


def _touches_bottom(part: np.ndarray, h: int, w: int) -> bool:
    return bool(part[h - max(1, int(EDGE_BAND * h)) :].any())


def _low(part: np.ndarray, h: int, w: int) -> bool:
    """Tell whether the part's centre lies below the top third (ground, not treetops)."""
    return float(np.nonzero(part)[0].mean()) > h / 3


def _below_top(part: np.ndarray, h: int, w: int) -> bool:
    return _low(part, h, w) and not _touches_top(part, h, w)


# OpenCV's HSV: hue 0-179 (blue about 100-125, green 35-85), saturation and value 0-255.
KINDS: dict[str, Stuff] = {
    "sky": Stuff(
        lambda hsv, smooth: smooth
        & ((_hue(hsv, 90, 130) & (hsv[..., 1] >= 25) & (hsv[..., 2] >= 110))
           | ((hsv[..., 1] < 40) & (hsv[..., 2] >= 170))),
        _touches_top,
    ),
    "grass": Stuff(
        lambda hsv, smooth: _hue(hsv, 30, 85) & (hsv[..., 1] >= 50) & (hsv[..., 2] >= 40), _low
    ),
    "water": Stuff(
        lambda hsv, smooth: smooth & _hue(hsv, 80, 130) & (hsv[..., 1] >= 30) & (hsv[..., 2] >= 50),
        _below_top,
    ),
    "snow": Stuff(lambda hsv, smooth: (hsv[..., 1] < 50) & (hsv[..., 2] >= 150), _below_top),
    "road": Stuff(
        lambda hsv, smooth: (hsv[..., 1] < 45) & (hsv[..., 2] >= 50) & (hsv[..., 2] < 200),
        _touches_bottom,
    ),
}  # fmt: skip
"""Each kind's colour rule and place."""


PLACE_WORDS = frozenset(
    "on in at by near behind beside next under over above below of with from around between".split()
)
"""Words after which a phrase speaks of another thing ("the house *by* the lake" is a house)."""


def kind_of(phrase: str | None) -> str | None:
    """Return the kind of stuff a target phrase's head names ("the blue sky" -> sky, "the grass
    behind them" -> grass, "the house by the lake" -> None)."""
    words = [w.strip(".,!?'\"") for w in (phrase or "").lower().split()]
    cut = next((i for i, w in enumerate(words) if w in PLACE_WORDS and i > 0), len(words))
    head = words[:cut][-1] if words[:cut] else ""
    return NAMES.get(head)


def stuff_mask(an: ImageAnalysis, kind: str) -> np.ndarray:
    """Return the working-size mask of one kind of stuff (empty when too little of it is there);
    cached with the image's analysis."""
    return an.memo(f"stuff-{kind}", lambda: _stuff_mask(an, KINDS[kind]))


def _stuff_mask(an: ImageAnalysis, stuff: Stuff) -> np.ndarray:
    h, w = an.shape
    hsv = cv2.cvtColor(an.rgb, cv2.COLOR_RGB2HSV)
    grey = cv2.GaussianBlur(cv2.cvtColor(an.rgb, cv2.COLOR_RGB2GRAY), (5, 5), 0).astype(np.float32)
    gradient = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    smooth = gradient <= np.percentile(gradient, SMOOTH_PERCENTILE)
    looks = stuff.looks(hsv, smooth).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    cleaned = cv2.morphologyEx(cv2.morphologyEx(looks, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cleaned, connectivity=8)
    kept = np.zeros((h, w), bool)
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < MIN_SHARE * h * w / 4:
            continue
        part = labels == i
        if stuff.keeps(part, h, w):
            kept |= part
    if kept.sum() < MIN_SHARE * h * w:
        return np.zeros((h, w), bool)
    return _snapped(an, kept)


def _snapped(an: ImageAnalysis, mask: np.ndarray) -> np.ndarray:
    """Return the fine superpixels mostly inside ``mask``: the mask's edge follows the photo's."""
    labels = an.levels[0]
    if labels.shape != mask.shape:
        return mask
    total = np.bincount(labels.ravel())
    inside = np.bincount(labels.ravel(), weights=mask.ravel().astype(np.float64), minlength=total.size)
    chosen = inside >= SNAP * np.maximum(total, 1)
    snapped = chosen[labels]
    return snapped if snapped.any() else mask
