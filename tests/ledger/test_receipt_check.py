"""Receipts: checked offline, and later against a newer checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from urne.ledger.log import Log
from urne.verifier.check.receipt import Receipt, check_receipt, check_still_included
from urne.verifier.errors import FormatError, ProofError, SignatureError, VerificationError
from urne.verifier.tlog.note import Ed25519Signer


@pytest.fixture
def log(tmp_path: Path) -> Log:
    lg = Log.open(f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="r.example/log")
    lg.append_many([b"first", b"second"])
    lg.append_many([f"later {i}".encode() for i in range(9)])
    return lg


def test_receipt_round_trip_and_checks(log: Log) -> None:
    r = log.receipt(1)
    assert r.index == 1 and r.entry == b"second"
    again = Receipt.parse(json.dumps(r.to_json()))
    assert again == r
    cp = check_receipt(again, log.verifier).checkpoint
    assert cp.size == 2  # the checkpoint of the batch that committed it
    latest = log.checkpoint()
    now = check_still_included(r, log.verifier, latest.text, log.consistency_proof(2, latest.size))
    assert now.checkpoint.size == 11


def test_tampered_receipts_are_refused(log: Log) -> None:
    good = log.receipt(5).to_json()
    cases: list[tuple[dict[str, object], type[VerificationError]]] = [
        ({**good, "entry": "b3RoZXI="}, ProofError),  # another entry
        ({**good, "index": 4}, ProofError),
        (
            {**good, "checkpoint": good["checkpoint"].replace("\n11\n", "\n12\n")},  # type: ignore[attr-defined]
            SignatureError,
        ),
        ({**good, "inclusion_proof": good["inclusion_proof"][:-1]}, ProofError),  # type: ignore[index]
        ({**good, "extra": 1}, FormatError),
        ({**good, "entry": "%%%"}, FormatError),
    ]
    for obj, err in cases:
        with pytest.raises(err):
            check_receipt(Receipt.from_json(obj), log.verifier)
    with pytest.raises(SignatureError):
        check_receipt(Receipt.from_json(good), Ed25519Signer.generate("r.example/log").verifier)


def test_a_log_that_went_back_is_caught(log: Log) -> None:
    r = log.receipt(9)
    old = log.checkpoint_at(2)
    with pytest.raises(ProofError, match="went back"):
        check_still_included(r, log.verifier, old.text, [])
