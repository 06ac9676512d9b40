"""The trustees' key generation (``urne.verifier.secret.dkg``, docs/secret-ballot.md §4).

Joint-Feldman with complaints, run here end to end for ``n`` = 3..5 trustees
and every threshold ``t`` = 2..n:

- all honest: every trustee's share ``x_j`` matches its public verification
  key, and every ``t`` of them decrypt;
- a dealer who sends one trustee a wrong share: that trustee's complaint stands
  (anyone can check it), the dealer leaves the qualified set, and the rest still
  decrypt when at least ``t`` remain;
- a complaint about a good share does not stand; a complaint whose revealed key
  is not proven raises; a proof of knowledge of the constant term that is not
  the dealer's is refused;
- the same code in BLS12-381 G1 (one implementation, two groups): the shares
  interpolate to the secret whose ``base()`` is the joint key;
- Lagrange at 0 interpolates any polynomial of degree below the number of points.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urne.verifier.errors import FormatError, ProofError
from urne.verifier.secret.dkg import (
    LABEL_CONSTANT,
    Dealt,
    EncryptedShare,
    check_share,
    complain,
    deal,
    decrypt_share,
    evaluate,
    joint_key,
    lagrange_at_zero,
    trustee_context,
    verification_key,
    verify_complaint,
)
from urne.verifier.secret.group import BlsG1, Group, ristretto255
from urne.verifier.secret.proofs import DleqProof, SchnorrProof, encrypt
from urne.verifier.secret.tally import (
    aggregate,
    combine,
    decryption_context,
    discrete_log,
    share_decryption,
    verify_decryption,
)

F = hashlib.sha256(b"manifest of the key ceremony").digest()
TOTALS = [3, 0, 2]
SIZES = [(n, t) for n in range(3, 6) for t in range(2, n + 1)]


@pytest.fixture(scope="module")
def bls() -> BlsG1:
    return BlsG1()


def scalar(group: Group, *label: object) -> int:
    """A fixed non-zero scalar per label: the runs are reproducible."""
    digest = hashlib.sha512(repr(label).encode()).digest()
    return int.from_bytes(digest, "little") % (group.order - 1) + 1


@dataclasses.dataclass
class Ceremony:
    group: Group
    n: int
    t: int
    secret_keys: dict[int, int]  # e_j
    share_keys: dict[int, bytes]  # E_j = g^{e_j}
    deals: dict[int, Dealt]
    coefficients: dict[int, list[int]]

    def received(self, dealer: int, to: int) -> int | None:
        """What trustee ``to`` decrypts of dealer's share (its own in clear)."""
        if dealer == to:
            return self.deals[dealer].own_share
        return decrypt_share(
            self.group,
            F,
            dealer,
            to,
            self.deals[dealer].shares[to],
            secret_key=self.secret_keys[to],
        )

    def complaints(self) -> list[tuple[int, int]]:
        """``(dealer, to)`` for every share its recipient finds wrong."""
        return [
            (i, j)
            for i in self.deals
            for j in self.deals[i].shares
            if not check_share(self.group, self.deals[i].commitments, j, self.received(i, j))
        ]

    def key_share(self, j: int, qualified: Sequence[int]) -> int:
        total = 0
        for i in qualified:
            s = self.received(i, j)
            assert s is not None
            total += s
        return total % self.group.order


def ceremony(group: Group, n: int, t: int, tag: str = "") -> Ceremony:
    sk = {j: scalar(group, "e", tag, j) for j in range(1, n + 1)}
    pk = {j: group.base(e) for j, e in sk.items()}
    coefficients = {i: [scalar(group, "a", tag, i, k) for k in range(t)] for i in sk}
    deals = {i: deal(group, F, i, t, pk, coefficients=coefficients[i]) for i in sk}
    return Ceremony(group, n, t, sk, pk, deals, coefficients)


def decrypts(c: Ceremony, qualified: Sequence[int], deciders: Sequence[int]) -> list[int | None]:
    """Three ballots of three options (totals 3, 0 and 2) under the qualified
    set's key, decrypted with the shares of ``deciders`` (each share proven and
    checked): the totals found."""
    g = c.group
    h = joint_key(g, [c.deals[i].commitments[0] for i in qualified])
    choices = [(1, 0, 1), (1, 0, 0), (1, 0, 1)]
    ballots = [
        [encrypt(g, h, m, scalar(g, "r", v, k)) for k, m in enumerate(ms)]
        for v, ms in enumerate(choices)
    ]
    aggregates = aggregate(g, ballots, 3)
    ctx = decryption_context(g, F, h)
    shares = {}
    for j in deciders:
        pairs = share_decryption(ctx, c.key_share(j, qualified), aggregates)
        xj = verification_key(g, [c.deals[i].commitments for i in qualified], j)
        verify_decryption(ctx, xj, aggregates, [d for d, _ in pairs], [p for _, p in pairs])
        shares[j] = [d for d, _ in pairs]
    return [discrete_log(g, pt, 3) for pt in combine(g, aggregates, shares)]


# -- all honest ------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "t"), SIZES)
def test_an_honest_ceremony_gives_shares_that_match_their_keys(n: int, t: int) -> None:
    g = ristretto255()
    c = ceremony(g, n, t)
    assert c.complaints() == []
    qualified = list(range(1, n + 1))
    commitments = [c.deals[i].commitments for i in qualified]
    for i in qualified:
        assert len(c.deals[i].commitments) == t
        assert set(c.deals[i].shares) == set(qualified) - {i}
        c.deals[i].proof.verify(trustee_context(g, F, i), LABEL_CONSTANT, c.deals[i].commitments[0])
    h = joint_key(g, [cm[0] for cm in commitments])
    assert h == g.base(sum(c.coefficients[i][0] for i in qualified))
    for j in qualified:
        xj = c.key_share(j, qualified)
        assert g.base(xj) == verification_key(g, commitments, j)
        # x_j is the sum of the polynomials at j
        assert xj == sum(evaluate(c.coefficients[i], j, g.order) for i in qualified) % g.order


@pytest.mark.parametrize(("n", "t"), SIZES)
def test_any_t_trustees_of_an_honest_ceremony_decrypt(n: int, t: int) -> None:
    c = ceremony(ristretto255(), n, t)
    qualified = list(range(1, n + 1))
    for deciders in itertools.combinations(qualified, t):
        assert decrypts(c, qualified, deciders) == TOTALS, deciders


@pytest.mark.parametrize(("n", "t"), [(3, 2), (4, 3), (5, 5)])
def test_fewer_than_t_trustees_do_not_decrypt(n: int, t: int) -> None:
    c = ceremony(ristretto255(), n, t)
    qualified = list(range(1, n + 1))
    for deciders in itertools.combinations(qualified, t - 1):
        assert decrypts(c, qualified, deciders) != TOTALS


def test_a_deal_has_threshold_coefficients() -> None:
    g = ristretto255()
    with pytest.raises(ValueError):
        deal(g, F, 1, 3, {2: g.base(5)}, coefficients=[1, 2])


def test_random_deals_differ_and_check() -> None:
    g = ristretto255()
    keys = {j: g.base(j + 10) for j in (1, 2, 3)}
    a, b = deal(g, F, 1, 2, keys), deal(g, F, 1, 2, keys)
    assert a.commitments != b.commitments
    assert a.shares[2].ephemeral != b.shares[2].ephemeral
    for d in (a, b):
        for j in (2, 3):
            share = decrypt_share(g, F, 1, j, d.shares[j], secret_key=j + 10)
            assert check_share(g, d.commitments, j, share)


def test_the_joint_key_is_never_the_identity() -> None:
    g = ristretto255()
    with pytest.raises(FormatError) as err:
        joint_key(g, [g.base(5), g.base(g.order - 5)])
    assert err.value.code == "bad_point"


# -- a cheating dealer -----------------------------------------------------------------


def cheat(c: Ceremony, dealer: int, victim: int, how: str) -> None:
    """Replace the share ``dealer`` sends ``victim`` with a wrong one."""
    g = c.group
    if how == "other polynomial":
        # a share of another polynomial, properly encrypted to the victim
        other = [a + 1 for a in c.coefficients[dealer]]
        wrong = deal(g, F, dealer, c.t, {victim: c.share_keys[victim]}, coefficients=other)
        enc = wrong.shares[victim]
    else:
        # garbage: whatever it unmasks to, it is not the promised share
        real = c.deals[dealer].shares[victim]
        enc = EncryptedShare(real.ephemeral, bytes(b ^ 0xFF for b in real.masked))
    shares = {**c.deals[dealer].shares, victim: enc}
    c.deals[dealer] = dataclasses.replace(c.deals[dealer], shares=shares)


@pytest.mark.parametrize("how", ["other polynomial", "garbage"])
@pytest.mark.parametrize(("n", "t"), SIZES)
def test_a_complaint_against_a_cheating_dealer_stands(n: int, t: int, how: str) -> None:
    g = ristretto255()
    c = ceremony(g, n, t, tag=how)
    dealer, victim = t % n + 1, (t + 1) % n + 1
    cheat(c, dealer, victim, how)
    assert c.complaints() == [(dealer, victim)]

    enc = c.deals[dealer].shares[victim]
    k, proof = complain(g, F, dealer, victim, c.secret_keys[victim], enc)
    assert verify_complaint(
        g, F, dealer, victim, c.share_keys[victim], enc, c.deals[dealer].commitments, k, proof
    )
    # the complaint travels as bytes: K and the 64-byte proof
    proof = DleqProof.decode(g, proof.to_bytes(), "complaint.proof")
    assert verify_complaint(
        g, F, dealer, victim, c.share_keys[victim], enc, c.deals[dealer].commitments, k, proof
    )

    qualified = [i for i in range(1, n + 1) if i != dealer]
    commitments = [c.deals[i].commitments for i in qualified]
    for j in range(1, n + 1):
        assert g.base(c.key_share(j, qualified)) == verification_key(g, commitments, j)
    if len(qualified) >= t:
        for deciders in itertools.combinations(qualified, t):
            assert decrypts(c, qualified, deciders) == TOTALS
    else:
        # n - 1 < t: not enough trustees are left to decrypt
        assert decrypts(c, qualified, qualified) != TOTALS


def test_a_complaint_against_an_honest_dealer_does_not_stand() -> None:
    g = ristretto255()
    c = ceremony(g, 4, 3)
    for dealer, victim in itertools.permutations(range(1, 5), 2):
        enc = c.deals[dealer].shares[victim]
        k, proof = complain(g, F, dealer, victim, c.secret_keys[victim], enc)
        assert not verify_complaint(
            g, F, dealer, victim, c.share_keys[victim], enc, c.deals[dealer].commitments, k, proof
        )


def test_a_complaint_with_a_forged_reveal_raises() -> None:
    g = ristretto255()
    c = ceremony(g, 3, 2)
    dealer, victim = 2, 3
    enc = c.deals[dealer].shares[victim]
    commitments = c.deals[dealer].commitments
    k, proof = complain(g, F, dealer, victim, c.secret_keys[victim], enc)

    def check(**change: Any) -> bool:
        args: dict[str, Any] = {
            "group": g,
            "fingerprint": F,
            "dealer": dealer,
            "to": victim,
            "share_key": c.share_keys[victim],
            "enc": enc,
            "commitments": commitments,
            "dh_key": k,
            "proof": proof,
        }
        args.update(change)
        return verify_complaint(**args)

    assert not check()  # the share is good: the complaint does not stand
    for change in [
        {"dh_key": g.add(k, g.generator)},  # a wrong K, which unmasks a wrong share
        {"dh_key": g.base(12345)},
        {"proof": DleqProof(proof.c, (proof.s + 1) % g.order)},
        # the reveal proven with another trustee's key
        {"proof": complain(g, F, dealer, victim, c.secret_keys[1], enc)[1]},
        {"share_key": c.share_keys[1]},
        # made by trustee 3 about dealer 2, presented as about dealer 1 or by trustee 1
        {"dealer": 1, "enc": c.deals[1].shares[victim], "commitments": c.deals[1].commitments},
        {"to": 1},
        {"fingerprint": hashlib.sha256(b"another manifest").digest()},
    ]:
        with pytest.raises(ProofError) as err:
            check(**change)
        assert err.value.code == "bad_dleq_proof", change


def test_a_wrong_k_would_otherwise_frame_an_honest_dealer() -> None:
    # why the reveal must be proven: with a wrong K the share unmasks wrong
    g = ristretto255()
    c = ceremony(g, 3, 2)
    enc = c.deals[1].shares[2]
    k = g.mul(c.secret_keys[2], enc.ephemeral)
    assert check_share(g, c.deals[1].commitments, 2, decrypt_share(g, F, 1, 2, enc, dh_key=k))
    wrong = decrypt_share(g, F, 1, 2, enc, dh_key=g.add(k, g.generator))
    assert not check_share(g, c.deals[1].commitments, 2, wrong)


def test_a_bad_proof_of_knowledge_of_the_constant_is_refused() -> None:
    g = ristretto255()
    c = ceremony(g, 3, 2)
    d = c.deals[2]
    ctx = trustee_context(g, F, 2)
    d.proof.verify(ctx, LABEL_CONSTANT, d.commitments[0])
    # the rogue key: trustee 2 picks A_20 = g^a / (A_10 A_30) to own the joint
    # key, and cannot prove it knows its logarithm; a proof for g^a is not one
    a = 777
    rogue = g.sub(g.sub(g.base(a), c.deals[1].commitments[0]), c.deals[3].commitments[0])
    assert joint_key(g, [c.deals[1].commitments[0], rogue, c.deals[3].commitments[0]]) == g.base(a)
    for proof, context, key in [
        (SchnorrProof.prove(ctx, LABEL_CONSTANT, a), ctx, rogue),
        (d.proof, ctx, rogue),
        (d.proof, trustee_context(g, F, 1), d.commitments[0]),  # replayed as trustee 1's
        (c.deals[1].proof, ctx, c.deals[1].commitments[0]),  # trustee 1's, replayed as 2's
        (SchnorrProof(d.proof.c, (d.proof.s + 1) % g.order), ctx, d.commitments[0]),
        (SchnorrProof((d.proof.c + 1) % g.order, d.proof.s), ctx, d.commitments[0]),
    ]:
        with pytest.raises(ProofError) as err:
            proof.verify(context, LABEL_CONSTANT, key)
        assert err.value.code == "bad_knowledge_proof"
    with pytest.raises(ProofError):
        d.proof.verify(ctx, b"share-key", d.commitments[0])


# -- the same code in BLS12-381 G1 -------------------------------------------------------


@pytest.mark.parametrize(("n", "t"), [(3, 2), (4, 3), (5, 2), (5, 5)])
def test_the_ceremony_runs_in_bls12_381_g1(bls: BlsG1, n: int, t: int) -> None:
    c = ceremony(bls, n, t, tag="bls")
    assert c.complaints() == []
    qualified = list(range(1, n + 1))
    for i in qualified:
        assert all(len(a) == 48 for a in c.deals[i].commitments)
        assert bls.decode(c.deals[i].commitments[0], "A_i0") == c.deals[i].commitments[0]
        c.deals[i].proof.verify(
            trustee_context(bls, F, i), LABEL_CONSTANT, c.deals[i].commitments[0]
        )
    commitments = [c.deals[i].commitments for i in qualified]
    h = joint_key(bls, [cm[0] for cm in commitments])
    shares = {j: c.key_share(j, qualified) for j in qualified}
    for j, xj in shares.items():
        assert bls.base(xj) == verification_key(bls, commitments, j)
    secret = sum(c.coefficients[i][0] for i in qualified) % bls.order
    for deciders in itertools.combinations(qualified, t):
        lam = lagrange_at_zero(deciders, bls.order)
        combined = sum(lam[j] * shares[j] for j in deciders) % bls.order
        assert combined == secret
        assert bls.base(combined) == h
        # and in the exponent, as trustees would: prod X_j^{lambda_j} = h
        assert bls.msm([bls.base(shares[j]) for j in deciders], [lam[j] for j in deciders]) == h


def test_a_cheating_dealer_is_caught_in_bls12_381_g1(bls: BlsG1) -> None:
    c = ceremony(bls, 4, 2, tag="bls-cheat")
    cheat(c, 3, 1, "other polynomial")
    assert c.complaints() == [(3, 1)]
    enc = c.deals[3].shares[1]
    k, proof = complain(bls, F, 3, 1, c.secret_keys[1], enc)
    assert verify_complaint(bls, F, 3, 1, c.share_keys[1], enc, c.deals[3].commitments, k, proof)
    with pytest.raises(ProofError):
        verify_complaint(
            bls, F, 3, 1, c.share_keys[1], enc, c.deals[3].commitments, bls.base(9), proof
        )
    qualified = [1, 2, 4]
    h = joint_key(bls, [c.deals[i].commitments[0] for i in qualified])
    lam = lagrange_at_zero([2, 4], bls.order)
    x = (lam[2] * c.key_share(2, qualified) + lam[4] * c.key_share(4, qualified)) % bls.order
    assert bls.base(x) == h


def test_the_groups_refuse_each_others_points(bls: BlsG1) -> None:
    r = ristretto255()
    with pytest.raises(FormatError):
        bls.decode(r.generator, "p")
    with pytest.raises(FormatError):
        r.decode(bls.generator, "p")
    with pytest.raises(FormatError) as err:
        bls.decode(bls.identity, "key")
    assert err.value.code == "bad_point"
    assert bls.decode(bls.identity, "alpha", allow_identity=True) == bls.identity


# -- Lagrange at 0 ---------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    coefficients=st.lists(st.integers(0, 2**300), min_size=1, max_size=6),
    extra=st.integers(0, 3),
    indices=st.sets(st.integers(1, 64), min_size=9, max_size=9),
    which=st.sampled_from(["ristretto255", "bls"]),
)
def test_lagrange_at_zero_interpolates(
    coefficients: list[int], extra: int, indices: set[int], which: str
) -> None:
    order = ristretto255().order if which == "ristretto255" else BlsG1().order
    points = sorted(indices)[: len(coefficients) + extra]
    lam = lagrange_at_zero(points, order)
    assert set(lam) == set(points)
    f0 = sum(lam[i] * evaluate(coefficients, i, order) for i in points) % order
    assert f0 == coefficients[0] % order
    assert sum(lam.values()) % order == 1  # the constant polynomial 1


def test_lagrange_at_zero_with_too_few_points_misses() -> None:
    order = ristretto255().order
    coefficients = [5, 7, 11]  # degree 2 needs 3 points
    lam = lagrange_at_zero([1, 2], order)
    assert sum(lam[i] * evaluate(coefficients, i, order) for i in (1, 2)) % order != 5


def test_lagrange_at_zero_known_values() -> None:
    # {1, 2}: lambda_1 = 2, lambda_2 = -1; {1, 2, 3}: 3, -3, 1
    q = 101
    assert lagrange_at_zero([1, 2], q) == {1: 2, 2: q - 1}
    assert lagrange_at_zero([1, 2, 3], q) == {1: 3, 2: q - 3, 3: 1}
    assert lagrange_at_zero([4], q) == {4: 1}
