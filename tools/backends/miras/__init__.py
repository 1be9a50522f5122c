"""MIRAS (PRIST paper) backend: our implementation of the authors' model, loadable from their
checkpoints (MIRAS_REFERENCE C), with correct multi-turn inference and caches.

Differences from the authors' inference (G.2), on purpose:

* generation arguments are honoured and an attention mask is implied (we run our own loop);
* every generated ``[SEG]`` gets its own hidden state (their ``evaluate`` reads only the last
  decoding step, crashing or using the wrong state);
* the ``[SEG]`` position rule is explicit; MIRAS defaults to ``"authors_offset"``, the state its
  checkpoints were trained on (see :mod:`tools.backends.vlm_common.engine`);
* history is the clean text (no ``<s>``/``</s>`` in messages), images and the KV prefix are
  cached across turns, and SAM/the mask decoder run only when a mask is needed.
"""

from __future__ import annotations

from typing import ClassVar

from ..vlm_common.backend import SegVLMBackend
from ..vlm_common.config import SegVLMConfig, Variant


class MirasBackend(SegVLMBackend):
    """MIRAS: CLIP ViT-L/14-336 + ConvNeXt-L (patch-info mining) + LLaMA-7B + SAM ViT-H."""

    name: ClassVar[str] = "miras"
    variant: ClassVar[Variant] = "miras"


def full_size_config() -> SegVLMConfig:
    """Return the MIRAS-7B configuration (what its checkpoints contain)."""
    return SegVLMConfig.full_size("miras")


__all__ = ["MirasBackend", "full_size_config"]
