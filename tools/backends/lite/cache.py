"""A thread-safe LRU cache bounded by bytes, for per-image analysis (OCR, superpixels, colours)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np


def nbytes_of(value: Any) -> int:
    """Estimate the memory a cached value holds: numpy buffers plus a small per-object overhead."""
    seen: set[int] = set()

    def walk(obj: Any) -> int:
        if id(obj) in seen:
            return 0
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            return int(obj.nbytes)
        if isinstance(obj, (str, bytes)):
            return len(obj) + 49
        if isinstance(obj, dict):
            return 64 + sum(walk(k) + walk(v) for k, v in obj.items())
        if isinstance(obj, (list, tuple, set, frozenset)):
            return 56 + sum(walk(v) for v in obj)
        if hasattr(obj, "__dict__"):
            return 48 + walk(vars(obj))
        if hasattr(obj, "__slots__"):
            return 48 + sum(walk(getattr(obj, s, None)) for s in obj.__slots__)
        return 28

    return walk(value)


class ByteLRU:
    """Least-recently-used mapping that evicts oldest entries once their total size exceeds a budget."""

    def __init__(self, max_bytes: int, sizeof: Callable[[Any], int] = nbytes_of) -> None:
        self.max_bytes = int(max_bytes)
        self._sizeof = sizeof
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.RLock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    @property
    def total_bytes(self) -> int:
        """Bytes currently held."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: Hashable) -> Any | None:
        """Return the cached value (marking it recently used) or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: Hashable, value: Any) -> None:
        """Store a value, then evict least-recently-used entries until the budget holds."""
        size = self._sizeof(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:  # larger than the whole budget: not kept, others stay
                return
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def get_or_create(self, key: Hashable, factory: Callable[[], Any]) -> Any:
        """Return the cached value or build it once, even when several threads ask at the same time."""
        value = self.get(key)
        if value is not None:
            with self._lock:
                self.hits += 1
            return value
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            value = self.get(key)
            if value is None:
                with self._lock:
                    self.misses += 1
                value = factory()
                self.put(key, value)
            else:
                with self._lock:
                    self.hits += 1
        with self._lock:
            self._key_locks.pop(key, None)
        return value

    def discard(self, key: Hashable) -> None:
        """Drop one entry if present."""
        with self._lock:
            item = self._items.pop(key, None)
            if item is not None:
                self._bytes -= item[1]

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._items.clear()
            self._bytes = 0
