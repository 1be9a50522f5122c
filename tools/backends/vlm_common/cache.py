"""A least-recently-used map bounded by the bytes of its values."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class ByteLRU:
    """LRU cache whose capacity is a byte budget; each entry states its own size.

    Arguments:
      max_bytes: total budget; the least recently used entries are evicted to stay under it.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.total_bytes = 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Any | None:
        """Return the value (marking it recently used) or ``None``."""
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def pop(self, key: Hashable) -> Any | None:
        """Remove and return the value, or ``None``."""
        item = self._items.pop(key, None)
        if item is None:
            return None
        self.total_bytes -= item[1]
        return item[0]

    def put(self, key: Hashable, value: Any, nbytes: int) -> None:
        """Insert ``value`` (replacing any old one) and evict down to the budget.

        A value larger than the whole budget is not stored.
        """
        self.pop(key)
        if nbytes > self.max_bytes:
            return
        self._items[key] = (value, int(nbytes))
        self.total_bytes += int(nbytes)
        while self.total_bytes > self.max_bytes and self._items:
            _, (_, size) = self._items.popitem(last=False)
            self.total_bytes -= size

    def clear(self) -> None:
        """Drop everything."""
        self._items.clear()
        self.total_bytes = 0
