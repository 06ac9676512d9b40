"""The Urne HTTP service: assembles the routers around one open :class:`~ledger.Log`.

Two roles, which an operator may serve from one app or from two hosts:

- casting (``casting=True``): the log (tiles, checkpoints, proofs), the
  processes and ``POST /entries``, on a :class:`~urne.ledger.civic.record.CivicRecord`;
- issuance (``issuance=True``): ``/issuance/*``, on the roll and the issuer
  keys. An issuance-only app (``casting=False``) never opens the log.

The institutions' routes (``/institution/*``) read their registrations on the
log and append the reservations of process ids, so they are served with
casting; they also reach the roll and the issuer keys.

Privacy: no client address is stored or logged with anything. The rate limit
keeps addresses in memory only, and the uvicorn access log is given a filter
that blanks the client's address.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from urne.api import take_part, web
from urne.api.deps import RateLimit, TokenBuckets
from urne.api.errors import install_error_handlers
from urne.api.ratelimit import RedisBuckets, rate_limit_secret
from urne.api.routes import civic as civic_routes
from urne.api.routes import institution as institution_routes
from urne.api.routes import issuance as issuance_routes
from urne.api.routes import log as log_routes
from urne.api.routes import opendata as opendata_routes
from urne.api.signing import check_authority
from urne.ledger.civic.authority import carry_registrations
from urne.ledger.civic.record import CivicRecord, CredentialBatcher
from urne.ledger.db.settings import Settings
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.manifests import LogManifests
from urne.ledger.issuance.oidc import ProvidersFile
from urne.ledger.issuance.roll import open_roll
from urne.ledger.log import Log
from urne.ledger.log.witnessing import Witnessing, parse_witnesses
from urne.verifier.tlog.note import Ed25519Verifier

__all__ = ["DEFAULT_RATE_LIMIT", "create_app", "open_log"]

#: Per client address, on ``POST /entries`` and ``POST /issuance/*``.
DEFAULT_RATE_LIMIT = RateLimit(burst=60, per_second=1.0)


def open_log(settings: Settings) -> Log:
    return Log.open(
        settings.database_url,
        key_dir=settings.key_dir,
        origin=settings.origin,
        batch_wait=settings.batch_wait,
        max_batch=settings.max_batch,
        batch_interval=settings.batch_interval,
    )


def credential_batcher(settings: Settings) -> CredentialBatcher:
    """Credentials verified in ``URNE_CREDENTIAL_PROCESSES`` worker processes
    (default: one per CPU), so that the event loop keeps its core."""
    n = settings.credential_processes
    return CredentialBatcher(processes=os.cpu_count() or 1 if n is None else n)


def civic_record(log: Log, clock: Callable[[], datetime] | None = None) -> CivicRecord:
    """The log's civic record: the one already attached, or a new one."""
    if isinstance(log.admission, CivicRecord) and clock is None:
        return log.admission
    return CivicRecord(log) if clock is None else CivicRecord(log, clock=clock)


class _HideClientAddress(logging.Filter):
    """Blank the client address of uvicorn's access log lines
    (``'%s - "%s %s HTTP/%s" %d'``, the address first): a line with the time,
    the address and ``POST /entries`` would link a person to a ballot."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = ("-", *record.args[1:])
        return True


def _hide_client_addresses() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _HideClientAddress) for f in access.filters):
        access.addFilter(_HideClientAddress())


def create_app(
    log: Log | None = None,
    settings: Settings | None = None,
    *,
    casting: bool = True,
    issuance: bool = True,
    roll: Engine | None = None,
    keyring: IssuerKeyring | None = None,
    clock: Callable[[], datetime] | None = None,
    rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
    public_authority: str | None = None,
    witnessing: Witnessing | None = None,
) -> FastAPI:
    """The app for ``log``, or for the log the settings name (opened at startup).

    ``roll`` (the issuance database) defaults to the settings'
    ``issuance_database_url``, apart from the log's; given a log and no
    settings (embedded use: tests, one-file demos), to the log's database.
    ``keyring`` defaults to ``settings.key_dir``.
    ``clock`` is the civic record's (deadlines); ``rate_limit=None`` turns the
    rate limit off.

    ``public_authority`` (default: the settings' ``URNE_PUBLIC_AUTHORITY``) is
    the ``host[:port]`` clients use to reach the service, which institutions
    sign (docs/spec/api.md §6, RFC 9421 §2.2.3); if neither names one, the
    address of the socket each request arrives on
    (``urne.api.auth.service_authority``).

    ``witnessing`` gathers witnesses' cosignatures of the log's checkpoints
    (started and closed by its owner); default: the settings' ``URNE_WITNESSES``,
    started with the app and closed with it.
    """
    if not (casting or issuance):
        raise ValueError("an app serves casting, issuance or both")
    if public_authority is not None:
        public_authority = check_authority(public_authority)

    def attach(app: FastAPI, s: Settings | None, opened: list[Callable[[], Any]]) -> None:
        """Put the services on ``app.state``; ``opened`` collects what to close."""
        state = app.state
        if casting and state.log is None:
            state.log = open_log(s or Settings())
            opened.append(state.log.close)
        if casting and state.civic is None:
            state.civic = civic = civic_record(state.log, clock)
            opened.append(civic.close)  # the last snapshot, before the log closes
            if s is not None and civic.credentials.processes == 0:
                civic.credentials = credential_batcher(s)
                opened.append(civic.credentials.close)
                civic.credentials.start()
        if state.roll is None:
            if s is None and state.log is not None:
                state.roll = state.log.engine  # embedded use (tests, a demo in one file)
            else:
                state.roll = open_roll((s or Settings()).issuance_database_url)
                opened.append(state.roll.dispose)
        if state.keyring is None:
            state.keyring = IssuerKeyring((s or Settings()).key_dir)
        if not casting and issuance and s is not None and s.log_url:
            # an issuance host apart from the log: manifests read from the log's
            # service and proven under its key (docs/spec/eligibility.md §5)
            state.manifests = LogManifests(
                s.log_url,
                Ed25519Verifier.from_vkey(s.log_key),
                state.keyring,
                policy=s.log_policy(),
                clock=clock or (lambda: datetime.now(UTC)),
            )
            state.manifests.start()
            opened.append(state.manifests.close)
        if issuance and getattr(state, "providers", None) is None:
            # the identity providers' registrations: a damaged or unsafe file
            # stops the start, rather than every request through a provider
            state.providers = ProvidersFile(state.keyring)
            state.providers.current()
        if state.civic is not None:
            carry_registrations(state.civic, state.roll)
        if casting and getattr(state, "witnessing", None) is None and s is not None and s.witnesses:
            state.witnessing = Witnessing(state.log, parse_witnesses(s.witnesses), s.witness_quorum)
            state.witnessing.start()
            opened.append(state.witnessing.close)
        publishing = getattr(state, "publisher", None) is None
        if casting and s is not None and s.tiles_bucket and publishing:
            from urne.ledger.log.bucket import Publisher, TileBucket

            bucket = TileBucket(s.tiles_bucket, endpoint=s.tiles_endpoint or None)
            state.publisher = Publisher(
                state.log, bucket, witnessing=getattr(state, "witnessing", None)
            )
            state.publisher.start()
            opened.append(state.publisher.close)
        if s is not None and s.rate_limit_url and isinstance(state.rate_limiter, TokenBuckets):
            local = state.rate_limiter
            shared = RedisBuckets(
                local.limit, s.rate_limit_url, rate_limit_secret(s.key_dir), fallback=local
            )
            state.rate_limiter = shared
            opened.append(shared.close)  # a coroutine: awaited by the lifespan
        if state.public_authority is None:
            configured = (s or Settings()).public_authority
            state.public_authority = check_authority(configured) if configured else None

    attached: list[Callable[[], Any]] = []  # what attaching at creation opened

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened: list[Callable[[], Any]] = attached
        try:
            attach(app, settings, opened)
            yield
        finally:
            for close in reversed(opened):
                done = close()
                if inspect.isawaitable(done):
                    await done
            opened.clear()

    app = FastAPI(
        title="Urne",
        summary="A transparent ballot box on a verifiable Merkle log.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served below, from vendored files: no CDN
        redoc_url=None,
    )
    app.state.log = log
    app.state.civic = None
    app.state.roll = roll
    app.state.keyring = keyring
    app.state.rate_limiter = TokenBuckets(rate_limit) if rate_limit is not None else None
    app.state.public_authority = public_authority
    app.state.witnessing = witnessing
    if log is not None:  # usable at once, with or without the lifespan
        attach(app, settings, attached)
    install_error_handlers(app)
    _hide_client_addresses()
    if casting:
        app.include_router(log_routes.router)
        app.include_router(civic_routes.router)
        app.include_router(civic_routes.entries)
        app.add_middleware(civic_routes.EntriesFastPath)
        app.include_router(opendata_routes.router)
        web.install(app)
        take_part.install(app)
    if issuance:
        app.include_router(issuance_routes.router)
        app.add_middleware(issuance_routes.IssuanceCors)
    if casting:  # they reserve ids and read registrations on the log
        app.include_router(institution_routes.router)

    web.install_docs(app)

    @app.get("/healthz", tags=["service"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
