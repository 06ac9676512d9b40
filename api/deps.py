"""FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ledger import Log

__all__ = ["LogDep", "get_log"]


def get_log(request: Request) -> Log:
    log: Log = request.app.state.log
    return log


LogDep = Annotated[Log, Depends(get_log)]
