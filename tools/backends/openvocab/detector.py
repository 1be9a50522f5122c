"""What every open-vocabulary detector offers the source: image features once, then proposals per query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch


@dataclass
class Proposals:
    """Every box a detector proposes for one query on one image, with its raw score."""

    boxes: np.ndarray
    """(N, 4) float x0, y0, x1, y1 in the pixels of the image that was encoded."""
    scores: np.ndarray
    """(N,) raw scores in 0..1 (the model's own scale, before calibration)."""


class OpenVocabDetector(Protocol):
    """An open-vocabulary detector split into a per-image part (cached) and a per-query part."""

    family: str
    """Calibration family: ``owlv2``, ``owlvit`` or ``grounding-dino``."""
    vision_module: torch.nn.Module
    """The module whose forward is the per-image cost (tests and benchmarks count its calls)."""

    def encode(self, rgb: np.ndarray) -> Any:
        """Run the per-image part on an (H, W, 3) uint8 RGB image; the result is cached by the caller."""
        ...

    def propose(self, image: Any, query: str) -> Proposals:
        """Score the boxes of an encoded image for one text query (no image encoder run)."""
        ...


def tensor_bytes(value: Any) -> int:
    """Bytes held by the tensors and arrays inside a cached value (dataclasses, dicts, lists)."""
    if isinstance(value, torch.Tensor):
        return value.element_size() * value.nelement()
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return sum(tensor_bytes(getattr(value, f)) for f in value.__dataclass_fields__)
    return 0
