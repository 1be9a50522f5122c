"""Pixel refinement with OpenCV GrabCut: polishing a chosen region, and applying click/box prompts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from tools.backends.lite.geometry import bbox, disk, iou

if TYPE_CHECKING:
    from tools.backends.lite.analysis import ImageAnalysis

MAX_ROI_PIXELS = 40_000
"""GrabCut runs on a crop around the region, shrunk to at most this many pixels (keeps turns fast)."""
ITERATIONS = 3
_NO_RECT = (0, 0, 1, 1)  # ignored by OpenCV outside GC_INIT_WITH_RECT


def _grabcut(
    rgb: np.ndarray, init: np.ndarray, rect: tuple[int, int, int, int] | None = None
) -> np.ndarray | None:
    """Run GrabCut on an RGB crop with an initial GC_* label map; None if OpenCV refuses (e.g. no background)."""
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    labels = init.copy()
    mode = cv2.GC_INIT_WITH_RECT if rect is not None else cv2.GC_INIT_WITH_MASK
    # GrabCut's k-means draws from OpenCV's per-thread RNG: seed it so a turn gives the same
    # mask on whichever thread it runs and however many turns ran there before (replays match).
    cv2.setRNGSeed(0)
    try:
        if rect is not None:
            labels[:] = cv2.GC_BGD
            cv2.grabCut(np.ascontiguousarray(rgb[:, :, ::-1]), labels, rect, bgd, fgd, 1, mode)
            # re-apply hard labels from ``init`` (clicks) and continue from the model
            hard = (init == cv2.GC_FGD) | (init == cv2.GC_BGD)
            labels[hard] = init[hard]
            cv2.grabCut(
                np.ascontiguousarray(rgb[:, :, ::-1]),
                labels,
                _NO_RECT,
                bgd,
                fgd,
                ITERATIONS - 1,
                cv2.GC_EVAL,
            )
        else:
            cv2.grabCut(
                np.ascontiguousarray(rgb[:, :, ::-1]), labels, _NO_RECT, bgd, fgd, ITERATIONS, mode
            )
    except cv2.error:
        return None
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


@dataclass
class _Roi:
    y0: int
    y1: int
    x0: int
    x1: int
    f: float
    """Crop downscale factor (<= 1)."""

    def crop(self, arr: np.ndarray, interp: int = cv2.INTER_AREA) -> np.ndarray:
        part = arr[self.y0 : self.y1, self.x0 : self.x1]
        if self.f >= 1.0:
            return np.ascontiguousarray(part)
        size = (max(2, round(part.shape[1] * self.f)), max(2, round(part.shape[0] * self.f)))
        return cv2.resize(part, size, interpolation=interp)

    def paste(self, small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape, bool)
        h, w = self.y1 - self.y0, self.x1 - self.x0
        if small.shape != (h, w):
            small = (
                cv2.resize(small.astype(np.uint8) * 255, (w, h), interpolation=cv2.INTER_LINEAR)
                >= 128
            )
        out[self.y0 : self.y1, self.x0 : self.x1] = small
        return out


def _roi(shape: tuple[int, int], box: tuple[int, int, int, int], margin: float) -> _Roi:
    h, w = shape
    x0, y0, x1, y1 = box
    m = int(margin * max(x1 - x0 + 1, y1 - y0 + 1)) + 6
    r = _Roi(max(0, y0 - m), min(h, y1 + m + 1), max(0, x0 - m), min(w, x1 + m + 1), 1.0)
    px = (r.y1 - r.y0) * (r.x1 - r.x0)
    r.f = min(1.0, (MAX_ROI_PIXELS / px) ** 0.5) if px else 1.0
    return r


def polish(an: ImageAnalysis, seed: np.ndarray) -> np.ndarray:
    """Refine a region's mask with GrabCut seeded from it (core = sure, ring = maybe); keep the seed if GrabCut drifts."""
    b = bbox(seed)
    if b is None:
        return seed
    roi = _roi(an.shape, b, 0.25)
    s = roi.crop(seed.astype(np.uint8) * 255) >= 128
    if not s.any() or s.all():
        return seed
    rad = max(1, int(0.12 * min(b[2] - b[0] + 1, b[3] - b[1] + 1) * roi.f))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rad + 1, 2 * rad + 1))
    core = cv2.erode(s.astype(np.uint8), kernel).astype(bool)
    ring = cv2.dilate(s.astype(np.uint8), kernel, iterations=2).astype(bool)
    init = np.full(s.shape, cv2.GC_BGD, np.uint8)
    init[ring] = cv2.GC_PR_BGD
    init[s] = cv2.GC_PR_FGD
    init[core] = cv2.GC_FGD
    if not (init == cv2.GC_BGD).any():
        init[0, :] = init[-1, :] = init[:, 0] = init[:, -1] = cv2.GC_BGD
    out = _grabcut(roi.crop(an.rgb), init)
    if out is None or not out.any():
        return seed
    refined = roi.paste(out, an.shape)
    return refined if iou(refined, seed) >= 0.6 else seed


def grow_in_box(
    an: ImageAnalysis, box: tuple[int, int, int, int], seed: np.ndarray
) -> np.ndarray:
    """Complete an object's salient mask inside its detector box with GrabCut: the seed is
    probably the object, its eroded core surely is, the rest of the box maybe not, outside the box
    surely not. Salient-object models often miss dark or low-contrast parts (a man's trousers)
    that share colours with the part they found, so what GrabCut adds is kept (what it drops is
    not: thin parts like spokes go first); the seed stays as it is if GrabCut drifts far from it."""
    x0, y0, x1, y1 = box
    roi = _roi(an.shape, box, 0.1)
    boxed = np.zeros(an.shape, bool)
    boxed[y0 : y1 + 1, x0 : x1 + 1] = True
    s = roi.crop(seed.astype(np.uint8) * 255) >= 128
    inside = roi.crop(boxed.astype(np.uint8) * 255) >= 128
    if not s.any() or not (inside & ~s).any():
        return seed
    rad = max(1, int(0.05 * min(s.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rad + 1, 2 * rad + 1))
    init = np.full(s.shape, cv2.GC_BGD, np.uint8)
    init[inside] = cv2.GC_PR_BGD
    init[s] = cv2.GC_PR_FGD
    init[cv2.erode(s.astype(np.uint8), kernel).astype(bool)] = cv2.GC_FGD
    if not (init == cv2.GC_BGD).any():
        return seed  # the box fills the image: nothing is known to be background
    out = _grabcut(roi.crop(an.rgb), init)
    if out is None or not out.any():
        return seed
    grown = roi.paste(out, an.shape) & boxed
    return grown | seed if iou(grown, seed) >= 0.5 else seed


def region_at(
    an: ImageAnalysis, x: float, y: float, within: np.ndarray | None = None, max_fraction: float = 0.12
) -> np.ndarray:
    """Return the superpixel under a click: the coarsest that is object-sized (at most
    ``max_fraction`` of the image, not background), else the finest, else a disk.

    One click should add about one part; a quarter of the photo for one click surprises people.
    """
    h, w = an.shape
    xi, yi = int(min(max(x, 0), w - 1)), int(min(max(y, 0), h - 1))
    radius = 0.03 * (h * h + w * w) ** 0.5
    for labels in reversed(an.levels):
        region = labels == labels[yi, xi]
        frac = region.mean()
        b = bbox(region)
        assert b is not None
        borders = int(b[0] == 0) + int(b[1] == 0) + int(b[2] == w - 1) + int(b[3] == h - 1)
        if within is not None:
            region = region & within
            if region.any() and region.sum() <= 0.9 * within.sum():
                return region
            continue
        if frac <= max_fraction and borders < 3:
            return region
    if within is None:  # no object-sized region: take the finest piece unless it is huge
        fine = an.levels[0] == an.levels[0][yi, xi]
        if fine.mean() <= 0.4:
            return fine
    d = disk((h, w), xi, yi, radius)
    return d & within if within is not None else d


def apply_points(
    an: ImageAnalysis, base: np.ndarray | None, points: list[tuple[float, float, bool]]
) -> tuple[np.ndarray, list[str]]:
    """Edit ``base`` (or nothing) with clicks in working pixels: positive adds the region clicked, negative removes it."""
    h, w = an.shape
    current = base.copy() if base is not None else np.zeros((h, w), bool)
    r = max(2.0, 0.012 * (h * h + w * w) ** 0.5)
    sure_fg = np.zeros((h, w), bool)
    sure_bg = np.zeros((h, w), bool)
    notes: list[str] = []
    for x, y, positive in points:
        if positive:
            if current[int(min(max(y, 0), h - 1)), int(min(max(x, 0), w - 1))]:
                region = disk((h, w), x, y, r)
            else:
                region = region_at(an, x, y)
            current |= region
            sure_fg |= disk((h, w), x, y, r) & region
        else:
            region = region_at(an, x, y, within=current if current.any() else None)
            current &= ~region
            sure_bg |= region | disk((h, w), x, y, r)
        notes.append(
            f"{'positive' if positive else 'negative'} click at ({x / an.scale:.0f}, {y / an.scale:.0f})"
        )
    current &= ~sure_bg
    edited = current.copy()
    b = bbox(current | sure_fg)
    if b is None:
        return edited, notes
    roi = _roi(an.shape, b, 0.2)
    init: np.ndarray = np.full((roi.y1 - roi.y0, roi.x1 - roi.x0), cv2.GC_PR_BGD, np.uint8)
    sl = (slice(roi.y0, roi.y1), slice(roi.x0, roi.x1))
    init[current[sl]] = cv2.GC_PR_FGD
    init[sure_fg[sl]] = cv2.GC_FGD
    init[sure_bg[sl]] = cv2.GC_BGD
    if roi.f < 1.0:
        init = cv2.resize(
            init,
            (max(2, round(init.shape[1] * roi.f)), max(2, round(init.shape[0] * roi.f))),
            interpolation=cv2.INTER_NEAREST,
        )
    out = (
        _grabcut(roi.crop(an.rgb), init)
        if (init == cv2.GC_PR_BGD).any() or (init == cv2.GC_BGD).any()
        else None
    )
    if out is not None:
        refined = roi.paste(out, an.shape)
        refined = (refined | sure_fg) & ~sure_bg
        if iou(refined, edited) >= 0.7:
            return refined, notes
    return edited, notes


def apply_box(
    an: ImageAnalysis,
    box: tuple[float, float, float, float],
    points: list[tuple[float, float, bool]],
) -> np.ndarray:
    """GrabCut inside a drawn box (working pixels), with clicks as sure foreground/background."""
    h, w = an.shape
    x0, y0 = max(0, int(min(box[0], box[2]))), max(0, int(min(box[1], box[3])))
    x1, y1 = min(w - 1, int(max(box[0], box[2]))), min(h - 1, int(max(box[1], box[3])))
    boxed = np.zeros((h, w), bool)
    boxed[y0 : y1 + 1, x0 : x1 + 1] = True
    if x1 - x0 < 3 or y1 - y0 < 3:
        return boxed
    roi = _roi(an.shape, (x0, y0, x1, y1), 0.15)
    init: np.ndarray = np.full((roi.y1 - roi.y0, roi.x1 - roi.x0), cv2.GC_PR_BGD, np.uint8)
    r = max(2.0, 0.012 * (h * h + w * w) ** 0.5)
    for x, y, positive in points:
        d = disk((h, w), x, y, r)[roi.y0 : roi.y1, roi.x0 : roi.x1]
        init[d] = cv2.GC_FGD if positive else cv2.GC_BGD
    if roi.f < 1.0:
        init = cv2.resize(
            init,
            (max(2, round(init.shape[1] * roi.f)), max(2, round(init.shape[0] * roi.f))),
            interpolation=cv2.INTER_NEAREST,
        )
    f = roi.f
    rect = (
        int((x0 - roi.x0) * f), int((y0 - roi.y0) * f),
        max(2, int((x1 - x0 + 1) * f)), max(2, int((y1 - y0 + 1) * f)),
    )  # fmt: skip
    out = _grabcut(roi.crop(an.rgb), init, rect=rect)
    if out is None or not out.any():
        return boxed
    return roi.paste(out, an.shape) & boxed
