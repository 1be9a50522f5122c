"""Masks get a role: the answer's target, one instance of several targets, or an alternative.

Existing masks: the first mask of each turn was the answer's target and the others were
runners-up, so they become ``alternative``.

Revision ID: 0002_mask_role
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_mask_role"
down_revision = "0001"
branch_labels = None
depends_on = None

ROLES = "role IN ('target', 'instance', 'alternative')"


def upgrade() -> None:
    """Add ``masks.role`` (default ``target``) and mark every non-first mask of a turn ``alternative``."""
    with op.batch_alter_table("masks") as batch:
        batch.add_column(
            sa.Column("role", sa.String(length=16), nullable=False, server_default="target")
        )
        batch.create_check_constraint("role", ROLES)
    op.execute(
        "UPDATE masks SET role = 'alternative' WHERE id NOT IN "
        "(SELECT first_id FROM (SELECT MIN(id) AS first_id FROM masks GROUP BY turn_id) AS firsts)"
    )


def downgrade() -> None:
    """Drop ``masks.role``."""
    with op.batch_alter_table("masks") as batch:
        batch.drop_constraint("role", type_="check")
        batch.drop_column("role")
