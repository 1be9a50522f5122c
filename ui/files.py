"""Files the app serves: side pictures and thumbnails (via Gradio), chat pictures (via its own route).

One :class:`FileStore` per app, in its own temporary folder. Pictures are content-addressed
(the key hashes the image, the mask bits and the colour), so concurrent users share them safely
and nothing per-user is kept here. ``img/`` is handed to Gradio; ``chat/`` is only served by
:mod:`ui.routes` behind signed, owner-bound links.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ui.render import encode_jpeg


def content_key(*parts: object) -> str:
    """Short stable hash of arrays, bytes and plain values (the cache key of a picture)."""
    digest = hashlib.blake2b(digest_size=12)
    for part in parts:
        if isinstance(part, np.ndarray):
            arr = np.ascontiguousarray(part)
            digest.update(str((arr.shape, arr.dtype.str)).encode())
            digest.update(np.packbits(arr).tobytes() if arr.dtype == bool else arr.tobytes())
        elif isinstance(part, bytes):
            digest.update(part)
        else:
            digest.update(repr(part).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


MEMO_ITEMS = 4096
"""How many small byte strings (export mask PNGs) a :class:`FileStore` keeps in memory."""
VIEWER_ITEMS = 65536
"""How many ``img/`` pictures a :class:`FileStore` remembers the viewers of (older ones: owner only again)."""

CHAT = "chat"
"""Folder of chat pictures (overlays, uploads); Gradio is not allowed to serve it."""


class FileStore:
    """A temporary folder of pictures: ``img/`` for Gradio components, ``chat/`` for the chat route."""

    def __init__(self, root: str | Path | None = None) -> None:
        self._owned = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="pixelrs-ui-"))
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "img").mkdir(exist_ok=True)
        (self.root / CHAT).mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._memo: OrderedDict[str, bytes] = OrderedDict()
        self._viewers: OrderedDict[str, frozenset[str]] = OrderedDict()
        """``img/`` picture name -> opaque ids of the owners it was shown to (login mode checks it)."""
        # a folder this store made is removed on close(), or at the latest when Python exits
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.root), True) if self._owned else None

    def picture(self, key: str, make: Callable[[], np.ndarray], folder: str = "img") -> str:
        """Path of the display picture (JPEG) cached under ``key``, rendered by ``make()`` on a miss."""
        path = self.root / folder / f"{key}.jpg"
        if not path.exists():
            self._write_atomic(path, encode_jpeg(make()))
        return str(path)

    def bytes_file(self, key: str, suffix: str, make: Callable[[], bytes], folder: str = "img") -> str:
        """Path of a cached file with the given suffix, created with ``make()`` on a miss."""
        path = self.root / folder / f"{key}{suffix}"
        if not path.exists():
            self._write_atomic(path, make())
        return str(path)

    def grant(self, path: str, viewer: str) -> str:
        """Record that the ``img/`` picture at ``path`` was shown to ``viewer``; return ``path``."""
        name = Path(path).name
        with self._lock:
            self._viewers[name] = self._viewers.get(name, frozenset()) | {viewer}
            self._viewers.move_to_end(name)
            while len(self._viewers) > VIEWER_ITEMS:
                self._viewers.popitem(last=False)
        return path

    def granted(self, name: str, viewer: str) -> bool:
        """Whether the ``img/`` picture ``name`` was shown to ``viewer``."""
        with self._lock:
            return viewer in self._viewers.get(name, frozenset())

    def img_name(self, path: str) -> str | None:
        """Return the picture name if ``path`` lies in ``img/`` (Gradio's file route serves it), else None."""
        try:
            resolved = Path(path).resolve()
        except (OSError, ValueError):
            return None
        return resolved.name if resolved.parent == (self.root / "img").resolve() else None

    def chat_file(self, name: str) -> Path | None:
        """Return the chat picture called ``name`` (a bare file name), or None when there is none."""
        if not name or name != Path(name).name or name.startswith("."):
            return None
        path = self.root / CHAT / name
        return path if path.is_file() else None

    def memo_bytes(self, key: str, make: Callable[[], bytes]) -> bytes:
        """Bytes kept in memory under ``key`` (the last :data:`MEMO_ITEMS`), made by ``make()`` on a miss."""
        with self._lock:
            data = self._memo.get(key)
            if data is not None:
                self._memo.move_to_end(key)
                return data
        data = make()
        with self._lock:
            self._memo[key] = data
            while len(self._memo) > MEMO_ITEMS:
                self._memo.popitem(last=False)
        return data

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def close(self) -> None:
        """Remove the folder if this store created it."""
        if self._cleanup is not None:
            self._cleanup()
