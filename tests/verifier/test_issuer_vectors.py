"""docs/spec/issuer-ceremony-vectors.json, checked as a second implementation
would: every entry accepted by the rules in order; each office's dealt shares
decrypted with its secret and summed into its share, whose public key is the
one the manifest names; the issuer key the product of the constant terms; a
credential from two offices' answers valid under it. And a changed byte in
any entry of the ceremony is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support.issuer_vectors import PATH
from urne.verifier.civic.entries import Deal, b64encode, decode_entry
from urne.verifier.civic.process import Registry
from urne.verifier.civic.secret import manifest_fingerprint
from urne.verifier.credentials.credential import verify_credential
from urne.verifier.errors import VerificationError
from urne.verifier.secret import dkg
from urne.verifier.secret.group import bls12_381_g2

V: dict[str, Any] = json.loads(PATH.read_text(encoding="utf-8"))
G = bls12_381_g2()


def _b(x: str) -> bytes:
    return base64.b64decode(x, validate=True)


def _k(x: str) -> int:
    return int.from_bytes(_b(x), "little")


def _leaves() -> list[bytes]:
    return [_b(x) for x in V["entries"]]


def test_the_rules_accept_the_transcript_in_order() -> None:
    reg = Registry(
        lambda pk, pid, ps, cr: verify_credential(pk, pid, ps, cr), operator=_b(V["log_key"])
    )
    for i, leaf in enumerate(_leaves()):
        reg.admit(decode_entry(leaf), i)
    c = reg.issuer_ceremonies[V["process"]]
    assert b64encode(c.key or b"") == V["issuer_key"]
    assert reg.state(V["process"]).process.issuer_key == _b(V["issuer_key"])


def test_each_share_and_the_key_recomputed_from_the_transcript() -> None:
    entries = [decode_entry(x) for x in _leaves()]
    reservation = entries[1]
    fingerprint = manifest_fingerprint(reservation)
    assert fingerprint.hex() == V["reservation_fingerprint"]
    deals = {e.body.trustee: e.body for e in entries if isinstance(e.body, Deal)}
    assert sorted(deals) == [1, 2, 3]
    for office in V["offices"]:
        j, e = office["index"], _k(office["share_secret"])
        coeffs = [_k(a) for a in office["coefficients"]]
        assert list(deals[j].commitments) == [G.base(a) for a in coeffs]
        x = dkg.evaluate(coeffs, j, G.order)
        for i, d in deals.items():
            if i == j:
                continue
            s = next(s for s in d.shares if s.to == j)
            share = dkg.decrypt_share(
                G, fingerprint, i, j, dkg.EncryptedShare(s.ephemeral, s.masked), secret_key=e
            )
            assert dkg.check_share(G, d.commitments, j, share)
            assert share is not None
            x = (x + share) % G.order
        assert x == _k(office["share"])
        assert b64encode(G.base(x)) == office["share_public_key"]
    key = dkg.joint_key(G, [deals[i].commitments[0] for i in (1, 2, 3)])
    assert b64encode(key) == V["issuer_key"]
    # the key is f(0) of the summed polynomial: any two shares interpolate it
    shares = {o["index"]: _k(o["share"]) for o in V["offices"]}
    for pair in ((1, 2), (2, 3), (1, 3)):
        lam = dkg.lagrange_at_zero(pair, G.order)
        assert G.base(sum(lam[i] * shares[i] for i in pair)) == key


def test_the_credential_verifies_under_the_issuer_key() -> None:
    cred = V["credential"]
    assert verify_credential(
        _b(V["issuer_key"]), V["process"], _b(cred["pseudonym"]), _b(cred["credential"])
    )


@pytest.mark.parametrize("at", range(2, 9))
def test_a_changed_entry_of_the_ceremony_is_refused(at: int) -> None:
    """Each of the deals, the checks and the issuer key, one
    byte of its signature flipped, is refused, and nothing after it stands."""
    leaves = _leaves()
    obj = json.loads(leaves[at])
    sig = bytearray(_b(obj["sig"]))
    sig[0] ^= 1
    obj["sig"] = base64.b64encode(bytes(sig)).decode()
    reg = Registry(None, operator=_b(V["log_key"]))
    for i, leaf in enumerate(leaves[:at]):
        reg.admit(decode_entry(leaf), i)
    changed = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    with pytest.raises(VerificationError) as e:
        reg.admit(decode_entry(changed), at)
    assert e.value.code == "bad_entry_signature"
