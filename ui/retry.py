"""Offering to retry a message that was never answered (interrupted by a restart, or failed).

When a session opens, its turns left pending by a process that died are marked interrupted
(:meth:`graphs.runtime.Runtime.recover`). If the session's last message is such an unanswered
one, the app shows a "Retry" button that sends the same text (and image) again as a new turn.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from agent.memory import SessionHistory

RETRYABLE = ("interrupted", "failed")
"""User-turn statuses the app offers to send again."""

UNANSWERED: Mapping[str, str] = MappingProxyType({
    "interrupted": "Not answered: the app stopped before answering. Press “Retry” to send it again.",
    "pending": "This message is still being answered (or was interrupted); reopen the session to see.",
})


@dataclass(frozen=True)
class RetryRequest:
    """What a retry sends again."""

    text: str
    image: bytes | None
    image_mime: str | None


def retryable_index(history: SessionHistory) -> int | None:
    """Index of the session's last message when it is an unanswered user turn (else None)."""
    if not history.turns:
        return None
    last = history.turns[-1]
    return last.index if last.role == "user" and last.status in RETRYABLE else None


def retry_request(
    history: SessionHistory, index: int, image_bytes: Callable[[str], bytes]
) -> RetryRequest | None:
    """Return the message at ``index`` to send again with its image bytes (None: not retryable)."""
    turn = next((t for t in history.turns if t.index == index), None)
    if turn is None or turn.role != "user" or turn.status not in RETRYABLE:
        return None
    data = image_bytes(turn.image_sha) if turn.image_sha else None
    return RetryRequest(text=turn.text, image=data, image_mime=_mime(data) if data is not None else None)


def _mime(data: bytes) -> str | None:
    """Return the MIME type of encoded image bytes, read from their content."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            return Image.MIME.get(probe.format or "")
    except Exception:  # noqa: BLE001 - not a picture a browser shows: sent without a preview
        return None
