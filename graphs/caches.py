"""Content-addressed caches the runtime shares between users: decoded images and masks.

Both are keyed by content (an image's sha256, a mask's RLE), so a hit can never hand one
session another session's data, and both are bounded by bytes (:class:`agent.cache.ByteLRU`).
"""

from __future__ import annotations

from agent.cache import ByteLRU
from agent.images import STORED_LIMITS, LoadedImage, decode_image
from agent.memory import MaskRecord, Memory
from agent.types import Mask


class ImageCache:
    """Decoded images by sha256, LRU-bounded by pixel bytes; shared safely between threads."""

    def __init__(self, memory: Memory, max_bytes: int = 512 * 2**20) -> None:
        self._memory = memory
        self._images = ByteLRU(max_bytes)

    def put(self, image: LoadedImage) -> None:
        """Remember an image decoded elsewhere (e.g. just uploaded)."""
        if image.ref.sha256 not in self._images:
            self._images.put(image.ref.sha256, image)

    def get(self, sha256: str) -> LoadedImage:
        """Return the decoded image for a stored sha, decoding from memory on a miss.

        It is decoded at the size it was stored with, so that its stored masks fit it whatever
        the working budget is now.
        """

        def decode() -> LoadedImage:
            data, width, height = self._memory.stored_image(sha256)
            return decode_image(data, limits=STORED_LIMITS, size=(width, height))

        image: LoadedImage = self._images.get_or_create(sha256, decode)
        return image


    def forget(self, sha256: str) -> None:
        """Drop a deleted image."""
        self._images.pop(sha256)


class MaskCache:
    """Decoded masks by their stored RLE, so the next turn's recall skips the RLE decode."""

    def __init__(self, max_bytes: int = 64 * 2**20) -> None:
        self._masks = ByteLRU(max_bytes, sizeof=lambda mask: int(mask.array.nbytes) + 64)

    @staticmethod
    def _key(record: MaskRecord) -> tuple[int, int, str]:
        height, width = record.rle["size"]
        counts = record.rle["counts"]
        return (
            int(height),
            int(width),
            counts if isinstance(counts, str) else counts.decode("ascii"),
        )

    def put(self, record: MaskRecord, mask: Mask) -> None:
        """Remember the mask a record was just stored from."""
        self._masks.put(self._key(record), mask)

    def get(self, record: MaskRecord) -> Mask:
        """Return the record's mask, decoding its RLE on a miss."""
        mask: Mask = self._masks.get_or_create(self._key(record), record.mask)
        return mask
