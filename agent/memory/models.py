"""SQLAlchemy 2.x typed ORM models of the memory database (sessions, images, turns, intents, masks, tool calls)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so migrations and metadata agree on every database."""

_clock_lock = threading.Lock()
_last_now = datetime.min.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Return a timezone-aware UTC timestamp, strictly increasing within the process (stable ordering)."""
    global _last_now
    with _clock_lock:
        now = datetime.now(UTC)
        if now <= _last_now:
            now = _last_now + timedelta(microseconds=1)
        _last_now = now
        return now


def new_session_id() -> str:
    """Return a fresh session id: a uuid4 as 32 lowercase hex digits."""
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata and naming convention."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: sa.JSON, list[Any]: sa.JSON}


class CreatedAtMixin:
    """Adds ``created_at`` (UTC, set on insert)."""

    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class TimestampsMixin(CreatedAtMixin):
    """Adds ``created_at`` and ``updated_at`` (UTC, bumped on every ORM update)."""

    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class SessionRow(TimestampsMixin, Base):
    """A chat session: one user's conversation about one or more images."""

    __tablename__ = "sessions"
    __table_args__ = (sa.Index("ix_sessions_owner_updated_at", "owner", "updated_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=new_session_id)
    owner: Mapped[str | None] = mapped_column(sa.Text)
    title: Mapped[str | None] = mapped_column(sa.Text)
    backend: Mapped[str] = mapped_column(sa.String(64), default="lite")

    turns: Mapped[list[TurnRow]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True,
        order_by="TurnRow.index",
    )


class ImageRow(CreatedAtMixin, Base):
    """An uploaded image, stored once per content hash and shared by sessions."""

    __tablename__ = "images"

    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    width: Mapped[int] = mapped_column(sa.Integer)
    height: Mapped[int] = mapped_column(sa.Integer)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)


class TurnRow(CreatedAtMixin, Base):
    """One message of a session; user turns start pending, assistant turns are written complete.

    A user turn ends ``ok`` (answered), ``failed`` (an error or a stop, with ``error``) or
    ``interrupted`` (the process answering it died or shut down; the app offers a retry).
    """

    __tablename__ = "turns"
    __table_args__ = (
        sa.Index("ix_turns_session_id_index", "session_id", "index", unique=True),
        sa.CheckConstraint("role IN ('user', 'assistant')", name="role"),
        sa.CheckConstraint(
            "status IN ('ok', 'pending', 'failed', 'interrupted')", name="status"
        ),
        sa.Index(
            "ix_turns_pending",
            "session_id",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        sa.String(32), sa.ForeignKey("sessions.id", ondelete="CASCADE")
    )
    index: Mapped[int] = mapped_column(sa.Integer)
    role: Mapped[str] = mapped_column(sa.String(16))
    text: Mapped[str] = mapped_column(sa.Text)
    act: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    error: Mapped[str | None] = mapped_column(sa.Text)
    image_sha: Mapped[str | None] = mapped_column(
        sa.String(64), sa.ForeignKey("images.sha256"), index=True
    )
    latency_ms: Mapped[float | None] = mapped_column(sa.Float)
    # A pending user turn is its session's turn lock (agent.memory.lock): the process answering
    # it and until when that holds unless the process renews it.
    runner: Mapped[str | None] = mapped_column(sa.String(96))
    lease_until: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    session: Mapped[SessionRow] = relationship(back_populates="turns")
    masks: Mapped[list[MaskRow]] = relationship(
        back_populates="turn", cascade="all, delete-orphan", passive_deletes=True,
        order_by="MaskRow.id",
    )
    intent: Mapped[IntentRow | None] = relationship(
        back_populates="turn", cascade="all, delete-orphan", passive_deletes=True, uselist=False
    )
    tool_calls: Mapped[list[ToolCallRow]] = relationship(
        back_populates="turn", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ToolCallRow.id",
    )


class IntentRow(Base):
    """The tracked intent as it stood after an assistant turn (one per turn at most)."""

    __tablename__ = "intents"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    turn_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("turns.id", ondelete="CASCADE"), unique=True
    )
    target: Mapped[str | None] = mapped_column(sa.Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    relations: Mapped[list[Any]] = mapped_column(sa.JSON)
    exclusions: Mapped[list[Any]] = mapped_column(sa.JSON)
    op: Mapped[str] = mapped_column(sa.String(16))
    history: Mapped[list[Any]] = mapped_column(sa.JSON)
    mask_id: Mapped[int | None] = mapped_column(sa.Integer)

    turn: Mapped[TurnRow] = relationship(back_populates="intent")


class MaskRow(CreatedAtMixin, Base):
    """A mask produced (or edited by the user) in an assistant turn, stored as COCO RLE."""

    __tablename__ = "masks"
    __table_args__ = (
        sa.CheckConstraint("source IN ('model', 'user-edit')", name="source"),
        sa.CheckConstraint("role IN ('target', 'instance', 'alternative')", name="role"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    turn_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("turns.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(sa.Text)
    rle: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    area: Mapped[int] = mapped_column(sa.Integer)
    bbox: Mapped[list[Any]] = mapped_column(sa.JSON)
    score: Mapped[float | None] = mapped_column(sa.Float)
    source: Mapped[str] = mapped_column(sa.String(16), default="model")
    role: Mapped[str] = mapped_column(sa.String(16), default="target", server_default="target")
    """``target`` (what the answer is about), ``instance`` (one of several targets) or
    ``alternative`` (a runner-up); see :class:`agent.types.MaskOut`."""

    turn: Mapped[TurnRow] = relationship(back_populates="masks")


class ToolCallRow(Base):
    """One tool invocation made while answering a turn (for tracing and latency analysis)."""

    __tablename__ = "tool_calls"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    turn_id: Mapped[int] = mapped_column(
        sa.Integer, sa.ForeignKey("turns.id", ondelete="CASCADE"), index=True
    )
    tool: Mapped[str] = mapped_column(sa.String(128))
    args: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    duration_ms: Mapped[float] = mapped_column(sa.Float)
    status: Mapped[str] = mapped_column(sa.String(16), default="ok")
    error: Mapped[str | None] = mapped_column(sa.Text)

    turn: Mapped[TurnRow] = relationship(back_populates="tool_calls")
