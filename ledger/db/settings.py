"""Operator settings, from ``URNE_*`` environment variables (or a ``.env`` file).

``URNE_DATABASE_URL``, ``URNE_KEY_DIR``, ``URNE_ORIGIN``, ``URNE_BATCH_WAIT``,
``URNE_MAX_BATCH``, ``URNE_CREDENTIAL_PROCESSES``, ``URNE_HOST``, ``URNE_PORT``:
see docs/guides/operating.md for what each means. Unsafe or malformed values
are refused at start-up.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]

# C2SP tlog-checkpoint: the origin SHOULD be a schema-less URL; it is also the
# key name of a signed note, which may not contain whitespace or "+".
_ORIGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_/:~]*$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="URNE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///urne-data/urne.db"
    key_dir: Path = Path("urne-data/keys")
    origin: str = "urne.localhost/log"
    batch_wait: float = Field(default=0.0, ge=0.0, le=0.5)
    max_batch: int = Field(default=20000, ge=1, le=1_000_000)
    #: processes verifying credentials; None: one per CPU; 0: threads of the service
    credential_processes: int | None = Field(default=None, ge=0, le=256)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @field_validator("origin")
    @classmethod
    def _origin_is_a_key_name(cls, v: str) -> str:
        if not _ORIGIN.fullmatch(v):
            raise ValueError(
                "origin must be a schema-less URL such as 'vote.example.org/log' "
                "(no spaces, no '+', no scheme)"
            )
        return v

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("database_url must be a sqlite:/// or postgresql:// URL")
        return v
