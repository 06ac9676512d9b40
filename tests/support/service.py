"""The service in-process (FastAPI's TestClient), and what the API tests share."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response

from tests.support.civic import (
    IN_2026,
    Citizen,
    Institution,
    authority_for,
    civic_knows,
    open_in,
    operator_of,
)
from urne.api.main import create_app
from urne.ledger.civic.record import CivicRecord
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.roll import import_roll
from urne.ledger.log import Log
from urne.verifier.check.receipt import Receipt, check_receipt
from urne.verifier.citizen.blinding import Pseudonym, blind, unblind
from urne.verifier.civic.entries import b64decode, b64encode
from urne.verifier.credentials.credential import ISSUER_PUBLIC_KEY_SIZE, credential_message
from urne.verifier.tlog.note import Ed25519Verifier


def issuer_public_key(client: TestClient, process_id: str) -> bytes:
    r = client.get(f"/issuance/{process_id}")
    assert r.status_code == 200, r.text
    return b64decode(
        r.json()["issuer"]["public_key"], "issuer.public_key", size=ISSUER_PUBLIC_KEY_SIZE
    )


def obtain_credential(client: TestClient, process_id: str, code: str) -> tuple[Pseudonym, bytes]:
    """What a citizen's device does: a fresh pseudonym, ``B = r·H(m)`` sent with
    the code, the answer unblinded and checked under the issuer's public key."""
    public_key = issuer_public_key(client, process_id)
    pseudonym = Pseudonym.generate()
    state, blinded = blind(credential_message(process_id, pseudonym.public_key))
    r = client.post(f"/issuance/{process_id}", json={"code": code, "blinded": b64encode(blinded)})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    credential = unblind(state, b64decode(r.json()["blind_signature"], "answer"), public_key)
    return pseudonym, credential


def blinded_b64(process_id: str = "consulta-2026") -> str:
    _, blinded = blind(credential_message(process_id, Pseudonym.generate().public_key))
    return b64encode(blinded)


def assert_error(r: Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]


JSON = {"Content-Type": "application/json"}


@dataclass
class Service:
    client: TestClient
    log: Log
    keyring: IssuerKeyring
    inst: Institution = field(default_factory=Institution)
    now: list[datetime] = field(default_factory=lambda: [IN_2026])

    def post(self, leaf: bytes, headers: dict[str, str] | None = None) -> Response:
        return self.client.post(
            "/entries", content=leaf, headers=JSON if headers is None else headers
        )

    def append(self, leaf: bytes) -> Receipt:
        """POST an entry that must be accepted; its receipt, checked as a citizen would."""
        r = self.post(leaf)
        assert r.status_code == 201, r.text
        receipt = Receipt.from_json(r.json())
        assert receipt.entry == leaf  # the very bytes that were signed, never re-serialised
        assert r.headers["location"] == f"/entries/{receipt.index}/receipt"
        assert check_receipt(receipt, self.log_key()).checkpoint.size > receipt.index
        return receipt

    def log_key(self) -> Ed25519Verifier:
        """The log's key as a citizen learns it: from ``GET /log``."""
        return Ed25519Verifier.from_vkey(self.client.get("/log").json()["verifier_key"])

    def open_process(
        self, pid: str, ptype: str, people: int = 4, **manifest: Any
    ) -> tuple[Receipt, list[str]]:
        """The issuer's key and roll, the registration of the institution (once)
        and the reservation of the id on the log, then the manifest signed by
        the institution."""
        self.keyring.create(pid)
        self.inst.issuers[pid] = self.keyring.signing_key(pid)
        codes = import_roll(
            self.log.engine, self.keyring, pid, [(f"{pid}-{i}",) for i in range(people)]
        )
        leaf = self.inst.process(pid, ptype, **manifest)
        for first in authority_for(
            leaf, operator_of(self.civic), registered=civic_knows(self.civic)
        ):
            self.append(first)
        return self.append(leaf), list(codes.codes.values())

    @property
    def civic(self) -> CivicRecord:
        civic: CivicRecord = self.client.app.state.civic  # type: ignore[attr-defined]
        return civic

    def citizen(self, pid: str, code: str) -> Citizen:
        pseudonym, credential = obtain_credential(self.client, pid, code)
        return Citizen(pid, pseudonym, credential)


def open_service(tmp: Path, **kwargs: Any) -> Iterator[Service]:
    log = Log.open(f"sqlite:///{tmp / 'log.db'}", key_dir=tmp / "keys", origin="civic.example/log")
    keyring = IssuerKeyring(tmp / "keys")
    now = [IN_2026]
    client = kwargs.pop("client", ("testclient", 50000))
    kwargs.setdefault("rate_limit", None)
    app = create_app(log, keyring=keyring, clock=lambda: now[0], **kwargs)
    with TestClient(app, client=client) as c:
        yield Service(c, log, keyring, now=now)
    log.close()


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port, as
    ``urne serve`` runs it (its lifespan included): its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@dataclass
class Served:
    """A service on a loopback port with its own issuer keys and roll, as
    ``urne serve`` runs one, for the citizen's side to talk to over HTTP."""

    url: str
    log: Log
    civic: CivicRecord
    keyring: IssuerKeyring
    inst: Institution

    def open(
        self,
        pid: str,
        ptype: str,
        people: int = 3,
        *,
        threshold: int = 1,
        shares: int = 1,
        **manifest: Any,
    ) -> list[str]:
        """A process opened on the log with the service's issuer key (``threshold``
        of ``shares``); its codes."""
        public_key = self.keyring.create(pid, threshold=threshold, shares=shares)
        if shares == 1:
            self.inst.issuers[pid] = self.keyring.signing_key(pid)
        issuer = {"public_key": b64encode(public_key), "threshold": threshold, "shares": shares}
        open_in(self.civic, self.inst.process(pid, ptype, issuer_key=issuer, **manifest))
        roll = [(f"{pid}-{i}",) for i in range(people)]
        return list(import_roll(self.log.engine, self.keyring, pid, roll).codes.values())

    def enrol(self, pid: str) -> Citizen:
        """A citizen with a credential obtained as a wallet does: a new person
        on the roll, their code and ``B`` sent to ``POST /issuance`` over HTTP,
        so that the issuer counts it (``urne-verify audit`` compares)."""
        person = f"{pid}-enrolled-{secrets.token_hex(6)}"
        [code] = import_roll(self.log.engine, self.keyring, pid, [(person,)]).codes.values()
        pseudonym = Pseudonym.generate()
        state, blinded = blind(credential_message(pid, pseudonym.public_key))
        r = httpx2.post(
            f"{self.url}/issuance/{pid}", json={"code": code, "blinded": b64encode(blinded)}
        )
        assert r.status_code == 200, r.text
        answer = b64decode(r.json()["blind_signature"], "answer")
        return Citizen(pid, pseudonym, unblind(state, answer, self.keyring.public_key(pid)))


@contextmanager
def served_app(
    directory: Path, *, clock: datetime = IN_2026, witnesses: int = 0
) -> Iterator[Served]:
    """A :class:`Served` service on an SQLite log in ``directory``, whose clock
    stands still at ``clock``; with ``witnesses``, that many witnesses
    cosign its checkpoints (all of them a quorum)."""
    from tests.support.witnessing import witness_servers
    from urne.ledger.log.witnessing import Witnessing

    with ExitStack() as stack:
        log = Log.open(
            f"sqlite:///{directory / 'log.db'}", key_dir=directory / "keys", origin="w.test/log"
        )
        stack.callback(log.close)
        witnessing = None
        if witnesses:
            endpoints = witness_servers(stack, directory, log, witnesses)
            witnessing = Witnessing(log, endpoints, interval=0.05)
            witnessing.start()
            stack.callback(witnessing.close)
        keyring = IssuerKeyring(directory / "keys")
        app = create_app(
            log, keyring=keyring, clock=lambda: clock, rate_limit=None, witnessing=witnessing
        )
        base = stack.enter_context(serving(app))
        yield Served(base, log, app.state.civic, keyring, Institution())
