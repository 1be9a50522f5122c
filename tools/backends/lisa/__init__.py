"""LISA backend: the same ``[SEG]``-to-SAM head over a LLaVA-1 LM with a single CLIP tower.

Loads public LISA checkpoints (LISA-7B-v1 layout: ``model.mm_projector`` linear,
``model.vision_tower.vision_tower.vision_model.*`` (or CLIP from ``--clip DIR``),
``model.visual_model.*``, ``model.text_hidden_fcs.*``) with the machinery shared with MIRAS in
:mod:`tools.backends.vlm_common`. The ``[SEG]`` state defaults to LISA's own rule, the hidden
state that predicts ``[SEG]`` (its 255-offset hack is exact for 256 image tokens).
"""

from __future__ import annotations

from typing import ClassVar

from ..vlm_common.backend import SegVLMBackend
from ..vlm_common.config import SegVLMConfig, Variant


class LisaBackend(SegVLMBackend):
    """LISA: CLIP ViT-L/14 (224 px, 256 tokens) + LLaMA-7B + SAM ViT-H."""

    name: ClassVar[str] = "lisa"
    variant: ClassVar[Variant] = "lisa"


def full_size_config() -> SegVLMConfig:
    """Return the LISA-7B-v1 configuration."""
    return SegVLMConfig.full_size("lisa")


__all__ = ["LisaBackend", "full_size_config"]
