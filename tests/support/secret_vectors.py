"""The secret ballot on fixed inputs, computed by ``urne.verifier.secret``: the
vectors of docs/spec/secret-vectors.json, which the browser's wallet
(``api/static/wallet/secret.js``) must reproduce byte for byte.

``python -m tests.support.secret_vectors`` writes the file;
tests/verifier/test_secret_vectors.py checks that it is what this computes and
that each case is accepted or refused as it says, and
tests/web/test_secret_crypto.py that Chromium computes and decides the same.

Every random value is fixed here: the election key's secret, the randomness of
each ciphertext and the provers' nonces (``RangeProof.prove(..., nonce=...)``),
drawn in the order :data:`DRAW_ORDER` states. :func:`encrypted_ballot` is
``urne.verifier.secret.ballot.encrypt_ballot`` with those nonces passed to
each proof, and each case checks that its ciphertexts are the ones
``encrypt_ballot`` makes from the same randomness. The refused cases carry the
code docs/secret-ballot.md gives their fault (a non-canonical point is
``bad_point``, RFC 9496 §4.3.1), not whatever the verifier answers: the tests
hold the verifier to it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from tests.support.paths import ROOT
from urne.verifier.errors import FormatError, ProofError
from urne.verifier.secret.ballot import (
    COUNT_LABEL,
    EncryptedBallot,
    ballot_context,
    encrypt_ballot,
    option_label,
)
from urne.verifier.secret.group import Group, L, Ristretto255, hash_to_scalar, ristretto255
from urne.verifier.secret.proofs import Ciphertext, Context, RangeProof, encrypt

PATH = ROOT / "docs" / "spec" / "secret-vectors.json"

#: How a second implementation draws the fixed values, to reproduce every byte.
DRAW_ORDER = (
    "A ballot of n options draws, in this order: the randomness r_0 .. r_{n-1} of "
    "the n ciphertexts; then the nonces of the n option proofs (option 0 first), "
    "then those of the count proof. Each range proof draws its nonces in this "
    "order: first w (the real branch's commitment), then, for each other branch "
    "i in increasing order, its challenge c_i and then its response s_i. A "
    "ballot's 'randomness' and 'nonces' list these values in draw order."
)

DESCRIPTION = (
    "The secret ballot on fixed inputs (docs/secret-ballot.md: hash_to_scalar in section 1, "
    "the range proofs in 2, the ballot in 5), computed by urne.verifier.secret "
    "(tests/support/secret_vectors.py). Hex strings are bytes; scalars are decimal "
    "integers below the group order (on the wire they are 32-byte little-endian); "
    "'selected' lists 0-based proposal indices; 'encrypted' is a ballot's "
    "'encrypted' field exactly as its entry carries it. 'key' is g^key_secret. "
    + DRAW_ORDER
    + " Each 'ballots' case verifies in the context (ristretto255, fingerprint, key, "
    "pseudonym) with bounds [min, max]; each 'refused' case is refused with its "
    "'code'."
)


def _scalar(label: str) -> int:
    """A fixed non-zero scalar derived from ``label`` (vectors only: never do this for real)."""
    digest = hashlib.sha512(b"urne secret vector " + label.encode()).digest()
    return int.from_bytes(digest, "little") % (L - 1) + 1


def _pseudonym(label: str) -> bytes:
    """An Ed25519 public key from a fixed seed, as a wallet's pseudonym is."""
    seed = hashlib.sha256(b"urne secret vector pseudonym " + label.encode()).digest()
    return bytes(SigningKey(seed).verify_key)


def _fingerprint(label: str) -> bytes:
    return hashlib.sha256(b"urne secret vector manifest " + label.encode()).digest()


class _Nonces:
    """The fixed nonces of one ballot, recorded in the order they are drawn."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.drawn: list[int] = []

    def __call__(self, group: Group) -> int:
        k = _scalar(f"{self.label} nonce {len(self.drawn)}")
        self.drawn.append(k)
        return k


def encrypted_ballot(
    ctx: Context,
    key: bytes,
    options: int,
    selected: Sequence[int],
    bounds: tuple[int, int],
    randomness: Sequence[int],
    nonces: _Nonces,
) -> EncryptedBallot:
    """``encrypt_ballot`` with the given randomness, its proofs made with ``nonces``."""
    g = ctx.group
    lo, hi = bounds
    chosen = set(selected)
    cts: list[Ciphertext] = []
    proofs: list[RangeProof] = []
    for k in range(options):
        cts.append(encrypt(g, key, 1 if k in chosen else 0, randomness[k]))
    for k in range(options):
        m = 1 if k in chosen else 0
        proofs.append(
            RangeProof.prove(
                ctx, option_label(k), key, cts[k], (0, 1), m, randomness[k], nonce=nonces
            )
        )
    total = Ciphertext(g.identity, g.identity)
    for ct in cts:
        total = total.add(g, ct)
    count = RangeProof.prove(
        ctx,
        COUNT_LABEL,
        key,
        total,
        range(lo, hi + 1),
        len(chosen),
        sum(randomness) % g.order,
        nonce=nonces,
    )
    return EncryptedBallot(tuple(cts), tuple(proofs), count)


#: name, the election's label (its fingerprint and key), options, min, max, selected
BALLOTS: list[tuple[str, str, int, int, int, list[int]]] = [
    *[(f"exactly 1 of 4, option {k}", "one-of-four", 4, 1, 1, [k]) for k in range(4)],
    ("approval of 3, none", "approval", 3, 0, 3, []),
    ("approval of 3, one", "approval", 3, 0, 3, [1]),
    ("approval of 3, two", "approval", 3, 0, 3, [0, 2]),
    ("approval of 3, all", "approval", 3, 0, 3, [0, 1, 2]),
    ("2 of 5", "two-of-five", 5, 2, 2, [1, 4]),
]

#: (tag, parts): the length prefixes keep ("ab", "c") apart from ("a", "bc").
HASHES: list[tuple[str, list[bytes]]] = [
    ("urne/secret/v1/range", []),
    ("urne/secret/v1/dleq", [b""]),
    ("urne/secret/v1/schnorr", [b"ristretto255", bytes(32), b"\xff" * 64]),
    ("", [b"ab", b"c"]),
    ("", [b"a", b"bc"]),
    ("urne/secret/v1/range", [bytes(range(256)) * 3]),
]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _ballot_case(
    name: str, election: str, options: int, lo: int, hi: int, selected: list[int]
) -> dict[str, Any]:
    g = ristretto255()
    secret = _scalar(f"election key {election}")
    key = g.base(secret)
    fingerprint = _fingerprint(election)
    pseudonym = _pseudonym(name)
    ctx = ballot_context(g, fingerprint, key, pseudonym)
    randomness = [_scalar(f"{name} randomness {k}") for k in range(options)]
    nonces = _Nonces(name)
    ballot = encrypted_ballot(ctx, key, options, selected, (lo, hi), randomness, nonces)
    reference, _ = encrypt_ballot(ctx, key, options, selected, (lo, hi), randomness=randomness)
    assert reference.ciphertexts == ballot.ciphertexts
    encrypted = ballot.to_json()
    EncryptedBallot.decode(g, encrypted, options, (lo, hi)).verify(ctx, key, (lo, hi))
    return {
        "name": name,
        "options": options,
        "min": lo,
        "max": hi,
        "selected": selected,
        "fingerprint": fingerprint.hex(),
        "key_secret": str(secret),
        "key": key.hex(),
        "pseudonym": pseudonym.hex(),
        "randomness": [str(r) for r in randomness],
        "nonces": [str(w) for w in nonces.drawn],
        "encrypted": encrypted,
    }


def _replace(
    encrypted: dict[str, Any], field: str, index: int | None, at: int, new: bytes
) -> dict[str, Any]:
    """``encrypted`` with bytes ``at .. at + len(new)`` of one of its values replaced."""
    out = json.loads(json.dumps(encrypted))
    value = out[field] if index is None else out[field][index]
    raw = bytearray(base64.b64decode(value))
    raw[at : at + len(new)] = new
    if index is None:
        out[field] = _b64(bytes(raw))
    else:
        out[field][index] = _b64(bytes(raw))
    return out


def _refused(ballots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    one, approval = ballots[0], ballots[5]

    def case(name: str, base: dict[str, Any], code: str, **changed: Any) -> dict[str, Any]:
        keep = ("options", "min", "max", "fingerprint", "key", "pseudonym", "encrypted")
        return {"name": name, **{k: base[k] for k in keep}, **changed, "code": code}

    proof0 = base64.b64decode(one["encrypted"]["proofs"][0])
    p = 2**255 - 19
    beta1 = base64.b64decode(approval["encrypted"]["ciphertexts"][1])[32:]
    return [
        case(
            "a bit of a proof flipped (option 0's c_0)",
            one,
            "bad_ballot_proof",
            encrypted=_replace(one["encrypted"], "proofs", 0, 0, bytes([proof0[0] ^ 1])),
        ),
        case(
            "copied under another pseudonym",
            one,
            "bad_ballot_proof",
            pseudonym=_pseudonym("someone else").hex(),
        ),
        case(
            "ciphertext 0's alpha is p, a non-canonical encoding of the identity",
            approval,
            "bad_point",
            encrypted=_replace(
                approval["encrypted"], "ciphertexts", 0, 0, p.to_bytes(32, "little")
            ),
        ),
        case(
            "ciphertext 1's beta has its top bit set",
            approval,
            "bad_point",
            encrypted=_replace(
                approval["encrypted"], "ciphertexts", 1, 63, bytes([beta1[31] | 0x80])
            ),
        ),
        case(
            "the count proof's s_0 is the group order",
            one,
            "bad_proof",
            encrypted=_replace(one["encrypted"], "count", None, 32, L.to_bytes(32, "little")),
        ),
    ]


def refusal(case: dict[str, Any]) -> str | None:
    """The code of the verifier's refusal of a case, or ``None`` if it is accepted."""
    g = ristretto255()
    key = g.decode(bytes.fromhex(case["key"]), "key")
    bounds = (case["min"], case["max"])
    ctx = ballot_context(
        g, bytes.fromhex(case["fingerprint"]), key, bytes.fromhex(case["pseudonym"])
    )
    try:
        EncryptedBallot.decode(g, case["encrypted"], case["options"], bounds).verify(
            ctx, key, bounds
        )
    except (FormatError, ProofError) as exc:
        return exc.code
    return None


def build() -> dict[str, Any]:
    g = ristretto255()
    ballots = [_ballot_case(*b) for b in BALLOTS]
    refused = _refused(ballots)
    return {
        "description": DESCRIPTION,
        "group": Ristretto255.name,
        "order": str(L),
        "generator": Ristretto255.generator.hex(),
        "hash_to_scalar": [
            {
                "tag": tag,
                "parts": [p.hex() for p in parts],
                "scalar": str(hash_to_scalar(g, tag.encode(), *parts)),
            }
            for tag, parts in HASHES
        ],
        "ballots": ballots,
        "refused": refused,
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=True) + "\n"


def main() -> None:
    Path(PATH).write_text(render(), encoding="ascii")


if __name__ == "__main__":
    main()
