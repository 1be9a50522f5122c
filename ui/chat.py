"""Converters from turns to Gradio chat messages (``{"role", "content", "metadata"}`` dicts).

:class:`TurnView` follows one live turn through the runtime's events (progress, intent, mask,
tokens, done/error) and renders its two assistant messages: a collapsible "thought" with the
stages and the tracked intent, and the answer with the mask overlay and the highlighted reply.
Pictures are ``<img>`` tags to the app's own signed links (:mod:`ui.links`), so messages are plain
strings and Gradio does no file work for them on each update.
:func:`stored_turn_messages` renders the same two messages for a turn read back from SQL, so a
resumed session looks like the live one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agent import answer
from agent.types import Act, Intent, Prompts
from ui.render import (
    RGB,
    LatencyRow,
    css_rgb,
    escape_markdown,
    format_ms,
    highlight,
    notice_markdown,
    one_line,
    progress_title,
)

if TYPE_CHECKING:
    from agent.memory import MaskRecord, SessionHistory

Message = dict[str, Any]

ACT_LABELS: Mapping[str, str] = MappingProxyType({
    Act.NEW_TARGET.value: "New target",
    Act.REFINE.value: "Refinement",
    Act.CORRECT.value: "Correction",
    Act.EXPLAIN.value: "Explanation",
    Act.SEGMENT_REQUEST.value: "Segment request",
    Act.CHITCHAT.value: "Chat",
    Act.RESET.value: "Reset",
    Act.USER_EDIT.value: "Your edit",
})


def act_label(act: str | None) -> str:
    """Readable name of an act."""
    if act is None:
        return "Answer"
    return ACT_LABELS.get(str(act), str(act).replace("_", " ").capitalize())


def plain_title(text: str, limit: int = 120) -> str:
    """Make a thought title safe whether Gradio renders it as text or Markdown (drops markup chars)."""
    kept = "".join(ch for ch in one_line(text, limit) if ch not in "<>&`*_[]\\#|~$")
    return kept or "…"


@dataclass(frozen=True)
class ShownMask:
    """A mask as the chat shows it: its label, score and palette colour."""

    label: str
    score: float | None
    color: RGB


def mask_legend(masks: Sequence[ShownMask]) -> str:
    """Render a line of coloured dots with label and score per mask (HTML in Markdown, escaped)."""
    items = []
    for m in masks:
        score = f" {m.score:.2f}" if m.score is not None else ""
        items.append(
            f'<span class="pr-legend"><span style="color: {css_rgb(m.color)}">●</span> '
            f"{escape_markdown(one_line(m.label, 60))}{escape_markdown(score)}</span>"
        )
    return "  ".join(items)


def answer_text(reply: str, masks: Sequence[ShownMask], target: str | None, current: RGB | None = None) -> str:
    """Render the reply with the target phrase and mask labels highlighted in their colours.

    The lead is shown; the details part (:mod:`agent.answer`) goes in a collapsed block. A turn
    without new masks (a question about the current mask) highlights the target in the current
    mask's colour ``current``.
    """
    phrases: list[tuple[str, RGB]] = []
    lead_color = masks[0].color if masks else current
    if target and lead_color is not None:
        phrases.append((target, lead_color))
    phrases.extend((m.label, m.color) for m in masks)
    lead, details = answer.split(reply)
    body = highlight(lead, phrases)
    if masks:
        body = f"{body}\n\n{mask_legend(masks)}"
    if details:
        lines = "\n".join(
            f"- {escape_markdown(line.removeprefix('- '))}" for line in details.splitlines() if line.strip()
        )
        body += f"\n\n<details><summary>Details</summary>\n\n{lines}\n\n</details>"
    return body


def user_message(text: str, image_html: str | None = None, attachment: str | None = None) -> Message:
    """Build the user's message: the uploaded image's ``<img>`` (if any) and the escaped text."""
    content: list[Any] = []
    if image_html is not None:
        content.append(image_html)
    shown = escape_markdown(text) if text else ""
    if attachment:
        shown = f"{shown}\n\nattached: {escape_markdown(attachment)}" if shown else f"attached: {escape_markdown(attachment)}"
    if shown:
        content.append(shown)
    return {"role": "user", "content": content or [escape_markdown("(empty)")]}


def notice_message(message: str) -> Message:
    """Build a one-line warning from the assistant (not stored)."""
    return {"role": "assistant", "content": notice_markdown(message)}


@dataclass
class TurnView:
    """The assistant side of one live turn, updated event by event."""

    turn_id: str
    """Unique id of the thought message (Gradio uses it to keep the accordion state)."""
    started: float = field(default_factory=time.perf_counter)
    stage: str = "start"
    stage_started: float = field(default_factory=time.perf_counter)
    done_stages: list[tuple[str, float]] = field(default_factory=list)
    act: str | None = None
    intent: Intent | None = None
    overlay_html: str | None = None
    masks: list[ShownMask] = field(default_factory=list)
    reply: str = ""
    finished: bool = False
    error: str | None = None
    stopped: bool = False
    latency_ms: float | None = None
    current_color: RGB | None = None
    """Colour of the session's current mask, for turns that explain it without a new mask."""
    pictures: list[str] = field(default_factory=list)
    """``<img>`` tags of pictures an extra tool returned (shown after the reply)."""

    def on_progress(self, stage: str) -> None:
        """Start a new stage; the previous one is done."""
        if stage == self.stage:
            return
        now = time.perf_counter()
        self.done_stages.append((self.stage, (now - self.stage_started) * 1000))
        self.stage, self.stage_started = stage, now

    def on_intent(self, act: Act | str | None, intent: Intent | None) -> None:
        """Record how the tracker classified the turn."""
        self.act = str(act.value if isinstance(act, Act) else act) if act is not None else None
        self.intent = intent

    def on_mask(self, overlay_html: str | None, masks: Sequence[ShownMask]) -> None:
        """Show the overlay (an ``<img>`` tag) as soon as the masks exist, before the explanation."""
        self.overlay_html = overlay_html
        self.masks = list(masks)

    def on_pictures(self, tags: Sequence[str]) -> None:
        """Show pictures an extra tool returned (``<img>`` tags)."""
        self.pictures.extend(tags)

    def on_token(self, text: str) -> None:
        """Append an explanation chunk."""
        self.reply += text

    def on_done(self, reply: str, latency_ms: float) -> None:
        """Finish: the runtime's final reply replaces the streamed text."""
        self.on_progress("done")
        self.reply = reply or self.reply
        self.finished = True
        self.latency_ms = latency_ms

    def on_error(self, message: str, *, stopped: bool = False) -> None:
        """Fail the turn with a one-line message (``stopped``: the person stopped it)."""
        self.on_progress("stopped" if stopped else "failed")
        self.error = message
        self.stopped = stopped
        self.finished = True

    def _thought(self) -> Message:
        lines = [f"✓ {progress_title(s)} ({format_ms(ms)})" for s, ms in self.done_stages if s not in ("start", "recall")]
        if not self.finished:
            lines.append(f"… {progress_title(self.stage)}")
        if self.act is not None:
            lines.append(f"act: **{escape_markdown(act_label(self.act))}**")
        if self.intent is not None and self.intent.target:
            lines.append(f"target: {escape_markdown(self.intent.describe())}")
        metadata: dict[str, Any] = {"id": self.turn_id}
        if self.finished:
            metadata["status"] = "done"
            metadata["title"] = ("Stopped" if self.stopped else "Failed") if self.error else plain_title(act_label(self.act))
            metadata["duration"] = round((time.perf_counter() - self.started), 3) if self.latency_ms is None else round(self.latency_ms / 1000, 3)
        else:
            metadata["status"] = "pending"
            metadata["title"] = plain_title(f"{progress_title(self.stage)}…")
        if self.intent is not None and self.intent.target:
            metadata["log"] = plain_title(self.intent.describe(), 80)
        return {"role": "assistant", "content": "  \n".join(lines) or "…", "metadata": metadata}

    def messages(self) -> list[Message]:
        """Return the thought and (once there is something to show) the answer message."""
        out = [self._thought()]
        if self.error is not None:
            out.append(notice_message(self.error))
            return out
        content: list[Any] = []
        if self.overlay_html is not None:
            content.append(self.overlay_html)
        if self.reply:
            target = self.intent.target if self.intent is not None else None
            content.append(answer_text(self.reply, self.masks, target, self.current_color))
        content.extend(self.pictures)
        if content:
            out.append({"role": "assistant", "content": content})
        return out


def stored_turn_messages(
    *,
    turn_id: str,
    act: str | None,
    intent: Intent | None,
    reply: str,
    latency_ms: float | None,
    overlay_html: str | None,
    masks: Sequence[ShownMask],
    current_color: RGB | None = None,
    pictures: Sequence[str] = (),
) -> list[Message]:
    """Build the thought + answer messages of a turn read back from memory (``pictures``: a tool's ``<img>`` tags)."""
    view = TurnView(turn_id=turn_id, current_color=current_color, pictures=list(pictures))
    view.on_intent(act, intent)
    view.on_mask(overlay_html, masks)
    view.finished = True
    view.latency_ms = latency_ms
    view.reply = reply
    return view.messages()


def describe_prompts(prompts: Prompts) -> str:
    """Say what a correction consists of, e.g. ``✏️ Correction: 1 positive + 1 negative click(s)``."""
    pos = sum(1 for p in prompts.points if p.positive)
    neg = len(prompts.points) - pos
    parts = []
    if pos:
        parts.append(f"{pos} positive")
    if neg:
        parts.append(f"{neg} negative")
    what = " + ".join(parts) + " click(s)" if parts else ""
    if prompts.box is not None:
        what = f"{what} and a box" if what else "a box"
    return f"✏️ Correction: {what}"


def latency_rows(history: SessionHistory) -> list[LatencyRow]:
    """Per-turn latency of a stored session (user-message numbers, failed turns included)."""
    rows: list[LatencyRow] = []
    number = 0
    for turn in history.turns:
        if turn.role == "user":
            number += 1
            if turn.status == "failed":
                rows.append(LatencyRow(turn=number, act=None, latency_ms=None, status="failed"))
        else:
            rows.append(LatencyRow(turn=number, act=turn.act, latency_ms=turn.latency_ms))
    return rows


def mask_image_sha(history: SessionHistory, mask: MaskRecord) -> str | None:
    """Return the image a mask was drawn on: the latest user image at or before its turn."""
    sha = None
    for turn in history.turns:
        if turn.index > mask.turn_index:
            break
        if turn.role == "user" and turn.image_sha:
            sha = turn.image_sha
    return sha
