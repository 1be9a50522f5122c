"""Candidate regions: Felzenszwalb superpixels at two scales, OCR text boxes, and colour blobs."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage
from skimage.segmentation import felzenszwalb

from tools.backends.lite import colours
from tools.backends.lite.ocr import OcrWord

LEVELS = ((60.0, 0.001, 320), (200.0, 0.002, 320))
"""Per level (fine, coarse): Felzenszwalb scale, minimum segment size as a fraction of the image, and
the long side of the copy it runs on (Felzenszwalb costs ~0.35 s at 640 px, ~0.07 s at 320 px)."""
MIN_AREA = 0.0015
"""Segments smaller than this fraction of the image are not candidates."""


@dataclass(eq=False)
class Candidate:
    """One region the ranker may choose, with the features cues are scored on (working-size pixels)."""

    kind: str
    """'segment' (superpixel), 'object' (a detection's mask), 'salient' (a salient region no
    detection explains), 'text' (OCR box), 'colour' (colour blob), 'prompt' or 'previous'."""
    bbox: tuple[int, int, int, int]
    """Inclusive (x0, y0, x1, y1) in working pixels."""
    area: float
    """Fraction of the image."""
    cx: float
    cy: float
    """Centroid, normalised to 0..1."""
    hist: np.ndarray
    """Colour fractions over :data:`colours.BASIC`."""
    mean_lab: np.ndarray
    borders: int
    """How many image sides the region touches."""
    level: int = -1
    seg_id: int = -1
    words: tuple[OcrWord, ...] = ()
    label: str = ""
    """A short description for evidence: the text read or the colour."""
    pixels_total: int = 1
    """Pixels in the working image (to turn ``bbox`` into a fraction)."""
    pixels: np.ndarray | None = field(default=None, repr=False)
    """The mask for non-segment candidates."""
    confidence: float = 1.0
    """How sure the source is that the region is what it is labelled (a detection's score)."""

    @property
    def background_like(self) -> bool:
        """Touches three or more image sides, or covers most of the image: probably background.

        Never for a detected object: a bus filling the photo is still the bus.
        """
        return self.kind != "object" and (self.borders >= 3 or self.area > 0.5)

    def objectness(self) -> float:
        """Prior 0..1 that the region is a thing one would point at (not background, not a speck)."""
        if self.kind in ("text", "object", "salient"):
            return 1.0
        prior = min(1.0, self.area / 0.01) ** 0.5  # specks under 1% of the image count less
        x0, y0, x1, y1 = self.bbox
        box_frac = (x1 - x0 + 1) * (y1 - y0 + 1) / self.pixels_total
        fill = self.area / box_frac if box_frac > 0 else 1.0
        prior *= min(1.0, fill / 0.15) ** 0.5  # thin rings and strips are rarely what one means
        if self.background_like:
            prior *= 0.3
        elif self.borders == 2 and self.area > 0.25:  # a big corner piece: likely background
            prior *= 0.6
        elif self.borders == 2 and self.area < 0.02:  # a corner speck: vignetting, noise
            prior *= 0.75
        return float(prior)


def segment_levels(rgb: np.ndarray) -> list[np.ndarray]:
    """Felzenszwalb label maps (int32, working size) at the fine and coarse scales."""
    h, w = rgb.shape[:2]
    out = []
    for scale, frac, side in LEVELS:
        f = min(1.0, side / max(h, w))
        small = rgb
        if f < 1.0:
            size = (max(2, round(w * f)), max(2, round(h * f)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        sh, sw = small.shape[:2]
        labels = felzenszwalb(small, scale=scale, sigma=0.8, min_size=max(8, int(frac * sh * sw)))
        labels = absorb_thin(labels, cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float64))
        if f < 1.0:
            rows = np.minimum((np.arange(h) * sh / h).astype(np.intp), sh - 1)
            cols = np.minimum((np.arange(w) * sw / w).astype(np.intp), sw - 1)
            labels = labels[rows[:, None], cols[None, :]]
        out.append(labels.astype(np.int32))
    return out


def absorb_thin(
    labels: np.ndarray, lab: np.ndarray, min_width: float = 4.0, passes: int = 6
) -> np.ndarray:
    """Merge thin segments (blurred edge rings, mean width < ``min_width`` px) into their most similar wide neighbour."""
    for _ in range(passes):
        merged = _absorb_once(labels, lab, min_width)
        if merged is None:
            break
        labels = merged
    return labels


def _absorb_once(labels: np.ndarray, lab: np.ndarray, min_width: float) -> np.ndarray | None:
    n = int(labels.max()) + 1
    if n < 2:
        return None
    flat = labels.ravel()
    area = np.bincount(flat, minlength=n).astype(np.float64)
    sums = np.stack(
        [np.bincount(flat, weights=lab[..., c].ravel(), minlength=n) for c in range(3)], 1
    )
    mean = sums.astype(np.float64) / np.maximum(area, 1)[:, None]
    a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
    b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
    diff = a != b
    a, b = a[diff], b[diff]
    edge = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    thin = (2 * area / np.maximum(edge, 1) < min_width) & (edge > 0)
    if not thin.any():
        return None
    pairs = np.unique(np.stack([np.concatenate([a, b]), np.concatenate([b, a])], 1), axis=0)
    pairs = pairs[
        thin[pairs[:, 0]] & ~thin[pairs[:, 1]]
    ]  # thin -> wide neighbours only (no cycles)
    if pairs.size == 0:
        return None
    dist = np.linalg.norm(mean[pairs[:, 0]] - mean[pairs[:, 1]], axis=1)
    target = np.arange(n)
    order = np.lexsort((dist, pairs[:, 0]))
    first = np.ones(len(order), bool)
    first[1:] = pairs[order[1:], 0] != pairs[order[:-1], 0]
    best = pairs[order[first]]
    target[best[:, 0]] = best[:, 1]
    _, relabelled = np.unique(target[flat], return_inverse=True)
    return relabelled.reshape(labels.shape).astype(np.int32)


def _borders(b: tuple[int, int, int, int], w: int, h: int) -> int:
    return int(b[0] <= 0) + int(b[1] <= 0) + int(b[2] >= w - 1) + int(b[3] >= h - 1)


def segment_candidates(
    labels: np.ndarray, level: int, cmap: np.ndarray, lab: np.ndarray
) -> list[Candidate]:
    """Features of every segment of a label map (vectorised with bincount), skipping specks."""
    h, w = labels.shape
    flat = labels.ravel()
    n = int(flat.max()) + 1
    total = float(flat.size)
    area = np.bincount(flat, minlength=n).astype(np.float64)
    xs = np.tile(np.arange(w, dtype=np.float64), h)
    ys = np.repeat(np.arange(h, dtype=np.float64), w)
    sx = np.bincount(flat, weights=xs, minlength=n)
    sy = np.bincount(flat, weights=ys, minlength=n)
    k = len(colours.BASIC)
    hist = np.bincount(flat * k + cmap.ravel(), minlength=n * k).reshape(n, k).astype(np.float64)
    labf = lab.reshape(-1, 3).astype(np.float64)
    mean_lab = np.stack(
        [np.bincount(flat, weights=labf[:, c], minlength=n) for c in range(3)], axis=1
    )
    slices = ndimage.find_objects(labels + 1)
    out = []
    for i in range(n):
        if area[i] < MIN_AREA * total or slices[i] is None:
            continue
        sl = slices[i]
        b = (sl[1].start, sl[0].start, sl[1].stop - 1, sl[0].stop - 1)
        out.append(
            Candidate(
                kind="segment",
                bbox=b,
                area=area[i] / total,
                cx=sx[i] / area[i] / w,
                cy=sy[i] / area[i] / h,
                hist=hist[i] / area[i],
                mean_lab=mean_lab[i] / area[i],
                borders=_borders(b, w, h),
                pixels_total=h * w,
                level=level,
                seg_id=i,
            )
        )
    return out


def mask_candidate(
    mask: np.ndarray, kind: str, cmap: np.ndarray, lab: np.ndarray, **extra: object
) -> Candidate | None:
    """Build a candidate for an arbitrary boolean mask (text box, colour blob, prompt), or None if empty."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return None
    h, w = mask.shape
    b = (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
    return Candidate(
        kind=kind,
        bbox=b,
        area=xs.size / mask.size,
        cx=float(xs.mean()) / w,
        cy=float(ys.mean()) / h,
        hist=colours.histogram(cmap, mask),
        mean_lab=lab[mask].reshape(-1, 3).mean(axis=0),
        borders=_borders(b, w, h),
        pixels_total=h * w,
        pixels=mask,
        **extra,  # type: ignore[arg-type]
    )


def text_mask(word: OcrWord, shape: tuple[int, int], scale: float, pad: float = 0.4) -> np.ndarray:
    """Return the word's quadrilateral, grown by ``pad`` x its text height on every side, as a working-size mask."""
    q = np.asarray(word.quad, dtype=np.float64).reshape(4, 2) * scale
    tl, tr, br, bl = q
    u = tr - tl
    v = bl - tl
    u = u / (np.linalg.norm(u) or 1.0)
    v = v / (np.linalg.norm(v) or 1.0)
    p = pad * word.height * scale
    grown = np.array(
        [tl - p * u - p * v, tr + p * u - p * v, br + p * u + p * v, bl - p * u + p * v]
    )
    out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.round(grown).astype(np.int32)], 1)
    return out.astype(bool)


def colour_blobs(cmap: np.ndarray, colour: str, max_blobs: int = 8) -> list[np.ndarray]:
    """Find connected regions whose pixels have the named colour (after a small opening), largest first."""
    weights = colours.weight_vector(colour)
    if not weights.any():
        return []
    hit = (weights[cmap] >= 0.75).astype(np.uint8)
    hit = cv2.morphologyEx(hit, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    hit = cv2.morphologyEx(hit, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(hit, connectivity=8)
    order = [i for i in np.argsort(-stats[:, cv2.CC_STAT_AREA]) if i != 0]
    min_px = MIN_AREA * cmap.size
    return [labels == i for i in order[:max_blobs] if stats[i, cv2.CC_STAT_AREA] >= min_px]
