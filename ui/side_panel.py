"""Side-panel handlers of the chat app: clicks on the picture, view mode and click mode.

Clicks arrive in display coordinates of the (scaled) side picture and are kept in image pixels
in the browser's :class:`~ui.state.UIState` until a correction applies them (:mod:`ui.turns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from ui.core import ChatCore
from ui.render import marks_summary, to_image_coords
from ui.state import UIState


class SidePanelHandlers(ChatCore):
    """Handlers of the side picture and its controls."""

    def on_image_click(self, state: UIState, evt: gr.SelectData) -> tuple[Any, ...]:
        """Handle a click on the side picture: add a point, or a box corner in box mode."""
        index = evt.index if isinstance(evt.index, list | tuple) else None
        return self.add_click(state, index)

    def add_click(self, state: UIState, index: Sequence[float] | None) -> tuple[Any, ...]:
        """Record a click at display coordinates ``index`` = (x, y) and redraw the marks."""
        if state.image_sha is None or index is None or len(index) < 2:
            return (self.side_picture(state), marks_summary(state.marks, state.click_mode), state)
        loaded = self.runtime.image(state.image_sha)
        x, y = to_image_coords(float(index[0]), float(index[1]), state.display_scale, loaded.ref.width, loaded.ref.height)
        if state.click_mode == "box":
            if state.box_start is None:
                state.box_start, state.box = (x, y), None
            else:
                x0, y0 = state.box_start
                state.box = (min(x0, x), min(y0, y), max(x0, x), max(y0, y))
                state.box_start = None
        else:
            state.points.append((x, y, state.click_mode == "positive"))
        return (self.side_picture(state), marks_summary(state.marks, state.click_mode), state)

    def clear_clicks(self, state: UIState) -> tuple[Any, ...]:
        """Forget the pending correction."""
        state.clear_marks()
        return (self.side_picture(state), marks_summary(state.marks, state.click_mode), state)

    def set_view(self, view: str, state: UIState) -> tuple[Any, ...]:
        """Switch the side picture between overlay, mask only and image only."""
        state.view = view if view in ("overlay", "mask", "image") else "overlay"  # type: ignore[assignment]
        return (self.side_picture(state), state)

    def set_click_mode(self, mode: str, state: UIState) -> tuple[Any, ...]:
        """Switch between adding points, removing points and drawing a box."""
        state.click_mode = mode if mode in ("positive", "negative", "box") else "positive"  # type: ignore[assignment]
        state.box_start = None
        return (self.side_picture(state), marks_summary(state.marks, state.click_mode), state)

