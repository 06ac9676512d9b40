"""The server-rendered pages: processes, and the receipt check in the browser."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def install(app: object) -> None:
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)
    app.include_router(router)
