"""Measurements of a boolean mask over its RGB image: pure functions, no pixelrs state."""

from __future__ import annotations

import colorsys
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

MIN_PART_SHARE = 0.01
"""A connected part smaller than this share of the mask is a speck, not a part."""
MIN_PART_PIXELS = 10


@dataclass(frozen=True)
class Measurement:
    """What :func:`measure` finds out about a mask."""

    area_px: int
    area_percent: float
    """Share of the image the mask covers, in percent."""
    bbox: tuple[int, int, int, int]
    """x, y, width, height of the tight box (COCO order)."""
    centroid: tuple[float, float]
    """x, y of the mask's centre of mass."""
    colour: str
    """Name of the dominant colour inside the mask."""
    colour_rgb: tuple[int, int, int]
    parts: int
    """Connected parts (8-connectivity), specks below 1 % of the mask left out."""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values (stored with the tool call)."""
        values = asdict(self)
        values["bbox"] = list(self.bbox)
        values["centroid"] = [round(v, 1) for v in self.centroid]
        values["colour_rgb"] = list(self.colour_rgb)
        return values


def part_labels(mask: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Label the mask's connected parts; return the label image and the labels that count as parts."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return labels, []
    sizes = np.bincount(labels.ravel())[1:]
    floor = max(MIN_PART_PIXELS, MIN_PART_SHARE * int(mask.sum()))
    kept = [label for label, size in enumerate(sizes, start=1) if size >= floor]
    kept.sort(key=lambda label: -int(sizes[label - 1]))  # largest part first
    return labels, kept


def measure(mask: np.ndarray, rgb: np.ndarray) -> Measurement:
    """Measure ``mask`` (H, W bool) over ``rgb`` (H, W, 3 uint8); raise ValueError if it is empty."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"the mask is {mask.shape[1]}x{mask.shape[0]}, the image {rgb.shape[1]}x{rgb.shape[0]}")
    area = int(mask.sum())
    if area == 0:
        raise ValueError("the mask is empty")
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    colour_rgb = dominant_rgb(rgb[mask])
    _, parts = part_labels(mask)
    return Measurement(
        area_px=area,
        area_percent=round(100.0 * area / mask.size, 2),
        bbox=(x0, y0, x1 - x0 + 1, y1 - y0 + 1),
        centroid=(float(xs.mean()), float(ys.mean())),
        colour=colour_name(colour_rgb),
        colour_rgb=colour_rgb,
        parts=len(parts),
    )


def dominant_rgb(pixels: np.ndarray) -> tuple[int, int, int]:
    """Median colour of the most common bin of a coarse (8 levels per channel) colour histogram."""
    bins = (pixels // 32).astype(np.int32)
    keys = bins[:, 0] * 64 + bins[:, 1] * 8 + bins[:, 2]
    top = np.bincount(keys).argmax()
    chosen = pixels[keys == top]
    r, g, b = (int(v) for v in np.median(chosen, axis=0))
    return (r, g, b)


def colour_name(rgb: tuple[int, int, int]) -> str:
    """Name a colour in plain words (black, white, grey, brown, red, orange, yellow, green, ...)."""
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    hue = h * 360
    if v < 0.18:
        return "black"
    if s < 0.15:
        return "white" if v > 0.85 else "grey"
    if 15 <= hue < 45 and v < 0.65:
        return "brown"
    for limit, name in ((15, "red"), (45, "orange"), (70, "yellow"), (160, "green"), (195, "cyan"),
                        (255, "blue"), (290, "purple"), (335, "pink"), (361, "red")):
        if hue < limit:
            return name
    return "red"  # pragma: no cover - hue is below 361


__all__ = ["Measurement", "colour_name", "dominant_rgb", "measure", "part_labels"]
