"""Apply the Alembic migrations in ``ledger/db/migrations`` to an engine.

Operators never run Alembic by hand: opening a log upgrades its database to the
newest schema first. ``alembic -c ledger/db/migrations/alembic.ini`` also works for
those who want to inspect or run migrations themselves.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from urne.ledger.db.engine import is_postgres

__all__ = ["MIGRATIONS", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Serialises concurrent first starts on PostgreSQL (two workers, one database).
_MIGRATION_LOCK_ID = 0x75726E66


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> None:
    cfg = alembic_config()
    with engine.connect().execution_options(urne_begin="IMMEDIATE") as conn:
        if is_postgres(engine):
            with conn.begin():
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        else:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
