"""lite's ``--sam``: SAM's box-prompted masks for the detected objects instead of U²-Net-p's.

With a SAM checkpoint (a segment-anything ``.pth``, or a transformers SAM directory / model id
already in the local Hugging Face cache), every detection box lite masks (COCO detections and the
ImageNet candidates that came from detector boxes) is masked by SAM: its image encoder runs once
per image, on the image's first mask, and is cached with the image's analysis; each box is then
one call of the prompt encoder and mask decoder (:mod:`tools.backends.promptable.boxes`).

torch, transformers and segment-anything come with ``pixelrs[miras]``; nothing here imports them
until :func:`load_box_masks` runs, so lite without ``--sam`` never does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.errors import BackendError, BadInputError
from tools.backends.promptable.loading import DTYPES, SAM_TYPES

if TYPE_CHECKING:
    from tools.backends.promptable.boxes import BoxMasks

NAME = "lite"
"""The backend named in loading errors."""


@dataclass(frozen=True)
class SamOptions:
    """Where SAM is and how to run it (the options ``sam``, ``sam_type``, ``device``, ``dtype``)."""

    location: str
    sam_type: str | None = None
    device: str = "cpu"
    dtype: str = "fp32"
    allow_download: bool = False

    @classmethod
    def parse(
        cls,
        location: str | None,
        *,
        sam_type: str | None,
        device: str,
        dtype: str,
        allow_download: bool,
        objects: bool,
    ) -> SamOptions | None:
        """Check the options without importing torch; None without ``location``."""
        if sam_type is not None and sam_type not in SAM_TYPES:
            raise BadInputError(f"lite: unknown SAM type {sam_type!r}; use one of {', '.join(SAM_TYPES)}")
        if str(dtype).lower() not in DTYPES:
            raise BadInputError(f"lite: unknown dtype {dtype!r}; use fp32, bf16 or fp16")
        if location is None:
            if sam_type is not None:
                raise BadInputError("lite: sam_type needs a SAM checkpoint (--sam)")
            return None
        if not str(location).strip():
            raise BadInputError("lite: --sam is empty; give a SAM checkpoint file, directory or model id")
        if not objects:
            raise BadInputError("lite: --sam masks detected objects; it needs the detector (objects=True)")
        return cls(str(location), sam_type, str(device), str(dtype), bool(allow_download))


def load_box_masks(options: SamOptions) -> BoxMasks:
    """Load SAM as ``options`` say; every failure is one line (a missing torch names the extra)."""
    from tools.backends.promptable.loading import check_sam_location

    check_sam_location(options.location, backend=NAME)  # before torch: a mistyped path is quick
    try:
        import segment_anything  # noqa: F401
        import timm  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401

        from tools.backends.promptable.boxes import BoxMasks
        from tools.backends.promptable.loading import torch_device, torch_dtype
        from tools.backends.promptable.sam import load_sam
    except ImportError as exc:
        raise BackendError(
            f"lite: --sam needs torch, transformers and segment-anything ({exc.name} is missing): "
            "pip install 'pixelrs[miras]'"
        ) from exc
    masker = load_sam(
        options.location,
        sam_type=options.sam_type,
        device=torch_device(options.device, backend=NAME),
        dtype=torch_dtype(options.dtype, backend=NAME),
        allow_download=options.allow_download,
        backend=NAME,
    )
    return BoxMasks(masker)
