"""Validating user text: non-empty, bounded length, control characters removed."""

from __future__ import annotations

import unicodedata

from agent.errors import BadInputError

MAX_MESSAGE_CHARS = 4000
"""Longer messages are refused with a clear message instead of being silently cut."""


def clean_user_text(text: str | None) -> str:
    """Return the message stripped of control characters, or raise for empty/oversized text.

    HTML, SQL or script-looking text is kept verbatim as data: memory uses bound parameters and
    the UI escapes on render, so nothing here needs to rewrite it.
    """
    if text is None:
        raise BadInputError("the message is empty; type what you want to find or ask.")
    if len(text) > MAX_MESSAGE_CHARS * 4:
        raise BadInputError(f"the message is {len(text)} characters; the limit is {MAX_MESSAGE_CHARS}.")
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    kept = kept.strip()
    if not kept:
        raise BadInputError("the message is empty; type what you want to find or ask.")
    if len(kept) > MAX_MESSAGE_CHARS:
        raise BadInputError(f"the message is {len(kept)} characters; the limit is {MAX_MESSAGE_CHARS}.")
    return kept
