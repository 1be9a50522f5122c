"""Loading an open-vocabulary detector (OWLv2, OWL-ViT or Grounding DINO) by what its config says it is."""

from __future__ import annotations

import os
from typing import Any

import torch

from tools.backends.openvocab.detector import OpenVocabDetector
from tools.backends.promptable import loading

NAME = "openvocab"
"""The backend named in loading errors."""
OWL_TYPES = ("owlv2", "owlvit")
DINO_TYPES = ("grounding-dino", "mm-grounding-dino")


def load_detector(
    location: str | os.PathLike[str],
    *,
    device: torch.device,
    dtype: torch.dtype,
    allow_download: bool,
    template: str = "{}",
) -> OpenVocabDetector:
    """Load the detector at ``location`` (directory or model id) and its processor, strictly:
    a checkpoint lacking weights of its own config is refused, not randomly completed."""
    from transformers import AutoConfig, AutoModelForZeroShotObjectDetection, AutoProcessor

    common: dict[str, Any] = dict(flag="--model", allow_download=allow_download, backend=NAME)
    source, local = loading.model_source(location, what="detector", flag="--model", backend=NAME)
    config = loading.from_pretrained(
        AutoConfig.from_pretrained, source, local=local, what="detector config", **common
    )
    kind = getattr(config, "model_type", "?")
    if kind not in OWL_TYPES + DINO_TYPES:
        raise loading.failure(
            NAME,
            f"{source!r} is a {kind} model; --model needs an OWLv2, OWL-ViT or "
            "Grounding DINO detector (e.g. google/owlv2-base-patch16-ensemble)",
        )
    model, info = loading.from_pretrained(
        AutoModelForZeroShotObjectDetection.from_pretrained, source, local=local,
        what="detector", config=config, output_loading_info=True, **common,
    )  # fmt: skip
    loading.check_loading_info(info, what="detector", source=source, backend=NAME)
    processor = loading.from_pretrained(
        AutoProcessor.from_pretrained, source, local=local, what="detector processor", **common
    )
    model = model.to(device=device, dtype=dtype).eval()
    model.requires_grad_(False)
    if kind in OWL_TYPES:
        from tools.backends.openvocab.owl import OwlDetector

        return OwlDetector(model, processor, device=device, dtype=dtype, template=template)
    from tools.backends.openvocab.gdino import GroundingDinoDetector

    return GroundingDinoDetector(model, processor, device=device, dtype=dtype)
