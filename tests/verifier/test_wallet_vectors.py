"""docs/spec/wallet-vectors.json is what ``urne.verifier`` computes on its
fixed inputs (tests/support/wallet_vectors.py), and what it says of each
value holds: the credential verifies, the entry decodes and is signed by the
pseudonym, every refused encoding is refused by both BLS backends."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import wallet_vectors
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import decode_entry, verify_entry_signature
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import verify_credential

VECTORS: dict[str, Any] = json.loads(wallet_vectors.PATH.read_text(encoding="ascii"))


def test_the_published_file_is_what_the_verifier_computes() -> None:
    assert wallet_vectors.PATH.read_text(encoding="ascii") == wallet_vectors.render(), (
        "regenerate with: python -m tests.support.wallet_vectors"
    )


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_each_case_is_a_valid_credential_and_entry(case: dict[str, Any]) -> None:
    pseudonym = bytes.fromhex(case["pseudonym"])
    key = bytes.fromhex(case["issuer_public_key"])
    assert verify_credential(key, case["process"], pseudonym, bytes.fromhex(case["credential"]))
    entry = decode_entry(case["entry"].encode())
    assert verify_entry_signature(entry, pseudonym) is None
    assert entry.obj["seq"] == case["seq"] and entry.obj.get("choice") == case["choice"]


@pytest.mark.parametrize("backend", bls.available_backends())
def test_both_backends_refuse_every_refused_encoding(backend: bls.BackendName) -> None:
    be = bls.get_backend(backend)
    refused = VECTORS["g1_refused"]
    assert len(refused) >= 10
    for name, data in refused.items():
        assert be.g1_decompress(bytes.fromhex(data)) is None, name


def test_canonical_forms_are_rfc_8785() -> None:
    for item in VECTORS["canonical"]:
        assert canonical(item["value"]).decode("utf-8") == item["jcs"]
