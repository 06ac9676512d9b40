"""The eligibility roll: who may get a credential, and who has got one.

Kept apart from the log: no foreign key to any log table (docs/spec/issuance.md).

Revision ID: 0002_roll
Revises: 0001_log
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Registers roll_person and roll_share in SQLModel.metadata, the target_metadata
# of env.py (which imports only urne.ledger.log.models). Nothing below depends on it.
import urne.ledger.issuance.models  # noqa: F401

revision = "0002_roll"
down_revision = "0001_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roll_person",
        sa.Column("process_id", sa.Text(), nullable=False),
        sa.Column("person", sa.Text(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("issued", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("blinded_hash", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("process_id", "person", name="pk_roll_person"),
        sa.UniqueConstraint("process_id", "code_hash", name="uq_roll_person_code"),
    )
    op.create_table(
        "roll_share",
        sa.Column("process_id", sa.Text(), nullable=False),
        sa.Column("person", sa.Text(), nullable=False),
        sa.Column("share_index", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("process_id", "person", "share_index", name="pk_roll_share"),
        sa.ForeignKeyConstraint(
            ["process_id", "person"],
            ["roll_person.process_id", "roll_person.person"],
            name="fk_roll_share_person",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("roll_share")
    op.drop_table("roll_person")
