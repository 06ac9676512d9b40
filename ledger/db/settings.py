"""Operator settings, from ``URNE_*`` environment variables (or a ``.env`` file).

``URNE_DATABASE_URL``, ``URNE_ISSUANCE_DATABASE_URL``, ``URNE_KEY_DIR``,
``URNE_ORIGIN``, ``URNE_BATCH_WAIT``, ``URNE_BATCH_INTERVAL``, ``URNE_MAX_BATCH``,
``URNE_CREDENTIAL_PROCESSES``, ``URNE_HOST``, ``URNE_PORT``,
``URNE_PUBLIC_AUTHORITY``, ``URNE_FORWARDED_ALLOW_IPS``, ``URNE_WITNESSES``,
``URNE_WITNESS_QUORUM``, ``URNE_RATE_LIMIT_URL``, ``URNE_LOG_URL``,
``URNE_LOG_KEY``, ``URNE_LOG_WITNESSES``, ``URNE_LOG_WITNESS_QUORUM``: see
docs/guides/operating.md for what each means. Unsafe or malformed values are
refused at start-up.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from urne.verifier.tlog.cosignature import WitnessPolicy

__all__ = ["Settings"]

# C2SP tlog-checkpoint: the origin SHOULD be a schema-less URL; it is also the
# key name of a signed note, which may not contain whitespace or "+".
_ORIGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_/:~]*$")
# RFC 3986 §3.2.2: a DNS name or IPv4 address, or an IPv6 address in brackets,
# then an optional port (its range is checked apart). The service's side of
# the check (urne.api.signing.check_authority) accepts the same values.
_AUTHORITY = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9.\-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::([1-9][0-9]{0,4}))?"
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="URNE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///urne-data/urne.db"
    #: the roll, the codes and who was answered: apart from the log, so that no
    #: transaction id or file of one orders the other (docs/threat-model.md §2)
    issuance_database_url: str = "sqlite:///urne-data/issuance.db"
    key_dir: Path = Path("urne-data/keys")
    origin: str = "urne.localhost/log"
    batch_wait: float = Field(default=0.0, ge=0.0, le=0.5)
    #: seconds between two batch commits; 0: commit as soon as the last ends.
    #: A fixed cadence hides when, within it, an entry arrived.
    batch_interval: float = Field(default=0.05, ge=0.0, le=60.0)
    max_batch: int = Field(default=20000, ge=1, le=1_000_000)
    #: processes verifying credentials; None: one per CPU; 0: threads of the service
    credential_processes: int | None = Field(default=None, ge=0, le=256)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: ``host[:port]`` of the URL clients use; institutions sign it (RFC 9421
    #: §2.2.3). None: the address the service listens on.
    public_authority: str | None = None
    #: reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed:
    #: comma-separated addresses or networks, or ``*``; empty: none.
    forwarded_allow_ips: str = ""
    #: witnesses the log submits its checkpoints to: ``VKEY@URL``, comma-separated
    witnesses: str = ""
    #: how many of them make a checkpoint cosigned; None: all of them
    witness_quorum: int | None = Field(default=None, ge=0, le=100)
    #: ``redis://host:port/db``: the rate limit's buckets in Redis, shared by
    #: every service process using it; empty: each process its own, in memory
    rate_limit_url: str = ""
    #: ``s3://bucket[/prefix]``: where ``urne serve`` (and ``urne publish``)
    #: publish the log's tiles and checkpoint; empty: nowhere
    tiles_bucket: str = ""
    #: the S3 API's address for ``tiles_bucket``; empty: AWS's
    tiles_endpoint: str = ""
    #: an issuance host apart from the log: the log's service, where it reads
    #: (and proves, under ``log_key``) the manifests of processes whose
    #: eligibility comes from an identity provider; empty: not read
    log_url: str = ""
    #: the log's verifier key (``origin+hash+key``), as the operator publishes it
    log_key: str = ""
    #: witnesses whose cosignatures that issuance host requires on a
    #: manifest's checkpoint: their verifier keys, comma-separated; empty: none
    log_witnesses: str = ""
    #: how many of them; None: all of them
    log_witness_quorum: int | None = Field(default=None, ge=0, le=100)

    @field_validator("log_url")
    @classmethod
    def _an_http_url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if v and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", v):
            raise ValueError(f"URNE_LOG_URL must be the log service's http(s) address, not {v!r}")
        return v

    @field_validator("log_key")
    @classmethod
    def _a_verifier_key(cls, v: str) -> str:
        from urne.verifier.errors import FormatError
        from urne.verifier.tlog.note import Ed25519Verifier

        v = v.strip()
        if v:
            try:
                Ed25519Verifier.from_vkey(v)
            except FormatError as exc:
                raise ValueError(f"URNE_LOG_KEY is not a verifier key: {exc}") from exc
        return v

    @model_validator(mode="after")
    def _log_url_with_its_key(self) -> Settings:
        if bool(self.log_url) != bool(self.log_key):
            raise ValueError("URNE_LOG_URL and URNE_LOG_KEY go together: the log, and its key")
        if self.log_witnesses and not self.log_url:
            raise ValueError("URNE_LOG_WITNESSES needs URNE_LOG_URL and URNE_LOG_KEY")
        self.log_policy()  # refused here, at start-up, rather than at the first request
        return self

    def log_policy(self) -> WitnessPolicy | None:
        """The witnesses an issuance host apart requires on a manifest, if any."""
        from urne.verifier.errors import FormatError
        from urne.verifier.tlog.cosignature import WitnessPolicy

        vkeys = [v.strip() for v in self.log_witnesses.split(",") if v.strip()]
        if not vkeys:
            return None
        try:
            return WitnessPolicy.of(vkeys, self.log_witness_quorum)
        except FormatError as exc:
            raise ValueError(f"URNE_LOG_WITNESSES: {exc}") from exc

    @field_validator("tiles_bucket")
    @classmethod
    def _an_s3_url(cls, v: str) -> str:
        v = v.strip()
        if v and not v.startswith("s3://"):
            raise ValueError(f"URNE_TILES_BUCKET must be an s3://bucket[/prefix] URL, not {v!r}")
        return v

    @field_validator("rate_limit_url")
    @classmethod
    def _a_redis_url(cls, v: str) -> str:
        v = v.strip()
        if v and not re.match(r"^(redis|rediss|unix)://", v):
            raise ValueError(
                f"URNE_RATE_LIMIT_URL must be a redis://, rediss:// or unix:// URL, not {v!r}"
            )
        return v

    @model_validator(mode="after")
    def _issuance_apart_from_the_log(self) -> Settings:
        if self.issuance_database_url.strip() == self.database_url.strip():
            raise ValueError(
                "the issuance database (URNE_ISSUANCE_DATABASE_URL) must not be the log's "
                "(URNE_DATABASE_URL): who was answered when, beside the log, orders ballots "
                "by person; give it its own SQLite file, or a PostgreSQL server of its own"
            )
        return self

    @model_validator(mode="after")
    def _a_quorum_of_the_witnesses(self) -> Settings:
        n = len([w for w in self.witnesses.split(",") if w.strip()])
        if self.witness_quorum is not None and self.witness_quorum > n:
            raise ValueError(
                f"witness_quorum is {self.witness_quorum}, but {n} witnesses are configured "
                "(URNE_WITNESSES)"
            )
        return self

    @field_validator("origin")
    @classmethod
    def _origin_is_a_key_name(cls, v: str) -> str:
        if not _ORIGIN.fullmatch(v):
            raise ValueError(
                "origin must be a schema-less URL such as 'vote.example.org/log' "
                "(no spaces, no '+', no scheme)"
            )
        return v

    @field_validator("public_authority")
    @classmethod
    def _authority_as_clients_sign_it(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        value = v.strip().lower()
        m = _AUTHORITY.fullmatch(value)
        if m is None or not 1 <= int(m.group(1) or 1) <= 65535:
            raise ValueError(
                "public_authority must be host[:port] as clients write it in the service's "
                "URL, such as 'vote.example.org' (no scheme, no path)"
            )
        if m.group(1) in ("80", "443"):
            raise ValueError(
                "public_authority: leave out the default port (80, 443); clients sign the "
                "authority without it (RFC 9110 §4.2.3)"
            )
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, v: str) -> str:
        items = [item.strip() for item in v.split(",") if item.strip()]
        if "*" in items:
            return "*"
        for item in items:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"forwarded_allow_ips: {item!r} is not an IP address or network "
                    "(give the reverse proxy's, e.g. 127.0.0.1 or 10.0.0.0/8, or *)"
                ) from exc
        return ",".join(items)

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("database_url must be a sqlite:/// or postgresql:// URL")
        return v
