"""Session handlers of the chat app: page load, the sessions list, open, new, rename and delete.

Each handler takes the browser's :class:`~ui.state.UIState` and returns the panel outputs
(:class:`~ui.core.PanelUpdate`) plus the sidebar's gallery and/or export links, in the order
:mod:`ui.layout` wires them. Opening a session marks turns a dead process left as interrupted
(``Runtime.recover``), so the tab can offer to retry them.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from agent.errors import PixelrsError, UnknownSessionError
from ui.chat import notice_message
from ui.core import PanelUpdate
from ui.history_view import HistoryView
from ui.render import intent_html
from ui.state import UIState


class SessionHandlers(HistoryView):
    """Handlers of the sessions column and page load."""

    def on_load(self, browser: Any, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Page (re)load: resume the session from ``?session=`` or the browser's storage."""
        stored = browser if isinstance(browser, dict) else {}
        token = stored.get("token")
        if isinstance(token, str) and token.startswith("browser:") and len(token) > 20:
            state.owner = token
        self.owner_for(state, request)
        query = {}
        if request is not None:
            try:
                query = dict(request.query_params)
            except Exception:  # noqa: BLE001 - no request details (e.g. called from a test)
                query = {}
        wanted = query.get("session") or stored.get("session")
        if wanted:
            # a link (?session=) that does not open says so; a remembered session that is gone
            # (deleted, or another login in this browser) just starts a new one
            panel = self._open(state, str(wanted), quiet=not query.get("session"))
        else:
            state.reset_session()
            panel = self._fresh_panel(state)
        return (*panel, self.sessions_gallery(state), self.exports(state))

    def _fresh_panel(self, state: UIState) -> PanelUpdate:
        return self._panel(state, side=None, intent=intent_html(None), status=self._status(state, []), title="")

    def _open(self, state: UIState, session_id: str, *, quiet: bool = False) -> PanelUpdate:
        session_id = " ".join(str(session_id).split())
        try:
            history = self.runtime.history(session_id, owner=state.owner)  # the owner's, or raises
            if self.runtime.recover(session_id):  # turns a dead process left: now interrupted
                history = self.runtime.history(session_id, owner=state.owner)
        except PixelrsError as exc:
            state.reset_session()
            if isinstance(exc, UnknownSessionError):
                message = f"No session {session_id[:80]} here (unknown id, or it belongs to another user)."
            else:
                message = exc.one_line()
            state.chat = [] if quiet else [notice_message(message)]
            return self._fresh_panel(state)
        intent, status, _ = self._load_history(state, history)
        return self._panel(state, intent=intent, status=status, title=history.session.title or "")

    def open_session(self, session_id: str, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Open a session by id (only the owner's own sessions open)."""
        self.owner_for(state, request)
        if not (session_id or "").strip():
            state.chat = [*state.chat, notice_message("Type a session id to open.")]
            return (*self._panel(state), self.exports(state))
        return (*self._open(state, session_id), self.exports(state))

    def open_listed(self, state: UIState, evt: gr.SelectData, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Open the session clicked in the sessions gallery."""
        index = evt.index if isinstance(evt.index, int) else (evt.index[0] if evt.index else 0)
        if not (0 <= index < len(state.listed_ids)):
            return self.open_session("", state, request)
        return self.open_session(state.listed_ids[index], state, request)

    def new_session(self, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Start an empty session (it is created in SQL with its first message)."""
        self.owner_for(state, request)
        state.reset_session()
        return (*self._fresh_panel(state), self.exports(state))

    def rename(self, title: str, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Rename the open session (creating it first when it has no message yet)."""
        owner = self.owner_for(state, request)
        try:
            if state.session_id is None:
                state.session_id = self.runtime.new_session(owner=owner)
            self.runtime.rename_session(state.session_id, title or "", owner=owner)
            new_title = self.runtime.history(state.session_id, owner=owner).session.title or ""
        except PixelrsError as exc:
            state.chat = [*state.chat, notice_message(exc.one_line())]
            return (*self._panel(state), self.sessions_gallery(state))
        return (*self._panel(state, title=new_title), self.sessions_gallery(state))

    def delete(self, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Delete the open session on the second click; the tab then shows an empty session."""
        owner = self.owner_for(state, request)
        if state.session_id is None:
            return (*self._fresh_panel(state), self.sessions_gallery(state), self.exports(state))
        if not state.confirm_delete:
            state.confirm_delete = True
            return (*self._panel(state), self.sessions_gallery(state), gr.skip())
        try:
            self.runtime.delete_session(state.session_id, owner=owner)
        except PixelrsError as exc:
            state.confirm_delete = False
            state.chat = [*state.chat, notice_message(exc.one_line())]
            return (*self._panel(state), self.sessions_gallery(state), gr.skip())
        state.reset_session()
        return (*self._fresh_panel(state), self.sessions_gallery(state), self.exports(state))

    def refresh(self, state: UIState, request: gr.Request | None = None) -> list[tuple[str, str]]:
        """Re-read the sessions gallery from memory."""
        self.owner_for(state, request)
        return self.sessions_gallery(state)

