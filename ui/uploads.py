"""Reading what the chat's message box sends: its text and at most one uploaded file.

The box (``gr.MultimodalTextbox``) gives ``{"text", "files"}``; API clients may send a plain
string. :func:`read_message` turns either into an :class:`Outgoing` message, or a
:class:`Refusal` with the one-line notice the chat shows instead of running a turn.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Outgoing:
    """A message to send as a turn: its text and the bytes of the attached file, if any."""

    text: str
    image: bytes | None = None
    image_name: str = "image"
    """The upload's file name as the chat shows it (shortened)."""
    image_mime: str | None = None
    """The picture's MIME type when the file is a picture the chat can preview."""
    attachment: str | None = None
    """The file name shown instead of a preview when the file is not a picture."""


@dataclass(frozen=True)
class Refusal:
    """Why a message is not sent, and whether the box should drop its attachment."""

    notice: str
    clear_input: bool


def read_message(message: dict[str, Any] | str | None) -> Outgoing | Refusal:
    """Return the message to send, or why not (empty, several files, an unreadable upload)."""
    if isinstance(message, str):
        message = {"text": message, "files": []}
    message = message or {}
    text = str(message.get("text") or "")
    files = [f for f in (message.get("files") or []) if f]
    if not text.strip() and not files:
        return Refusal("The message is empty; type what you want to find or ask.", clear_input=False)
    if len(files) > 1:
        return Refusal(f"Send one image at a time ({len(files)} files were attached).", clear_input=True)
    if not files:
        return Outgoing(text=text)
    path = Path(_file_path(files[0]))
    image_name = _display_name(path)
    try:
        image = path.read_bytes()
    except OSError:
        return Refusal(f"Could not read the upload {image_name}; please try again.", clear_input=True)
    mime = mimetypes.guess_type(path.name)[0] or ""
    is_picture = mime.startswith("image/")
    return Outgoing(
        text=text if text.strip() else "(image uploaded)",
        image=image,
        image_name=image_name,
        image_mime=mime if is_picture else None,
        attachment=None if is_picture else image_name,
    )


def _file_path(item: Any) -> str:
    """Return the local path of an uploaded file (Gradio gives a dict, a FileData or a path)."""
    if isinstance(item, dict):
        return str(item.get("path") or item.get("name") or "")
    return str(getattr(item, "path", item))


def _display_name(path: Path) -> str:
    """Return the file name as the chat shows it (at most 80 characters)."""
    name = path.name
    return name if len(name) <= 80 else name[:77] + "…"
