"""Registered institutions, request nonces and process owners, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from urne.ledger.errors import InvalidRequest
from urne.ledger.institutions.registry import (
    add_institution,
    create_issuer_key,
    institution_key,
    institutions,
    process_owner,
    use_nonce,
)
from urne.ledger.issuance.errors import IssuerKeyExists
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.roll import open_roll


def _exercise(roll: Engine, keys: Path) -> None:
    a = add_institution(roll, "city-hall", b"\x01" * 32)
    add_institution(roll, "county", b"\x02" * 32)
    assert [i.name for i in institutions(roll)] == ["city-hall", "county"]
    assert institutions(roll)[0].added_at == a.added_at
    assert institution_key(roll, "county") == b"\x02" * 32
    assert institution_key(roll, "nobody") is None
    for name, key, code in [
        ("city-hall", b"\x03" * 32, "institution_exists"),
        ("other", b"\x01" * 32, "key_in_use"),
        ("bad name", b"\x04" * 32, "bad_institution_name"),
        ("short", b"\x04" * 31, "bad_public_key"),
    ]:
        with pytest.raises(InvalidRequest) as err:
            add_institution(roll, name, key)
        assert err.value.code == code
    assert len(institutions(roll)) == 2

    # a nonce once per institution, purged when older than the window
    assert use_nonce(roll, "city-hall", b"n" * 16, 1000, now=1000, window=300)
    assert not use_nonce(roll, "city-hall", b"n" * 16, 1000, now=1100, window=300)
    assert use_nonce(roll, "county", b"n" * 16, 1000, now=1100, window=300)
    assert use_nonce(roll, "city-hall", b"m" * 16, 1500, now=1500, window=300)  # purges 1000
    assert use_nonce(roll, "city-hall", b"n" * 16, 1500, now=1500, window=300)

    keyring = IssuerKeyring(keys)
    record = create_issuer_key(roll, keyring, "city-hall", "pet-1", threshold=2, shares=3)
    assert record == keyring.record("pet-1") and record.threshold == 2
    assert process_owner(roll, "pet-1") == "city-hall"
    assert process_owner(roll, "pet-2") is None
    with pytest.raises(IssuerKeyExists):
        create_issuer_key(roll, keyring, "county", "pet-1")
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
    roll = open_roll(f"sqlite:///{tmp_path / 'roll.db'}")
    try:
        _exercise(roll, tmp_path / "keys")
    finally:
        roll.dispose()


@pytest.mark.postgres
def test_institutions_on_postgres(pg_url: str, tmp_path: Path) -> None:
    roll = open_roll(pg_url)
    try:
        _exercise(roll, tmp_path / "keys")
    finally:
        roll.dispose()
