"""A thread-safe least-recently-used map bounded by the bytes of its values.

One implementation serves every content-keyed cache: decoded images in the runtime, per-image
analysis in the ``lite`` backend, image features and session KV caches in MIRAS/LISA.
"""

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
    """LRU mapping that evicts the oldest entries once their total size exceeds ``max_bytes``.

    Each entry's size is given to :meth:`put` or estimated with ``sizeof``. A value larger than
    the whole budget is not kept (and evicts nothing).
    """

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

    def put(self, key: Hashable, value: Any, nbytes: int | None = None) -> None:
        """Store a value (replacing any old one), then evict least-recently-used entries to the budget."""
        size = self._sizeof(value) if nbytes is None else int(nbytes)
        with self._lock:
            self._drop(key)
            if size > self.max_bytes:
                return
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def remeasure(self, key: Hashable) -> None:
        """Re-estimate an entry's size after its value grew in place, then evict to the budget."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return
            self.put(key, item[0])

    def pop(self, key: Hashable) -> Any | None:
        """Remove and return the value, or None."""
        with self._lock:
            return self._drop(key)

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

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _drop(self, key: Hashable) -> Any | None:
        item = self._items.pop(key, None)
        if item is None:
            return None
        self._bytes -= item[1]
        return item[0]
