"""Grounding DINO through transformers, with its image backbone run once per image.

Grounding DINO fuses the text into its image encoder (deep fusion), so unlike OWL most of its
cost depends on the query. What depends on the image alone is the Swin backbone and its position
embeddings (``model.model.backbone``); :class:`GroundingDinoDetector` wraps that module so that
:meth:`encode` runs it once and every later query reuses its output. The fusion encoder and the
decoder run per new query; proposals per (image, query) are cached by the source, so asking for
the same phrase again costs nothing. Scores follow transformers' post-processing: the sigmoid of
a box's best token logit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tools.backends.openvocab.detector import Proposals


@dataclass
class GdImage:
    """The per-image part of Grounding DINO: preprocessed pixels and the backbone's output."""

    pixel_values: torch.Tensor
    pixel_mask: torch.Tensor
    backbone: Any
    """``(features, position_embeddings)`` as the backbone returns them."""
    size: tuple[int, int]
    """(H, W) of the encoded image."""


class _CachedBackbone(torch.nn.Module):
    """Stands in for ``GroundingDinoModel.backbone``: returns the output it is serving, else runs."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.serving: Any = None

    @property
    def position_embedding(self) -> torch.nn.Module:
        """The wrapped backbone's position embedding (the model uses it for extra feature levels)."""
        return self.inner.position_embedding  # type: ignore[return-value]

    def forward(self, pixel_values: torch.Tensor, pixel_mask: torch.Tensor) -> Any:
        """Return the served backbone output, or run the real backbone."""
        if self.serving is not None:
            return self.serving
        return self.inner(pixel_values, pixel_mask)


class GroundingDinoDetector:
    """Grounding DINO with its backbone cached per image (see the module docstring)."""

    family = "grounding-dino"

    def __init__(self, model: Any, processor: Any, *, device: torch.device, dtype: torch.dtype) -> None:
        self.model = model
        self.processor = processor
        self.device = device
        self.dtype = dtype
        inner = model.model.backbone
        self._backbone = _CachedBackbone(inner)
        model.model.backbone = self._backbone
        self.vision_module = inner
        self._lock = threading.Lock()

    @torch.inference_mode()
    def encode(self, rgb: np.ndarray) -> GdImage:
        """Preprocess the image and run the backbone once."""
        inputs = self.processor.image_processor(images=rgb, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.dtype)
        mask = inputs["pixel_mask"].to(self.device)
        out = self.vision_module(pixels, mask)
        return GdImage(pixels, mask, out, (int(rgb.shape[0]), int(rgb.shape[1])))

    @torch.inference_mode()
    def propose(self, image: GdImage, query: str) -> Proposals:
        """Run the text tower, fusion encoder and decoder for one query on the cached backbone output."""
        text = query.strip().lower()
        tokens = self.processor.tokenizer(text if text.endswith(".") else text + ".", return_tensors="pt")
        with self._lock:
            self._backbone.serving = image.backbone
            try:
                out = self.model(
                    pixel_values=image.pixel_values,
                    pixel_mask=image.pixel_mask,
                    **{k: v.to(self.device) for k, v in tokens.items()},
                )
            finally:
                self._backbone.serving = None
        scores = torch.sigmoid(out.logits[0].float()).max(dim=-1).values.cpu().numpy()
        cx, cy, bw, bh = out.pred_boxes[0].float().cpu().numpy().T
        h, w = image.size
        boxes = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], 1)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w - 1)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h - 1)
        return Proposals(boxes, scores.astype(np.float64))
