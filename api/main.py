"""The Urne HTTP service: assembles the routers around one open :class:`~ledger.Log`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import log as log_routes
from ledger import Log
from ledger.settings import Settings

__all__ = ["create_app"]


def open_log(settings: Settings) -> Log:
    return Log.open(
        settings.database_url,
        key_dir=settings.key_dir,
        origin=settings.origin,
        batch_wait=settings.batch_wait,
        max_batch=settings.max_batch,
    )


def create_app(log: Log | None = None, settings: Settings | None = None) -> FastAPI:
    """The app for ``log``, or for the log the settings name (opened at startup)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = log is None
        app.state.log = log if log is not None else open_log(settings or Settings())
        try:
            yield
        finally:
            if owned:
                app.state.log.close()

    app = FastAPI(
        title="Urne",
        summary="A transparent ballot box on a verifiable Merkle log.",
        version="0.1.0",
        lifespan=lifespan,
    )
    if log is not None:
        app.state.log = log
    install_error_handlers(app)
    app.include_router(log_routes.router)

    @app.get("/healthz", tags=["service"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
