"""The pictures the app shows, rendered once and cached by content: chat overlays, uploaded
images, session thumbnails and the side panel's view (overlay / mask only / image only + clicks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

import numpy as np

from agent.images import STORED_LIMITS, decode_image
from agent.types import Mask
from ui.files import CHAT, FileStore, content_key
from ui.render import (
    RGB,
    Marks,
    ViewMode,
    fit_within,
    overlay,
    placeholder_thumbnail,
    render_view,
    thumbnail,
)

MAX_CHAT_IMAGE_SIDE = 1024
"""Overlays and uploaded images in the chat are scaled down to this longest side."""

UPLOAD_SUFFIXES: Mapping[str, str] = MappingProxyType({
    "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif", "image/bmp": ".bmp",
})
"""Uploads shown in the chat as sent (browsers display these; no scripts, unlike SVG)."""


class Pictures:
    """Renders pictures on demand and returns the paths of their cached files.

    Args:
        image: decoded RGB pixels of a stored image by sha256 (the runtime's shared cache).
        image_bytes: encoded bytes of a stored image (for thumbnails, without filling that cache).
        files: where the pictures are written.
        max_display_side: longest side of the side-panel picture.
    """

    def __init__(
        self,
        *,
        image: Callable[[str], np.ndarray],
        image_bytes: Callable[[str], bytes],
        files: FileStore,
        max_display_side: int = 1280,
    ) -> None:
        self._image = image
        self._image_bytes = image_bytes
        self._files = files
        self.max_display_side = max_display_side

    def overlay(self, sha: str, masks: Sequence[Mask], colors: Sequence[RGB]) -> str:
        """Return the chat overlay of a turn: each drawn mask (the target, or each instance) filled."""
        key = content_key("overlay", sha, *[m.array for m in masks], tuple(colors), MAX_CHAT_IMAGE_SIDE)

        def make() -> np.ndarray:
            return fit_within(overlay(self._image(sha), masks, colors), MAX_CHAT_IMAGE_SIDE)[0]

        return self._files.picture(key, make, CHAT)

    def chat_image(self, sha: str) -> str:
        """Return a stored image as the chat shows it (scaled down)."""
        return self._files.picture(content_key("chat-image", sha), lambda: fit_within(self._image(sha), MAX_CHAT_IMAGE_SIDE)[0], CHAT)

    def upload(self, data: bytes, mime: str) -> str | None:
        """Return a just-uploaded picture as sent (no decoding before the first update), or None.

        Only raster types that browsers display are kept; others show up once stored (:meth:`chat_image`).
        """
        suffix = UPLOAD_SUFFIXES.get(mime)
        if suffix is None:
            return None
        return self._files.bytes_file(content_key("upload", data), suffix, lambda: data, CHAT)

    def thumbnail(self, sha: str | None) -> str:
        """Return a square thumbnail of a session's image, or a placeholder tile."""
        if sha is None:
            return self._files.picture("placeholder", placeholder_thumbnail)
        small = STORED_LIMITS.model_copy(update={"working_pixels": 512 * 512})  # a 160 px tile

        def make() -> np.ndarray:
            return thumbnail(decode_image(self._image_bytes(sha), limits=small).rgb)

        return self._files.picture(content_key("thumb", sha), make)

    def side(self, sha: str, mask: Mask | None, view: ViewMode, color: RGB, marks: Marks) -> tuple[str, float]:
        """Return the side-panel picture and its scale (display pixels per image pixel, for clicks)."""
        rgb = self._image(sha)
        if mask is not None and mask.array.shape != rgb.shape[:2]:
            mask = None
        scale = min(1.0, self.max_display_side / max(rgb.shape[:2]))
        key = content_key("side", sha, view, color, mask.array if mask is not None else None, marks, self.max_display_side)

        def make() -> np.ndarray:
            return fit_within(render_view(rgb, mask, view, color, marks), self.max_display_side)[0]

        return self._files.picture(key, make), scale
