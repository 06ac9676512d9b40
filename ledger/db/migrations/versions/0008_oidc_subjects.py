"""The people an identity provider vouched for and who were answered: a keyed
hash of the provider's subject, never the subject (docs/spec/eligibility.md §3).

Revision ID: 0008_oidc_subjects
Revises: 0007_log_snapshot
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_oidc_subjects"
down_revision = "0007_log_snapshot"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_subject",
        sa.Column("process_id", sa.Text(), nullable=False),
        sa.Column("subject_hash", sa.LargeBinary(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("blinded_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("process_id", "subject_hash", name="pk_oidc_subject"),
    )


def downgrade() -> None:
    op.drop_table("oidc_subject")
