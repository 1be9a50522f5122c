"""Files the app hands to Gradio: overlays, thumbnails, chat images and export downloads.

One :class:`FileStore` per app, in its own temporary folder. Pictures are content-addressed
(the key hashes the image, the mask bits and the colour), so concurrent users share them safely
and nothing per-user is kept here; export files go to a fresh folder per request.
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


class FileStore:
    """A temporary folder of PNGs and exports that Gradio is allowed to serve."""

    def __init__(self, root: str | Path | None = None) -> None:
        self._owned = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="pixelrs-ui-"))
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "img").mkdir(exist_ok=True)
        (self.root / "exports").mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._memo: OrderedDict[str, bytes] = OrderedDict()
        # a folder this store made is removed on close(), or at the latest when Python exits
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.root), True) if self._owned else None

    def picture(self, key: str, make: Callable[[], np.ndarray]) -> str:
        """Path of the display picture (JPEG) cached under ``key``, rendered by ``make()`` on a miss."""
        path = self.root / "img" / f"{key}.jpg"
        if not path.exists():
            self._write_atomic(path, encode_jpeg(make()))
        return str(path)

    def bytes_file(self, key: str, suffix: str, make: Callable[[], bytes]) -> str:
        """Path of a cached file with the given suffix, created with ``make()`` on a miss."""
        path = self.root / "img" / f"{key}{suffix}"
        if not path.exists():
            self._write_atomic(path, make())
        return str(path)

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

    def export_dir(self, session_id: str) -> Path:
        """Make a fresh folder for one export of a session, removing its older exports."""
        base = self.root / "exports" / content_key(session_id)
        with self._lock:
            if base.exists():
                for old in base.iterdir():
                    shutil.rmtree(old, ignore_errors=True)
            fresh = base / uuid.uuid4().hex[:12]
            fresh.mkdir(parents=True)
        return fresh

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def close(self) -> None:
        """Remove the folder if this store created it."""
        if self._cleanup is not None:
            self._cleanup()
