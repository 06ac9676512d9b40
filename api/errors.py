"""One error shape for every 4xx/5xx answer: ``{"error": {"code", "message"}}``.

``code`` is stable (clients and tests match on it); ``message`` is for people.
The status says which kind of problem it is (docs/api.md lists them all):

- 400: the request is malformed (``verifier`` ``FormatError``, ledger
  ``InvalidRequest``, a bad parameter);
- 403: an entry whose author signature does not verify (``SignatureError``):
  for manifests, closes, results and paper batches the entry signature *is* the
  request's authentication;
- 404: no such entry, process, code;
- 409: the request conflicts with the state of a process or of the roll
  (already signed, already voted, a stale ``seq``, a closed process, an
  answered code, ...);
- 413, 415, 429: too large, not JSON, too many requests;
- 422: a well-formed entry that breaks a rule of its process;
- 503: the service's own storage or keys are in trouble (``LedgerError``).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import InvalidRequest, LedgerError, NotFound
from verifier.errors import SignatureError, VerificationError
from verifier.process import EntryRefused

__all__ = [
    "ENTRY_CONFLICTS",
    "ApiError",
    "entry_refusal_status",
    "error_response",
    "install_error_handlers",
]

#: Entry refusals that conflict with the state of the process (409). The
#: deadlines (``process_not_open``, ``process_ended``) are states too: the same
#: entry is accepted at another time, like ``process_closed`` before the close.
ENTRY_CONFLICTS = frozenset(
    {
        "already_signed",
        "already_voted",
        "stale_seq",
        "process_exists",
        "process_closed",
        "process_not_open",
        "process_ended",
        "duplicate_batch",
    }
)

#: Ledger ``InvalidRequest`` codes whose status is not 400.
_LEDGER_STATUS = {
    "unknown_process": 404,  # issuance: no key for this process here
    "unknown_code": 404,
    "already_issued": 409,
    "blinded_mismatch": 409,
    "entry_too_large": 413,
}


class ApiError(Exception):
    """A refusal decided by the HTTP layer itself (size, media type, rate, ...)."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = dict(headers or {})


def entry_refusal_status(code: str) -> int:
    """The status of an ``EntryRefused`` with this code: 404, 409 or 422."""
    if code == "unknown_process":
        return 404
    if code in ENTRY_CONFLICTS:
        return 409
    return 422


def error_response(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code, "message": message}},
        headers=dict(headers) if headers else None,
    )


def install_error_handlers(app: FastAPI) -> None:
    # Starlette picks the handler of the most specific class in the exception's
    # MRO, so EntryRefused and SignatureError win over VerificationError.
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, str(exc), headers=exc.headers)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return error_response(404, exc.code, str(exc))

    @app.exception_handler(InvalidRequest)
    async def _invalid(_: Request, exc: InvalidRequest) -> JSONResponse:
        return error_response(_LEDGER_STATUS.get(exc.code, 400), exc.code, str(exc))

    @app.exception_handler(LedgerError)
    async def _ledger(_: Request, exc: LedgerError) -> JSONResponse:
        return error_response(503, exc.code, str(exc))

    @app.exception_handler(VerificationError)
    async def _verification(_: Request, exc: VerificationError) -> JSONResponse:
        return error_response(400, exc.code, str(exc))

    @app.exception_handler(SignatureError)
    async def _signature(_: Request, exc: SignatureError) -> JSONResponse:
        return error_response(403, exc.code, str(exc))

    @app.exception_handler(EntryRefused)
    async def _refused(_: Request, exc: EntryRefused) -> JSONResponse:
        return error_response(entry_refusal_status(exc.code), exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return error_response(400, "invalid_parameter", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))
