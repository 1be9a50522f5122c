"""Turn lock and interrupted turns: turns.runner/lease_until, a pending-turns index, status 'interrupted'.

Revision ID: 0003_turn_lock
Revises: 0002_mask_role
Create Date: 2025-06-01
"""

from __future__ import annotations

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


def upgrade() -> None:
    """Add the lock columns, the index and the status; turns older versions left pending are interrupted."""
    with op.batch_alter_table("turns") as batch:
        batch.add_column(sa.Column("runner", sa.String(length=96), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint(op.f("ck_turns_status"), type_="check")
        batch.create_check_constraint(
            op.f("ck_turns_status"), "status IN ('ok', 'pending', 'failed', 'interrupted')"
        )
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
    with op.batch_alter_table("turns") as batch:
        batch.drop_constraint(op.f("ck_turns_status"), type_="check")
        batch.create_check_constraint(op.f("ck_turns_status"), "status IN ('ok', 'pending', 'failed')")
        batch.drop_column("lease_until")
        batch.drop_column("runner")
