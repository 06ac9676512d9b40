"""One error shape for every 4xx/5xx answer: ``{"error": {"code", "message"}}``.

``code`` is stable (clients and tests match on it); ``message`` is for people.
Every refusal is an :class:`~urne.verifier.errors.UrneError` whose class
declares its HTTP status (the tree: ``urne.verifier.errors``,
``urne.ledger.errors``, ``urne.ledger.issuance``, and :class:`ApiError` here
for what the HTTP layer decides itself), so one handler answers them all, with
no table of codes:

- 400: the request is malformed (a ``FormatError``, an ``InvalidRequest``, a
  bad parameter);
- 401, 403: an unsigned or badly signed institution request; an entry whose
  author signature does not verify (``SignatureError``: for manifests,
  closes, results and paper batches the entry signature *is* the request's
  authentication);
- 404: no such entry, process, code; an unknown path (a browser, which asks
  for ``text/html``, is given the site's page saying so, where the app has
  pages; every other client this body);
- 409: the request conflicts with the state of a process or of the roll
  (``EntryConflict``, ``Conflict``, ...);
- 413, 415, 429: too large, not JSON, too many requests;
- 422: a well-formed entry that breaks a rule of its process (``EntryRefused``);
- 500: an unexpected failure (``internal_error``), with the same body;
- 503: the service's own storage or keys are in trouble (``LedgerError``,
  a broken sequencer).

The OpenAPI schema says so too: routes list their refusals with
:func:`error_responses`, and :func:`install_error_handlers` makes the schema
match the handlers (a failed parameter check is 400 ``invalid_parameter`` with
this body, not FastAPI's 422 with a list of details).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from urne.api.negotiation import weighted
from urne.verifier.errors import UrneError

__all__ = [
    "INVALID_PARAMETER",
    "ApiError",
    "BadRequest",
    "Conflict",
    "ErrorBody",
    "ErrorDetail",
    "Forbidden",
    "Missing",
    "NotFoundPage",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "error_response",
    "error_responses",
    "install_error_handlers",
    "wants_html",
]

_log = logging.getLogger("urne.api")

#: Stable codes of the refusals Starlette and FastAPI raise themselves.
_HTTP_CODES = {400: "invalid_parameter", 404: "not_found", 405: "method_not_allowed"}


class ApiError(UrneError):
    """A refusal decided by the HTTP layer itself (size, media type, rate,
    request signatures, ...). Raise one of the subclasses: each is a status."""

    code = "http_error"

    def __init__(self, code: str, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(message, code=code)
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class Missing(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class TooManyRequests(ApiError):
    status = 429


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="stable: clients match on it", examples=["no_entry"])
    message: str = Field(description="for people", examples=["no entry at index 9; the log has 7"])


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


#: The refusal of a parameter or body field outside its schema (the
#: ``RequestValidationError`` handler), for the ``responses=`` of a route.
INVALID_PARAMETER = "invalid_parameter: a parameter or field is missing or outside its schema"


def error_responses(refusals: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: for each status, which codes and when
    (docs/spec/api.md), all with the :class:`ErrorBody`."""
    return {status: {"model": ErrorBody, "description": why} for status, why in refusals.items()}


def error_response(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"code": code, "message": message}},
        headers=dict(headers) if headers else None,
    )


def install_error_handlers(app: FastAPI) -> None:
    """The handlers that give every refusal its status and :class:`ErrorBody`,
    and the schema that says so (:func:`_document_error_shape`)."""
    _document_error_shape(app)

    # Every refusal: its class declares the status.
    @app.exception_handler(UrneError)
    async def _refusal(_: Request, exc: UrneError) -> JSONResponse:
        return error_response(exc.status, exc.code, str(exc), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return error_response(400, "invalid_parameter", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # An unknown path, asked for by a browser: the site's page saying so
        # (urne.api.web.not_found_page, where the app has pages).
        page: NotFoundPage | None = getattr(request.app.state, "not_found_page", None)
        if exc.status_code == 404 and page is not None and wants_html(request):
            return page(request)
        # 400 is FastAPI's "error parsing the body" (a JSON body that is not UTF-8).
        # A 405 says which methods the path has (RFC 9110 §15.5.6): all of them,
        # where Starlette names only those of the first route that matched.
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    # Anything else is a bug: answered with the same body (never a traceback),
    # and logged with its traceback for the operator.
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.error(
            "unexpected failure answering %s %s", request.method, request.url.path, exc_info=exc
        )
        return error_response(
            500, "internal_error", "an unexpected failure; the operator's log has the details"
        )


#: Renders the HTML page of an unknown path (``app.state.not_found_page``).
NotFoundPage = Callable[[Request], Response]


def _quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives ``media_type`` itself (0 if unnamed):
    wildcards do not count, so ``*/*`` (curl, most API clients) names no page."""
    return max((q for kind, q in weighted(accept) if kind.lower() == media_type), default=0.0)


def wants_html(request: Request) -> bool:
    """Whether the client asked for an HTML page rather than JSON: a browser
    names ``text/html`` in ``Accept``; an API client names JSON, or nothing."""
    accept = request.headers.get("accept", "")
    html = _quality(accept, "text/html")
    return html > 0 and html >= _quality(accept, "application/json")


def _allowed_methods(request: Request) -> str:
    """Every method some route answers on this path (the routes of included
    routers too), for the ``Allow`` header of a 405."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_ERROR_REF = "#/components/schemas/ErrorBody"


def _document_error_shape(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe the answers the handlers above give.

    FastAPI documents a 422 ``HTTPValidationError`` on every route with
    parameters; the ``RequestValidationError`` handler answers 400
    ``invalid_parameter`` with an :class:`ErrorBody` instead. So, in the schema:
    that 422 becomes a 400 (unless the route documents its own 400), and every
    4xx or 5xx answer a route documents without a body gets the ErrorBody.
    Routes that really answer 422 (a rule of a process) say so with
    :func:`error_responses`.
    """
    build = app.openapi  # cached by FastAPI until the routes change

    def openapi() -> dict[str, Any]:
        return _with_error_shape(build())

    app.openapi = openapi  # type: ignore[method-assign]


def _with_error_shape(schema: dict[str, Any]) -> dict[str, Any]:
    """In place, and idempotent (FastAPI hands back the same cached schema)."""
    error_content = {"application/json": {"schema": {"$ref": _ERROR_REF}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            validation = responses.get("422", {})
            if "HTTPValidationError" in json.dumps(validation):
                del responses["422"]
                responses.setdefault(
                    "400", {"description": INVALID_PARAMETER, "content": error_content}
                )
            for status, response in responses.items():
                if status[:1] in ("4", "5") and "content" not in response:
                    response["content"] = error_content
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in {**body.pop("$defs", {}), "ErrorBody": body}.items():
        components.setdefault(name, definition)
    if not any(name in json.dumps(schema["paths"]) for name in _FASTAPI_VALIDATION):
        for name in _FASTAPI_VALIDATION:
            components.pop(name, None)
    return schema
