"""Per-image work done once and cached by content hash: downscaled copy, Lab, colour names,
superpixels, OCR and the whole-image object detection."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from tools.backends.lite import colours, regions
from tools.backends.lite.detector import CocoDetector
from tools.backends.lite.objects import ObjectIndex, detect
from tools.backends.lite.ocr import OcrReader, OcrWord


@dataclass(eq=False)
class ImageAnalysis:
    """Everything lite knows about one image; coordinates are working pixels unless named 'orig'."""

    orig_w: int
    orig_h: int
    scale: float
    """Working size / original size (<= 1)."""
    rgb: np.ndarray
    lab: np.ndarray
    cmap: np.ndarray
    """Colour-name index per pixel (see :data:`colours.BASIC`)."""
    levels: list[np.ndarray]
    """Superpixel label maps, fine then coarse."""
    segments: list[regions.Candidate]
    words: list[OcrWord]
    """OCR lines and words, original coordinates."""
    objects: ObjectIndex = field(default_factory=lambda: ObjectIndex([]))
    """Detected objects (working pixels) and their masks, made on demand."""
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the working copy."""
        return self.rgb.shape[:2]

    def segment_mask(self, cand: regions.Candidate) -> np.ndarray:
        """Return the boolean working-size mask of a candidate."""
        if cand.pixels is not None:
            return cand.pixels
        return self.levels[cand.level] == cand.seg_id

    def overlap_counts(self, mask: np.ndarray) -> dict[int, np.ndarray]:
        """Per level, how many pixels of each segment fall inside ``mask`` (for fast IoU with many segments)."""
        return {
            i: np.bincount(labels[mask], minlength=int(labels.max()) + 1)
            for i, labels in enumerate(self.levels)
        }

    def to_orig(self, mask: np.ndarray) -> np.ndarray:
        """Upsample a working-size mask to the original image size."""
        from tools.backends.lite.geometry import resize_mask

        return resize_mask(mask, self.orig_w, self.orig_h)

    def to_work(self, mask: np.ndarray) -> np.ndarray:
        """Downsample an original-size mask to the working size."""
        from tools.backends.lite.geometry import resize_mask

        h, w = self.shape
        return resize_mask(mask, w, h)


def analyse(
    rgb: np.ndarray, *, max_side: int, reader: OcrReader, detector: CocoDetector | None = None
) -> ImageAnalysis:
    """Run the per-image steps (OCR, superpixels, colour naming, detection) on an RGB image."""
    t: dict[str, float] = {}
    start = time.perf_counter()
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    work = (
        rgb
        if scale >= 1.0
        else cv2.resize(
            rgb, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA
        )
    )
    work = np.ascontiguousarray(work, dtype=np.uint8)
    scale = work.shape[1] / w
    lab = cv2.cvtColor(work, cv2.COLOR_RGB2LAB)
    cmap = colours.colour_map(work)
    t["colour_ms"] = (time.perf_counter() - start) * 1000
    mark = time.perf_counter()
    levels = regions.segment_levels(work)
    segments = [
        c
        for i, labels in enumerate(levels)
        for c in regions.segment_candidates(labels, i, cmap, lab)
    ]
    t["superpixels_ms"] = (time.perf_counter() - mark) * 1000
    mark = time.perf_counter()
    words = reader.read(np.ascontiguousarray(rgb)) if reader.enabled else []
    t["ocr_ms"] = (time.perf_counter() - mark) * 1000
    mark = time.perf_counter()
    objects = detect(work, detector) if detector is not None else ObjectIndex([])
    t["detect_ms"] = (time.perf_counter() - mark) * 1000
    return ImageAnalysis(
        orig_w=w, orig_h=h, scale=scale, rgb=work, lab=lab, cmap=cmap,
        levels=levels, segments=segments, words=words, objects=objects, timings_ms=t,
    )  # fmt: skip
