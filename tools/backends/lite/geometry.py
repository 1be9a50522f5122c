"""Small geometry helpers: mask resizing between working and original size, boxes, position names."""

from __future__ import annotations

import cv2
import numpy as np


def resize_mask(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize a boolean mask to (height, width), smoothly when upsampling, by area when shrinking."""
    if mask.shape == (height, width):
        return mask.astype(bool, copy=False)
    src = mask.astype(np.uint8) * 255
    interp = cv2.INTER_AREA if width * height < mask.size else cv2.INTER_LINEAR
    return cv2.resize(src, (width, height), interpolation=interp) >= 128


def bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Inclusive (x0, y0, x1, y1) of the foreground, or None when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def centroid(mask: np.ndarray) -> tuple[float, float] | None:
    """Mean (x, y) of the foreground pixels, or None when empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    return float(xs.mean()), float(ys.mean())


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of two inclusive (x0, y0, x1, y1) boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
    return float(inter / area)


def box_inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> float:
    """Fraction of the ``inner`` box's area that lies inside ``outer`` (x0, y0, x1, y1 boxes)."""
    ix = max(0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    iy = max(0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return ix * iy / area if area > 0 else 0.0


def position_name(cx: float, cy: float) -> str:
    """Name a normalised (0..1) centre point: 'upper left', 'top', 'centre', 'lower right', ..."""
    vert = "upper" if cy < 1 / 3 else "lower" if cy > 2 / 3 else ""
    horiz = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    if vert and horiz:
        return f"{vert} {horiz}"
    if vert:
        return "top" if vert == "upper" else "bottom"
    return horiz or "centre"


def disk(shape: tuple[int, int], x: float, y: float, radius: float) -> np.ndarray:
    """Boolean disk of ``radius`` pixels around (x, y) in an array of ``shape``."""
    out = np.zeros(shape, np.uint8)
    cv2.circle(out, (int(round(x)), int(round(y))), max(1, int(round(radius))), 1, thickness=-1)
    return out.astype(bool)


def ellipse_in_box(shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """Draw the ellipse inscribed in a box: a cheap stand-in for an object's mask while ranking."""
    out = np.zeros(shape, np.uint8)
    x0, y0, x1, y1 = box
    centre = ((x0 + x1) // 2, (y0 + y1) // 2)
    axes = (max(1, (x1 - x0) // 2), max(1, (y1 - y0) // 2))
    cv2.ellipse(out, centre, axes, 0, 0, 360, 1, -1)
    return out.astype(bool)
