"""Per-browser state of the chat app, kept in ``gr.State`` (one copy per browser tab/client).

Nothing here is shared between users: Gradio deep-copies the initial :class:`UIState` for every
new page load or API client, and the app never keeps per-user data anywhere else. The durable
truth (sessions, turns, masks, intents) lives in SQL; this state only remembers which session
the tab shows and what the person is doing in the UI right now (view mode, pending clicks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ui.render import LatencyRow, Marks, ViewMode

ClickMode = Literal["positive", "negative", "box"]


@dataclass
class UIState:
    """What one browser tab shows and is doing."""

    owner: str | None = None
    """Who owns the sessions this tab sees: the login name, or ``browser:<token>`` anonymously."""
    session_id: str | None = None
    """The open session (None until the first message of a new session creates it)."""
    chat: list[dict[str, Any]] = field(default_factory=list)
    """The chat history as Gradio message dicts (rebuilt from SQL when a session opens)."""
    image_sha: str | None = None
    """The session's current image."""
    mask_id: int | None = None
    """Database id of the current mask (None before the first segmenting turn)."""
    mask_rle: dict[str, Any] | None = None
    """The current mask as COCO RLE, so the side panel re-renders without a query."""
    mask_color_index: int = 0
    """Colour (palette index) of the current mask, the same as in the chat."""
    mask_count: int = 0
    """Masks shown so far in this session; the next mask gets this palette index."""
    view: ViewMode = "overlay"
    click_mode: ClickMode = "positive"
    points: list[tuple[float, float, bool]] = field(default_factory=list)
    """Pending correction clicks (x, y, positive) in image pixels."""
    box_start: tuple[float, float] | None = None
    box: tuple[float, float, float, float] | None = None
    display_scale: float = 1.0
    """Scale of the side picture relative to the image (clicks are mapped back with it)."""
    turn_numbers: dict[int, int] = field(default_factory=dict)
    """Stored user-turn index -> the message number the chat shows (1, 2, ...)."""
    latency_rows: list[LatencyRow] = field(default_factory=list)
    """Per-turn latency shown in the status panel (rebuilt from SQL after each turn)."""
    listed_ids: list[str] = field(default_factory=list)
    """Session ids in the order the sessions gallery shows them."""
    confirm_delete: bool = False
    """True after a first click on Delete; a second click deletes."""
    retry_index: int | None = None
    """Index of the session's last message when it was never answered (the Retry button sends it)."""
    tracker: str | None = None
    """The intent tracker this browser chose (None: the server's default)."""

    @property
    def marks(self) -> Marks:
        """The pending correction as drawable marks."""
        return Marks(points=tuple(self.points), box=self.box, box_start=self.box_start)

    @property
    def has_correction(self) -> bool:
        """Whether there is a click or a finished box to apply."""
        return bool(self.points) or self.box is not None

    def clear_marks(self) -> None:
        """Forget pending clicks and boxes."""
        self.points.clear()
        self.box_start = None
        self.box = None

    def reset_session(self) -> None:
        """Show an empty, not yet created session (keeps owner, view and click mode)."""
        self.session_id = None
        self.retry_index = None
        self.chat = []
        self.image_sha = None
        self.mask_id = None
        self.mask_rle = None
        self.mask_color_index = 0
        self.mask_count = 0
        self.turn_numbers = {}
        self.latency_rows = []
        self.display_scale = 1.0
        self.confirm_delete = False
        self.clear_marks()
