"""A growable key/value cache that can be cropped to a prefix and reused across turns.

It implements the one method transformers' ``LlamaAttention`` calls on a cache,
``update(key_states, value_states, layer_idx, ...)``, on preallocated buffers that double when
full (so decoding does not re-copy the whole cache every step).
"""

from __future__ import annotations

import torch


class KVCache:
    """Per-layer key/value buffers of shape (B, heads, capacity, head_dim)."""

    def __init__(self) -> None:
        self._keys: list[torch.Tensor] = []
        self._values: list[torch.Tensor] = []
        self._lens: list[int] = []

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args: object, **kwargs: object
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append (B, heads, n, dim) states for ``layer_idx``; return all states so far."""
        while len(self._keys) <= layer_idx:
            self._keys.append(key_states.new_empty((*key_states.shape[:2], 0, key_states.shape[-1])))
            self._values.append(value_states.new_empty((*value_states.shape[:2], 0, value_states.shape[-1])))
            self._lens.append(0)
        n = key_states.shape[-2]
        cur = self._lens[layer_idx]
        need = cur + n
        keys, values = self._keys[layer_idx], self._values[layer_idx]
        if keys.shape[-2] < need:
            cap = max(need, 2 * keys.shape[-2], 64)
            new_k = key_states.new_empty((*key_states.shape[:2], cap, key_states.shape[-1]))
            new_v = value_states.new_empty((*value_states.shape[:2], cap, value_states.shape[-1]))
            new_k[..., :cur, :] = keys[..., :cur, :]
            new_v[..., :cur, :] = values[..., :cur, :]
            keys, values = new_k, new_v
            self._keys[layer_idx], self._values[layer_idx] = keys, values
        keys[..., cur:need, :] = key_states
        values[..., cur:need, :] = value_states
        self._lens[layer_idx] = need
        return keys[..., :need, :], values[..., :need, :]

    def layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer, views of the cached (B, heads, n, dim) keys and values."""
        return [(k[..., :n, :], v[..., :n, :]) for k, v, n in zip(self._keys, self._values, self._lens, strict=True)]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Return the number of cached positions."""
        return self._lens[layer_idx] if self._lens else 0

    def crop(self, length: int) -> None:
        """Keep only the first ``length`` positions."""
        self._lens = [min(n, length) for n in self._lens]

    def nbytes(self) -> int:
        """Bytes held by the buffers (capacity, not just the used part)."""
        return sum(t.numel() * t.element_size() for t in self._keys + self._values)


class HiddenBuffer:
    """Final hidden states of every processed position (for the ``[SEG]`` position rules)."""

    def __init__(self) -> None:
        self._buf: torch.Tensor | None = None
        self.length = 0

    def append(self, hidden: torch.Tensor) -> None:
        """Append (n, hidden) states."""
        n = hidden.shape[0]
        need = self.length + n
        if self._buf is None or self._buf.shape[0] < need:
            cap = max(need, 2 * (self._buf.shape[0] if self._buf is not None else 0), 64)
            new = hidden.new_empty((cap, hidden.shape[-1]))
            if self._buf is not None:
                new[: self.length] = self._buf[: self.length]
            self._buf = new
        self._buf[self.length : need] = hidden
        self.length = need

    def get(self, index: int) -> torch.Tensor:
        """Return the state at absolute position ``index``."""
        if not 0 <= index < self.length or self._buf is None:
            raise IndexError(f"hidden state {index} not available (have {self.length})")
        return self._buf[index]

    def crop(self, length: int) -> None:
        """Keep only the first ``length`` positions."""
        self.length = min(self.length, length)

    def nbytes(self) -> int:
        """Bytes held by the buffer."""
        return 0 if self._buf is None else self._buf.numel() * self._buf.element_size()
