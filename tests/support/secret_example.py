"""The worked example of docs/secret-ballot.md §7: a whole secret vote on small
fixed numbers, so that a reader (or a second implementation) can follow it by
hand and check every byte.

Three trustees, threshold 2; every secret is a small integer chosen here: the
trustees' share-key secrets ``e_j``, their polynomials' coefficients, trustee
1's ephemeral scalars ``rho``, the ballot's randomness and every prover's
nonces (each ``nonce=`` draws from a fixed list, in the order the prover asks).
Nothing random is left, so every value is reproducible.

- the ceremony: the share keys ``E_j = g^e_j``, every trustee's commitments
  ``A_jk = g^a_jk``, trustee 1's deal in full (the proof of knowledge of
  ``a_10``; for trustees 2 and 3: ``R = g^rho``, the masked share) and the
  share trustee 2 decrypts from it; the election key ``h`` and the
  verification keys ``X_j``;
- one ballot of 2 options, "exactly 1" (bounds (1, 1)), choosing option 0: the
  two ciphertexts, their range proofs over [0, 1], the count proof over [1];
- the aggregate of that one ballot, the decryption shares of trustees 1 and
  2 with their proofs, and the result.

The deal is built here step by step from the specification (the pad is
SHA-512 over length-prefixed parts, §4), not by ``dkg.deal`` (whose ``rho``
is random); tests/verifier/test_secret_example.py checks that the code reads
it as the specification says: ``dkg.decrypt_share`` finds the share,
``dkg.check_share`` accepts it, and every proof verifies.

``python -m tests.support.secret_example`` prints every value as ``name hex``,
the lines §7 lists; points are their 32-byte encodings, scalars 32 bytes
little-endian, as on the wire.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from nacl.signing import SigningKey

from urne.verifier.secret.ballot import COUNT_LABEL, EncryptedBallot, ballot_context, option_label
from urne.verifier.secret.dkg import LABEL_CONSTANT, evaluate, lagrange_at_zero, trustee_context
from urne.verifier.secret.group import Group, L, Ristretto255, ristretto255
from urne.verifier.secret.proofs import Ciphertext, DleqProof, RangeProof, SchnorrProof, encrypt
from urne.verifier.secret.tally import (
    aggregate,
    combine,
    decryption_context,
    decryption_label,
    discrete_log,
)

#: A stand-in for the manifest's fingerprint (§1: SHA-256 of the manifest entry).
FINGERPRINT = hashlib.sha256(b"urne worked example manifest").digest()
#: The voter's pseudonym: the Ed25519 public key of this 32-byte seed.
VOTER_SEED = hashlib.sha256(b"urne worked example voter").digest()

THRESHOLD = 2
#: e_j, each trustee's share-key secret.
SHARE_SECRETS = {1: 3, 2: 5, 3: 7}
#: (a_j0, a_j1): f_j(z) = a_j0 + a_j1 z.
COEFFICIENTS = {1: (11, 13), 2: (17, 19), 3: (23, 29)}
#: trustee 1's deal: the nonce of its proof of knowledge of a_10, then rho per recipient.
DEAL_NONCE = 31
RHO = {2: 37, 3: 41}
#: the ballot: 2 options, exactly 1 chosen, option 0.
OPTIONS, BOUNDS, SELECTED = 2, (1, 1), (0,)
RANDOMNESS = (59, 61)
#: each range proof draws w, then c_i and s_i of each other branch (in order).
OPTION_NONCES = {0: (67, 71, 73), 1: (79, 83, 89)}
COUNT_NONCES = (97,)
#: the decrypting trustees and their nonces (one per option).
DECRYPTING = (1, 2)
DECRYPTION_NONCES = {1: (101, 103), 2: (107, 109)}

TAG_PAD = b"urne/secret/v1/share-pad"

#: The inputs as §7's table lists them.
INPUTS: dict[str, tuple[int, ...]] = {
    "t": (THRESHOLD,),
    "e_1, e_2, e_3": tuple(SHARE_SECRETS[j] for j in (1, 2, 3)),
    **{f"a_{i}0, a_{i}1": COEFFICIENTS[i] for i in (1, 2, 3)},
    "deal_1.proof: w": (DEAL_NONCE,),
    "rho_2, rho_3": (RHO[2], RHO[3]),
    "r_0, r_1": RANDOMNESS,
    "proof_0: w, c_0, s_0": OPTION_NONCES[0],
    "proof_1: w, c_1, s_1": OPTION_NONCES[1],
    "count: w": COUNT_NONCES,
    **{f"D_{j}: w_0, w_1": DECRYPTION_NONCES[j] for j in DECRYPTING},
}


def fixed(values: Sequence[int]) -> Callable[[Group], int]:
    """A prover's nonce source that hands out ``values`` in order, and fails
    when the prover asks for more (a miscount would otherwise go unseen)."""
    it: Iterator[int] = iter(values)

    def nonce(_: Group) -> int:
        return next(it)

    return nonce


def le32(k: int) -> bytes:
    return (k % L).to_bytes(32, "little")


def share_pad(fingerprint: bytes, dealer: int, to: int, r: bytes, k: bytes) -> bytes:
    """§4: SHA-512 of the length-prefixed parts, its first 32 bytes."""
    h = hashlib.sha512()
    for part in (
        TAG_PAD,
        b"ristretto255",
        fingerprint,
        dealer.to_bytes(4, "big"),
        to.to_bytes(4, "big"),
        r,
        k,
    ):
        h.update(len(part).to_bytes(4, "big") + part)
    return h.digest()[:32]


@dataclass(frozen=True)
class Example:
    """Everything the example computes; :meth:`values` names each byte string."""

    group: Ristretto255
    share_keys: dict[int, bytes]
    commitments: dict[int, tuple[bytes, ...]]
    deal_proof: SchnorrProof
    ephemerals: dict[int, bytes]  # trustee 1's R per recipient
    dh_keys: dict[int, bytes]  # K = E_j^rho = R^e_j
    pads: dict[int, bytes]
    masked: dict[int, bytes]
    decrypted_share: int  # what trustee 2 unmasks of trustee 1's share
    key: bytes  # h
    key_shares: dict[int, int]  # x_j
    verification_keys: dict[int, bytes]  # X_j
    pseudonym: bytes
    ballot: EncryptedBallot
    total: Ciphertext  # the product of the ballot's ciphertexts (the count proof's statement)
    aggregates: list[Ciphertext]
    decryptions: dict[int, list[tuple[bytes, DleqProof]]]
    lagrange: dict[int, int]
    result_points: list[bytes]  # g^T_k
    counts: list[int | None]

    def values(self) -> dict[str, bytes]:
        """Every value, named as §7 names it, in its wire form."""
        out: dict[str, bytes] = {"F": FINGERPRINT}
        for j, e in self.share_keys.items():
            out[f"E_{j}"] = e
        for i, cs in self.commitments.items():
            for k, a in enumerate(cs):
                out[f"A_{i}{k}"] = a
        out["deal_1.proof.c"] = le32(self.deal_proof.c)
        out["deal_1.proof.s"] = le32(self.deal_proof.s)
        for j in sorted(self.ephemerals):
            out[f"deal_1.to_{j}.R"] = self.ephemerals[j]
            out[f"deal_1.to_{j}.masked"] = self.masked[j]
            out[f"deal_1.to_{j}.K"] = self.dh_keys[j]
            out[f"deal_1.to_{j}.pad"] = self.pads[j]
            if j == 2:  # the share trustee 2 unmasks: masked XOR pad
                out["deal_1.to_2.share"] = le32(self.decrypted_share)
        out["h"] = self.key
        for j, x in self.verification_keys.items():
            out[f"X_{j}"] = x
        out["pseudonym"] = self.pseudonym
        for k, ct in enumerate(self.ballot.ciphertexts):
            out[f"ct_{k}.alpha"] = ct.alpha
            out[f"ct_{k}.beta"] = ct.beta
        for k, proof in enumerate(self.ballot.proofs):
            for i, (c, s) in enumerate(zip(proof.challenges, proof.responses, strict=True)):
                out[f"proof_{k}.c_{i}"] = le32(c)
                out[f"proof_{k}.s_{i}"] = le32(s)
        out["total.alpha"] = self.total.alpha
        out["total.beta"] = self.total.beta
        count = self.ballot.count
        for i, (c, s) in enumerate(zip(count.challenges, count.responses, strict=True)):
            out[f"count.c_{i}"] = le32(c)
            out[f"count.s_{i}"] = le32(s)
        for k, ct in enumerate(self.aggregates):
            out[f"aggregate_{k}.alpha"] = ct.alpha
            out[f"aggregate_{k}.beta"] = ct.beta
        for j, pairs in self.decryptions.items():
            for k, (d, proof) in enumerate(pairs):
                out[f"D_{j}_{k}"] = d
                out[f"D_{j}_{k}.proof.c"] = le32(proof.c)
                out[f"D_{j}_{k}.proof.s"] = le32(proof.s)
        for k, pt in enumerate(self.result_points):
            out[f"g^T_{k}"] = pt
        return out

    def derived(self) -> dict[str, tuple[int, ...]]:
        """The small numbers §7 derives from the inputs (a Lagrange coefficient
        is shown in ``(-L/2, L/2)``: -1, not L - 1)."""
        lam = tuple(v if v < L // 2 else v - L for v in (self.lagrange[j] for j in DECRYPTING))
        return {
            "f_1(2), f_1(3)": tuple(evaluate(COEFFICIENTS[1], j, L) for j in (2, 3)),
            "log h": (sum(COEFFICIENTS[i][0] for i in COEFFICIENTS) % L,),
            "x_1, x_2, x_3": tuple(self.key_shares[j] for j in (1, 2, 3)),
            "r_0 + r_1": (sum(RANDOMNESS) % L,),
            "lambda_1, lambda_2": lam,
            "T_0, T_1": tuple(-1 if c is None else c for c in self.counts),
        }

    def render(self) -> str:
        width = max(len(name) for name in self.values())
        return "\n".join(f"{name:<{width}}  {v.hex()}" for name, v in self.values().items())


def build() -> Example:
    g = ristretto255()
    trustees = sorted(SHARE_SECRETS)

    # -- the ceremony ----------------------------------------------------------------
    share_keys = {j: g.base(e) for j, e in SHARE_SECRETS.items()}
    commitments = {i: tuple(g.base(a) for a in COEFFICIENTS[i]) for i in trustees}
    deal_proof = SchnorrProof.prove(
        trustee_context(g, FINGERPRINT, 1), LABEL_CONSTANT, COEFFICIENTS[1][0], fixed([DEAL_NONCE])
    )
    ephemerals, dh_keys, pads, masked = {}, {}, {}, {}
    for j, rho in RHO.items():
        ephemerals[j] = g.base(rho)
        dh_keys[j] = g.mul(rho, share_keys[j])
        pads[j] = share_pad(FINGERPRINT, 1, j, ephemerals[j], dh_keys[j])
        share = le32(evaluate(COEFFICIENTS[1], j, L))
        masked[j] = bytes(a ^ b for a, b in zip(share, pads[j], strict=True))
    # trustee 2 unmasks its share with K = R^e_2
    k2 = g.mul(SHARE_SECRETS[2], ephemerals[2])
    raw = bytes(
        a ^ b
        for a, b in zip(masked[2], share_pad(FINGERPRINT, 1, 2, ephemerals[2], k2), strict=True)
    )
    decrypted_share = int.from_bytes(raw, "little")

    key = g.base(sum(COEFFICIENTS[i][0] for i in trustees))
    key_shares = {j: sum(evaluate(COEFFICIENTS[i], j, L) for i in trustees) % L for j in trustees}
    verification_keys = {j: g.base(x) for j, x in key_shares.items()}

    # -- the ballot --------------------------------------------------------------------
    pseudonym = bytes(SigningKey(VOTER_SEED).verify_key)
    ctx = ballot_context(g, FINGERPRINT, key, pseudonym)
    cts, proofs = [], []
    for k in range(OPTIONS):
        m = 1 if k in SELECTED else 0
        ct = encrypt(g, key, m, RANDOMNESS[k])
        cts.append(ct)
        proofs.append(
            RangeProof.prove(
                ctx, option_label(k), key, ct, (0, 1), m, RANDOMNESS[k], fixed(OPTION_NONCES[k])
            )
        )
    total = Ciphertext(g.identity, g.identity)
    for ct in cts:
        total = total.add(g, ct)
    lo, hi = BOUNDS
    count = RangeProof.prove(
        ctx,
        COUNT_LABEL,
        key,
        total,
        range(lo, hi + 1),
        len(SELECTED),
        sum(RANDOMNESS) % L,
        fixed(COUNT_NONCES),
    )
    ballot = EncryptedBallot(tuple(cts), tuple(proofs), count)

    # -- the tally ---------------------------------------------------------------------
    aggregates = aggregate(g, [ballot.ciphertexts], OPTIONS)
    dctx = decryption_context(g, FINGERPRINT, key)
    decryptions = {
        j: [
            (
                g.mul(key_shares[j], ct.alpha),
                DleqProof.prove(
                    dctx,
                    decryption_label(k),
                    key_shares[j],
                    ct.alpha,
                    fixed([DECRYPTION_NONCES[j][k]]),
                ),
            )
            for k, ct in enumerate(aggregates)
        ]
        for j in DECRYPTING
    }
    lagrange = lagrange_at_zero(DECRYPTING, L)
    points = combine(g, aggregates, {j: [d for d, _ in ds] for j, ds in decryptions.items()})
    counts = [discrete_log(g, pt, 1) for pt in points]
    return Example(
        group=g,
        share_keys=share_keys,
        commitments=commitments,
        deal_proof=deal_proof,
        ephemerals=ephemerals,
        dh_keys=dh_keys,
        pads=pads,
        masked=masked,
        decrypted_share=decrypted_share,
        key=key,
        key_shares=key_shares,
        verification_keys=verification_keys,
        pseudonym=pseudonym,
        ballot=ballot,
        total=total,
        aggregates=aggregates,
        decryptions=decryptions,
        lagrange=lagrange,
        result_points=points,
        counts=counts,
    )


if __name__ == "__main__":
    ex = build()
    print(ex.render())
    lam = {j: (v if v < L // 2 else v - L) for j, v in ex.lagrange.items()}
    print(f"# x_j = {ex.key_shares}, lambda (mod L) = {lam}, counts = {ex.counts}")
