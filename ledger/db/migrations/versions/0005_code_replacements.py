"""The codes the help desk replaced, one row each: counted and published,
never naming the person.

Revision ID: 0005_code_replacements
Revises: 0004_institutions_on_log
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_code_replacements"
down_revision = "0004_institutions_on_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roll_replacement",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("process_id", sa.Text(), nullable=False),
        sa.Column("replaced_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_roll_replacement"),
    )
    op.create_index("ix_roll_replacement_process_id", "roll_replacement", ["process_id"])


def downgrade() -> None:
    op.drop_index("ix_roll_replacement_process_id", table_name="roll_replacement")
    op.drop_table("roll_replacement")
