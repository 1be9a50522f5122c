"""The close-up picture: crop the mask's box with a margin, enlarge it, outline the mask."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

OUTLINE_RGB = (255, 196, 0)
DIM = 0.55
"""Brightness kept outside the mask, so the region stands out."""


@dataclass(frozen=True)
class CloseUp:
    """An enlarged view of a region and where it came from."""

    data: bytes
    """The picture as JPEG (quality 92: a photo's close-up; PNG would take ~100x longer to encode)."""
    box: tuple[int, int, int, int]
    """x, y, width, height of the cropped region in the image."""
    scale: float
    """Enlargement factor (1.0: the region was already large)."""
    size: tuple[int, int]
    """Width and height of the picture."""


def crop_box(mask: np.ndarray, margin: float = 0.15, min_margin: int = 8) -> tuple[int, int, int, int]:
    """Return the mask's tight box grown by ``margin`` of its longer side, clipped to the image."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        raise ValueError("the mask is empty")
    height, width = mask.shape
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    pad = max(min_margin, round(margin * max(x1 - x0, y1 - y0)))
    x0, y0 = max(0, x0 - pad), max(0, y0 - pad)
    x1, y1 = min(width, x1 + pad), min(height, y1 + pad)
    return (x0, y0, x1 - x0, y1 - y0)


def close_up(rgb: np.ndarray, mask: np.ndarray, *, side: int = 512, max_scale: float = 8.0, scale: float | None = None) -> CloseUp:
    """Render the region of ``mask`` enlarged so its longer side is ``side`` px (at most ``max_scale``x).

    ``scale`` asks for a given enlargement instead (clipped to 1..``max_scale``). The mask is
    outlined and the rest of the crop dimmed.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"the mask is {mask.shape[1]}x{mask.shape[0]}, the image {rgb.shape[1]}x{rgb.shape[0]}")
    x, y, w, h = crop_box(mask)
    factor = scale if scale is not None else side / max(w, h)
    factor = float(min(max_scale, max(1.0, factor)))
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    crop = Image.fromarray(rgb[y : y + h, x : x + w]).resize(size, Image.Resampling.LANCZOS)
    region = Image.fromarray(mask[y : y + h, x : x + w].astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)
    inside = np.asarray(region) > 0
    pixels = np.asarray(crop).astype(np.float32)
    pixels[~inside] *= DIM
    thickness = max(1, round(factor))
    edge = inside & ~ndimage.binary_erosion(inside, iterations=thickness)
    pixels[edge] = OUTLINE_RGB
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buf, format="JPEG", quality=92)
    return CloseUp(data=buf.getvalue(), box=(x, y, w, h), scale=round(factor, 2), size=size)


__all__ = ["CloseUp", "close_up", "crop_box"]
