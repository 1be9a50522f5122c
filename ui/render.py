"""Pure render helpers for the chat app: overlays, escaped/highlighted text, panels, captions.

Nothing here touches Gradio, the runtime or the disk: every function maps plain values
(numpy arrays, masks, intents, strings) to plain values (arrays, PNG bytes, HTML/Markdown
strings), so each one is unit-tested on its own.

Everything a person typed (messages, titles, target phrases) is escaped before it reaches the
browser: chat text for Gradio's Markdown renderer (:func:`escape_markdown`), panel text for raw
HTML (:func:`html.escape`).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from agent.types import Intent, IntentRevision, Mask

RGB = tuple[int, int, int]
ViewMode = Literal["overlay", "mask", "image"]

PALETTE: tuple[RGB, ...] = (
    (230, 159, 0),  # orange
    (86, 180, 233),  # sky blue
    (0, 158, 115),  # bluish green
    (204, 121, 167),  # reddish purple
    (240, 228, 66),  # yellow
    (0, 114, 178),  # blue
    (213, 94, 0),  # vermillion
    (148, 103, 189),  # violet
)
"""Mask colours (Okabe-Ito based, distinguishable with common colour-vision deficiencies)."""

POSITIVE: RGB = (40, 200, 80)
NEGATIVE: RGB = (230, 40, 40)
BOX: RGB = (0, 220, 255)

STAGE_TITLES: Mapping[str, str] = MappingProxyType({
    "start": "Tracking intent",
    "recall": "Tracking intent",
    "tracking": "Tracking intent",
    "segmenting": "Segmenting",
    "explaining": "Explaining",
    "saving": "Saving",
})
"""Short, fixed titles for the runtime's progress stages (their messages may quote the user)."""

# CommonMark treats a backslash before any ASCII punctuation as a literal. '&' and ';' are left
# alone because html.escape() has already turned '<', '>' and '&' into entities built from them.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$=:\"'/^?@,%])")


def mask_color(index: int) -> RGB:
    """Colour of the ``index``-th mask of a session (cycling through :data:`PALETTE`)."""
    return PALETTE[index % len(PALETTE)]


def css_rgb(color: RGB, alpha: float | None = None) -> str:
    """CSS colour for an RGB triple, optionally translucent."""
    r, g, b = color
    return f"rgb({r}, {g}, {b})" if alpha is None else f"rgba({r}, {g}, {b}, {alpha:g})"


# images ------------------------------------------------------------------------------------
def _line_width(shape: tuple[int, ...]) -> int:
    return max(2, round((shape[0] ** 2 + shape[1] ** 2) ** 0.5 / 400))


def overlay(
    rgb: np.ndarray,
    masks: Sequence[Mask],
    colors: Sequence[RGB],
    *,
    alpha: float = 0.45,
    contour: bool = True,
    filled: Sequence[bool] | None = None,
) -> np.ndarray:
    """Draw each mask as a translucent fill plus a solid contour in its colour.

    Args:
        rgb: (H, W, 3) uint8 image.
        masks: masks of the same height and width; the first is drawn last (on top).
        colors: one colour per mask.
        alpha: fill opacity.
        contour: also draw the mask outline (width scales with the image diagonal).
        filled: per mask, whether to fill it (default all); unfilled masks get a thin outline
            only, which is how the chat shows a turn's alternative candidates.

    Returns:
        A new (H, W, 3) uint8 array; ``rgb`` is not modified.
    """
    if len(colors) < len(masks):
        raise ValueError(f"{len(masks)} masks need as many colours, got {len(colors)}")
    fills = list(filled) if filled is not None else [True] * len(masks)
    out = np.array(rgb, dtype=np.uint8, copy=True)
    width = _line_width(out.shape)
    for index in reversed(range(len(masks))):
        m, color = masks[index].array, colors[index]
        if m.shape != out.shape[:2]:
            raise ValueError(f"mask {m.shape} does not match image {out.shape[:2]}")
        if not m.any():
            continue
        fill = fills[index] if index < len(fills) else True
        if fill:
            tint = np.asarray(color, dtype=np.float32)
            out[m] = (out[m].astype(np.float32) * (1 - alpha) + tint * alpha).round().astype(np.uint8)
        if contour or not fill:
            contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
            line = width if fill else max(2, width // 2 + 1)
            cv2.drawContours(out, contours, -1, tuple(int(c) for c in color), line, lineType=cv2.LINE_AA)
    return out


def mask_only(mask: Mask) -> np.ndarray:
    """Render the binary mask as an RGB image: white foreground on black."""
    return np.repeat((mask.array.astype(np.uint8) * 255)[:, :, None], 3, axis=2)


@dataclass(frozen=True)
class Marks:
    """Correction prompts to draw on the side image, in image pixel coordinates."""

    points: tuple[tuple[float, float, bool], ...] = ()
    """(x, y, positive) clicks."""
    box: tuple[float, float, float, float] | None = None
    """A finished box (x0, y0, x1, y1)."""
    box_start: tuple[float, float] | None = None
    """The first corner of a box being drawn."""


def draw_marks(rgb: np.ndarray, marks: Marks) -> np.ndarray:
    """Draw clicks (green +, red -), a box and a pending box corner onto a copy of ``rgb``."""
    out = np.array(rgb, dtype=np.uint8, copy=True)
    width = _line_width(out.shape)
    radius = max(5, width * 3)
    for x, y, positive in marks.points:
        color = POSITIVE if positive else NEGATIVE
        center = (round(x), round(y))
        cv2.circle(out, center, radius + width, (255, 255, 255), -1, lineType=cv2.LINE_AA)
        cv2.circle(out, center, radius, color, -1, lineType=cv2.LINE_AA)
        arm = max(2, radius - 2)
        cv2.line(out, (center[0] - arm, center[1]), (center[0] + arm, center[1]), (255, 255, 255), max(1, width // 2))
        if positive:
            cv2.line(out, (center[0], center[1] - arm), (center[0], center[1] + arm), (255, 255, 255), max(1, width // 2))
    if marks.box is not None:
        x0, y0, x1, y1 = (round(v) for v in marks.box)
        cv2.rectangle(out, (x0, y0), (x1, y1), BOX, width, lineType=cv2.LINE_AA)
    if marks.box_start is not None:
        cx, cy = (round(v) for v in marks.box_start)
        cv2.drawMarker(out, (cx, cy), BOX, cv2.MARKER_CROSS, radius * 3, width)
    return out


def render_view(
    rgb: np.ndarray,
    mask: Mask | None,
    mode: ViewMode,
    color: RGB,
    marks: Marks | None = None,
) -> np.ndarray:
    """Render the side picture: overlay, mask only or image only, with correction marks on top."""
    if mode == "mask" and mask is not None:
        base = mask_only(mask)
    elif mode == "overlay" and mask is not None:
        base = overlay(rgb, [mask], [color])
    else:
        base = rgb
    return draw_marks(base, marks) if marks is not None else np.array(base, copy=True)


def fit_within(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale so the longest side is at most ``max_side``; return the image and its scale."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return rgb, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def to_image_coords(x: float, y: float, scale: float, width: int, height: int) -> tuple[float, float]:
    """Map a click on a displayed (scaled) picture back to image pixels, clamped to the image."""
    s = scale if scale > 0 else 1.0
    return (min(max(x / s, 0.0), width - 1.0), min(max(y / s, 0.0), height - 1.0))


def encode_png(rgb: np.ndarray, *, compress_level: int = 1) -> bytes:
    """PNG bytes of an RGB/L array (fast compression: these files are served once)."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def encode_jpeg(rgb: np.ndarray, *, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB array: ~10x smaller and faster than PNG for overlays shown in the app.

    Only pictures for display use it; exported masks stay lossless PNG.
    """
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def thumbnail(rgb: np.ndarray, size: int = 160) -> np.ndarray:
    """Make a square, centre-cropped thumbnail."""
    h, w = rgb.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    crop = rgb[y0 : y0 + side, x0 : x0 + side]
    return cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=cv2.INTER_AREA)


def placeholder_thumbnail(size: int = 160) -> np.ndarray:
    """Make a neutral grey tile with a dashed frame, for sessions without an image yet."""
    tile = np.full((size, size, 3), 236, dtype=np.uint8)
    for i in range(0, size, 12):
        tile[4:6, i : i + 6] = 170
        tile[size - 6 : size - 4, i : i + 6] = 170
        tile[i : i + 6, 4:6] = 170
        tile[i : i + 6, size - 6 : size - 4] = 170
    cv2.putText(tile, "no image", (size // 2 - 38, size // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (120, 120, 120), 1, cv2.LINE_AA)
    return tile


# text ------------------------------------------------------------------------------------------
def escape_markdown(text: str) -> str:
    """Escape text so Gradio's Markdown + HTML renderer shows it verbatim (no tags, no formatting)."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(word) for word in phrase.split())
    start = r"\b" if re.match(r"\w", phrase) else ""
    end = r"\b" if re.search(r"\w$", phrase) else ""
    return re.compile(start + body + end, re.IGNORECASE)


def highlight(text: str, phrases: Iterable[tuple[str, RGB]]) -> str:
    """Escape ``text`` for Markdown and mark each phrase occurrence in its colour.

    Phrases match case-insensitively on word boundaries; longer phrases win where matches
    overlap. The highlight is a ``<span class="pr-hl">`` with an inline translucent background
    and a solid underline in the mask's colour.
    """
    spans: list[tuple[int, int, RGB]] = []
    first: dict[str, RGB] = {}
    for phrase, color in phrases:
        if phrase and phrase.strip():
            first.setdefault(phrase.strip().lower(), color)
    ordered = sorted(first.items(), key=lambda pc: -len(pc[0]))
    for phrase, color in ordered:
        for match in _phrase_pattern(phrase).finditer(text):
            a, b = match.span()
            if all(b <= s or a >= e for s, e, _ in spans):
                spans.append((a, b, color))
    spans.sort()
    parts: list[str] = []
    pos = 0
    for a, b, color in spans:
        parts.append(escape_markdown(text[pos:a]))
        style = f"background: {css_rgb(color, 0.28)}; border-bottom: 2px solid {css_rgb(color)}; border-radius: 3px; padding: 0 2px"
        parts.append(f'<span class="pr-hl" style="{style}">{escape_markdown(text[a:b])}</span>')
        pos = b
    parts.append(escape_markdown(text[pos:]))
    return "".join(parts)


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace and cut to ``limit`` characters (for notices and captions)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def notice_markdown(message: str) -> str:
    """Format a one-line warning for the chat (escaped)."""
    return f"⚠️ {escape_markdown(one_line(message))}"


def progress_title(stage: str) -> str:
    """Thought-bubble title for a runtime progress stage."""
    return STAGE_TITLES.get(stage, stage.replace("_", " ").capitalize() or "Working")


def format_ms(ms: float | None) -> str:
    """Human latency: ``85 ms`` or ``1.42 s``."""
    if ms is None:
        return "–"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def relative_time(when: datetime, now: datetime | None = None) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 d ago`` or a date."""
    now = now or datetime.now(UTC)
    if when.tzinfo is None and now.tzinfo is not None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None and when.tzinfo is not None:
        now = now.replace(tzinfo=UTC)
    seconds = (now - when).total_seconds()
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{round(seconds / 60)} min ago"
    if seconds < 86400:
        return f"{round(seconds / 3600)} h ago"
    if seconds < 7 * 86400:
        return f"{round(seconds / 86400)} d ago"
    return when.strftime("%Y-%m-%d")


def session_caption(title: str | None, turn_count: int, updated_at: datetime, now: datetime | None = None) -> str:
    """Gallery caption of a stored session (plain text; Gradio escapes captions)."""
    name = one_line(title or "Untitled session", 60)
    turns = f"{turn_count} turn" + ("" if turn_count == 1 else "s")
    return f"{name} · {turns} · {relative_time(updated_at, now)}"


# panels (raw HTML: escape every value) ------------------------------------------------------
def _chips(values: Iterable[str], cls: str) -> str:
    items = [f'<span class="pr-chip {cls}">{html.escape(v)}</span>' for v in values]
    return " ".join(items) if items else '<span class="pr-none">none</span>'


def intent_html(
    intent: Intent | None,
    color: RGB | None = None,
    act: str | None = None,
    turn_numbers: Mapping[int, int] | None = None,
) -> str:
    """Render the tracked intent: target, attributes, relations, exclusions, op and history.

    ``turn_numbers`` maps stored turn indices to the user-message numbers the chat shows (1, 2,
    ...); a revision of the turn still running gets the next number.
    """
    def number(turn: int) -> int:
        if turn_numbers is None:
            return turn
        if turn in turn_numbers:
            return turn_numbers[turn]
        return max(turn_numbers.values(), default=0) + 1

    if intent is None or (intent.target is None and not intent.history):
        return '<div class="pr-intent"><p class="pr-none">No target yet. Ask me to find something.</p></div>'
    swatch = f'<span class="pr-swatch" style="background: {css_rgb(color)}"></span>' if color else ""
    target = html.escape(intent.target) if intent.target else '<span class="pr-none">(none)</span>'
    attrs = _chips((f"{k}: {v}" for k, v in intent.attributes.items()), "pr-attr")
    rels = _chips((f"{r.kind.replace('_', ' ')} {r.anchor}" for r in intent.relations), "pr-rel")
    excl = _chips(intent.exclusions, "pr-excl")
    act_cell = f"<tr><th>last act</th><td>{html.escape(act.replace('_', ' '))}</td></tr>" if act else ""
    rows = "".join(
        "<tr>"
        f"<td>{number(rev.turn)}</td><td>{html.escape(rev.op.value)}</td>"
        f"<td>{html.escape(rev.target or '–')}</td>"
        f"<td>{html.escape(', '.join(f'{k}: {v}' for k, v in rev.attributes.items()) or '–')}</td>"
        f"<td>{html.escape(', '.join(f'{r.kind} {r.anchor}' for r in rev.relations) or '–')}</td>"
        f"<td>{html.escape(', '.join(rev.exclusions) or '–')}</td>"
        f"<td>{_why_cell(rev, number)}</td>"
        "</tr>"
        for rev in reversed(intent.history)
    )
    history = (
        '<details class="pr-history" open><summary>Revision history '
        f"({len(intent.history)})</summary><table><thead><tr><th>#</th><th>op</th><th>target</th>"
        f"<th>attributes</th><th>relations</th><th>exclusions</th><th>why</th></tr></thead><tbody>{rows}</tbody></table></details>"
        if intent.history
        else ""
    )
    return (
        '<div class="pr-intent"><table class="pr-kv">'
        f"<tr><th>target</th><td>{swatch}<b>{target}</b></td></tr>"
        f"<tr><th>attributes</th><td>{attrs}</td></tr>"
        f"<tr><th>relations</th><td>{rels}</td></tr>"
        f"<tr><th>exclusions</th><td>{excl}</td></tr>"
        f"<tr><th>op</th><td>{html.escape(intent.op.value)}</td></tr>"
        f"{act_cell}</table>{history}</div>"
    )


def _why_cell(rev: IntentRevision, number: Callable[[int], int]) -> str:
    """Which words of which turn caused a revision: ``"red" colour`` chips, with the reason as a tooltip."""
    chips = []
    for e in rev.evidence:
        where = "" if e.source == "user" and e.turn == rev.turn else (
            " (answer)" if e.source == "answer" else f" (turn {number(e.turn)})"
        )
        chips.append(
            f'<span class="pr-ev" title="{html.escape(e.role)}">“{html.escape(e.words)}”'
            f" <small>{html.escape(e.role)}{html.escape(where)}</small></span>"
        )
    body = " ".join(chips) or "–"
    return f'<span title="{html.escape(rev.reason)}">{body}</span>' if rev.reason else body


@dataclass(frozen=True)
class LatencyRow:
    """One answered turn in the latency table."""

    turn: int
    act: str | None
    latency_ms: float | None
    status: str = "ok"


def status_html(backend: str, rows: Sequence[LatencyRow], *, session_id: str | None = None, owner: str | None = None) -> str:
    """Backend name, who is signed in, and per-turn latency (most recent first)."""
    who = f' · user <b>{html.escape(owner)}</b>' if owner and not owner.startswith("browser:") else ""
    head = f'<div class="pr-status"><p>backend <code>{html.escape(backend)}</code>{who}</p>'
    if not rows:
        return head + '<p class="pr-none">No turns yet.</p></div>'
    last = rows[-1]
    body = "".join(
        f"<tr><td>{r.turn}</td><td>{html.escape((r.act or '–').replace('_', ' '))}</td>"
        f"<td>{html.escape(format_ms(r.latency_ms) if r.status == 'ok' else r.status)}</td></tr>"
        for r in reversed(rows)
    )
    return (
        f"{head}<p>last turn <b>{html.escape(format_ms(last.latency_ms))}</b></p>"
        '<details class="pr-latency"><summary>Per-turn latency</summary>'
        f"<table><thead><tr><th>#</th><th>act</th><th>latency</th></tr></thead><tbody>{body}</tbody></table>"
        "</details></div>"
    )


def marks_summary(marks: Marks, mode: str) -> str:
    """One line describing the pending correction (plain text)."""
    pos = sum(1 for p in marks.points if p[2])
    neg = len(marks.points) - pos
    parts = []
    if pos:
        parts.append(f"{pos} positive")
    if neg:
        parts.append(f"{neg} negative")
    text = (" + ".join(parts) + " click(s)") if parts else ""
    if marks.box is not None:
        text = (text + " and " if text else "") + "a box"
    elif marks.box_start is not None:
        text = (text + "; " if text else "") + "click the opposite box corner"
    if not text:
        hint = {"box": "click two corners of a box", "negative": "click parts to remove", "positive": "click parts to add"}
        return f"No correction yet: {hint.get(mode, 'click the image')} on the image."
    return f"Pending correction: {text}."
