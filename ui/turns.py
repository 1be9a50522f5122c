"""Turn handlers of the chat app: send a message, apply a correction, retry, stop, and after a turn.

A turn streams its updates (:class:`~ui.live_turn.LiveTurn`); at most one runs per session, and
its stop switch lives on the app (not in module state) so that :meth:`TurnHandlers.stop` reaches
it from another request. ``after_turn`` then refreshes what the turn changed outside the chat.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import gradio as gr

from agent.errors import PixelrsError
from agent.types import BoxPrompt, PointPrompt, Prompts
from ui.chat import (
    TurnView,
    describe_prompts,
    latency_rows,
    mask_image_sha,
    notice_message,
    user_message,
)
from ui.live_turn import LiveTurn
from ui.render import mask_color
from ui.retry import retry_request, retryable_index
from ui.state import UIState
from ui.uploads import Refusal, read_message

log = logging.getLogger(__name__)


def _title_from(text: str, fallback: str) -> str:
    """Return a new session's title: its first message, shortened (``fallback`` for none)."""
    words = " ".join(text.split())
    if not words or words.startswith("("):
        return fallback
    return words if len(words) <= 60 else words[:59] + "…"


class TurnHandlers(LiveTurn):
    """Handlers that run turns, and the refresh after each."""

    def send(self, message: dict[str, Any] | str | None, state: UIState, request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """Run a chat turn (text and/or one image) and stream its updates."""
        owner = self.owner_for(state, request)
        state.confirm_delete = False
        read = read_message(message)
        if isinstance(read, Refusal):
            state.chat = [*state.chat, notice_message(read.notice)]
            yield (gr.update(value=None) if read.clear_input else gr.skip(), *self._panel(state))
            return
        yield from self._stream_turn(
            state, owner, text=read.text, image=read.image, image_name=read.image_name,
            image_mime=read.image_mime, attachment=read.attachment,
        )

    def correct(self, prompts_json: str | None, state: UIState, request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """Apply the pending clicks/box (or ``prompts_json``, for API clients) as a user-edit turn."""
        owner = self.owner_for(state, request)
        state.confirm_delete = False
        prompts: Prompts | None = None
        if prompts_json and prompts_json.strip():
            try:
                prompts = Prompts.model_validate_json(prompts_json)
            except ValueError:
                state.chat = [*state.chat, notice_message("The correction is not valid prompts JSON ({\"points\": [...], \"box\": {...}}).")]
                yield (gr.skip(), *self._panel(state))
                return
        elif state.has_correction:
            prompts = Prompts(
                points=[PointPrompt(x=x, y=y, positive=p) for x, y, p in state.points],
                box=BoxPrompt(x0=state.box[0], y0=state.box[1], x1=state.box[2], y1=state.box[3]) if state.box else None,
            )
        if prompts is None or prompts.empty:
            state.chat = [*state.chat, notice_message("Click the image (or draw a box) first, then apply the correction.")]
            yield (gr.skip(), *self._panel(state))
            return
        if state.session_id is None or state.image_sha is None:
            state.chat = [*state.chat, notice_message("Upload an image and ask for something before correcting a mask.")]
            yield (gr.skip(), *self._panel(state))
            return
        yield from self._stream_turn(state, owner, text="", prompts=prompts)

    def _stream_turn(
        self,
        state: UIState,
        owner: str | None,
        *,
        text: str,
        image: bytes | None = None,
        image_name: str = "image",
        image_mime: str | None = None,
        attachment: str | None = None,
        prompts: Prompts | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Show the user's message, then run the turn (creating the session first if needed)."""
        created = False
        if state.session_id is None:
            try:
                state.session_id = self.runtime.new_session(owner=owner, title=_title_from(text, image_name if image else "New session"))
            except PixelrsError as exc:
                state.chat = [*state.chat, notice_message(exc.one_line())]
                yield (gr.skip(), *self._panel(state))
                return
            created = True
            state.mask_count = 0
        shown_text = text
        if prompts is not None and not prompts.empty:
            shown_text = describe_prompts(prompts)
        upload = self.pictures.upload(image, image_mime) if image is not None and image_mime else None
        state.chat = [*state.chat, user_message(shown_text, self.picture_html(upload, owner, "uploaded image"), attachment)]
        view = TurnView(turn_id=f"live-{uuid.uuid4().hex[:10]}")
        if state.mask_rle is not None:
            view.current_color = mask_color(state.mask_color_index)
        base = len(state.chat)
        state.chat = [*state.chat, *view.messages()]
        stop = self._stops[state.session_id] = threading.Event()
        try:
            yield (gr.update(value=None, interactive=False), *self._panel(state, side=gr.skip()))
            yield from self._follow_turn(state, owner, view, base, created, stop, text=text, image=image,
                                         image_name=image_name, prompts=prompts)
        finally:
            if self._stops.get(state.session_id) is stop:
                del self._stops[state.session_id]

    def retry(self, state: UIState, request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """Send the session's unanswered last message (interrupted or failed) again as a new turn."""
        owner = self.owner_for(state, request)
        state.confirm_delete = False
        again = None
        if state.session_id is not None and state.retry_index is not None:
            try:
                history = self.runtime.history(state.session_id, owner=owner)
                again = retry_request(history, state.retry_index, self.runtime.memory.image_bytes)
            except PixelrsError as exc:
                log.info("retry refused: %s", exc.one_line())
        state.retry_index = None
        if again is None:
            state.chat = [*state.chat, notice_message("Nothing to retry: every message here was answered.")]
            yield (gr.skip(), *self._panel(state))
            return
        yield from self._stream_turn(state, owner, text=again.text, image=again.image, image_mime=again.image_mime)

    def stop(self, state: UIState) -> None:
        """Stop this browser's running turn at its next step; its message is kept, marked stopped."""
        switch = self._stops.get(state.session_id or "")
        if switch is not None:
            switch.set()

    def after_turn(self, state: UIState, request: gr.Request | None = None) -> tuple[Any, ...]:
        """After a turn: re-enable the input, refresh sessions, exports, latency and the stored mask."""
        self.owner_for(state, request)
        title: Any = gr.skip()
        status: Any = gr.skip()
        side: Any = gr.skip()
        if state.session_id is not None:
            try:
                history = self.runtime.history(state.session_id, owner=state.owner)
            except PixelrsError:
                history = None
            if history is not None:
                title = history.session.title or ""
                state.turn_numbers = {t.index: n for n, t in enumerate((t for t in history.turns if t.role == "user"), 1)}
                state.latency_rows = latency_rows(history)
                status = self._status(state, state.latency_rows)
                state.retry_index = retryable_index(history)
                current = history.current_mask
                if current is not None and current.id != state.mask_id and state.image_sha == mask_image_sha(history, current):
                    state.mask_id, state.mask_rle = current.id, current.rle
                    side = self.side_picture(state)
        return (
            gr.update(interactive=True),
            self.sessions_gallery(state),
            self.exports(state),
            status,
            side,
            state.session_id or "",
            title,
            gr.update(visible=state.retry_index is not None),
            self._browser_value(state),
            state,
        )
