"""Typed state of the turn graph: what each node reads and writes, and who writes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.images import LoadedImage
from agent.memory import ToolCallIn
from agent.types import Act, DialogueTurn, Intent, Mask, MaskOut, Prompts
from tools.backends.base import SegmentResult


@dataclass(frozen=True)
class PictureRef:
    """A picture an extra tool returned, stored by content hash (``Runtime.image(sha256)``)."""

    sha256: str
    width: int
    height: int
    caption: str = ""
    tool: str = ""
    """The tool that returned it."""


@dataclass(kw_only=True)
class TurnInput:
    """What the caller gives the graph for one user turn (already validated)."""

    session_id: str
    """Session the turn belongs to (must exist)."""
    user_text: str
    """The user's message, cleaned by :func:`agent.text.clean_user_text`."""
    new_image: LoadedImage | None = None
    """An image uploaded with this turn; becomes the session's current image."""
    prompts: Prompts = field(default_factory=Prompts)
    """Click/box corrections given with this turn."""
    owner: str | None = None
    """Logged-in user; memory refuses sessions of other owners."""
    started_at: float = 0.0
    """``time.perf_counter()`` when the turn started, for the stored latency."""


@dataclass(kw_only=True)
class TurnState(TurnInput):
    """Full state of one turn; each field notes the node that writes it."""

    user_turn_id: int | None = None
    """recall: id of the stored (pending) user turn."""
    turn_index: int = 0
    """recall: index of the user turn within the session."""
    dialogue: list[DialogueTurn] = field(default_factory=list)
    """recall: the conversation before this turn (ok turns only)."""
    image: LoadedImage | None = None
    """recall: the session's current image after this turn's upload, if any."""
    intent: Intent = field(default_factory=Intent)
    """recall (previous), then track_intent (updated)."""
    recalled_intent: Intent = field(default_factory=Intent)
    """recall: the intent before this turn (restored when the target turns out to be absent)."""
    previous_mask: Mask | None = None
    """recall: the current mask before this turn."""
    previous_instances: list[MaskOut] = field(default_factory=list)
    """recall: one mask per thing when the current mask is the union of several targets."""
    act: Act = Act.CHITCHAT
    """track_intent: what this turn does."""
    track_reason: str = ""
    """track_intent: a short why."""
    route: str = "respond"
    """plan: the node that answers (segment, explain, use_tool or respond)."""
    tool_name: str | None = None
    """plan: the extra tool that answers (route ``use_tool``)."""
    tool_args: dict[str, Any] = field(default_factory=dict)
    """plan: the extra tool's model-visible arguments."""
    segment_result: SegmentResult | None = None
    """segment: this turn's masks (None when the turn did not segment)."""
    streamed_text: bool = False
    """segment: the backend already streamed its answer text while segmenting."""
    explanation: str = ""
    """explain (or use_tool): the full explanation text."""
    tool_masks: list[MaskOut] = field(default_factory=list)
    """use_tool: masks an extra tool returned (stored like a segmentation's)."""
    pictures: list[PictureRef] = field(default_factory=list)
    """use_tool: pictures an extra tool returned, already stored in the images table."""
    reply: str = ""
    """respond: the assistant's message."""
    masks: list[MaskOut] = field(default_factory=list)
    """respond: masks stored with this turn (best first)."""
    tool_calls: list[ToolCallIn] = field(default_factory=list)
    """track_intent/plan/segment/explain/use_tool: calls made this turn (appended)."""
    assistant_turn_id: int | None = None
    """remember: id of the stored assistant turn."""
    backend_ms: float = 0.0
    """segment/explain: time spent inside the backend."""
