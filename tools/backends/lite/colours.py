"""Naming pixel colours: an HSV rule table over 11 basic colour names, plus query aliases."""

from __future__ import annotations

import cv2
import numpy as np

BASIC = (
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
    "black",
    "white",
    "gray",
)
"""Pixel colour classes, index = value in the colour map."""
INDEX = {name: i for i, name in enumerate(BASIC)}

ALIASES: dict[str, dict[str, float]] = {
    **{name: {name: 1.0} for name in BASIC},
    "grey": {"gray": 1.0},
    "silver": {"gray": 1.0, "white": 0.8},
    "gold": {"yellow": 1.0, "orange": 0.8, "brown": 0.5},
    "golden": {"yellow": 1.0, "orange": 0.8, "brown": 0.5},
    "beige": {"brown": 1.0, "white": 0.4},
    "tan": {"brown": 1.0, "orange": 0.4},
    "cyan": {"blue": 1.0, "green": 0.4},
    "teal": {"blue": 1.0, "green": 0.7},
    "navy": {"blue": 1.0},
    "violet": {"purple": 1.0},
    "magenta": {"pink": 1.0, "purple": 0.6},
    "maroon": {"red": 0.8, "brown": 0.8},
    "crimson": {"red": 1.0},
    "dark": {"black": 1.0},
}
"""Colour words a user may say, mapped to weights over :data:`BASIC` classes."""

HAIR_ALIASES: dict[str, dict[str, float]] = {
    "blonde": {"yellow": 1.0, "orange": 0.9, "white": 0.4, "brown": 0.3},
    "brunette": {"brown": 1.0, "black": 0.9},
    "redhead": {"orange": 1.0, "red": 0.9, "brown": 0.4},
}
"""Hair colours (see :mod:`tools.backends.lite.wearing`): scored like colours, but not colour words."""
ALIASES.update(HAIR_ALIASES)

COLOUR_WORDS = frozenset(ALIASES) - {"dark"} - frozenset(HAIR_ALIASES)


def colour_map(rgb: np.ndarray) -> np.ndarray:
    """Return an (H, W) uint8 map of :data:`BASIC` indices, one colour name per pixel."""
    hsv = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    out = np.full(h.shape, INDEX["gray"], np.uint8)
    chroma = (s >= 0.18) & ~((s < 0.25) & (v > 0.85))

    def put(cond: np.ndarray, name: str) -> None:
        out[cond & chroma] = INDEX[name]

    put((h < 15) | (h >= 340), "red")
    put((h >= 15) & (h < 45), "orange")
    put((h >= 45) & (h < 70), "yellow")
    put((h >= 70) & (h < 170), "green")
    put((h >= 170) & (h < 260), "blue")
    put((h >= 260) & (h < 290), "purple")
    put((h >= 290) & (h < 340), "pink")
    # light, weakly saturated reds are pink; dark or weakly saturated oranges are brown
    put(((h < 15) | (h >= 340)) & (s < 0.5) & (v > 0.75), "pink")
    put((h >= 290) & (h < 340) & (v < 0.45), "purple")
    put((h >= 10) & (h < 45) & ((v < 0.6) | (s < 0.45)), "brown")
    put(((h < 10) | (h >= 340)) & (v < 0.35), "brown")
    put((h >= 45) & (h < 70) & (v < 0.4), "brown")
    achro = ~chroma
    out[achro & (v > 0.8)] = INDEX["white"]
    out[v < 0.2] = INDEX["black"]
    out[achro & (v < 0.3)] = INDEX["black"]
    return out


def histogram(cmap: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Fractions of each :data:`BASIC` colour among the (masked) pixels of a colour map."""
    values = cmap[mask] if mask is not None else cmap.ravel()
    counts = np.bincount(values.ravel(), minlength=len(BASIC)).astype(np.float64)
    total = counts.sum()
    return counts / total if total else counts


def colour_score(hist: np.ndarray, colour: str) -> float:
    """How much of a region (given its colour histogram) has the named colour, 0..1."""
    weights = ALIASES.get(colour.lower())
    if not weights:
        return 0.0
    return float(min(1.0, sum(w * hist[INDEX[k]] for k, w in weights.items())))


def weight_vector(colour: str) -> np.ndarray:
    """Return the alias weights of a colour word as a vector over :data:`BASIC` (for batch scoring)."""
    vec = np.zeros(len(BASIC))
    for k, w in ALIASES.get(colour.lower(), {}).items():
        vec[INDEX[k]] = w
    return vec


def dominant(hist: np.ndarray) -> str:
    """Name of the most frequent colour in a histogram."""
    return BASIC[int(np.argmax(hist))] if hist.sum() else "unknown"
