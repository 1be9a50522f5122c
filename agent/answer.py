"""An answer's two parts: the plain lead people read, and the details the app folds away.

Backends and the turn graph write an answer as ``compose(lead, details)``; the app renders the
details in a collapsed block and the CLI prints both. The stored reply is plain text, so the
split survives memory, exports and replays.
"""

from __future__ import annotations

from collections.abc import Iterable

DETAILS_HEADING = "Details:"
_MARKER = f"\n\n{DETAILS_HEADING}\n"


def compose(lead: str, details: Iterable[str] = ()) -> str:
    """Join the lead and the detail lines (one per line, each starting with "- ")."""
    lines = [" ".join(d.split()) for d in details if d and d.strip()]
    lead = lead.strip()
    if not lines:
        return lead
    return lead + _MARKER + "\n".join(f"- {line}" for line in lines)


def split(reply: str) -> tuple[str, str]:
    """Return (lead, details) of a composed reply; details is "" when there are none."""
    lead, sep, details = reply.partition(_MARKER)
    return (lead.strip(), details.strip()) if sep else (reply.strip(), "")


__all__ = ["DETAILS_HEADING", "compose", "split"]
