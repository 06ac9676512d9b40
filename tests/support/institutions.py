"""An app serving institutions' signed requests on a log of its own, and the
two institutions the tests sign with (docs/spec/api.md §6)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.engine import Engine

from tests.support.civic import IN_2026
from urne.api.client import InstitutionKey, sign_request
from urne.api.main import create_app
from urne.ledger.civic.authority import register_institution
from urne.ledger.civic.record import CivicRecord
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.log import Log
from urne.verifier.civic.entries import Reservation, decode_entry

#: The authority the test client reaches the service at (``http://testserver``).
SERVICE = "testserver"
ORIGIN = "institutions.test/log"


@dataclass
class Service:
    client: TestClient
    log: Log
    roll: Engine
    keyring: IssuerKeyring
    city: InstitutionKey
    county: InstitutionKey
    #: the log's database and key directory, for a second service process on them
    log_url: str
    key_dir: Path
    #: the service's clock (deadlines)
    now: list[datetime] = field(default_factory=lambda: [IN_2026])

    @property
    def civic(self) -> CivicRecord:
        civic: CivicRecord = self.client.app.state.civic
        return civic

    def signed(
        self,
        method: str,
        path: str,
        obj: object = None,
        *,
        key: InstitutionKey | None = None,
        **sign: object,
    ) -> Response:
        body = b"" if obj is None else json.dumps(obj).encode()
        headers = sign_request(key or self.city, method, path, body, authority=SERVICE, **sign)  # type: ignore[arg-type]
        return self.client.request(method, path, content=body, headers=headers)

    def reservations(self, process_id: str) -> list[tuple[int, Reservation]]:
        """Every ``reservation`` entry of ``process_id`` on the log, with its index."""
        self.log.catch_up()
        out = []
        for index, leaf in enumerate(self.log.entries(0, self.log.size)):
            entry = decode_entry(leaf)
            if isinstance(entry.body, Reservation) and entry.body.process == process_id:
                out.append((index, entry.body))
        return out

    @contextmanager
    def another_process(self) -> Iterator[TestClient]:
        """A second service process on the same databases: a log of its own
        opened on the same database, a new app."""
        log = Log.open(self.log_url, key_dir=self.key_dir, origin=ORIGIN)
        try:
            app = create_app(log, roll=self.roll, keyring=self.keyring, rate_limit=None)
            with TestClient(app) as client:
                yield client
        finally:
            log.close()


def service_on(log_url: str, roll: Engine, key_dir: Path) -> Iterator[Service]:
    city, county = InstitutionKey.generate("city-hall"), InstitutionKey.generate("county")
    log = Log.open(log_url, key_dir=key_dir, origin=ORIGIN)
    keyring = IssuerKeyring(key_dir)
    now = [IN_2026]
    app = create_app(log, roll=roll, keyring=keyring, clock=lambda: now[0], rate_limit=None)
    register_institution(app.state.civic, city.name, city.public_key)
    register_institution(app.state.civic, county.name, county.public_key)
    try:
        with TestClient(app) as client:
            yield Service(client, log, roll, keyring, city, county, log_url, key_dir, now)
    finally:
        log.close()
