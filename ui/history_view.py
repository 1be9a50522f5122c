"""Showing a stored session: the chat, image, current mask and colours of a tab rebuilt from SQL.

A session opened later (another tab, a reload, after a restart) shows what the live turns showed:
the same messages, overlays in the same colours, tool pictures, and notices for messages that were
never answered (:mod:`ui.retry`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.types import shown_masks
from ui.chat import ShownMask, notice_message, stored_turn_messages, user_message
from ui.core import ChatCore
from ui.render import LatencyRow, intent_html, mask_color
from ui.retry import UNANSWERED, retryable_index
from ui.state import UIState
from ui.tool_pictures import picture_tags, stored_pictures

if TYPE_CHECKING:
    from agent.memory import SessionHistory


class HistoryView(ChatCore):
    """Rebuilds a tab's state from a stored session (used when a session opens)."""

    def _load_history(self, state: UIState, history: SessionHistory) -> tuple[str, str, list[LatencyRow]]:
        """Rebuild the chat, image, mask and colours of ``state`` from a stored session."""
        state.session_id = history.session.id
        state.chat = []
        state.clear_marks()
        state.confirm_delete = False
        state.turn_numbers = {}
        color_of: dict[int, int] = {}
        palette = 0
        rows: list[LatencyRow] = []
        image_sha: str | None = None
        image_turn = -1
        user_number = 0
        last_act: str | None = None
        current_id: int | None = None
        for turn in history.turns:
            if turn.role == "user":
                user_number += 1
                state.turn_numbers[turn.index] = user_number
                if turn.image_sha:
                    if turn.image_sha != image_sha:
                        current_id = None
                    image_sha, image_turn = turn.image_sha, turn.index
                picture = self.pictures.chat_image(turn.image_sha) if turn.image_sha else None
                state.chat.append(user_message(turn.text, self.picture_html(picture, state.owner, "uploaded image")))
                if turn.status == "failed":
                    state.chat.append(notice_message(f"Not answered: {turn.error or 'failed'}"))
                    rows.append(LatencyRow(turn=user_number, act=None, latency_ms=None, status="failed"))
                elif turn.status in UNANSWERED:
                    state.chat.append(notice_message(UNANSWERED[turn.status]))
                continue
            shown: list[ShownMask] = []
            path = None
            if turn.masks:
                drawn = shown_masks(turn.masks)
                for mask in drawn:
                    color_of[mask.id], palette = palette, palette + 1
                # the current mask (the union, when several instances are drawn) takes the first colour
                color_of.setdefault(turn.masks[0].id, color_of[drawn[0].id])
                shown = [ShownMask(m.label, m.score, mask_color(color_of[m.id])) for m in drawn]
                if image_sha is not None:
                    path = self.pictures.overlay(image_sha, [m.mask() for m in drawn], [s.color for s in shown])
            state.chat.extend(
                stored_turn_messages(
                    turn_id=f"turn-{turn.id}",
                    act=turn.act,
                    intent=turn.intent,
                    reply=turn.text,
                    latency_ms=turn.latency_ms,
                    overlay_html=self.picture_html(path, state.owner, "mask overlay"),
                    masks=shown,
                    current_color=mask_color(color_of[current_id]) if current_id in color_of else None,
                    pictures=picture_tags(self, stored_pictures(turn), state.owner),
                )
            )
            if turn.masks:
                current_id = turn.masks[0].id
            elif turn.intent is not None and turn.act == "reset":
                current_id = None
            rows.append(LatencyRow(turn=user_number, act=turn.act, latency_ms=turn.latency_ms))
            last_act = turn.act
        state.image_sha = image_sha
        state.retry_index = retryable_index(history)
        state.mask_count = palette
        current = history.current_mask
        if current is not None and current.turn_index > image_turn and current.id in color_of:
            state.mask_id, state.mask_rle = current.id, current.rle
            state.mask_color_index = color_of[current.id]
        else:
            state.mask_id, state.mask_rle, state.mask_color_index = None, None, 0
        color = mask_color(state.mask_color_index) if state.mask_id is not None else None
        state.latency_rows = rows
        return intent_html(history.current_intent, color, last_act, state.turn_numbers), self._status(state, rows), rows
