"""The proofs, the ballot and the tally of ``urne.verifier.secret``
(docs/secret-ballot.md §2, §5, §6).

- completeness: every honest proof verifies (hypothesis, random statements);
- every single-bit change of an encoded proof, on every bit of one proof of
  each kind, is refused (at decoding or at verification), and so is every
  single-bit change of a ballot's ciphertexts and proofs;
- a proof is bound to its context: another pseudonym, fingerprint, key or label
  refuses it;
- a range proof cannot be made, nor forged by an honest prover's code, for a
  value outside its range;
- the attack of Bernhard, Pereira and Warinschi (Asiacrypt 2012) on the weak
  Fiat-Shamir transform: a proof that a ciphertext of 2 holds 0 or 1 is built
  here against a verifier whose challenge hashes only the commitments, and
  passes it; ``RangeProof.verify`` (which hashes the statement) refuses it;
- the tally: random elections with revotes (only the last ballot of a voter is
  aggregated), decrypted by a random ``t`` of ``n`` trustees, give the plaintext
  counts; a wrong decryption share is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from urne.verifier.errors import FormatError, ProofError
from urne.verifier.secret.ballot import (
    COUNT_LABEL,
    EncryptedBallot,
    Opening,
    ballot_context,
    encrypt_ballot,
    open_challenge,
    option_label,
)
from urne.verifier.secret.dkg import evaluate
from urne.verifier.secret.group import L, Ristretto255, hash_to_scalar, ristretto255
from urne.verifier.secret.proofs import (
    Ciphertext,
    Context,
    DleqProof,
    RangeProof,
    SchnorrProof,
    encrypt,
)
from urne.verifier.secret.tally import (
    aggregate,
    combine,
    decryption_context,
    decryption_label,
    discrete_log,
    share_decryption,
    verify_decryption,
)

G: Ristretto255 = ristretto255()
FEW = settings(max_examples=25, deadline=None)

scalars = st.integers(min_value=1, max_value=L - 1)


def fingerprint(label: str) -> bytes:
    return hashlib.sha256(b"manifest " + label.encode()).digest()


def pseudonym(label: str) -> bytes:
    return hashlib.sha256(b"pseudonym " + label.encode()).digest()


F = fingerprint("test")
X = 0x1234_5678_9ABC_DEF0_1122_3344  # the election key's secret, for these tests
H = G.base(X)
P = pseudonym("alice")
CTX = ballot_context(G, F, H, P)


def flips(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Every single-bit change of ``data``."""
    for i in range(8 * len(data)):
        b = bytearray(data)
        b[i // 8] ^= 1 << (i % 8)
        yield i, bytes(b)


def refused(check: Callable[[], object]) -> str:
    """The class of error ``check`` raises; fails the test when it raises none."""
    try:
        check()
    except FormatError:
        return "format"
    except ProofError:
        return "proof"
    raise AssertionError("accepted")


# -- completeness ----------------------------------------------------------------------


@FEW
@given(
    x=scalars,
    r=scalars,
    lo=st.integers(0, 5),
    width=st.integers(1, 4),
    data=st.data(),
)
def test_every_honest_range_proof_verifies(
    x: int, r: int, lo: int, width: int, data: st.DataObject
) -> None:
    h = G.base(x)
    values = range(lo, lo + width)
    m = data.draw(st.sampled_from(values))
    ctx = ballot_context(G, F, h, P)
    ct = encrypt(G, h, m, r)
    proof = RangeProof.prove(ctx, b"label", h, ct, values, m, r)
    decoded = RangeProof.decode(G, proof.to_bytes(), width, "proof")
    assert decoded == proof
    decoded.verify(ctx, b"label", h, ct, values)
    # the ciphertext decrypts to m
    assert G.sub(ct.beta, G.mul(x, ct.alpha)) == G.base(m)


@FEW
@given(x=scalars, y=scalars)
def test_every_honest_dleq_proof_verifies(x: int, y: int) -> None:
    base = G.base(y)
    ctx = Context(G, (F, (7).to_bytes(4, "big")))
    proof = DleqProof.prove(ctx, b"decrypt", x, base)
    decoded = DleqProof.decode(G, proof.to_bytes(), "proof")
    assert decoded == proof
    decoded.verify(ctx, b"decrypt", G.base(x), base, G.mul(x, base))


@FEW
@given(a=scalars)
def test_every_honest_schnorr_proof_verifies(a: int) -> None:
    ctx = Context(G, (F, (1).to_bytes(4, "big")))
    proof = SchnorrProof.prove(ctx, b"deal-constant", a)
    decoded = SchnorrProof.decode(G, proof.to_bytes(), "proof")
    assert decoded == proof
    decoded.verify(ctx, b"deal-constant", G.base(a))


# -- soundness: every bit of one proof of each kind ----------------------------------


def test_every_bit_flip_of_a_range_proof_is_refused() -> None:
    r = 0xABCDEF
    ct = encrypt(G, H, 1, r)
    proof = RangeProof.prove(CTX, option_label(0), H, ct, (0, 1), 1, r).to_bytes()
    RangeProof.decode(G, proof, 2, "p").verify(CTX, option_label(0), H, ct, (0, 1))
    kinds = [
        refused(
            lambda p=p: RangeProof.decode(G, p, 2, "p").verify(CTX, option_label(0), H, ct, (0, 1))
        )
        for _, p in flips(proof)
    ]
    assert len(kinds) == 1024
    # bit 255 of each scalar puts it above the order: refused at decoding
    assert kinds.count("format") >= 4
    assert "proof" in kinds


def test_every_bit_flip_of_a_count_proof_of_three_branches_is_refused() -> None:
    r = 0x5EED
    ct = encrypt(G, H, 2, r)
    values = range(1, 4)
    proof = RangeProof.prove(CTX, COUNT_LABEL, H, ct, values, 2, r).to_bytes()
    assert len(proof) == 3 * 64
    for _, p in flips(proof):
        refused(lambda p=p: RangeProof.decode(G, p, 3, "p").verify(CTX, COUNT_LABEL, H, ct, values))


def test_every_bit_flip_of_a_dleq_proof_is_refused() -> None:
    x, alpha = 0xC0FFEE, G.base(0xBEEF)
    ctx = decryption_context(G, F, H)
    big_x, d = G.base(x), G.mul(x, alpha)
    proof = DleqProof.prove(ctx, decryption_label(0), x, alpha).to_bytes()
    DleqProof.decode(G, proof, "p").verify(ctx, decryption_label(0), big_x, alpha, d)
    kinds = [
        refused(
            lambda p=p: DleqProof.decode(G, p, "p").verify(
                ctx, decryption_label(0), big_x, alpha, d
            )
        )
        for _, p in flips(proof)
    ]
    assert len(kinds) == 512 and "proof" in kinds and "format" in kinds


def test_every_bit_flip_of_a_schnorr_proof_is_refused() -> None:
    a = 0xFACADE
    ctx = Context(G, (F, (2).to_bytes(4, "big")))
    proof = SchnorrProof.prove(ctx, b"deal-constant", a).to_bytes()
    SchnorrProof.decode(G, proof, "p").verify(ctx, b"deal-constant", G.base(a))
    kinds = [
        refused(lambda p=p: SchnorrProof.decode(G, p, "p").verify(ctx, b"deal-constant", G.base(a)))
        for _, p in flips(proof)
    ]
    assert len(kinds) == 512 and "proof" in kinds and "format" in kinds


@pytest.mark.parametrize("size", [0, 63, 65, 128])
def test_a_proof_of_the_wrong_length_is_refused(size: int) -> None:
    for decode in (
        lambda d: DleqProof.decode(G, d, "p"),
        lambda d: SchnorrProof.decode(G, d, "p"),
        lambda d: RangeProof.decode(G, d, 3, "p"),
    ):
        with pytest.raises(FormatError) as err:
            decode(bytes(size))
        assert err.value.code == "bad_proof"


def test_a_range_proof_with_the_wrong_number_of_branches_is_refused() -> None:
    r = 99
    ct = encrypt(G, H, 1, r)
    proof = RangeProof.prove(CTX, b"l", H, ct, (0, 1), 1, r)
    with pytest.raises(ProofError) as err:
        proof.verify(CTX, b"l", H, ct, (0, 1, 2))
    assert err.value.code == "bad_range_proof"


# -- a proof is bound to its context ---------------------------------------------------


def test_a_range_proof_fails_in_any_other_context() -> None:
    r = 0x7777
    ct = encrypt(G, H, 1, r)
    proof = RangeProof.prove(CTX, option_label(0), H, ct, (0, 1), 1, r)
    proof.verify(CTX, option_label(0), H, ct, (0, 1))
    other_h = G.base(X + 1)
    others: list[tuple[Context, bytes, bytes]] = [
        (ballot_context(G, F, H, pseudonym("bob")), option_label(0), H),  # other pseudonym
        (ballot_context(G, fingerprint("other"), H, P), option_label(0), H),  # other manifest
        (ballot_context(G, F, other_h, P), option_label(0), other_h),  # other key
        (ballot_context(G, F, other_h, P), option_label(0), H),  # key only in the context
        (ballot_context(G, F, H, P), option_label(0), other_h),  # key only in the statement
        (CTX, option_label(1), H),  # other option
        (CTX, COUNT_LABEL, H),  # other label
    ]
    for ctx, label, key in others:
        with pytest.raises(ProofError) as err:
            proof.verify(ctx, label, key, ct, (0, 1))
        assert err.value.code == "bad_range_proof"
    # the same ciphertext under other values
    with pytest.raises(ProofError):
        proof.verify(CTX, option_label(0), H, ct, (1, 2))
    # another ciphertext of the same value
    with pytest.raises(ProofError):
        proof.verify(CTX, option_label(0), H, encrypt(G, H, 1, r + 1), (0, 1))


def test_a_dleq_proof_fails_in_any_other_context() -> None:
    x, alpha = 0xD1CE, G.base(0x5A5A)
    ctx = decryption_context(G, F, H)
    big_x, d = G.base(x), G.mul(x, alpha)
    proof = DleqProof.prove(ctx, decryption_label(1), x, alpha)
    proof.verify(ctx, decryption_label(1), big_x, alpha, d)
    for c, label in [
        (decryption_context(G, fingerprint("other"), H), decryption_label(1)),
        (decryption_context(G, F, G.base(X + 1)), decryption_label(1)),
        (ctx, decryption_label(0)),
        (Context(G, (F, H, P)), decryption_label(1)),
    ]:
        with pytest.raises(ProofError) as err:
            proof.verify(c, label, big_x, alpha, d)
        assert err.value.code == "bad_dleq_proof"
    # a share of another secret, another base, another trustee's key
    for bx, base, z in [
        (big_x, alpha, G.mul(x + 1, alpha)),
        (big_x, G.base(0x5A5B), d),
        (G.base(x + 1), alpha, d),
    ]:
        with pytest.raises(ProofError):
            proof.verify(ctx, decryption_label(1), bx, base, z)


def test_a_schnorr_proof_fails_in_any_other_context() -> None:
    a = 0xA11CE
    ctx = Context(G, (F, (3).to_bytes(4, "big")))
    proof = SchnorrProof.prove(ctx, b"deal-constant", a)
    proof.verify(ctx, b"deal-constant", G.base(a))
    for c, label, big_a in [
        (Context(G, (F, (4).to_bytes(4, "big"))), b"deal-constant", G.base(a)),  # other trustee
        (Context(G, (fingerprint("x"), (3).to_bytes(4, "big"))), b"deal-constant", G.base(a)),
        (ctx, b"share-key", G.base(a)),  # other label
        (ctx, b"deal-constant", G.base(a + 1)),  # other key
    ]:
        with pytest.raises(ProofError) as err:
            proof.verify(c, label, big_a)
        assert err.value.code == "bad_knowledge_proof"


# -- out-of-range values ---------------------------------------------------------------


@pytest.mark.parametrize(("values", "m"), [((0, 1), 2), ((0, 1), -1), (range(1, 3), 0), ((), 0)])
def test_a_range_proof_cannot_be_made_for_an_out_of_range_value(
    values: Sequence[int], m: int
) -> None:
    ct = encrypt(G, H, m, 5)
    with pytest.raises(ValueError):
        RangeProof.prove(CTX, b"l", H, ct, values, m, 5)


@FEW
@given(m=st.integers(2, 50), claimed=st.sampled_from([0, 1]), r=scalars)
def test_a_prover_that_lies_about_its_value_is_refused(m: int, claimed: int, r: int) -> None:
    # the honest prover's code, told the plaintext is `claimed` while the
    # ciphertext holds m: the simulated branch is fine, the real one is not
    ct = encrypt(G, H, m, r)
    proof = RangeProof.prove(CTX, option_label(0), H, ct, (0, 1), claimed, r)
    with pytest.raises(ProofError):
        proof.verify(CTX, option_label(0), H, ct, (0, 1))


@pytest.mark.parametrize(
    ("options", "selected", "bounds"),
    [(2, [0, 1], (1, 1)), (3, [], (1, 2)), (2, [2], (1, 1)), (2, [-1], (0, 1))],
)
def test_a_ballot_outside_its_bounds_cannot_be_made(
    options: int, selected: list[int], bounds: tuple[int, int]
) -> None:
    with pytest.raises(ValueError):
        encrypt_ballot(CTX, H, options, selected, bounds)


# -- the weak Fiat-Shamir transform (Bernhard, Pereira, Warinschi 2012) ---------------


def weak_challenge(commitments: Sequence[bytes]) -> int:
    """Helios's weak form: the challenge hashes the commitments and nothing else."""
    return hash_to_scalar(G, b"weak-fiat-shamir", *commitments)


def weak_verify(proof: RangeProof, key: bytes, ct: Ciphertext, values: Sequence[int]) -> bool:
    """The range check of §2, with the weak challenge."""
    commitments = proof.commitments(CTX, key, ct, values)  # uses CTX's group only
    return sum(proof.challenges) % L == weak_challenge(commitments)


def forge_weak_proof(seed: int) -> tuple[int, bytes, Ciphertext, RangeProof, int]:
    """A ciphertext of 2 with a 'proof' that it holds 0 or 1, valid under the weak
    transform: the commitments are fixed first, and the statement, which the weak
    challenge does not hash, is solved for afterwards. Here the free part of the
    statement is the election key ``h = g^x`` (a trustee who publishes its key
    after the ballot, as BPW describe for Helios), so the forger knows ``x``.

    With ``A_i = g^{a_i}``, ``B_i = g^{b_i}``, ``alpha = g^r``, ``beta = h^r g^2``
    and ``s_i = a_i + r c_i``, branch ``i`` (value ``v_i``) holds when
    ``x a_i - (2 - v_i) c_i = b_i``; with ``c_0 + c_1 = c`` that fixes
    ``x = (c + b_1 + b_0 / 2) / (a_1 + a_0 / 2)``.
    """
    d = [hash_to_scalar(G, b"forger", seed.to_bytes(8, "big"), bytes([i])) for i in range(5)]
    a0, a1, b0, b1, r = d
    commitments = [G.base(a0), G.base(b0), G.base(a1), G.base(b1)]
    c = weak_challenge(commitments)
    half = pow(2, -1, L)
    x = (c + b1 + b0 * half) * pow((a1 + a0 * half) % L, -1, L) % L
    c0 = (x * a0 - b0) * half % L
    c1 = (x * a1 - b1) % L
    assert (c0 + c1) % L == c
    h = G.base(x)
    ct = encrypt(G, h, 2, r)
    proof = RangeProof((c0, c1), ((a0 + r * c0) % L, (a1 + r * c1) % L))
    return x, h, ct, proof, r


@pytest.mark.parametrize("seed", range(5))
def test_the_weak_fiat_shamir_forgery_passes_a_weak_verifier_and_not_ours(seed: int) -> None:
    x, h, ct, proof, r = forge_weak_proof(seed)
    # the ciphertext holds 2, which is not in [0, 1] ...
    assert G.sub(ct.beta, G.mul(x, ct.alpha)) == G.base(2)
    # ... yet the weak verifier accepts the proof that it holds 0 or 1
    assert weak_verify(proof, h, ct, (0, 1))
    # our verifier hashes the statement (key, values, ciphertext) and refuses it,
    # whatever the context
    for ctx in (ballot_context(G, F, h, P), ballot_context(G, F, h, pseudonym("mallory"))):
        with pytest.raises(ProofError) as err:
            proof.verify(ctx, option_label(0), h, ct, (0, 1))
        assert err.value.code == "bad_range_proof"
    # and as a one-option ballot whose count proof (honest, over 0..2) holds,
    # it is refused for its option proof
    ctx = ballot_context(G, F, h, P)
    ballot = EncryptedBallot(
        (ct,), (proof,), RangeProof.prove(ctx, COUNT_LABEL, h, ct, range(3), 2, r)
    )
    ballot.count.verify(ctx, COUNT_LABEL, h, ct, range(3))
    with pytest.raises(ProofError) as err:
        ballot.verify(ctx, h, (0, 2))
    assert err.value.code == "bad_ballot_proof"


def test_the_weak_verifier_is_a_verifier() -> None:
    # the weak check refuses what does not match its challenge: the forgery
    # passes it because of the missing statement, not because it accepts anything
    x, h, ct, proof, _ = forge_weak_proof(0)
    tampered = RangeProof((proof.challenges[0], (proof.challenges[1] + 1) % L), proof.responses)
    assert not weak_verify(tampered, h, ct, (0, 1))
    assert not weak_verify(proof, G.base(x + 1), ct, (0, 1))


# -- ballots ---------------------------------------------------------------------------


@st.composite
def ballots(draw: st.DrawFn) -> tuple[int, list[int], tuple[int, int]]:
    options = draw(st.integers(1, 4))
    lo = draw(st.integers(0, options))
    hi = draw(st.integers(lo, options))
    k = draw(st.integers(lo, hi))
    selected = draw(st.permutations(range(options)))[:k]
    return options, sorted(selected), (lo, hi)


@FEW
@given(case=ballots(), who=st.text(min_size=1, max_size=8))
def test_an_honest_ballot_survives_its_json_and_verifies(
    case: tuple[int, list[int], tuple[int, int]], who: str
) -> None:
    options, selected, bounds = case
    ctx = ballot_context(G, F, H, pseudonym(who))
    ballot, rs = encrypt_ballot(ctx, H, options, selected, bounds)
    wire = json.loads(json.dumps(ballot.to_json()))
    decoded = EncryptedBallot.decode(G, wire, options, bounds)
    assert decoded == ballot
    decoded.verify(ctx, H, bounds)
    # each ciphertext holds the choice
    for k, ct in enumerate(decoded.ciphertexts):
        assert G.sub(ct.beta, G.mul(X, ct.alpha)) == G.base(1 if k in selected else 0)
    open_challenge(G, H, decoded, Opening(tuple(selected), tuple(rs)))
    # copied under another pseudonym, it fails
    with pytest.raises(ProofError) as err:
        decoded.verify(ballot_context(G, F, H, pseudonym(who + "'")), H, bounds)
    assert err.value.code == "bad_ballot_proof"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_every_bit_flip_of_a_ballots_ciphertexts_and_proofs_is_refused() -> None:
    options, bounds = 2, (1, 2)
    ballot, _ = encrypt_ballot(CTX, H, options, [1], bounds)
    wire = ballot.to_json()
    EncryptedBallot.decode(G, wire, options, bounds).verify(CTX, H, bounds)

    def check(obj: dict[str, Any]) -> None:
        EncryptedBallot.decode(G, obj, options, bounds).verify(CTX, H, bounds)

    fields: list[tuple[str, int | None]] = [
        *((f, k) for f in ("ciphertexts", "proofs") for k in range(options)),
        ("count", None),
    ]
    seen: dict[str, int] = {"format": 0, "proof": 0}
    total = 0
    for field, k in fields:
        raw = base64.b64decode(wire[field][k] if k is not None else wire[field])
        for _, bad in flips(raw):
            obj = json.loads(json.dumps(wire))
            if k is None:
                obj[field] = _b64(bad)
            else:
                obj[field][k] = _b64(bad)
            seen[refused(lambda obj=obj: check(obj))] += 1
            total += 1
    assert total == 8 * (2 * 64 + 2 * 128 + 128)
    assert seen["format"] > 0 and seen["proof"] > 0


@pytest.mark.parametrize(
    "change",
    [
        lambda o: o.update(ciphertexts=o["ciphertexts"][:1]),
        lambda o: o.update(proofs=[*o["proofs"], o["proofs"][0]]),
        lambda o: o.update(count=o["count"] + "="),
        lambda o: o.update(count="not base64!"),
        lambda o: o.pop("count"),
        lambda o: o.update(extra=1),
        lambda o: o.update(ciphertexts=o["ciphertexts"][::-1]),
        lambda o: o.update(proofs=o["proofs"][::-1]),
    ],
)
def test_a_malformed_or_reordered_ballot_is_refused(
    change: Callable[[dict[str, Any]], Any],
) -> None:
    options, bounds = 2, (1, 2)
    ballot, _ = encrypt_ballot(CTX, H, options, [0], bounds)
    obj = ballot.to_json()
    change(obj)
    refused(lambda: EncryptedBallot.decode(G, obj, options, bounds).verify(CTX, H, bounds))


def test_open_challenge_accepts_the_truth_and_refuses_a_false_choice() -> None:
    options, bounds = 3, (1, 2)
    ballot, rs = encrypt_ballot(CTX, H, options, [0, 2], bounds)
    open_challenge(G, H, ballot, Opening((0, 2), tuple(rs)))
    open_challenge(G, H, ballot, Opening((2, 0), tuple(rs)))  # order does not matter
    for selected, randomness in [
        ((0,), rs),  # one option hidden
        ((0, 1), rs),  # another choice
        ((1,), rs),
        ((0, 1, 2), rs),
        ((0, 2), [rs[0], rs[1], rs[2] + 1]),  # wrong randomness
        ((0, 2), [rs[1], rs[0], rs[2]]),
        ((0, 2), rs[:2]),  # too few
    ]:
        with pytest.raises(ProofError) as err:
            open_challenge(G, H, ballot, Opening(tuple(selected), tuple(randomness)))
        assert err.value.code == "challenge_mismatch"


# -- the tally -------------------------------------------------------------------------


def shamir(secret: int, t: int, n: int, extra: Sequence[int]) -> dict[int, int]:
    """Shares ``f(j)`` of a degree ``t - 1`` polynomial with ``f(0) = secret``."""
    coefficients = [secret, *extra[: t - 1]]
    return {j: evaluate(coefficients, j, L) for j in range(1, n + 1)}


@st.composite
def elections(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 5))
    t = draw(st.integers(1, n))
    options = draw(st.integers(1, 3))
    voters = draw(st.integers(0, 30))
    casts = [
        (v, tuple(sorted(draw(st.sets(st.integers(0, options - 1))))))
        for v in range(voters)
        for _ in range(draw(st.integers(1, 3)))  # up to two revotes each
    ]
    order = draw(st.permutations(casts))
    trustees = sorted(draw(st.permutations(range(1, n + 1)))[:t])
    secret = draw(scalars)
    extra = draw(st.lists(scalars, min_size=4, max_size=4))
    return {
        "n": n,
        "t": t,
        "options": options,
        "order": order,
        "trustees": trustees,
        "secret": secret,
        "extra": extra,
    }


@FEW
@given(e=elections())
def test_a_random_election_decrypts_to_its_counts(e: dict[str, Any]) -> None:
    n, t, options = e["n"], e["t"], e["options"]
    x_shares = shamir(e["secret"], t, n, e["extra"])
    h = G.base(e["secret"])
    verification = {j: G.base(s) for j, s in x_shares.items()}
    bounds = (0, options)

    last: dict[int, EncryptedBallot] = {}  # revoting: the last ballot of each voter counts
    truth: dict[int, tuple[int, ...]] = {}
    for voter, selected in e["order"]:
        ctx = ballot_context(G, F, h, pseudonym(str(voter)))
        ballot, _ = encrypt_ballot(ctx, h, options, list(selected), bounds)
        last[voter], truth[voter] = ballot, selected
    expected = [sum(k in s for s in truth.values()) for k in range(options)]

    aggregates = aggregate(G, [b.ciphertexts for b in last.values()], options)
    dctx = decryption_context(G, F, h)
    shares: dict[int, list[bytes]] = {}
    for j in e["trustees"]:
        pairs = share_decryption(dctx, x_shares[j], aggregates)
        ds, proofs = [d for d, _ in pairs], [p for _, p in pairs]
        verify_decryption(dctx, verification[j], aggregates, ds, proofs)
        shares[j] = ds
    points = combine(G, aggregates, shares)
    counts = [discrete_log(G, pt, len(last)) for pt in points]
    assert counts == expected

    # a wrong share is refused: trustee j's proof under another's key, or a changed D
    j = e["trustees"][0]
    pairs = share_decryption(dctx, x_shares[j], aggregates)
    ds, proofs = [d for d, _ in pairs], [p for _, p in pairs]
    if any(ct.alpha != G.identity for ct in aggregates):
        k = next(i for i, ct in enumerate(aggregates) if ct.alpha != G.identity)
        wrong = list(ds)
        wrong[k] = G.add(ds[k], G.generator)
        with pytest.raises(ProofError) as err:
            verify_decryption(dctx, verification[j], aggregates, wrong, proofs)
        assert err.value.code == "bad_decryption"
        other = G.base(x_shares[j] + 1)
        with pytest.raises(ProofError):
            verify_decryption(dctx, other, aggregates, ds, proofs)
    else:
        # no ballot at all: every aggregate is the identity pair, the total 0
        assert expected == [0] * options
        assert all(d == G.identity and (p.c, p.s) == (0, 0) for d, p in pairs)


def test_a_share_of_an_empty_aggregate_must_be_the_identity_with_a_zero_proof() -> None:
    dctx = decryption_context(G, F, H)
    empty = [Ciphertext(G.identity, G.identity)]
    verify_decryption(dctx, G.base(5), empty, [G.identity], [DleqProof(0, 0)])
    for d, p in [(G.generator, DleqProof(0, 0)), (G.identity, DleqProof(1, 0))]:
        with pytest.raises(ProofError) as err:
            verify_decryption(dctx, G.base(5), empty, [d], [p])
        assert err.value.code == "bad_decryption"


def test_verify_decryption_wants_one_share_per_option() -> None:
    dctx = decryption_context(G, F, H)
    agg = aggregate(G, [[encrypt(G, H, 1, 3), encrypt(G, H, 0, 4)]], 2)
    pairs = share_decryption(dctx, X, agg)
    with pytest.raises(ProofError) as err:
        verify_decryption(dctx, H, agg, [pairs[0][0]], [pairs[0][1]])
    assert err.value.code == "bad_decryption"


@pytest.mark.parametrize("bound", [0, 1, 2, 3, 10, 99, 100, 1000])
def test_discrete_log_finds_every_value_up_to_its_bound_and_none_above(bound: int) -> None:
    for t in {0, 1, bound // 2, bound - 1, bound}:
        if 0 <= t <= bound:
            assert discrete_log(G, G.base(t), bound) == t
    assert discrete_log(G, G.base(bound + 1), bound) is None
    assert discrete_log(G, G.base(L - 1), bound) is None
