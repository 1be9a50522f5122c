"""Loading user images safely: size limits, decompression bombs, content hashing."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from agent.errors import BadInputError
from agent.types import ImageRef

MAX_IMAGE_BYTES = 40 * 1024 * 1024
"""Encoded uploads larger than this are refused before decoding."""
MAX_IMAGE_PIXELS = 50_000_000
"""Decoded images with more pixels than this are refused (decompression-bomb guard)."""


@dataclass(frozen=True)
class LoadedImage:
    """A decoded RGB image together with its encoded bytes and content reference."""

    ref: ImageRef
    data: bytes
    """The encoded bytes exactly as uploaded (what the hash covers and what memory stores)."""
    rgb: np.ndarray
    """(H, W, 3) uint8 RGB pixels."""

    @property
    def pil(self) -> Image.Image:
        """The pixels as a PIL image."""
        return Image.fromarray(self.rgb)


def sha256_hex(data: bytes) -> str:
    """Content hash used to deduplicate images."""
    return hashlib.sha256(data).hexdigest()


def decode_image(data: bytes, *, name: str = "image") -> LoadedImage:
    """Decode encoded image bytes into RGB, refusing non-images, corrupt files and bombs."""
    if not data:
        raise BadInputError(f"{name} is empty; upload a PNG or JPEG photo.")
    if len(data) > MAX_IMAGE_BYTES:
        raise BadInputError(f"{name} is {len(data) / 2**20:.0f} MB; the limit is {MAX_IMAGE_BYTES // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise BadInputError(
                        f"{name} is {width}x{height} pixels; the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels."
                    )
                probe.load()
                rgb = np.asarray(probe.convert("RGB"))
    except BadInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadInputError(f"{name} is too large to decode safely ({exc.__class__.__name__}).") from exc
    except UnidentifiedImageError as exc:
        raise BadInputError(f"{name} is not an image pixelrs can read; upload a PNG or JPEG photo.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadInputError(f"{name} is corrupt or truncated and cannot be decoded.") from exc
    if rgb.ndim != 3 or rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise BadInputError(f"{name} is too small to segment ({rgb.shape[1]}x{rgb.shape[0]}).")
    ref = ImageRef(sha256=sha256_hex(data), width=int(rgb.shape[1]), height=int(rgb.shape[0]))
    return LoadedImage(ref=ref, data=data, rgb=np.ascontiguousarray(rgb))


def load_image_file(path: str | Path) -> LoadedImage:
    """Read and decode an image file, with one-line errors for missing or unreadable files."""
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"image file not found: {p}")
    if not p.is_file():
        raise BadInputError(f"not a file: {p}")
    if p.stat().st_size > MAX_IMAGE_BYTES:
        raise BadInputError(f"{p.name} is {p.stat().st_size / 2**20:.0f} MB; the limit is {MAX_IMAGE_BYTES // 2**20} MB.")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read {p}: {exc.strerror or exc}") from exc
    return decode_image(data, name=p.name)
