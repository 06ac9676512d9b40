"""Distributed key generation with no dealer: Joint-Feldman with complaints.

``n`` trustees, threshold ``t``. Each trustee ``i`` (numbered from 1):

1. **deals**: picks a random polynomial ``f_i`` of degree ``t - 1``, publishes its
   Feldman commitments ``A_ik = g^{a_ik}`` (``k = 0 .. t-1``), a proof that it
   knows ``a_i0`` (so no trustee can pick its constant term as a function of
   the others': the rogue-key attack), and, for every other trustee ``j``, the
   share ``f_i(j)`` encrypted to ``j``'s share key ``E_j = g^{e_j}``:
   ``R = g^rho``, ``K = E_j^rho``, ``masked = f_i(j) XOR pad(R, K)`` (hashed
   ElGamal: a Diffie-Hellman key hashed into a one-time pad), with a proof
   that it knows ``rho`` (so that a complaint, which reveals ``K``, reveals
   nothing but what the dealer itself could compute);
2. **checks**: decrypts the shares dealt to it and checks each against the
   dealer's commitments, ``g^{f_i(j)} = prod_k A_ik^{j^k}``. For a bad share it
   publishes a **complaint** that reveals ``K`` with a proof that
   ``log_g E_j = log_R K``: anyone can then decrypt the share and see that it is
   wrong. A complaint about a good share is refused, so a complaint is evidence;
3. the qualified set ``QUAL`` is the trustees who dealt and checked and against
   whom no complaint stands. The election key is ``h = prod_{i in QUAL} A_i0``;
   trustee ``j``'s share is ``x_j = sum_{i in QUAL} f_i(j)`` and its public
   verification key ``X_j = g^{x_j} = prod_{i in QUAL} prod_k A_ik^{j^k}``,
   which anyone computes from the commitments.

Any ``t`` trustees of ``QUAL`` can then decrypt, and fewer learn nothing. This
is Pedersen's protocol (Eurocrypt 1991) as Gennaro, Jarecki, Krawczyk and Rabin
describe it ("JF-DKG"); they show that a rushing adversary can bias the
distribution of ``h``, and (Gennaro et al., CT-RSA 2003) that this bias does not
weaken discrete-log applications of the key such as this one; docs/secret-ballot.md
says more. The code is generic over the group: the ballots use ristretto255,
the credential issuers BLS12-381 G1 (``urne.verifier.secret.group``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from urne.verifier.errors import FormatError
from urne.verifier.secret.group import Group
from urne.verifier.secret.proofs import Context, DleqProof, SchnorrProof

__all__ = [
    "Dealt",
    "EncryptedShare",
    "check_share",
    "complain",
    "deal",
    "decrypt_share",
    "evaluate",
    "joint_key",
    "lagrange_at_zero",
    "share_context",
    "trustee_context",
    "verification_key",
    "verify_complaint",
    "verify_ephemeral",
]

TAG_PAD = b"urne/secret/v1/share-pad"
LABEL_CONSTANT = b"deal-constant"
LABEL_SHARE_KEY = b"share-key"
LABEL_COMPLAINT = b"complaint"
LABEL_EPHEMERAL = b"share-ephemeral"


def trustee_context(group: Group, fingerprint: bytes, index: int) -> Context:
    """The context of trustee ``index``'s messages in the process of ``fingerprint``."""
    return Context(group, (fingerprint, index.to_bytes(4, "big")))


def share_context(group: Group, process_id: str, signing_key: bytes) -> Context:
    """The context of a trustee's proof of its share key: the process id and the
    trustee's Ed25519 key (the manifest does not exist yet when the key is made)."""
    return Context(group, (process_id.encode(), signing_key))


@dataclass(frozen=True, slots=True)
class EncryptedShare:
    ephemeral: bytes  # R = g^rho
    masked: bytes  # 32 bytes: the share, little-endian, XOR the pad
    #: the dealer's proof that it knows rho (:func:`verify_ephemeral`)
    proof: bytes = b""

    def to_bytes(self) -> bytes:
        return self.ephemeral + self.masked


@dataclass(frozen=True, slots=True)
class Dealt:
    """What trustee ``index`` publishes in its deal, and what it keeps."""

    commitments: tuple[bytes, ...]
    proof: SchnorrProof
    shares: dict[int, EncryptedShare]
    #: kept secret by the dealer: f_i(index), its own share of its polynomial
    own_share: int


def evaluate(coefficients: Sequence[int], x: int, order: int) -> int:
    acc = 0
    for a in reversed(coefficients):
        acc = (acc * x + a) % order
    return acc


def _pad(group: Group, fingerprint: bytes, dealer: int, to: int, r: bytes, k: bytes) -> bytes:
    h = hashlib.sha512()
    for p in (
        TAG_PAD,
        group.name.encode(),
        fingerprint,
        dealer.to_bytes(4, "big"),
        to.to_bytes(4, "big"),
        r,
        k,
    ):
        h.update(len(p).to_bytes(4, "big"))
        h.update(p)
    return h.digest()[:32]


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def deal(
    group: Group,
    fingerprint: bytes,
    index: int,
    threshold: int,
    share_keys: Mapping[int, bytes],
    *,
    coefficients: Sequence[int] | None = None,
) -> Dealt:
    """Trustee ``index``'s deal for the trustees whose share keys are given
    (its own included or not: it keeps its own share in clear)."""
    order = group.order
    coeffs = (
        list(coefficients)
        if coefficients is not None
        else [secrets.randbelow(order - 1) + 1 for _ in range(threshold)]
    )
    if len(coeffs) != threshold:
        raise ValueError("a deal has threshold coefficients")
    commitments = tuple(group.base(a) for a in coeffs)
    proof = SchnorrProof.prove(
        trustee_context(group, fingerprint, index), LABEL_CONSTANT, coeffs[0]
    )
    shares: dict[int, EncryptedShare] = {}
    for j, e in sorted(share_keys.items()):
        if j == index:
            continue
        rho = secrets.randbelow(order - 1) + 1
        r, k = group.base(rho), group.mul(rho, e)
        s = evaluate(coeffs, j, order).to_bytes(32, "little")
        knows_rho = SchnorrProof.prove(
            trustee_context(group, fingerprint, index), _ephemeral_label(j), rho
        )
        shares[j] = EncryptedShare(
            r, _xor(s, _pad(group, fingerprint, index, j, r, k)), knows_rho.to_bytes()
        )
    return Dealt(commitments, proof, shares, evaluate(coeffs, index, order))


def _ephemeral_label(to: int) -> bytes:
    return LABEL_EPHEMERAL + to.to_bytes(4, "big")


def verify_ephemeral(
    group: Group, fingerprint: bytes, dealer: int, to: int, enc: EncryptedShare
) -> None:
    """The dealer knows ``rho`` with ``R = g^rho`` (a Schnorr proof in its own
    context, labelled with the recipient); raises ``ProofError``/``FormatError``.

    Without it, a dealer could send trustee ``j`` an ``R`` taken (or derived)
    from another dealer's share to ``j``: ``j``'s complaint would reveal
    ``K = R^{e_j}``, the key of that honest dealer's share, and enough such
    reveals give a dishonest trustee the election secret. With it, a complaint
    only reveals a key its dealer could compute itself."""
    SchnorrProof.decode(group, enc.proof, "share proof").verify(
        trustee_context(group, fingerprint, dealer), _ephemeral_label(to), enc.ephemeral
    )


def expected_share_point(group: Group, commitments: Sequence[bytes], j: int) -> bytes:
    """``prod_k A_k^{j^k}``: ``g`` to the share the commitments promise trustee ``j``."""
    acc, power = group.identity, 1
    for a in commitments:
        acc = group.add(acc, group.mul(power, a))
        power = power * j % group.order
    return acc


def decrypt_share(
    group: Group,
    fingerprint: bytes,
    dealer: int,
    to: int,
    enc: EncryptedShare,
    *,
    secret_key: int | None = None,
    dh_key: bytes | None = None,
) -> int | None:
    """The share, from the recipient's secret key or a revealed ``K``; ``None``
    when the unmasked bytes are not a scalar below the order."""
    if dh_key is None:
        assert secret_key is not None
        dh_key = group.mul(secret_key, enc.ephemeral)
    raw = _xor(enc.masked, _pad(group, fingerprint, dealer, to, enc.ephemeral, dh_key))
    s = int.from_bytes(raw, "little")
    return s if s < group.order else None


def check_share(group: Group, commitments: Sequence[bytes], j: int, share: int | None) -> bool:
    return share is not None and group.base(share) == expected_share_point(group, commitments, j)


def complain(
    group: Group, fingerprint: bytes, dealer: int, to: int, secret_key: int, enc: EncryptedShare
) -> tuple[bytes, DleqProof]:
    """The revealed key ``K = R^e`` and the proof ``log_g E = log_R K``."""
    k = group.mul(secret_key, enc.ephemeral)
    proof = DleqProof.prove(
        trustee_context(group, fingerprint, to), _complaint_label(dealer), secret_key, enc.ephemeral
    )
    return k, proof


def _complaint_label(dealer: int) -> bytes:
    return LABEL_COMPLAINT + dealer.to_bytes(4, "big")


def verify_complaint(
    group: Group,
    fingerprint: bytes,
    dealer: int,
    to: int,
    share_key: bytes,
    enc: EncryptedShare,
    commitments: Sequence[bytes],
    dh_key: bytes,
    proof: DleqProof,
) -> bool:
    """``True`` when the complaint stands (the revealed share is wrong); raises
    :class:`~urne.verifier.errors.ProofError` when the reveal is not proven."""
    proof.verify(
        trustee_context(group, fingerprint, to),
        _complaint_label(dealer),
        share_key,
        enc.ephemeral,
        dh_key,
    )
    share = decrypt_share(group, fingerprint, dealer, to, enc, dh_key=dh_key)
    return not check_share(group, commitments, to, share)


def joint_key(group: Group, constants: Sequence[bytes]) -> bytes:
    """``prod A_i0`` over the qualified trustees."""
    acc = group.identity
    for a in constants:
        acc = group.add(acc, a)
    if acc == group.identity:
        raise FormatError("the joint key is the identity", code="bad_point")
    return acc


def verification_key(group: Group, commitments: Sequence[Sequence[bytes]], j: int) -> bytes:
    """``X_j = g^{x_j}``, from the qualified trustees' commitments."""
    acc = group.identity
    for c in commitments:
        acc = group.add(acc, expected_share_point(group, c, j))
    return acc


def lagrange_at_zero(indices: Sequence[int], order: int) -> dict[int, int]:
    """The Lagrange coefficients at 0 of the points ``indices``."""
    out: dict[int, int] = {}
    for i in indices:
        num, den = 1, 1
        for j in indices:
            if j != i:
                num = num * j % order
                den = den * (j - i) % order
        out[i] = num * pow(den, -1, order) % order
    return out
