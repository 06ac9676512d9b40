"""Witnesses' cosignatures of the log's checkpoints, one row per checkpoint
size and witness key.

Revision ID: 0006_cosignatures
Revises: 0005_code_replacements
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_cosignatures"
down_revision = "0005_code_replacements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_cosignature",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.Text(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness", name="pk_log_cosignature"),
    )


def downgrade() -> None:
    op.drop_table("log_cosignature")
