"""Reading printed text with RapidOCR (its ONNX models ship inside the package; nothing is downloaded).

The engine is created lazily on first use, once per reader, behind a lock so that the app's
worker threads share it safely. Lines are split into word boxes by character position along the
detected quadrilateral so that a query like 'HDMI' can point at one word of a longer line.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

OCR_MAX_SIDE = 960
"""Images are read at most this many pixels on the long side (RapidOCR's detector limit)."""


@dataclass(frozen=True)
class OcrWord:
    """One piece of read text: its string, quadrilateral (4 x/y points, original pixels) and confidence."""

    text: str
    quad: tuple[tuple[float, float], ...]
    conf: float
    line: int
    """Index of the detected text line it belongs to."""
    is_line: bool = False
    """True for the whole-line entry, False for a single word of it."""

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Axis-aligned box (x0, y0, x1, y1), inclusive pixel coordinates."""
        xs = [p[0] for p in self.quad]
        ys = [p[1] for p in self.quad]
        return (int(round(min(xs))), int(round(min(ys))), int(round(max(xs))), int(round(max(ys))))

    @property
    def height(self) -> float:
        """Approximate text height in pixels (mean of the quad's left and right edges)."""
        q = np.asarray(self.quad, dtype=float)
        return float((np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2)

    def scaled(self, factor: float) -> OcrWord:
        """Return the same word with its quadrilateral multiplied by ``factor`` (to another image size)."""
        quad = tuple((x * factor, y * factor) for x, y in self.quad)
        return OcrWord(self.text, quad, self.conf, self.line, self.is_line)

    def to_evidence(self) -> dict[str, Any]:
        """JSON-ready form cited in evidence: text, box [x0, y0, x1, y1] and confidence."""
        return {"text": self.text, "box": list(self.box), "conf": round(float(self.conf), 3)}


def split_line(text: str, quad: np.ndarray, conf: float, line: int) -> list[OcrWord]:
    """Return the line itself plus one entry per whitespace-separated word, boxes interpolated by character offset."""
    quad = np.asarray(quad, dtype=float).reshape(4, 2)
    out = [OcrWord(text, tuple(map(tuple, quad.tolist())), conf, line, is_line=True)]
    words = text.split()
    if len(words) < 2 or not text:
        return out
    n = len(text)
    tl, tr, br, bl = quad
    pos = 0
    for word in words:
        start = text.index(word, pos)
        end = start + len(word)
        pos = end
        a, b = start / n, end / n
        q = (tl + (tr - tl) * a, tl + (tr - tl) * b, bl + (br - bl) * b, bl + (br - bl) * a)
        out.append(OcrWord(word, tuple(tuple(p.tolist()) for p in q), conf, line))
    return out


class OcrReader:
    """Lazily created, lock-protected RapidOCR engine that returns :class:`OcrWord` lists."""

    def __init__(self, enabled: bool = True, min_conf: float = 0.5) -> None:
        self.enabled = enabled
        self.min_conf = min_conf
        self._engine: Any = None
        self._lock = threading.Lock()
        self.runs = 0
        """How many images were actually read (cache tests count this)."""
        self.init_ms = 0.0
        """Time spent creating the engine (0 until first use)."""

    @property
    def loaded(self) -> bool:
        """Whether the engine has been created."""
        return self._engine is not None

    def _get_engine(self) -> Any:
        if self._engine is None:
            start = time.perf_counter()
            from rapidocr_onnxruntime import RapidOCR  # lazy: importing loads onnxruntime

            self._engine = RapidOCR(det_limit_type="max", det_limit_side_len=OCR_MAX_SIDE)
            self.init_ms = (time.perf_counter() - start) * 1000
        return self._engine

    def warm(self) -> None:
        """Create the engine now (e.g. at app start) instead of on the first image."""
        if self.enabled:
            with self._lock:
                self._get_engine()

    def read(self, rgb: np.ndarray) -> list[OcrWord]:
        """Read all text lines (and their words) in an RGB image; coordinates are the image's pixels."""
        if not self.enabled:
            return []
        h, w = rgb.shape[:2]
        scale = min(1.0, OCR_MAX_SIDE / max(h, w))
        img = rgb
        if scale < 1.0:
            import cv2

            img = cv2.resize(
                rgb,
                (max(1, round(w * scale)), max(1, round(h * scale))),
                interpolation=cv2.INTER_AREA,
            )
        bgr = np.ascontiguousarray(img[:, :, ::-1])
        with self._lock:
            engine = self._get_engine()
            self.runs += 1
            result, _ = engine(bgr, use_cls=False)
        words: list[OcrWord] = []
        for i, item in enumerate(result or []):
            quad, text, conf = item
            text = str(text).strip()
            if not text or float(conf) < self.min_conf:
                continue
            q = np.asarray(quad, dtype=float).reshape(4, 2) / scale
            words.extend(split_line(text, q, float(conf), i))
        return words
