"""Institutions are registered on the log: the nonces of their requests and
the owners of issuer keys no longer refer to the ``institution`` table, whose
rows the service registers on the log at start and then deletes
(``urne.ledger.civic.authority.carry_registrations``).

Revision ID: 0004_institutions_on_log
Revises: 0003_institutions
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0004_institutions_on_log"
down_revision = "0003_institutions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table, PostgreSQL alters it in place
    with op.batch_alter_table("institution_nonce") as batch:
        batch.drop_constraint("fk_institution_nonce_institution", type_="foreignkey")
    with op.batch_alter_table("institution_process") as batch:
        batch.drop_constraint("fk_institution_process_institution", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("institution_process") as batch:
        batch.create_foreign_key(
            "fk_institution_process_institution", "institution", ["institution"], ["name"]
        )
    with op.batch_alter_table("institution_nonce") as batch:
        batch.create_foreign_key(
            "fk_institution_nonce_institution",
            "institution",
            ["institution"],
            ["name"],
            ondelete="CASCADE",
        )
