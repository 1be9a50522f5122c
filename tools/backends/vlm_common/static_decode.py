"""Fixed-shape one-token decode steps over a KV workspace, replayed as CUDA graphs on a GPU.

Eager decoding of a 7B LLaMA launches ~1000 small kernels per token from Python, so a step costs
several times the time its weights take to stream from memory. Here every step has the same
shapes: the session's KV cache is copied into a preallocated workspace once per turn, each step
writes its key/value at a position held in a device tensor and attends over a fixed-size bucket
of the workspace under an additive mask, and the whole step (embedding, 32 layers, norm, logits)
is captured once per bucket as a CUDA graph and replayed. The new positions are copied back into
the session's cache when the turn ends, so prefix reuse across turns works as before.

``use_graphs=False`` runs the very same fixed-shape step eagerly (CPU tests check it against the
ordinary cached forward; on a GPU the graphs are checked against it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.nn.attention import sdpa_kernel

from .kv import KVCache
from .modeling import SDPA_BACKENDS, SegVLMForCausalLM, run_layer

BUCKET = 256
"""Default step by which attention spans grow (one graph per span)."""


class _WorkspaceKV:
    """The cache object handed to the decoder layers: writes at ``position``, returns ``span`` keys."""

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor], position: torch.Tensor, span: int) -> None:
        self.keys, self.values, self.position, self.span = keys, values, position, span

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args: object, **kwargs: object
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store (1, heads, 1, dim) states at the step's position; return the first ``span`` positions."""
        keys, values = self.keys[layer_idx], self.values[layer_idx]
        keys.index_copy_(2, self.position, key_states)
        values.index_copy_(2, self.position, value_states)
        return keys[:, :, : self.span], values[:, :, : self.span]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Positions the attention spans (what a layer asking for the cache length sees)."""
        return self.span


@dataclass
class _Graph:
    graph: torch.cuda.CUDAGraph
    hidden: torch.Tensor
    logits: torch.Tensor


class StaticDecoder:
    """One-token decode steps of ``model`` at fixed shapes (see the module docstring).

    Arguments:
      model: a :class:`SegVLMForCausalLM` whose language model sits on one device, unquantized.
      capacity: workspace positions (default: the model's ``max_position_embeddings``).
      use_graphs: capture and replay CUDA graphs (needs a CUDA device); ``False`` runs the same
        steps eagerly.
      bucket: attention spans grow in steps of this many positions.
    """

    def __init__(self, model: SegVLMForCausalLM, *, capacity: int | None = None, use_graphs: bool = True,
                 bucket: int = BUCKET) -> None:
        if not self.supports(model):
            raise ValueError("static decoding needs the language model on one device and unquantized")
        self.model = model
        self.device = model.device
        if use_graphs and self.device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA device, not {self.device}")
        self.use_graphs = use_graphs
        llm = model.config.llm
        self.bucket = int(bucket)
        self.capacity = int(capacity or llm.max_position_embeddings)
        self.capacity -= self.capacity % self.bucket
        if self.bucket < 1 or self.capacity < self.bucket:
            raise ValueError(f"capacity must be at least one bucket ({self.bucket} positions)")
        self._layers = len(model.model.layers)
        heads = int(llm.num_key_value_heads or llm.num_attention_heads)
        head_dim = int(getattr(llm, "head_dim", None) or llm.hidden_size // llm.num_attention_heads)
        self._kv_shape = (1, heads, self.capacity, head_dim)
        self._keys: list[torch.Tensor] = []
        self._values: list[torch.Tensor] = []
        self._token = torch.zeros((1, 1), dtype=torch.long, device=self.device)
        self._position = torch.zeros((1,), dtype=torch.long, device=self.device)
        self._offsets = torch.arange(self.capacity, device=self.device)
        self._graphs: dict[int, _Graph] = {}
        self._pool: Any = None
        self._start = self._length = 0

    @staticmethod
    def supports(model: SegVLMForCausalLM) -> bool:
        """Whether ``model``'s language model is on a single device with plain floating-point weights."""
        params = [p for n, p in model.named_parameters() if n.startswith(("model.layers.", "model.norm.",
                                                                          "model.embed_tokens.", "lm_head."))]
        return bool(params) and len({p.device for p in params}) == 1 and all(p.is_floating_point() for p in params)

    def nbytes(self) -> int:
        """Bytes held by the workspace."""
        return sum(t.numel() * t.element_size() for t in self._keys + self._values)

    # -- a turn -------------------------------------------------------------------------------

    def fits(self, length: int, new_tokens: int) -> bool:
        """Whether a turn whose cache holds ``length`` positions can decode ``new_tokens`` here."""
        return length + new_tokens <= self.capacity

    def load(self, cache: KVCache) -> None:
        """Copy the session's cached positions into the workspace (once per turn)."""
        length = cache.get_seq_length()
        if not self.fits(length, 0):
            raise ValueError(f"{length} cached positions exceed the decode workspace ({self.capacity})")
        if not self._keys:
            dtype = self.model.dtype
            self._keys = [torch.zeros(self._kv_shape, dtype=dtype, device=self.device) for _ in range(self._layers)]
            self._values = [torch.zeros(self._kv_shape, dtype=dtype, device=self.device) for _ in range(self._layers)]
        for layer, (keys, values) in enumerate(cache.layers()):
            self._keys[layer][:, :, :length] = keys
            self._values[layer][:, :, :length] = values
        self._start = self._length = length

    def step(self, token: int, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode ``token`` at ``position`` (the next free one); return its (1, hidden) final state and
        (vocab,) fp32 logits. Both are views of buffers the next step overwrites."""
        if position != self._length or not self.fits(position, 1):
            raise ValueError(f"decode step at {position}, expected {self._length} (capacity {self.capacity})")
        span = min(self.capacity, (position // self.bucket + 1) * self.bucket)
        self._token.fill_(token)
        self._position.fill_(position)
        if self.use_graphs:
            graph = self._graphs.get(span) or self._capture(span)
            graph.graph.replay()
            hidden, logits = graph.hidden, graph.logits
        else:
            hidden, logits = self._forward(span)
        self._length += 1
        return hidden, logits[0]

    def store(self, cache: KVCache) -> None:
        """Append the positions decoded since :meth:`load` to the session's cache."""
        if cache.get_seq_length() != self._start:
            raise ValueError("the session cache changed while decoding")
        if self._length > self._start:
            for layer in range(self._layers):
                cache.update(self._keys[layer][:, :, self._start : self._length],
                             self._values[layer][:, :, self._start : self._length], layer)
        self._start = self._length

    # -- the step -----------------------------------------------------------------------------

    def _forward(self, span: int) -> tuple[torch.Tensor, torch.Tensor]:
        core = self.model.model
        h = core.embed_tokens(self._token)
        positions = self._position.view(1, 1)
        rope = core.rotary_emb(h, position_ids=positions)
        mask = torch.where(self._offsets[:span] <= self._position, 0.0, float("-inf")).to(h.dtype)
        mask = mask.view(1, 1, 1, span)
        cache = _WorkspaceKV(self._keys, self._values, self._position, span)
        with sdpa_kernel(SDPA_BACKENDS):
            for layer in core.layers:
                h = run_layer(layer, h, mask, positions, rope, cache)
        hidden = core.norm(h)[0]
        return hidden, self.model.lm_head(hidden).float()

    def _capture(self, span: int) -> _Graph:
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):
            # Warm-up outside the graph (kernel selection, library workspaces); it writes this
            # step's slot with this step's token, exactly what the replay writes next.
            for _ in range(2):
                self._forward(span)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        with torch.cuda.graph(graph, pool=self._pool):
            hidden, logits = self._forward(span)
        captured = _Graph(graph=graph, hidden=hidden, logits=logits)
        self._graphs[span] = captured
        return captured
