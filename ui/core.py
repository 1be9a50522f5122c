"""What every handler group of the chat app shares: its parts, the browser's identity, the panels.

:class:`ChatCore` is the base of the handler mixins (:mod:`ui.sessions`, :mod:`ui.turns`,
:mod:`ui.side_panel`) that :class:`ui.app.ChatUI` combines; it declares the parts the app builds
and turns a :class:`~ui.state.UIState` into the outputs the layout wires (:class:`PanelUpdate`).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import gradio as gr

from agent.types import Mask
from ui.exports import exports_html
from ui.render import LatencyRow, marks_summary, mask_color, session_caption, status_html
from ui.state import UIState

if TYPE_CHECKING:
    from graphs.runtime import Runtime
    from ui.files import FileStore
    from ui.links import Links
    from ui.pictures import Pictures

AnonymousMode = Literal["browser", "shared"]
"""Whose sessions an anonymous browser sees: its own (``browser``) or every one (``shared``)."""


class PanelUpdate(NamedTuple):
    """Outputs every session-level handler returns, in the order :func:`ui.layout.build_blocks` wires them."""

    chat: Any
    side_image: Any
    intent: Any
    status: Any
    session_id: Any
    title: Any
    marks: Any
    delete_button: Any
    retry_button: Any
    state: UIState
    browser: Any


class ChatCore:
    """The parts of the chat app the handlers share, and the panel outputs for a browser's state.

    :class:`ui.app.ChatUI` sets these attributes when it is built; the handler mixins only read them.
    """

    runtime: Runtime
    """The shared runtime (memory + backend + turn graph)."""
    anonymous: AnonymousMode
    files: FileStore
    """Where pictures are written; grants who may read each one."""
    links: Links
    """Signs the chat picture and export links of this app."""
    pictures: Pictures
    """Renders uploads, overlays, thumbnails and the side picture into :attr:`files`."""
    _stops: dict[str, threading.Event]
    """The stop switch of each session's running turn (set by :meth:`ui.turns.TurnHandlers.stop`)."""

    # identity ---------------------------------------------------------------------------------
    def owner_for(self, state: UIState, request: gr.Request | None = None) -> str | None:
        """Return the owner of this browser's sessions: login name, browser token, or None (shared)."""
        username = getattr(request, "username", None) if request is not None else None
        if username:
            state.owner = str(username)
            return state.owner
        if self.anonymous == "shared":
            return None
        if state.owner is None or not state.owner.startswith("browser:"):
            state.owner = f"browser:{secrets.token_urlsafe(18)}"
        return state.owner

    def _browser_value(self, state: UIState) -> dict[str, Any]:
        token = state.owner if state.owner and state.owner.startswith("browser:") else None
        return {"token": token, "session": state.session_id}

    # pictures ---------------------------------------------------------------------------------
    def side_picture(self, state: UIState) -> str | None:
        """Return the side-panel picture for the state's image, mask, view mode and clicks."""
        if state.image_sha is None:
            return None
        mask = Mask.from_rle(state.mask_rle) if state.mask_rle is not None else None
        path, state.display_scale = self.pictures.side(
            state.image_sha, mask, state.view, mask_color(state.mask_color_index), state.marks
        )
        return self.files.grant(path, self.links.owner_id(state.owner))

    # panels -----------------------------------------------------------------------------------
    def _status(self, state: UIState, rows: Sequence[LatencyRow]) -> str:
        return status_html(self.runtime.backend_name, rows, session_id=state.session_id, owner=state.owner)

    def _delete_button(self, state: UIState) -> Any:
        label = "Click again to delete" if state.confirm_delete else "Delete session"
        return gr.update(value=label, interactive=state.session_id is not None)

    def _panel(
        self,
        state: UIState,
        *,
        side: Any = None,
        intent: Any = None,
        status: Any = None,
        title: Any = None,
        light: bool = False,
    ) -> PanelUpdate:
        """Build the outputs for the state; ``light`` (mid-turn updates) leaves session widgets alone."""
        if light:  # chat, side picture, intent and status only; the rest stays as it is
            skip = gr.skip()
            extra = (skip if intent is None else intent, skip if status is None else status)
            return PanelUpdate(list(state.chat), side, *extra, skip, skip, skip, skip, skip, skip, skip)
        return PanelUpdate(
            chat=list(state.chat),
            side_image=self.side_picture(state) if side is None else side,
            intent=gr.skip() if intent is None else intent,
            status=gr.skip() if status is None else status,
            session_id=state.session_id or "",
            title=gr.skip() if title is None else title,
            marks=marks_summary(state.marks, state.click_mode),
            delete_button=self._delete_button(state),
            retry_button=gr.update(visible=state.retry_index is not None),
            state=state,
            browser=self._browser_value(state),
        )

    # sessions list and exports ----------------------------------------------------------------
    def sessions_gallery(self, state: UIState) -> list[tuple[str, str]]:
        """Thumbnails and captions of the owner's sessions; remembers their ids in the state."""
        summaries = self.runtime.list_sessions(owner=state.owner)
        state.listed_ids = [s.id for s in summaries]
        viewer = self.links.owner_id(state.owner)
        return [
            (self.files.grant(self.pictures.thumbnail(s.thumbnail_sha), viewer), session_caption(s.title, s.turn_count, s.updated_at))
            for s in summaries
        ]

    def exports(self, state: UIState) -> str:
        """Return the export panel: signed links; each file is built only when its link is followed."""
        return exports_html(self.links, state.session_id, state.owner, has_masks=state.mask_count > 0, mask_id=state.mask_id)

    def picture_html(self, path: str | None, owner: str | None, alt: str) -> str | None:
        """Return an ``<img>`` tag for a chat picture file (None for None)."""
        return None if path is None else self.links.picture_html(Path(path).name, owner, alt)

