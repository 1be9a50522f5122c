"""Following a running turn: its events (progress, intent, masks, tokens, pictures) into the chat.

The turn runs beside the handler (:mod:`ui.stream`); each batch of events updates the live
:class:`~ui.chat.TurnView` and the tab's state, and the handler yields one light update per batch
(chat, side picture, intent, status). A turn that fails keeps the mask that was current before it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import gradio as gr

from agent.errors import PixelrsError
from agent.images import sha256_hex
from agent.types import MaskOut, Prompts, shown_masks
from graphs.runtime import TurnEvent
from ui.chat import ShownMask, TurnView
from ui.core import ChatCore
from ui.render import LatencyRow, intent_html, mask_color
from ui.state import UIState
from ui.stream import END, drain, start_turn
from ui.tool_pictures import event_pictures, picture_tags

if TYPE_CHECKING:
    from graphs.runtime import TurnSummary

log = logging.getLogger(__name__)


class LiveTurn(ChatCore):
    """Streams a running turn's events into a tab (used by the turn handlers)."""

    def _follow_turn(
        self,
        state: UIState,
        owner: str | None,
        view: TurnView,
        base: int,
        created: bool,
        stop: threading.Event,
        *,
        text: str,
        image: bytes | None,
        image_name: str,
        prompts: Prompts | None,
    ) -> Iterator[tuple[Any, ...]]:
        """Run the turn beside this handler and stream its events into the chat."""
        stored = False
        shown_before = (state.mask_rle, state.mask_id, state.mask_count, state.mask_color_index)
        intent_panel: str | None = None
        events = start_turn(self.runtime, state.session_id or "", text, image=image, image_name=image_name,
                            prompts=prompts, owner=owner, stop=stop, tracker=state.tracker)
        finished = False
        while not finished:
            batch = drain(events)
            side: Any = gr.skip()
            status: str | None = None
            dirty = False
            for event in batch:
                if event is END:
                    finished = True
                    continue
                if isinstance(event, BaseException):  # the runtime never raises for user/backend errors
                    event = TurnEvent(kind="error", message=f"this turn failed ({type(event).__name__}); the session is kept, you can try again.")
                if event.kind == "progress":
                    before = view.messages()[0]["metadata"].get("title")
                    view.on_progress(event.stage)
                    dirty = dirty or view.messages()[0]["metadata"].get("title") != before
                elif event.kind == "stored":
                    stored = True
                    if image is not None:
                        new_sha = sha256_hex(image)
                        if new_sha != state.image_sha:
                            state.image_sha, state.mask_id, state.mask_rle = new_sha, None, None
                            shown_before = (None, None, state.mask_count, state.mask_color_index)
                        state.clear_marks()  # the side picture shows the new image with the reply
                elif event.kind == "intent":
                    # the progress bubble shows the act and target now; the intent panel follows
                    # with the reply, so the browser stays idle while the backend segments
                    view.on_intent(event.act, event.intent)
                    dirty = True
                elif event.kind == "mask":
                    self._show_masks(state, view, event.masks)  # the side picture follows with the reply
                    dirty = True
                elif event.kind == "token":
                    view.on_token(event.text)
                    dirty = True
                elif event.kind == "picture":
                    view.on_pictures(picture_tags(self, event_pictures(event.pictures), state.owner))
                    dirty = True
                elif event.kind == "done" and event.turn is not None:
                    status = self._finish(state, view, event.turn, prompts)
                    intent_panel = intent_html(
                        event.turn.intent,
                        mask_color(state.mask_color_index) if state.mask_rle else None,
                        event.turn.act.value,
                        state.turn_numbers,
                    )
                    side, dirty = self.side_picture(state), True  # cached; the last update is complete for API clients
                elif event.kind == "error":
                    view.on_error(event.message, stopped=event.stage == "stopped")
                    # a mask shown before the failure was not stored: the current mask is the old one
                    state.mask_rle, state.mask_id, state.mask_count, state.mask_color_index = shown_before
                    side, dirty = self.side_picture(state), True
                    if created and not stored:
                        self._drop_empty_session(state, owner)
            if dirty or finished:
                state.chat = [*state.chat[:base], *view.messages()]
                yield (gr.skip(), *self._panel(state, side=side, intent=intent_panel, status=status, light=not finished))

    def _finish(self, state: UIState, view: TurnView, summary: TurnSummary, prompts: Prompts | None) -> str:
        """Apply a finished turn to the state; return the status panel."""
        view.on_done(summary.reply, summary.latency_ms)
        state.turn_numbers.setdefault(summary.turn_index, max(state.turn_numbers.values(), default=0) + 1)
        if summary.masks and summary.masks[0].id is not None:
            state.mask_id = summary.masks[0].id
        if prompts is not None and not prompts.empty:
            state.clear_marks()
        number = state.turn_numbers[summary.turn_index]
        row = LatencyRow(turn=number, act=summary.act.value, latency_ms=summary.latency_ms)
        state.latency_rows = [*state.latency_rows, row]
        return self._status(state, state.latency_rows)

    def _show_masks(self, state: UIState, view: TurnView, masks: Sequence[MaskOut]) -> None:
        """Render this turn's masks into the chat overlay and make the best one current."""
        if not masks or state.image_sha is None:
            view.on_mask(None, [])
            return
        drawn = shown_masks(masks)
        colors = [mask_color(state.mask_count + i) for i in range(len(drawn))]
        shown = [ShownMask(m.label, m.score, c) for m, c in zip(drawn, colors, strict=True)]
        path = self.pictures.overlay(state.image_sha, [m.mask for m in drawn], colors)
        view.on_mask(self.picture_html(path, state.owner, "mask overlay"), shown)
        state.mask_color_index = state.mask_count
        state.mask_count += len(drawn)
        state.mask_rle = masks[0].mask.to_rle()
        state.mask_id = masks[0].id

    def _drop_empty_session(self, state: UIState, owner: str | None) -> None:
        """Remove a session this call created when its first message was refused."""
        if state.session_id is None:
            return
        try:
            if not self.runtime.history(state.session_id, owner=owner).turns:
                self.runtime.delete_session(state.session_id, owner=owner)
        except PixelrsError:
            log.debug("could not drop empty session %s", state.session_id, exc_info=True)
        state.session_id = None

