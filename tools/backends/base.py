"""The backend protocol: what a segmentation/explanation model must offer the tools.

A backend is a *predictor object* (numpy/PIL in and out, per-image and per-session caches inside),
never an ``nn.Module``. One model call may serve both tools of a turn: ``segment`` may return
the model's text in :attr:`SegmentResult.text` and ``explain`` then streams that text instead of
generating again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from agent.types import DialogueTurn, ImageRef, Intent, Mask, MaskOut, Prompts


@dataclass
class SegmentRequest:
    """Everything a backend may use to segment the tracked target in one turn."""

    image: np.ndarray
    """(H, W, 3) uint8 RGB pixels of the session's current image."""
    image_ref: ImageRef
    """Content hash and size of ``image``; the key for per-image caches."""
    dialogue: list[DialogueTurn]
    """The whole conversation so far, ending with the current user turn."""
    intent: Intent
    """The intent after tracking this turn (target, attributes, relations, exclusions, op)."""
    session_id: str = ""
    """Key for per-session caches (e.g. a KV prefix)."""
    previous_mask: Mask | None = None
    """The current mask before this turn, for refinements and "the other one" corrections."""
    previous_instances: list[MaskOut] = field(default_factory=list)
    """The masks shown one per thing when the current mask is several targets ("both giraffes"),
    so "now just the one on the left" can keep the one the user saw; empty otherwise."""
    prompts: Prompts = field(default_factory=Prompts)
    """User clicks/box for a correction turn; empty otherwise."""
    on_text: Callable[[str], None] | None = None
    """Called with text chunks as a generating backend produces them (optional streaming)."""


@dataclass
class SegmentResult:
    """Masks for the target (best first) plus what the backend used to find them."""

    masks: list[MaskOut]
    text: str = ""
    """The model's own answer text when one generation serves both tools ('' for ``lite``)."""
    evidence: dict[str, Any] = field(default_factory=dict)
    """What the backend used, for grounded explanations: e.g. ``{"ocr": [...], "cues": [...]}``."""
    backend_ms: float = 0.0
    """Time spent inside the backend (the orchestration benchmark subtracts it)."""
    absent: bool = False
    """The backend is confident the requested thing is not in the image: no mask is returned,
    the previous mask stays current, and the answer says so (``evidence["absent"]`` says why)."""

    @property
    def best(self) -> MaskOut | None:
        """The highest-ranked mask, if any."""
        return self.masks[0] if self.masks else None


@dataclass
class ExplainRequest:
    """Everything a backend may use to explain the current target in words."""

    image: np.ndarray
    image_ref: ImageRef
    dialogue: list[DialogueTurn]
    intent: Intent
    session_id: str = ""
    mask: Mask | None = None
    """The current mask (this turn's new mask, or the one carried from earlier turns)."""
    previous_mask: Mask | None = None
    """The mask before this turn, so an explanation can say what changed."""
    result: SegmentResult | None = None
    """This turn's segmentation, when the turn segmented."""


@runtime_checkable
class Backend(Protocol):
    """A model that segments and explains. Implementations are registered under the
    ``pixelrs.backends`` entry-point group and built with keyword arguments from the CLI/app.
    """

    name: str
    """Registry name, e.g. ``"lite"``."""

    def segment(self, request: SegmentRequest) -> SegmentResult:
        """Return masks for the tracked target (may be empty when nothing matches)."""
        ...

    def explain(self, request: ExplainRequest) -> Iterator[str]:
        """Yield the explanation as text chunks (tokens or words) as they are produced."""
        ...

    def forget_session(self, session_id: str) -> None:
        """Drop per-session caches (called when a session is deleted or its history edited)."""
        ...
