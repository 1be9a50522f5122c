"""Signed, owner-bound links to the pictures and exports the app serves itself (:mod:`ui.routes`).

Chat pictures are plain ``<img>`` URLs rather than Gradio files, so Gradio does no per-image work
on each streamed update, and exports are built only when a link is followed. Every link carries
an opaque owner id and an HMAC (a per-app random key) over that id and what it names: a link
cannot be forged or re-pointed, and with login the route also requires the signed-in user to be
that owner. Links are relative, so they work under any root path.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import secrets
from typing import Literal
from urllib.parse import quote

PICTURE_ROUTE = "/pixelrs/img/{name}"
EXPORT_ROUTE = "/pixelrs/export/{session_id}/{kind}"

ExportKind = Literal["mask.png", "masks.zip", "masks.json", "session.zip"]
EXPORT_KINDS: tuple[ExportKind, ...] = ("mask.png", "masks.zip", "masks.json", "session.zip")

PICTURE_NAME = re.compile(r"^[0-9a-f]{24}\.(jpg|jpeg|png|webp|gif|bmp)$")
"""Names the picture route serves: a content key and a raster suffix (nothing else, no paths)."""


class Links:
    """Makes and checks the app's signed links (one per app; the key never leaves the server)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._key, "\x00".join(parts).encode(), hashlib.sha256).hexdigest()

    def owner_id(self, owner: str | None) -> str:
        """Opaque id of an owner (does not reveal a browser's token)."""
        return self._mac("owner", owner or "")[:24]

    def picture(self, name: str, owner: str | None) -> str:
        """Relative URL of a chat picture for ``owner``."""
        uid = self.owner_id(owner)
        return f"pixelrs/img/{name}?u={uid}&s={self._mac('picture', uid, name)[:32]}"

    def picture_html(self, name: str, owner: str | None, alt: str) -> str:
        """Return an ``<img>`` tag for a chat message (the alt text is escaped)."""
        src = html.escape(self.picture(name, owner), quote=True)
        return f'<img class="pr-pic" src="{src}" alt="{html.escape(alt, quote=True)}">'

    def export(self, session_id: str, kind: ExportKind, owner: str | None, mask_id: int | None = None) -> str:
        """Relative URL of an export of a session (``mask_id`` picks the current-mask file)."""
        uid = self.owner_id(owner)
        mask = "" if mask_id is None else str(mask_id)
        sig = self._mac("export", uid, session_id, kind, mask)[:32]
        return f"pixelrs/export/{quote(session_id, safe='')}/{kind}?m={mask}&u={uid}&s={sig}"

    def check_picture(self, name: str, uid: str, sig: str) -> bool:
        """Whether ``sig`` signs ``name`` for owner id ``uid``."""
        return bool(PICTURE_NAME.match(name)) and hmac.compare_digest(self._mac("picture", uid, name)[:32], sig)

    def check_export(self, session_id: str, kind: str, mask: str, uid: str, sig: str) -> bool:
        """Whether ``sig`` signs this export for owner id ``uid``."""
        return kind in EXPORT_KINDS and hmac.compare_digest(self._mac("export", uid, session_id, kind, mask)[:32], sig)
