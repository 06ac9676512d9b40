"""Institutions registered on the log, request nonces, issuer keys and their
owners, and the registrations an earlier version kept in the issuance
database, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from tests.support.civic import IN_2026
from urne.ledger.civic.authority import (
    carry_registrations,
    register_institution,
    reserve_process,
)
from urne.ledger.civic.record import CivicRecord
from urne.ledger.db.migrate import alembic_config
from urne.ledger.errors import InvalidRequest
from urne.ledger.institutions.registry import (
    create_issuer_key,
    legacy_institutions,
    process_owner,
    use_nonce,
)
from urne.ledger.issuance.errors import IssuerKeyExists
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.roll import open_roll
from urne.ledger.log import Log
from urne.verifier.civic.entries import decode_entry
from urne.verifier.civic.process import EntryRefused, NotAuthorized

CITY, COUNTY = b"\x01" * 32, b"\x02" * 32


def _refused(code: str, call: object, *args: object) -> None:
    with pytest.raises(EntryRefused) as err:
        call(*args)  # type: ignore[operator]
    assert err.value.code == code, str(err.value)


def _exercise_log(civic: CivicRecord, keys: Path) -> None:
    first = register_institution(civic, "city-hall", CITY)
    register_institution(civic, "county", COUNTY, ["open", "register"])
    entry = decode_entry(civic.log.entry(first))
    assert entry.kind == "institution" and entry.obj["registrar"]  # signed by the log's key
    assert [(i.name, i.roles) for i in civic.institutions()] == [
        ("city-hall", ("open",)),
        ("county", ("open", "register")),
    ]
    found = civic.institution("county")
    assert found is not None and found.key == COUNTY
    assert civic.institution("nobody") is None
    _refused("institution_exists", register_institution, civic, "city-hall", b"\x03" * 32)
    _refused("key_in_use", register_institution, civic, "other", CITY)
    _refused("key_in_use", register_institution, civic, "operator", civic.operator)
    with pytest.raises(NotAuthorized) as err:
        civic.may_open(b"\x09" * 32)
    assert err.value.code == "unregistered_institution" and err.value.status == 403

    keyring = IssuerKeyring(keys)
    keyring.create("pet-1")
    issuer = keyring.record("pet-1").manifest_issuer()
    at = reserve_process(civic, "pet-1", CITY, issuer)
    reserved = civic.reservation("pet-1")
    assert reserved is not None and reserved[0] == at and reserved[1].institution == CITY
    _refused("process_reserved", reserve_process, civic, "pet-1", COUNTY, issuer)
    _refused("unregistered_institution", reserve_process, civic, "pet-2", b"\x09" * 32, issuer)


def _exercise_issuance(roll: Engine, keys: Path) -> None:
    # a nonce once per institution, purged when older than the window
    assert use_nonce(roll, "city-hall", b"n" * 16, 1000, now=1000, window=300)
    assert not use_nonce(roll, "city-hall", b"n" * 16, 1000, now=1100, window=300)
    assert use_nonce(roll, "county", b"n" * 16, 1000, now=1100, window=300)
    assert use_nonce(roll, "city-hall", b"m" * 16, 1500, now=1500, window=300)  # purges 1000
    assert use_nonce(roll, "city-hall", b"n" * 16, 1500, now=1500, window=300)

    keyring = IssuerKeyring(keys)
    record, created = create_issuer_key(roll, keyring, "city-hall", "pet-1", threshold=2, shares=3)
    assert created and record == keyring.record("pet-1") and record.threshold == 2
    assert process_owner(roll, "pet-1") == "city-hall"
    assert process_owner(roll, "pet-2") is None
    # the same institution asking again (a retry) gets the same key
    again, created = create_issuer_key(roll, keyring, "city-hall", "pet-1", threshold=2, shares=3)
    assert (again, created) == (record, False)
    # with another shape, or from another institution: refused
    with pytest.raises(IssuerKeyExists):
        create_issuer_key(roll, keyring, "city-hall", "pet-1")
    with pytest.raises(IssuerKeyExists):
        create_issuer_key(roll, keyring, "county", "pet-1", threshold=2, shares=3)
    assert process_owner(roll, "pet-1") == "city-hall"
    # a key made outside (the keyring alone): refused, and no owner is recorded
    keyring.create("pet-3")
    with pytest.raises(IssuerKeyExists):
        create_issuer_key(roll, keyring, "county", "pet-3")
    assert process_owner(roll, "pet-3") is None
    with pytest.raises(InvalidRequest) as err:
        create_issuer_key(roll, keyring, "county", "../etc")
    assert err.value.code == "bad_process_id" and process_owner(roll, "../etc") is None


def test_institutions_on_sqlite(tmp_path: Path) -> None:
    with Log.open(
        f"sqlite:///{tmp_path / 'log.db'}", key_dir=tmp_path / "keys", origin="inst.example/log"
    ) as log:
        _exercise_log(CivicRecord(log, clock=lambda: IN_2026), tmp_path / "log-keys")
    roll = open_roll(f"sqlite:///{tmp_path / 'roll.db'}")
    try:
        _exercise_issuance(roll, tmp_path / "keys")
    finally:
        roll.dispose()


@pytest.mark.postgres
def test_institutions_on_postgres(pg_url: str, tmp_path: Path) -> None:
    with Log.open(pg_url, key_dir=tmp_path / "keys", origin="inst.example/log") as log:
        _exercise_log(CivicRecord(log, clock=lambda: IN_2026), tmp_path / "log-keys")
    roll = open_roll(pg_url)
    try:
        _exercise_issuance(roll, tmp_path / "keys")
    finally:
        roll.dispose()


def _old_database(url: str) -> Engine:
    """A database as an earlier version left it: at revision 0003, with two
    institutions registered in its ``institution`` table and a nonce each."""
    engine = sa.create_engine(url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003_institutions")
        for name, key in (("city-hall", CITY), ("county", COUNTY)):
            conn.execute(
                sa.text(
                    "INSERT INTO institution (name, public_key, added_at) "
                    "VALUES (:n, :k, CURRENT_TIMESTAMP)"
                ),
                {"n": name, "k": key},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO institution_nonce (institution, nonce, created) VALUES (:n, :k, 1)"
                ),
                {"n": name, "k": b"n" * 16},
            )
    engine.dispose()
    return engine


def _exercise_upgrade(roll_url: str, log_url: str, keys: Path) -> None:
    _old_database(roll_url)
    roll = open_roll(roll_url)  # migrates to the newest schema
    try:
        assert legacy_institutions(roll) == [("city-hall", CITY), ("county", COUNTY)]
        with Log.open(log_url, key_dir=keys, origin="inst.example/log") as log:
            civic = CivicRecord(log, clock=lambda: IN_2026)
            register_institution(civic, "county", b"\x05" * 32)  # the log says otherwise
            assert carry_registrations(civic, roll) == ["city-hall"]
            found = civic.institution("city-hall")
            assert found is not None and found.key == CITY and found.roles == ("open",)
            # the row the log contradicts stays, for the operator to decide
            assert legacy_institutions(roll) == [("county", COUNTY)]
            assert carry_registrations(civic, roll) == []
        # nonces no longer need a row of their institution
        assert use_nonce(roll, "elsewhere", b"x" * 16, 10, now=10, window=300)
    finally:
        roll.dispose()


def test_registrations_of_an_earlier_version_move_to_the_log(tmp_path: Path) -> None:
    _exercise_upgrade(
        f"sqlite:///{tmp_path / 'roll.db'}", f"sqlite:///{tmp_path / 'log.db'}", tmp_path / "k"
    )


@pytest.mark.postgres
def test_registrations_of_an_earlier_version_move_to_the_log_on_postgres(
    pg_url: str, tmp_path: Path
) -> None:
    # one database for both: the log's tables are created by the log's own start
    _exercise_upgrade(pg_url, f"sqlite:///{tmp_path / 'log.db'}", tmp_path / "k")
