"""The ``lite`` backend: CPU-only segmentation from OCR, colour, position, size and relation cues.

No downloaded weights: OCR comes from RapidOCR's bundled ONNX models, regions from Felzenszwalb
superpixels, refinement from OpenCV GrabCut. Per-image work is cached by content hash.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from agent.cache import ByteLRU
from agent.errors import BadInputError
from agent.types import ImageRef, Mask, MaskOut
from tools.backends.base import ExplainRequest, SegmentRequest, SegmentResult
from tools.backends.lite import explain as explaining
from tools.backends.lite.analysis import ImageAnalysis, analyse
from tools.backends.lite.cues import from_intent
from tools.backends.lite.explain import describe_mask
from tools.backends.lite.geometry import iou
from tools.backends.lite.ocr import OcrReader
from tools.backends.lite.rank import Ranker, Ranking
from tools.backends.lite.refine import apply_box, apply_points, polish

MAX_MASKS = 3


class LiteBackend:
    """CPU default backend: reads text, names colours and positions, and refines with GrabCut."""

    name = "lite"

    def __init__(
        self, max_side: int = 640, cache_bytes: int = 256 * 2**20, ocr: bool = True
    ) -> None:
        if int(max_side) < 32:
            raise BadInputError(f"lite: max_side must be at least 32, got {max_side}")
        if int(cache_bytes) < 0:
            raise BadInputError(f"lite: cache_bytes must be >= 0, got {cache_bytes}")
        self.max_side = int(max_side)
        self.cache = ByteLRU(int(cache_bytes))
        self.ocr = OcrReader(enabled=bool(ocr))

    # -- per-image analysis ------------------------------------------------
    def analysis(self, image: np.ndarray, ref: ImageRef) -> ImageAnalysis:
        """Return the cached per-image analysis (OCR, superpixels, colours), computed on first use."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] < 3:
            raise BadInputError(f"lite: expected an (H, W, 3) RGB image, got shape {image.shape}")
        rgb = (
            image[:, :, :3]
            if image.dtype == np.uint8
            else np.clip(image[:, :, :3], 0, 255).astype(np.uint8)
        )
        key = (ref.sha256, rgb.shape[0], rgb.shape[1], self.max_side)
        return self.cache.get_or_create(
            key, lambda: analyse(rgb, max_side=self.max_side, reader=self.ocr)
        )

    # -- segmentation ----------------------------------------------------------
    def segment(self, request: SegmentRequest) -> SegmentResult:
        """Find the tracked target from the intent's cues (or apply click/box prompts) and return up to 3 masks."""
        start = time.perf_counter()
        cached = self._cached(request.image_ref, request.image)
        an = self.analysis(request.image, request.image_ref)
        prev = None
        pm = request.previous_mask
        if pm is not None and pm.array.shape == (an.orig_h, an.orig_w) and pm.array.any():
            prev = an.to_work(pm.array)
        cues = from_intent(request.intent, request.dialogue)
        label = request.intent.target or request.intent.describe()
        evidence: dict[str, Any] = {"backend": self.name, "analysis_cached": cached}

        if not request.prompts.empty:
            masks, cue_notes = self._from_prompts(an, request, prev)
            scored = [(m, 0.9, "prompt") for m in masks]
            evidence["cues"] = cue_notes
            evidence["ocr"] = []
        elif cues.part and prev is not None:
            scored = [(self._half(prev, cues.part), 0.8, "previous")]
            evidence["cues"] = [f"{cues.part} half of the previous mask"]
            evidence["ocr"] = []
        else:
            ranking = Ranker(an, cues, prev).rank()
            scored = self._choose(an, ranking)
            evidence["cues"] = ranking.cues
            evidence["ocr"] = [m.word.to_evidence() for m in ranking.matches]
            if ranking.unmatched:
                evidence["unmatched"] = ranking.unmatched
            if ranking.fallback:
                evidence["fallback"] = ranking.fallback
            evidence["candidates"] = len(ranking.ranked)

        outs = []
        for work_mask, score, _ in scored[:MAX_MASKS]:
            full = an.to_orig(work_mask)
            outs.append(
                MaskOut(Mask(full), label=label, score=round(float(min(1.0, max(0.0, score))), 3))
            )
        if outs:
            region = describe_mask(an, outs[0].mask.array)
            region["kind"] = scored[0][2]
            evidence["region"] = region
        elapsed = (time.perf_counter() - start) * 1000
        evidence["timings_ms"] = {
            **({} if cached else an.timings_ms),
            "total_ms": round(elapsed, 1),
        }
        return SegmentResult(masks=outs, text="", evidence=evidence, backend_ms=elapsed)

    def _cached(self, ref: ImageRef, image: np.ndarray) -> bool:
        shape = np.asarray(image).shape
        return (ref.sha256, shape[0], shape[1], self.max_side) in self.cache

    def _choose(self, an: ImageAnalysis, ranking: Ranking) -> list[tuple[np.ndarray, float, str]]:
        """Pick up to 3 distinct masks best first, polish the best, subtract excluded regions, calibrate scores."""
        chosen: list[tuple[np.ndarray, float, str]] = []
        for r in ranking.ranked[:40]:
            m = an.segment_mask(r.cand)
            if ranking.subtract is not None:
                m = m & ~ranking.subtract
            if not m.any() or any(iou(m, c[0]) > 0.7 for c in chosen):
                continue
            chosen.append((m, r.score, r.cand.kind))
            if len(chosen) == MAX_MASKS:
                break
        if not chosen:
            return []
        best_mask, best_score, kind = chosen[0]
        if kind in ("segment", "colour"):
            best_mask = polish(an, best_mask)
            if ranking.subtract is not None:
                best_mask &= ~ranking.subtract
        if ranking.fallback:
            return [(best_mask, best_score, kind)] + chosen[1:]
        second = chosen[1][1] if len(chosen) > 1 else 0.0
        margin = (best_score - second) / best_score if best_score > 0 else 0.0
        out = [(best_mask, best_score * (0.6 + 0.4 * margin), kind)]
        out += [(m, sc * 0.6, k) for m, sc, k in chosen[1:]]
        return out

    def _from_prompts(
        self, an: ImageAnalysis, request: SegmentRequest, prev: np.ndarray | None
    ) -> tuple[list[np.ndarray], list[str]]:
        s = an.scale
        points = [(p.x * s, p.y * s, p.positive) for p in request.prompts.points]
        box = request.prompts.box
        if box is not None:
            mask = apply_box(an, (box.x0 * s, box.y0 * s, box.x1 * s, box.y1 * s), points)
            notes = [f"box prompt x {box.x0:.0f}-{box.x1:.0f}, y {box.y0:.0f}-{box.y1:.0f}"]
            notes += [
                f"{'positive' if p else 'negative'} click at ({x / s:.0f}, {y / s:.0f})"
                for x, y, p in points
            ]
            return [mask], notes
        mask, notes = apply_points(an, prev, points)
        if prev is not None:
            notes.insert(0, "edited the previous mask")
        return [mask], notes

    @staticmethod
    def _half(prev: np.ndarray, side: str) -> np.ndarray:
        ys, xs = np.nonzero(prev)
        out = prev.copy()
        if side in ("left", "right"):
            mid = (xs.min() + xs.max()) / 2
            cols = np.arange(prev.shape[1])
            out[:, cols > mid if side == "left" else cols <= mid] = False
        elif side in ("top", "bottom"):
            mid = (ys.min() + ys.max()) / 2
            rows = np.arange(prev.shape[0])
            out[rows > mid if side == "top" else rows <= mid, :] = False
        return out

    # -- explanation -----------------------------------------------------------
    def explain(self, request: ExplainRequest) -> Iterator[str]:
        """Stream a grounded explanation word by word: text read, position, size, colour, change since last turn."""
        an = self.analysis(request.image, request.image_ref)
        mask = request.mask.array if request.mask is not None else None
        if mask is not None and mask.shape != (an.orig_h, an.orig_w):
            mask = None
        if request.result is not None and mask is not None:
            sentences = explaining.segment_explanation(an, request, mask)
        else:
            sentences = explaining.question_explanation(an, request, mask)
        yield from explaining.stream(sentences)

    def forget_session(self, session_id: str) -> None:
        """Lite keeps no per-session state (only per-image caches), so there is nothing to drop."""

    def warm(self) -> None:
        """Create the OCR engine ahead of the first image (optional; otherwise it is created lazily)."""
        self.ocr.warm()
