"""SQL memory of pixelrs: sessions, images, turns, intents, masks and tool calls (SQLAlchemy + Alembic)."""

from agent.memory.engine import make_engine
from agent.memory.exceptions import UnknownImageError, UnknownMaskError, UnknownTurnError
from agent.memory.migrate import alembic_config, current_revision, upgrade
from agent.memory.models import Base
from agent.memory.records import (
    MaskRecord,
    Recall,
    SessionHistory,
    SessionRecord,
    SessionSummary,
    ToolCallIn,
    ToolCallRecord,
    TurnRecord,
)
from agent.memory.store import Memory

__all__ = [
    "Base",
    "MaskRecord",
    "Memory",
    "Recall",
    "SessionHistory",
    "SessionRecord",
    "SessionSummary",
    "ToolCallIn",
    "ToolCallRecord",
    "TurnRecord",
    "UnknownImageError",
    "UnknownMaskError",
    "UnknownTurnError",
    "alembic_config",
    "current_revision",
    "make_engine",
    "upgrade",
]
