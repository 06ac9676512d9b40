"""Registered institutions, the nonces of their signed requests, and which
institution created each process's issuer key.

In the issuance database, beside the roll; no foreign key to any log table.

Revision ID: 0003_institutions
Revises: 0002_roll
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Registers the tables in SQLModel.metadata, the target_metadata of env.py
# (which imports only urne.ledger.log.models). Nothing below depends on it.
import urne.ledger.institutions.models  # noqa: F401

revision = "0003_institutions"
down_revision = "0002_roll"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "institution",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_institution"),
        sa.UniqueConstraint("public_key", name="uq_institution_key"),
    )
    op.create_table(
        "institution_nonce",
        sa.Column("institution", sa.Text(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("institution", "nonce", name="pk_institution_nonce"),
        sa.ForeignKeyConstraint(
            ["institution"],
            ["institution.name"],
            name="fk_institution_nonce_institution",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_institution_nonce_created", "institution_nonce", ["created"])
    op.create_table(
        "institution_process",
        sa.Column("process_id", sa.Text(), nullable=False),
        sa.Column("institution", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("process_id", name="pk_institution_process"),
        sa.ForeignKeyConstraint(
            ["institution"], ["institution.name"], name="fk_institution_process_institution"
        ),
    )


def downgrade() -> None:
    op.drop_table("institution_process")
    op.drop_index("ix_institution_nonce_created", table_name="institution_nonce")
    op.drop_table("institution_nonce")
    op.drop_table("institution")
