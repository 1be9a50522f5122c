"""Image preprocessing for the three resolutions (MIRAS_REFERENCE C.7)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from segment_anything.utils.transforms import ResizeLongestSide

from .config import CLIP_MEAN, CLIP_STD

_MEAN = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
SAM_MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
SAM_STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def _short_edge_size(h: int, w: int, size: int) -> tuple[int, int]:
    short, long = (h, w) if h <= w else (w, h)
    other = int(size * long / short)
    return (size, other) if h <= w else (other, size)


def _center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return x[..., top : top + size, left : left + size]


def preprocess_mgm(image: np.ndarray, *, aux_size: int, clip_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """MGM/MIRAS: shortest edge to ``aux_size`` (bicubic, no antialias), centre crop, /255,
    CLIP-normalise; the CLIP input is a bilinear downsample of that crop.

    Returns:
      (clip (1, 3, clip_size, clip_size), aux (1, 3, aux_size, aux_size)), fp32.
    """
    x = torch.tensor(np.asarray(image)).permute(2, 0, 1)[None].float()
    size = _short_edge_size(x.shape[-2], x.shape[-1], aux_size)
    x = F.interpolate(x, size=size, mode="bicubic", align_corners=False)
    x = _center_crop(x, aux_size) / 255.0
    aux = (x - _MEAN) / _STD
    clip = F.interpolate(aux, size=(clip_size, clip_size), mode="bilinear", align_corners=False)
    return clip, aux


def preprocess_clip(image: np.ndarray, *, clip_size: int) -> torch.Tensor:
    """LLaVA-1/LISA (``CLIPImageProcessor``): PIL bicubic shortest edge, centre crop, normalise."""
    pil = Image.fromarray(image)
    h, w = image.shape[:2]
    nh, nw = _short_edge_size(h, w, clip_size)
    pil = pil.resize((nw, nh), resample=Image.Resampling.BICUBIC)
    x = torch.tensor(np.asarray(pil)).permute(2, 0, 1)[None].float() / 255.0
    return (_center_crop(x, clip_size) - _MEAN) / _STD


def preprocess_sam(image: np.ndarray, *, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """SAM: longest side to ``size``, normalise on the 0-255 scale, zero-pad right/bottom.

    Returns:
      pixels (1, 3, size, size) fp32 and the resized (h, w) inside the padded square.
    """
    resized = ResizeLongestSide(size).apply_image(image)
    x = torch.tensor(np.asarray(resized)).permute(2, 0, 1)[None].float()
    h, w = x.shape[-2:]
    x = (x - SAM_MEAN) / SAM_STD
    return F.pad(x, (0, size - w, 0, size - h)), (int(h), int(w))
