"""Per-image work, done once and cached by content hash: a downscaled copy, Lab, colour names and
the whole-image object detection at once; superpixels and OCR on first use.

Superpixels (~0.3-0.5 s) serve cue-ranked regions and click corrections, OCR (~0.3-1 s) serves
printed text: a request for a detected object needs neither, so they run only when a turn does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import cv2
import numpy as np

from tools.backends.lite import colours, regions
from tools.backends.lite.detector import CocoDetector
from tools.backends.lite.geometry import resize_mask
from tools.backends.lite.objects import ObjectIndex, detect
from tools.backends.lite.ocr import OCR_MAX_SIDE, OcrReader, OcrWord
from tools.backends.lite.salient import SalientMasker

T = TypeVar("T")


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
    objects: ObjectIndex = field(default_factory=lambda: ObjectIndex([]))
    """Detected objects (working pixels) and their masks, made on demand."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    ocr_rgb: np.ndarray | None = field(default=None, repr=False)
    """The image at OCR size (long side at most :data:`OCR_MAX_SIDE`), kept until read."""
    reader: OcrReader | None = field(default=None, repr=False)
    _levels: list[np.ndarray] | None = field(default=None, repr=False)
    _segments: list[regions.Candidate] | None = field(default=None, repr=False)
    _words: list[OcrWord] | None = field(default=None, repr=False)
    _salient: np.ndarray | None = field(default=None, repr=False)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _memo_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the working copy."""
        return self.rgb.shape[:2]

    @property
    def levels(self) -> list[np.ndarray]:
        """Superpixel label maps, fine then coarse (computed on first use)."""
        self._superpixels()
        assert self._levels is not None
        return self._levels

    @property
    def segments(self) -> list[regions.Candidate]:
        """Candidate regions of every superpixel level (computed on first use)."""
        self._superpixels()
        assert self._segments is not None
        return self._segments

    @property
    def words(self) -> list[OcrWord]:
        """OCR lines and words, original coordinates (read on first use)."""
        if self._words is None:
            with self._lock:
                if self._words is None:
                    mark = time.perf_counter()
                    words: list[OcrWord] = []
                    if self.reader is not None and self.ocr_rgb is not None:
                        words = self.reader.read(self.ocr_rgb)
                        factor = self.orig_w / self.ocr_rgb.shape[1]
                        words = [w.scaled(factor) for w in words] if factor != 1.0 else words
                    self.timings_ms["ocr_ms"] = (time.perf_counter() - mark) * 1000
                    self._words, self.ocr_rgb = words, None
        return self._words

    @property
    def words_read(self) -> bool:
        """Whether OCR has run on this image (a turn may mention text only when it has)."""
        return self._words is not None

    def nbytes(self) -> int:
        """Approximate memory held, from the arrays it owns (cheap: the cache re-asks after each
        turn, since superpixels, OCR and masks are added on first use)."""
        arrays = [self.rgb, self.lab, self.cmap, self.ocr_rgb, self._salient, *(self._levels or [])]
        total = sum(a.nbytes for a in arrays if a is not None)
        for cand in self._segments or []:
            total += 200 + cand.hist.nbytes + (cand.pixels.nbytes if cand.pixels is not None else 0)
        for value in self._memo.values():  # a source's per-image values: arrays or sized objects
            total += value.nbytes if isinstance(value, np.ndarray) else _sized(value)
        return total + 300 * len(self._words or []) + self.objects.nbytes()

    def memo(self, key: str, make: Callable[[], T]) -> T:
        """Return the image's value under ``key``, made once (a source's per-image work: it is
        cached, and measured by :meth:`nbytes` when it has an ``nbytes()``, with the image)."""
        with self._memo_lock:  # its own (re-entrant) lock: ``make`` may need the salient mask
            if key not in self._memo:
                self._memo[key] = make()
            return cast(T, self._memo[key])

    def salient(self, masker: SalientMasker) -> np.ndarray:
        """Return the salient-object mask of the whole working image (computed on first use)."""
        if self._salient is None:
            with self._lock:
                if self._salient is None:
                    mark = time.perf_counter()
                    self._salient = masker.saliency(self.rgb) >= 0.5
                    self.timings_ms["salient_ms"] = (time.perf_counter() - mark) * 1000
        return self._salient

    def _superpixels(self) -> None:
        if self._segments is not None:
            return
        with self._lock:
            if self._segments is None:
                mark = time.perf_counter()
                levels = regions.segment_levels(self.rgb)
                self._segments = [
                    c
                    for i, labels in enumerate(levels)
                    for c in regions.segment_candidates(labels, i, self.cmap, self.lab)
                ]
                self._levels = levels
                self.timings_ms["superpixels_ms"] = (time.perf_counter() - mark) * 1000

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
        return resize_mask(mask, self.orig_w, self.orig_h)

    def to_work(self, mask: np.ndarray) -> np.ndarray:
        """Downsample an original-size mask to the working size."""
        h, w = self.shape
        return resize_mask(mask, w, h)


def _sized(value: object) -> int:
    """Bytes a memoised value reports through its ``nbytes()`` (0 for values that do not say)."""
    size = getattr(value, "nbytes", None)
    return int(size()) if callable(size) else 0


def _shrunk(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Return a contiguous uint8 copy with its long side at most ``max_side`` (area interpolation)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(2, round(w * scale)), max(2, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def analyse(
    rgb: np.ndarray, *, max_side: int, reader: OcrReader, detector: CocoDetector | None = None
) -> ImageAnalysis:
    """Run the eager per-image steps (colour naming, detection) and set up the lazy ones."""
    t: dict[str, float] = {}
    start = time.perf_counter()
    h, w = rgb.shape[:2]
    work = _shrunk(rgb, max_side)
    lab = cv2.cvtColor(work, cv2.COLOR_RGB2LAB)
    cmap = colours.colour_map(work)
    t["colour_ms"] = (time.perf_counter() - start) * 1000
    mark = time.perf_counter()
    objects = detect(work, detector) if detector is not None else ObjectIndex([])
    t["detect_ms"] = (time.perf_counter() - mark) * 1000
    return ImageAnalysis(
        orig_w=w, orig_h=h, scale=work.shape[1] / w, rgb=work, lab=lab, cmap=cmap,
        objects=objects, timings_ms=t,
        ocr_rgb=_shrunk(rgb, OCR_MAX_SIDE) if reader.enabled else None, reader=reader,
    )  # fmt: skip
