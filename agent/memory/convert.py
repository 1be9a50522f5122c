"""Conversions between ORM rows, records and JSON-safe column values."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import numpy as np

from agent.memory.models import IntentRow, MaskRow, SessionRow, ToolCallRow, TurnRow
from agent.memory.records import MaskRecord, SessionRecord, ToolCallRecord, TurnRecord
from agent.types import Intent

MAX_ERROR_CHARS = 500
MAX_TITLE_CHARS = 60


def aware(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (SQLite hands back naive UTC values)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def db_text(value: object) -> str:
    """Coerce to str and drop what no database stores: NUL characters and lone surrogates.

    PostgreSQL text refuses NUL; a lone surrogate (``"\\ud800"``, which JSON clients can send)
    cannot be encoded as UTF-8 for either database.
    """
    text = str(value).replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "ignore").decode("utf-8")
    return text


def opt_text(value: object) -> str | None:
    """Plain ``str`` (e.g. an :class:`Act` becomes its value), NUL-free, or None."""
    return None if value is None else db_text(value)


def one_line(value: object, limit: int) -> str:
    """Collapse whitespace to a single line and cut to ``limit`` characters."""
    text = " ".join(db_text(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def title_from(text: str) -> str:
    """Derive a session title from the first user message."""
    return " ".join(db_text(text).split())[:MAX_TITLE_CHARS]


def jsonable(value: Any) -> Any:
    """Return a strictly JSON-serialisable copy (non-finite floats become None, arrays summarised)."""
    if value is None or isinstance(value, bool | int | str):
        return db_text(value) if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, np.ndarray):
        if value.size <= 64:
            return jsonable(value.tolist())
        return f"<ndarray shape={list(value.shape)} dtype={value.dtype}>"
    if isinstance(value, dict):
        return {db_text(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump(mode="json"))
    return db_text(repr(value))[:200]


def session_record(row: SessionRow) -> SessionRecord:
    """Build a :class:`SessionRecord` from its row."""
    return SessionRecord(
        id=row.id, owner=row.owner, title=row.title, backend=row.backend,
        created_at=aware(row.created_at), updated_at=aware(row.updated_at),
    )


def mask_record(row: MaskRow, turn_index: int) -> MaskRecord:
    """Build a :class:`MaskRecord` from its row and its turn's index."""
    x, y, w, h = (int(v) for v in row.bbox)
    return MaskRecord(
        id=row.id, turn_id=row.turn_id, turn_index=turn_index, label=row.label, rle=dict(row.rle),
        area=row.area, bbox=(x, y, w, h), score=row.score, source=row.source, role=row.role,
    )


def intent_from_row(row: IntentRow) -> Intent:
    """Rebuild the :class:`Intent` stored in an intents row."""
    return Intent.model_validate(
        {
            "target": row.target, "attributes": row.attributes, "relations": row.relations,
            "exclusions": row.exclusions, "op": row.op, "history": row.history,
            "mask_id": row.mask_id,
        }
    )


def intent_values(intent: Intent, turn_id: int, mask_id: int | None) -> dict[str, Any]:
    """Column values of the intents row for ``intent`` attached to ``turn_id``."""
    data = intent.model_dump(mode="json")  # JSON-native already; no second walk needed
    return {
        "turn_id": turn_id, "target": None if intent.target is None else db_text(intent.target),
        "attributes": data["attributes"], "relations": data["relations"],
        "exclusions": data["exclusions"], "op": str(data["op"]), "history": data["history"],
        "mask_id": mask_id,
    }


def intent_row(intent: Intent, turn_id: int, mask_id: int | None) -> IntentRow:
    """Build the intents ORM row for ``intent`` attached to ``turn_id``."""
    return IntentRow(**intent_values(intent, turn_id, mask_id))


def tool_call_record(row: ToolCallRow) -> ToolCallRecord:
    """Build a :class:`ToolCallRecord` from its row."""
    return ToolCallRecord(
        id=row.id, turn_id=row.turn_id, tool=row.tool, args=dict(row.args),
        duration_ms=row.duration_ms, status=row.status, error=row.error,
    )


def turn_record(
    row: TurnRow,
    masks: list[MaskRow] | None = None,
    intent: IntentRow | None = None,
    tool_calls: list[ToolCallRow] | None = None,
) -> TurnRecord:
    """Build a :class:`TurnRecord`; children are passed explicitly so nothing lazy-loads."""
    return TurnRecord(
        id=row.id, session_id=row.session_id, index=row.index, role=row.role, text=row.text,
        act=row.act, status=row.status, error=row.error, image_sha=row.image_sha,
        latency_ms=row.latency_ms, created_at=aware(row.created_at),
        masks=[mask_record(m, row.index) for m in masks or []],
        intent=None if intent is None else intent_from_row(intent),
        tool_calls=[tool_call_record(t) for t in tool_calls or []],
    )


def turn_records(
    turns: Sequence[Any], masks: Sequence[Any], intents: Sequence[Any], calls: Sequence[Any]
) -> list[TurnRecord]:
    """Assemble turn records from flat rows of turns and their children (grouped by turn id)."""
    masks_by: dict[int, list[Any]] = defaultdict(list)
    calls_by: dict[int, list[Any]] = defaultdict(list)
    for m in masks:
        masks_by[m.turn_id].append(m)
    for c in calls:
        calls_by[c.turn_id].append(c)
    intent_by = {i.turn_id: i for i in intents}
    return [turn_record(t, masks_by.get(t.id), intent_by.get(t.id), calls_by.get(t.id)) for t in turns]
