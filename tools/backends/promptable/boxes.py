"""Box masks from a promptable segmenter, made once per (image, box): the image encoder runs once per image.

:class:`SamMasks` is one image's state (SAM's image embedding, computed on the image's first
mask, and every mask decoded so far); the backend caches it with the rest of the image's work
and counts its bytes (:meth:`SamMasks.nbytes`). :class:`BoxMasks` wraps a loaded
:class:`~tools.backends.promptable.sam.BoxMasker` and fills that state on demand. Both ``lite
--sam`` and ``openvocab --sam`` mask detection boxes through it.

This module needs no torch (the masker it is given does), so a backend may import it
unconditionally.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tools.backends.promptable.sam import BoxMasker, SamImage

Box = tuple[int, int, int, int]

BOX_MARGIN = 0.1
"""A SAM mask is cut to its box grown by this fraction of the box's size on each side."""


@dataclass(eq=False)
class SamMasks:
    """One image's SAM embedding (made on its first mask) and the masks decoded so far."""

    image: SamImage | None = None
    embed_ms: float = 0.0
    embedded_at: float | None = None
    """When the embedding was computed (``time.perf_counter``); None until then."""
    masks: dict[Box, np.ndarray] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def nbytes(self) -> int:
        """Bytes held: the embedding and the masks."""
        total = sum(m.nbytes for m in self.masks.values())
        if self.image is not None:
            emb = self.image.embedding
            total += int(emb.element_size() * emb.nelement())
        return total


class BoxMasks:
    """A loaded box masker (SAM) that embeds each image once and decodes each box once."""

    def __init__(self, masker: BoxMasker) -> None:
        self.masker = masker
        self.calls: Counter[str] = Counter()
        """How often each part ran: ``sam_embeds``, ``mask_decodes``."""
        self._lock = threading.Lock()

    @property
    def family(self) -> str:
        """The masker's family: ``segment-anything`` or ``transformers-sam``."""
        return self.masker.family

    @property
    def vision_module(self) -> Any:
        """The masker's image encoder (tests and benchmarks count its calls)."""
        return self.masker.vision_module

    def mask(self, rgb: np.ndarray, state: SamMasks, box: Box) -> np.ndarray:
        """Return the mask of ``box`` (x0, y0, x1, y1 in ``rgb``'s pixels), cut to the box grown by
        :data:`BOX_MARGIN`; the image is embedded on its first mask, each box decoded once."""
        with state.lock:
            found = state.masks.get(box)
            if found is None:
                with self._lock:
                    if state.image is None:
                        start = time.perf_counter()
                        state.image = self.masker.embed(writable(rgb))
                        state.embedded_at = time.perf_counter()
                        state.embed_ms = (state.embedded_at - start) * 1000
                        self.calls["sam_embeds"] += 1
                    mask = self.masker.masks(state.image, np.asarray([box], np.float64))[0]
                    self.calls["mask_decodes"] += 1
                found = state.masks[box] = mask & grown_box(box, mask.shape)
        return found


def grown_box(box: Box, shape: tuple[int, ...]) -> np.ndarray:
    """Return the boolean mask of ``box`` grown by :data:`BOX_MARGIN` of its size on each side."""
    x0, y0, x1, y1 = box
    dx, dy = int(BOX_MARGIN * (x1 - x0)) + 1, int(BOX_MARGIN * (y1 - y0)) + 1
    keep = np.zeros(shape[:2], bool)
    keep[max(0, y0 - dy) : y1 + dy + 1, max(0, x0 - dx) : x1 + dx + 1] = True
    return keep


def writable(rgb: np.ndarray) -> np.ndarray:
    """Return the image as a writable array (torch warns on read-only buffers; a cached copy is shared)."""
    return rgb if rgb.flags.writeable else rgb.copy()
