"""The citizen's protocol on fixed inputs, computed by ``urne.verifier``: the
vectors of docs/spec/wallet-vectors.json, which the browser's wallet
(``api/static/wallet/core.js``) must reproduce byte for byte.

``python -m tests.support.wallet_vectors`` writes the file;
tests/verifier/test_wallet_vectors.py checks that it is what this computes,
and tests/web/test_crypto_vectors.py that Chromium computes the same.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tests.support.bls_points import g1_bad_encodings
from tests.support.paths import ROOT
from urne.verifier.citizen import authoring
from urne.verifier.citizen.blinding import BlindingState, Pseudonym, combine_shares, unblind
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import signing_bytes
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import (
    CREDENTIAL_DST,
    credential_message,
    verify_credential,
)

PATH = ROOT / "docs" / "spec" / "wallet-vectors.json"


def _scalar(label: str) -> int:
    """A fixed non-zero scalar derived from ``label`` (vectors only: never do this for real)."""
    return (
        int.from_bytes(hashlib.sha512(b"urne wallet vector " + label.encode()).digest())
        % (bls.CURVE_ORDER - 1)
        + 1
    )


def _seed(label: str) -> bytes:
    return hashlib.sha256(b"urne wallet vector seed " + label.encode()).digest()


CASES: list[dict[str, Any]] = [
    {"name": "petition signature", "process": "city-petition", "seq": 0, "choice": None},
    {"name": "single vote", "process": "demo-vote", "seq": 0, "choice": ["river"]},
    {"name": "revote, approval", "process": "demo-vote", "seq": 3, "choice": ["park", "river"]},
    {"name": "budget", "process": "budget-2027", "seq": 1, "choice": ["bikes", "bench", "trees"]},
]

#: Objects whose RFC 8785 form a second implementation must get right: key
#: order by UTF-16 code unit, escapes, non-ASCII text, integers, nesting.
CANONICAL = [
    {"v": 1, "kind": "ballot", "choice": [], "seq": 0},
    {"b": None, "a": True, "c": False, "n": -9007199254740991, "m": 9007199254740991},
    {"é": "déjà vu", "e": '\u0000\u001f"\\/\b\f\n\r\t', "z": ["\u2028", "€", "𝄞"]},
    {"\U0001f600": 1, "\ufb33": 2, "a": {"y": [], "x": {}}},
]


def _case(case: dict[str, Any]) -> dict[str, Any]:
    be = bls.get_backend("py_ecc")
    label = f"{case['process']}/{case['seq']}"
    seed = _seed(label)
    pseudonym = Pseudonym.from_seed(seed)
    sk = _scalar(f"issuer {case['process']}")
    issuer_pk = be.sk_to_pk(sk)
    r = _scalar(f"blinding {label}")
    message = credential_message(case["process"], pseudonym.public_key)
    hashed = be.hash_to_g1(message, CREDENTIAL_DST)
    blinded = be.g1_compress(be.g1_mul(hashed, r))
    blind_signature = be.g1_compress(be.g1_mul(be.g1_decompress(blinded), sk))  # type: ignore[arg-type]
    credential = unblind(BlindingState(message, r, blinded), blind_signature, issuer_pk, backend=be)
    assert verify_credential(issuer_pk, case["process"], pseudonym.public_key, credential)
    if case["choice"] is None:
        entry = authoring.signature(case["process"], pseudonym, credential, seq=case["seq"])
    else:
        entry = authoring.ballot(
            case["process"], pseudonym, credential, case["choice"], seq=case["seq"]
        )
    obj = json.loads(entry)
    return {
        **case,
        "seed": seed.hex(),
        "pseudonym": pseudonym.public_key.hex(),
        "issuer_secret": format(sk, "064x"),
        "issuer_public_key": issuer_pk.hex(),
        "credential_message": message.hex(),
        "hash_to_g1": be.g1_compress(hashed).hex(),
        "r": format(r, "064x"),
        "blinded": blinded.hex(),
        "blind_signature": blind_signature.hex(),
        "credential": credential.hex(),
        "signing_bytes": signing_bytes(obj).hex(),
        "signature": obj["sig"],
        "entry": entry.decode("ascii"),
    }


def _threshold() -> dict[str, Any]:
    """A 2-of-3 issuer: ``f(x) = sk + a*x``; shares 1 and 3 sign ``B``."""
    be = bls.get_backend("py_ecc")
    sk, a = _scalar("threshold sk"), _scalar("threshold a")
    f = {i: (sk + a * i) % bls.CURVE_ORDER for i in (1, 2, 3)}
    pseudonym = Pseudonym.from_seed(_seed("threshold"))
    message = credential_message("shared-vote", pseudonym.public_key)
    r = _scalar("threshold blinding")
    blinded = be.g1_compress(be.g1_mul(be.hash_to_g1(message, CREDENTIAL_DST), r))
    point = be.g1_decompress(blinded)
    assert point is not None
    shares = {i: be.g1_compress(be.g1_mul(point, f[i])) for i in (1, 3)}
    combined = combine_shares(shares, backend=be)
    issuer_pk = be.sk_to_pk(sk)
    credential = unblind(BlindingState(message, r, blinded), combined, issuer_pk, backend=be)
    return {
        "process": "shared-vote",
        "pseudonym": pseudonym.public_key.hex(),
        "issuer_public_key": issuer_pk.hex(),
        "share_public_keys": {str(i): be.sk_to_pk(f[i]).hex() for i in (1, 2, 3)},
        "r": format(r, "064x"),
        "blinded": blinded.hex(),
        "blind_shares": {str(i): s.hex() for i, s in shares.items()},
        "combined": combined.hex(),
        "credential": credential.hex(),
    }


def build() -> dict[str, Any]:
    return {
        "about": (
            "The citizen's protocol on fixed inputs (docs/spec/wallet.md): every hex "
            "string is bytes, scalars are big-endian hex. Computed by urne.verifier "
            "(tests/support/wallet_vectors.py); the browser's wallet reproduces each value."
        ),
        "credential_dst": CREDENTIAL_DST.decode("ascii"),
        "cases": [_case(c) for c in CASES],
        "threshold": _threshold(),
        "canonical": [{"value": v, "jcs": canonical(v).decode("utf-8")} for v in CANONICAL],
        "g1_refused": {name: b.hex() for name, b in g1_bad_encodings().items()},
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=True) + "\n"


def main() -> None:
    Path(PATH).write_text(render(), encoding="ascii")


if __name__ == "__main__":
    main()
