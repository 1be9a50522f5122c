"""OWLv2 (and OWL-ViT) through transformers, split so the image is encoded once.

``Owlv2ForObjectDetection.forward`` runs the vision tower, the text tower and the heads together.
Everything that depends on the image alone is computed once per image by :meth:`OwlDetector.encode`:
the vision tower (``image_embedder``), the box head (boxes do not depend on the query), and the
image side of the class head (its projected, normalised patch embeddings and the per-patch logit
shift and scale). A query then costs the text tower (cached per phrase) and one
``(patches x dim) @ (dim,)`` product: :meth:`propose` reproduces the class head's arithmetic
exactly (the tests compare it with the model's own forward).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tools.backends.openvocab.detector import Proposals

TEXT_CACHE = 512
"""Text embeddings kept per detector (phrases, not images)."""


@dataclass
class OwlImage:
    """The per-image part of OWL: everything the class and box heads need except the query."""

    class_embeds: torch.Tensor
    """(N, D) float32 projected patch embeddings, L2-normalised (the class head's ``dense0``)."""
    logit_shift: torch.Tensor
    """(N,) float32 per-patch logit shift."""
    logit_scale: torch.Tensor
    """(N,) float32 per-patch logit scale (``elu(.) + 1``)."""
    boxes: np.ndarray
    """(N, 4) x0, y0, x1, y1 in the encoded image's pixels, one box per patch."""


class OwlDetector:
    """OWLv2/OWL-ViT with cached image features and cached text embeddings."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        device: torch.device,
        dtype: torch.dtype,
        template: str = "{}",
    ) -> None:
        self.model = model
        self.processor = processor
        self.device = device
        self.dtype = dtype
        self.template = template
        self.family = "owlv2" if model.config.model_type == "owlv2" else "owlvit"
        self.vision_module = model.base_model.vision_model
        self.max_text_len = int(model.config.text_config.max_position_embeddings)
        self._texts: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    @torch.inference_mode()
    def encode(self, rgb: np.ndarray) -> OwlImage:
        """Run the vision tower, the box head and the image side of the class head once."""
        h, w = rgb.shape[:2]
        pixels = self.processor.image_processor(images=rgb, return_tensors="pt")["pixel_values"]
        pixels = pixels.to(self.device, self.dtype)
        feature_map = self.model.image_embedder(pixel_values=pixels)[0]
        b, gh, gw, d = feature_map.shape
        feats = feature_map.reshape(b, gh * gw, d)
        head = self.model.class_head
        embeds = head.dense0(feats)[0].float()
        embeds = embeds / (torch.linalg.norm(embeds, dim=-1, keepdim=True) + 1e-6)
        shift = head.logit_shift(feats)[0, :, 0].float()
        scale = (F.elu(head.logit_scale(feats)) + 1)[0, :, 0].float()
        boxes = self.model.box_predictor(feats, feature_map)[0].float().cpu().numpy()
        return OwlImage(embeds, shift, scale, _to_pixels(boxes, w, h, square=self.family == "owlv2"))

    @torch.inference_mode()
    def propose(self, image: OwlImage, query: str) -> Proposals:
        """Score every patch's box for ``query``: sigmoid of the class head's logit."""
        text = self._text_embedding(query)
        logits = (image.class_embeds @ text + image.logit_shift) * image.logit_scale
        return Proposals(image.boxes, torch.sigmoid(logits).cpu().numpy().astype(np.float64))

    def _text_embedding(self, query: str) -> torch.Tensor:
        """Return the query's normalised text embedding (D,), float32 on the model's device, cached by phrase."""
        with self._lock:
            cached = self._texts.get(query)
            if cached is not None:
                self._texts.move_to_end(query)
                return cached
        tokens = self.processor.tokenizer(
            [self.template.format(query)],
            padding="max_length",
            max_length=self.max_text_len,
            truncation=True,
            return_tensors="pt",
        )
        out = self.model.base_model.get_text_features(
            input_ids=tokens["input_ids"].to(self.device),
            attention_mask=tokens["attention_mask"].to(self.device),
        )
        pooled = out.pooler_output if hasattr(out, "pooler_output") else out
        text = pooled[0].float()
        text = text / (torch.linalg.norm(text) + 1e-6)
        with self._lock:
            self._texts[query] = text
            while len(self._texts) > TEXT_CACHE:
                self._texts.popitem(last=False)
        return text


def _to_pixels(boxes: np.ndarray, w: int, h: int, *, square: bool) -> np.ndarray:
    """(cx, cy, bw, bh) in 0..1 -> x0, y0, x1, y1 pixels, clipped to the image.

    OWLv2 pads the image to a square (bottom and right) before resizing, so its coordinates are
    fractions of the longer side; OWL-ViT resizes without padding.
    """
    sx, sy = (max(w, h), max(w, h)) if square else (w, h)
    cx, cy, bw, bh = boxes.T
    out = np.stack([(cx - bw / 2) * sx, (cy - bh / 2) * sy, (cx + bw / 2) * sx, (cy + bh / 2) * sy], 1)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, w - 1)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, h - 1)
    return out
