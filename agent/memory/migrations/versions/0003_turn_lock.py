"""Turn lock and interrupted turns: turns.runner/lease_until, a pending-turns index, status 'interrupted'.

Revision ID: 0003_turn_lock
Revises: 0002_mask_role
Create Date: 2026-12-01
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0003_turn_lock"
down_revision = "0002_mask_role"
branch_labels = None
depends_on = None

_TURNS = sa.table(
    "turns", sa.column("role", sa.String), sa.column("status", sa.String), sa.column("error", sa.Text)
)
_PENDING = "status = 'pending'"
_WITH = "'ok', 'pending', 'failed', 'interrupted'"
_WITHOUT = "'ok', 'pending', 'failed'"


def _set_status_check(values: str) -> None:
    """Make ``ck_turns_status`` allow ``values``, without rebuilding the turns table.

    On SQLite a CHECK cannot be altered, and rebuilding ``turns`` (Alembic's batch mode) drops
    the old table, which with foreign keys on cascade-deletes every mask, intent and tool call
    whenever the caller's connection has them on. Instead the table's definition is edited in
    place, the procedure SQLite documents for changing CHECK constraints ("Making Other Kinds Of
    Table Schema Changes"): the stored rows satisfy both the old and the new constraint.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_turns_status"), "turns", type_="check")
        op.create_check_constraint(op.f("ck_turns_status"), "turns", f"status IN ({values})")
        return
    table_sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'turns'").scalar_one()
    edited, found = re.subn(
        r"(CONSTRAINT ck_turns_status CHECK \(status IN \()[^)]*(\)\))", rf"\g<1>{values}\g<2>", table_sql
    )
    if found != 1:
        raise RuntimeError("turns has no ck_turns_status constraint to change")
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'turns'", (edited,)
        )
        bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    if bind.exec_driver_sql("PRAGMA quick_check").scalar_one() != "ok":
        raise RuntimeError("the database failed its check after changing ck_turns_status")


def upgrade() -> None:
    """Add the lock columns, the index and the status; turns older versions left pending are interrupted."""
    op.add_column("turns", sa.Column("runner", sa.String(length=96), nullable=True))
    op.add_column("turns", sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    _set_status_check(_WITH)
    # Before this revision nothing said who was answering a pending turn; any left is from a
    # process that is gone (migrations run when a process starts, before it answers anything).
    op.execute(
        _TURNS.update()
        .where(_TURNS.c.role == "user", _TURNS.c.status == "pending")
        .values(status="interrupted", error="interrupted: the app stopped before answering")
    )
    op.create_index(
        "ix_turns_pending",
        "turns",
        ["session_id"],
        sqlite_where=sa.text(_PENDING),
        postgresql_where=sa.text(_PENDING),
    )


def downgrade() -> None:
    """Drop the lock columns and the index; interrupted turns become failed."""
    op.drop_index("ix_turns_pending", table_name="turns")
    op.execute(_TURNS.update().where(_TURNS.c.status == "interrupted").values(status="failed"))
    _set_status_check(_WITHOUT)
    op.drop_column("turns", "lease_until")  # SQLite 3.35+ drops a plain column in place
    op.drop_column("turns", "runner")
