"""One answer per (process, subject), on SQLite and PostgreSQL
(docs/spec/eligibility.md §2 step 6, §3): the subject's HMAC, racing first
requests, a lost answer given again, and the counts."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from urne.ledger.db.engine import create_engine
from urne.ledger.issuance.errors import IssuanceRefused
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.models import SUBJECTS
from urne.ledger.issuance.oidc import answer_subject, subject_hash, subjects_count
from urne.ledger.issuance.roll import issued_count, open_roll
from urne.verifier.citizen.blinding import Pseudonym, blind, unblind
from urne.verifier.credentials.credential import credential_message, verify_credential

PID = "petition-fc"
ISSUER = "https://auth.example.org"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path / 'roll.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    eng = open_roll(url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def keyring(tmp_path: Path) -> IssuerKeyring:
    ring = IssuerKeyring(tmp_path / "keys")
    ring.create(PID)
    return ring


def _digest(keyring: IssuerKeyring, sub: str) -> bytes:
    key = keyring.roll_key(PID, create=True)
    assert key is not None
    return subject_hash(key, ISSUER, sub)


def test_the_subject_is_kept_only_as_its_keyed_hash(engine: Engine, keyring: IssuerKeyring) -> None:
    pseudonym = Pseudonym.generate()
    state, blinded = blind(credential_message(PID, pseudonym.public_key))
    sub = "b6048e95bb134ec5b1d1e1fa69f287172e91722b9c7ec2d1c1d36c4f14e9f9e3v1"
    digest = _digest(keyring, sub)
    answer = answer_subject(engine, keyring.signing_key(PID), PID, digest, blinded)
    public = keyring.public_key(PID)
    assert verify_credential(public, PID, pseudonym.public_key, unblind(state, answer, public))
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(SUBJECTS)).mappings()]
    [row] = rows
    key = keyring.roll_key(PID, create=False)
    assert key is not None
    want = hmac.new(key, b"urne/v1/oidc-subject\n" + ISSUER.encode() + b"\n" + sub.encode(),
                    hashlib.sha256).digest()  # fmt: skip
    assert bytes(row["subject_hash"]) == want
    assert bytes(row["blinded_hash"]) == hashlib.sha256(blinded).digest()
    assert set(row) == {"process_id", "subject_hash", "issued_on", "blinded_hash"}
    assert sub.encode() not in b"".join(
        v if isinstance(v, bytes) else str(v).encode() for v in row.values()
    )
    assert (subjects_count(engine, PID), issued_count(engine, PID)) == (1, 1)


def test_the_same_point_is_answered_again_and_another_is_refused(
    engine: Engine, keyring: IssuerKeyring
) -> None:
    key = keyring.signing_key(PID)
    digest = _digest(keyring, "alice")
    _, blinded = blind(credential_message(PID, Pseudonym.generate().public_key))
    first = answer_subject(engine, key, PID, digest, blinded)
    assert answer_subject(engine, key, PID, digest, blinded) == first
    _, other = blind(credential_message(PID, Pseudonym.generate().public_key))
    with pytest.raises(IssuanceRefused) as caught:
        answer_subject(engine, key, PID, digest, other)
    assert caught.value.code == "already_issued"
    assert subjects_count(engine, PID) == 1
    answer_subject(engine, key, PID, _digest(keyring, "bob"), other)  # someone else
    assert subjects_count(engine, PID) == 2
    assert subjects_count(engine, "another-process") == 0


def _race(n: int, run: object) -> list[bytes | Exception]:
    barrier = threading.Barrier(n)
    outcomes: list[bytes | Exception] = [b""] * n

    def worker(k: int) -> None:
        barrier.wait()
        try:
            outcomes[k] = run(k)  # type: ignore[operator]
        except Exception as exc:
            outcomes[k] = exc

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


@pytest.fixture
def racing(engine: Engine) -> Iterator[Engine]:
    """The same database through 8 connections, so that racing threads overlap."""
    eng = create_engine(engine.url.render_as_string(hide_password=False), pool_size=8)
    try:
        yield eng
    finally:
        eng.dispose()


def test_eight_racing_first_requests_of_one_person_get_one_answer(
    engine: Engine, racing: Engine, keyring: IssuerKeyring
) -> None:
    key = keyring.signing_key(PID)
    digest = _digest(keyring, "alice")
    points = [blind(credential_message(PID, Pseudonym.generate().public_key))[1] for _ in range(8)]
    outcomes = _race(8, lambda k: answer_subject(racing, key, PID, digest, points[k]))
    won = [o for o in outcomes if isinstance(o, bytes)]
    lost = [o for o in outcomes if not isinstance(o, bytes)]
    assert len(won) == 1, outcomes
    assert all(isinstance(o, IssuanceRefused) and o.code == "already_issued" for o in lost), lost
    assert subjects_count(engine, PID) == 1


def test_racing_requests_with_the_same_point_all_get_the_same_answer(
    engine: Engine, racing: Engine, keyring: IssuerKeyring
) -> None:
    """A wallet that retried while its first request was still running."""
    key = keyring.signing_key(PID)
    digest = _digest(keyring, "alice")
    _, blinded = blind(credential_message(PID, Pseudonym.generate().public_key))
    outcomes = _race(6, lambda k: answer_subject(racing, key, PID, digest, blinded))
    assert all(isinstance(o, bytes) for o in outcomes), outcomes
    assert len(set(outcomes)) == 1  # type: ignore[arg-type]
    assert subjects_count(engine, PID) == 1
