"""Pictures that extra tools return (a zoom's close-up, ...), as the chat shows them.

A tool's pictures are stored in the images table by content hash and listed in its tool-call
record (``args["pictures"]``: ``{"sha256", "caption"}`` items); live turns get them as
``picture`` events. Both become ``<img>`` tags to the app's signed picture route.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.memory import TurnRecord
    from ui.core import ChatCore


def stored_pictures(turn: TurnRecord) -> list[tuple[str, str]]:
    """Return ``(sha256, caption)`` of the pictures a stored turn's tool calls returned."""
    found: list[tuple[str, str]] = []
    for call in turn.tool_calls:
        items = call.args.get("pictures") if call.status == "ok" else None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("sha256"), str):
                found.append((item["sha256"], str(item.get("caption") or "")))
    return found


def event_pictures(pictures: Iterable[Any]) -> list[tuple[str, str]]:
    """Return ``(sha256, caption)`` of a ``picture`` event's pictures (:class:`graphs.state.PictureRef`)."""
    return [(p.sha256, p.caption) for p in pictures]


def picture_tags(ui: ChatCore, pictures: Iterable[tuple[str, str]], owner: str | None) -> list[str]:
    """Return the chat's ``<img>`` tags for stored pictures (a picture that cannot be read is left out)."""
    tags = []
    for sha, caption in pictures:
        try:
            path = ui.pictures.chat_image(sha)
        except Exception:  # noqa: BLE001 - a missing picture must not break the chat
            continue
        tag = ui.picture_html(path, owner, caption or "picture from a tool")
        if tag is not None:
            tags.append(tag)
    return tags


__all__ = ["event_pictures", "picture_tags", "stored_pictures"]
