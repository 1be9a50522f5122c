"""Paths to the test data kept in the repository (``data/``) and small builders."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
HDMI_JPG = DATA / "photos" / "textcaps_hdmi.jpg"
"""A 639x427 TextCaps photo of a laptop's HDMI port (source and licence: data/photos/SOURCES-tests.md)."""
PRIST_DEV = DATA / "prist" / "prist_dev.json"
"""102 PRIST test-split dialogues, text only (source: data/prist/README.md)."""
HDMI_WORD_BOX = (208, 198, 266, 240)
"""Where RapidOCR reads 'HDMI' on the photo: x0, y0, x1, y1."""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decompression_bomb_png(side: int = 30000) -> bytes:
    """A valid 1-bit PNG of side x side pixels (~110 kB on disk, ~900 megapixels decoded)."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")

PRIST_FOLDS = REPO / "data" / "prist" / "prist_dev_folds.json"
"""The fixed split of the PRIST dev dialogues by image into folds (tuned and unseen)."""
INTENT_SCENARIOS = REPO / "tests" / "intent_scenarios.yaml"
"""The scripted multi-turn dialogues of the intent scenario suite."""


def open_on_photo(runtime, text: str, photo: Path):  # noqa: ANN001, ANN201 - graphs.runtime types
    """Start a session with ``text`` and ``photo`` uploaded; return (session id, turn summary)."""
    session = runtime.new_session(title=photo.stem)
    summary = runtime.run_turn_sync(session, text, image=photo.read_bytes(), image_name=photo.name)
    return session, summary
