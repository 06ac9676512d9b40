"""The admission's snapshot at a checkpoint size (the civic record's state),
so that a restarted service catches up from there.

Revision ID: 0007_log_snapshot
Revises: 0006_cosignatures
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_log_snapshot"
down_revision = "0006_cosignatures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_snapshot",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name="pk_log_snapshot"),
    )


def downgrade() -> None:
    op.drop_table("log_snapshot")
