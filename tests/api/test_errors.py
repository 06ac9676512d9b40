"""The one error model: every refusal class declares a stable code and an HTTP
status, and the service answers each with the documented body."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import urne.api
import urne.ledger
import urne.verifier
from tests.support.service import assert_error
from urne.api.client import ServiceError
from urne.api.errors import ApiError, install_error_handlers
from urne.verifier.citizen.service import ServiceRefused
from urne.verifier.civic.budget import BallotConstraintError
from urne.verifier.errors import FetchError, UrneError, VerificationError

STATUSES = {400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 502, 503}


def _every_refusal_class() -> list[type[UrneError]]:
    for package in (urne.verifier, urne.ledger, urne.api):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    found: list[type[UrneError]] = []
    todo: list[type[UrneError]] = [UrneError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_refusal_class_declares_a_code_and_a_status() -> None:
    classes = _every_refusal_class()
    assert len(classes) > 30
    for cls in classes:
        assert isinstance(cls.code, str) and cls.code, cls
        assert cls.status in STATUSES, (cls, cls.status)


def test_could_not_check_is_never_invalid() -> None:
    both = [
        c
        for c in _every_refusal_class()
        if issubclass(c, FetchError) and issubclass(c, VerificationError)
    ]
    assert both == []


#: The clients' records of a remote answer carry the status they were given.
_NOT_RAISED_BY_THE_SERVICE = {ServiceError, ServiceRefused}


@pytest.mark.parametrize(
    "cls",
    [c for c in _every_refusal_class() if c not in _NOT_RAISED_BY_THE_SERVICE],
    ids=lambda c: f"{c.__module__}.{c.__qualname__}",
)
def test_the_service_answers_each_class_with_its_status_and_code(cls: type[UrneError]) -> None:
    app = FastAPI()
    install_error_handlers(app)
    # Most take a message; those whose instances name their own code take it first.
    coded = issubclass(cls, ApiError | BallotConstraintError)
    error = (
        cls("refused_for_the_test", "refused, for the test")  # type: ignore[call-arg]
        if coded
        else cls("refused, for the test")
    )

    @app.get("/refuse")
    def refuse() -> None:
        raise error

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/refuse")
    assert_error(r, cls.status, error.code)
    assert r.json()["error"]["message"] == "refused, for the test"


def test_an_unexpected_exception_is_a_500_with_the_body(tmp_path: Path) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/bug")
    def bug() -> None:
        raise KeyError("a bug")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/bug")
    assert_error(r, 500, "internal_error")
    assert "a bug" not in r.text  # no internals in the answer
