"""Loading user images as a viewer shows them, at a bounded cost: limits, orientation, modes, hashing.

An upload is decoded the way an image viewer displays it: EXIF orientation applied (phone
photos), transparency composited over white, 16-bit/32-bit/float samples scaled to 8 bits,
CMYK and palettes converted, the first frame of an animation. Its cost is bounded by
:class:`ImageLimits`: more encoded bytes or pixels than the hard limits are refused with a
clear message, and an image with more pixels than the working budget is reduced to fit it
while decoding (JPEG draft mode decodes at 1/2, 1/4 or 1/8 scale directly; other formats are
shrunk in their own mode before any conversion), so no later step pays for pixels no backend
uses. The stored bytes and their hash stay exactly as uploaded.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from agent.errors import BadInputError
from agent.types import ImageRef

MAX_IMAGE_BYTES = 40 * 1024 * 1024
"""Encoded uploads larger than this are refused before decoding (default)."""
MAX_IMAGE_PIXELS = 50_000_000
"""Images with more pixels than this are refused before decoding (decompression-bomb guard)."""
WORKING_PIXELS = 2048 * 2048
"""Default working budget: larger images are reduced to this many pixels while decoding. Every
backend works below it (lite analyses at 640 px and reads text at 960 px, SAM at 1024 px,
MIRAS's ConvNeXt at 768 px), with room for clicks and display."""

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
"""EXIF orientation -> the transposition that shows the pixels upright (as ImageOps does)."""
_EXIF_ORIENTATION = 0x0112


class ImageLimits(BaseModel):
    """What one image may cost (set from :class:`agent.settings.Settings`)."""

    model_config = ConfigDict(frozen=True)

    max_bytes: int = Field(default=MAX_IMAGE_BYTES, gt=0, description="Largest encoded upload.")
    max_pixels: int = Field(
        default=MAX_IMAGE_PIXELS, gt=0, description="Largest image, in pixels, that is decoded at all."
    )
    working_pixels: int = Field(
        default=WORKING_PIXELS, ge=64 * 64, description="Larger images are reduced to this many pixels."
    )


DEFAULT_LIMITS = ImageLimits()
STORED_LIMITS = ImageLimits(max_bytes=2**62, max_pixels=2**62)
"""For images already accepted and stored: decoded at their stored size, never refused again."""


@dataclass(frozen=True)
class LoadedImage:
    """A decoded RGB image together with its encoded bytes and content reference."""

    ref: ImageRef
    """Content hash of the bytes, and the size of :attr:`rgb` (what masks are drawn at)."""
    data: bytes
    """The encoded bytes exactly as uploaded (what the hash covers and what memory stores)."""
    rgb: np.ndarray
    """(H, W, 3) uint8 RGB pixels, upright, at most the working budget's pixel count."""
    original_size: tuple[int, int] | None = None
    """(width, height) as displayed before a reduction to the working budget; None if not reduced."""

    @property
    def pil(self) -> Image.Image:
        """The pixels as a PIL image."""
        return Image.fromarray(self.rgb)


def sha256_hex(data: bytes) -> str:
    """Content hash used to deduplicate images."""
    return hashlib.sha256(data).hexdigest()


def fit_size(width: int, height: int, budget: int) -> tuple[int, int]:
    """Return (width, height) scaled down, aspect kept, to at most ``budget`` pixels."""
    if width * height <= budget:
        return width, height
    scale = math.sqrt(budget / (width * height))
    return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))


def decode_image(
    data: bytes,
    *,
    name: str = "image",
    limits: ImageLimits = DEFAULT_LIMITS,
    size: tuple[int, int] | None = None,
) -> LoadedImage:
    """Decode encoded bytes into upright 8-bit RGB within ``limits``; refuse non-images, corrupt files and bombs.

    ``size`` (width, height, upright) decodes a stored image at the size it was first decoded
    at, so its stored masks fit whatever the working budget is now.
    """
    if not data:
        raise BadInputError(f"{name} is empty; upload a PNG or JPEG photo.")
    if len(data) > limits.max_bytes:
        raise BadInputError(
            f"{name} is {len(data) / 2**20:.0f} MB; the limit is {limits.max_bytes // 2**20} MB."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                rgb, displayed = _decode(probe, name, limits, size)
    except BadInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadInputError(f"{name} is too large to decode safely ({exc.__class__.__name__}).") from exc
    except UnidentifiedImageError as exc:
        raise BadInputError(f"{name} is not an image pixelrs can read; upload a PNG or JPEG photo.") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadInputError(f"{name} is corrupt or truncated and cannot be decoded.") from exc
    if rgb.ndim != 3 or rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise BadInputError(f"{name} is too small to segment ({rgb.shape[1]}x{rgb.shape[0]}).")
    height, width = rgb.shape[:2]
    ref = ImageRef(sha256=sha256_hex(data), width=int(width), height=int(height))
    reduced = displayed if displayed != (width, height) else None
    return LoadedImage(ref=ref, data=data, rgb=np.ascontiguousarray(rgb), original_size=reduced)


def _decode(
    image: Image.Image, name: str, limits: ImageLimits, size: tuple[int, int] | None
) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode an opened image: frame 0, reduced to the budget, upright, 8-bit RGB; also its displayed size."""
    width, height = image.size
    if width * height > limits.max_pixels:
        raise BadInputError(
            f"{name} is {width}x{height} pixels; the limit is "
            f"{limits.max_pixels / 1_000_000:g} megapixels."
        )
    orientation = _orientation(image)
    swapped = orientation in (5, 6, 7, 8)
    displayed = (height, width) if swapped else (width, height)
    target = size or fit_size(*displayed, limits.working_pixels)
    raw_target = (target[1], target[0]) if swapped else target  # in the stored pixel frame
    if image.format == "JPEG" and raw_target != (width, height):
        image.draft(image.mode, raw_target)  # the decoder scales by 1/2..1/8, never below target
    image.seek(0)  # animations: the first frame, as a still viewer shows it
    image.load()
    steps = (
        lambda im: _shrink_native(im, raw_target),
        _to_display_rgb,
        lambda im: im if im.size == raw_target else im.resize(raw_target, Image.Resampling.LANCZOS),
        lambda im: im.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else im,
    )
    for step in steps:
        done = step(image)
        if done is not image:
            image.close()  # free each full-size stage at once: the peak is one stage, not all
        image = done
    return np.asarray(image), displayed


def _orientation(image: Image.Image) -> int:
    """Return the EXIF orientation (1 = upright), 1 when absent or unreadable."""
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not refuse the photo
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def _shrink_native(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Cut a much larger image down towards the target size in its own mode, before converting.

    Converting first would allocate the whole image again in the new mode (a palette image 4x
    over), and a filtered resize straight from the full size allocates a full-height
    intermediate. ``reduce`` averages by the largest whole factor that keeps the target size;
    modes it cannot average are cut to twice the target by nearest neighbour. The final
    filtered resize starts from there.
    """
    width, height = image.size
    factor = min(width // target[0], height // target[1])
    if factor < 2:
        return image
    if image.mode in ("RGB", "RGBA", "L", "LA", "I", "F"):  # modes reduce() averages in
        return image.reduce(factor)
    coarse = (min(width, 2 * target[0]), min(height, 2 * target[1]))
    return image.resize(coarse, Image.Resampling.NEAREST) if coarse != (width, height) else image


def _to_display_rgb(image: Image.Image) -> Image.Image:
    """Convert any decoded mode to 8-bit RGB as a viewer displays it."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_scale_to_8bit(image), "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB", "1") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # 1, L, P, CMYK (Adobe inversion undone by the decoder), YCbCr, ...


def _scale_to_8bit(image: Image.Image) -> np.ndarray:
    """Map 16-bit, 32-bit integer and float samples onto 0..255 the way viewers show them.

    16-bit: the top 8 bits. 32-bit integers within 0..65535 (how 16-bit TIFF and PGM often
    load): the same; other integer ranges: stretched min..max. Floats in 0..1: times 255;
    other float ranges: stretched min..max (NaN and infinities as the minimum).
    """
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        return (values.astype(np.uint16) >> 8).astype(np.uint8)
    if image.mode == "I":
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high <= 255:
            return values.astype(np.uint8)
        if low >= 0 and high <= 65535:
            return (values >> 8).astype(np.uint8)
        return _stretch(values.astype(np.float64))
    floats = np.where(np.isfinite(values), values, np.nan).astype(np.float64)
    finite = floats[np.isfinite(floats)]
    if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
        return np.round(np.nan_to_num(floats, nan=0.0) * 255).astype(np.uint8)
    return _stretch(floats)


def _stretch(values: np.ndarray) -> np.ndarray:
    """Stretch finite values linearly onto 0..255 (a flat image becomes black)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape, np.uint8)
    low, high = float(finite.min()), float(finite.max())
    span = high - low or 1.0
    scaled = (np.nan_to_num(values, nan=low, posinf=high, neginf=low) - low) * (255.0 / span)
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def load_image_file(path: str | Path, *, limits: ImageLimits = DEFAULT_LIMITS) -> LoadedImage:
    """Read and decode an image file, with one-line errors for missing or unreadable files."""
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"image file not found: {p}")
    if not p.is_file():
        raise BadInputError(f"not a file: {p}")
    if p.stat().st_size > limits.max_bytes:
        raise BadInputError(
            f"{p.name} is {p.stat().st_size / 2**20:.0f} MB; the limit is {limits.max_bytes // 2**20} MB."
        )
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read {p}: {exc.strerror or exc}") from exc
    return decode_image(data, name=p.name, limits=limits)
