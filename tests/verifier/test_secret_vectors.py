"""docs/spec/secret-vectors.json is what ``urne.verifier.secret`` computes on its
fixed inputs (tests/support/secret_vectors.py), and what it says of each case
holds: every ballot verifies, decrypts to its choice and opens as a challenge
with its randomness; every refused ballot is refused with its code. A secret
budget's ballot verifies with the shape its rule asks for, its slack bits
decrypt to the budget less its cost and its cost less the floor, and it is
remade from the values the file lists, in the order it states."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support import secret_vectors
from urne.verifier.errors import ProofError
from urne.verifier.secret.ballot import (
    EncryptedBallot,
    Opening,
    ballot_context,
    encrypt_ballot,
    open_challenge,
)
from urne.verifier.secret.group import Group, L, Ristretto255, hash_to_scalar, ristretto255
from urne.verifier.secret.proofs import encrypt

VECTORS: dict[str, Any] = json.loads(secret_vectors.PATH.read_text(encoding="ascii"))


def _ids(case: dict[str, Any]) -> str:
    return str(case["name"])


def test_the_published_file_is_what_the_verifier_computes() -> None:
    assert secret_vectors.PATH.read_text(encoding="ascii") == secret_vectors.render(), (
        "regenerate with: python -m tests.support.secret_vectors"
    )


def test_the_file_names_the_group_and_the_draw_order() -> None:
    assert VECTORS["group"] == "ristretto255"
    assert int(VECTORS["order"]) == L == 2**252 + 27742317777372353535851937790883648493
    assert bytes.fromhex(VECTORS["generator"]) == Ristretto255.generator
    assert secret_vectors.DRAW_ORDER in VECTORS["description"]


def test_the_cases_cover_the_rules() -> None:
    rules = [(b["options"], b["min"], b["max"], b["selected"]) for b in VECTORS["ballots"]]
    assert [r for r in rules if r[:3] == (4, 1, 1)] == [(4, 1, 1, [k]) for k in range(4)]
    assert sorted(len(r[3]) for r in rules if r[:3] == (3, 0, 3)) == [0, 1, 2, 3]
    assert [r for r in rules if r[:3] == (5, 2, 2)] == [(5, 2, 2, [1, 4])]
    codes = sorted(c["code"] for c in VECTORS["refused"])
    assert codes == ["bad_ballot_proof", "bad_ballot_proof", "bad_point", "bad_point", "bad_proof"]


def test_hash_to_scalar() -> None:
    g = ristretto255()
    cases = VECTORS["hash_to_scalar"]
    assert len(cases) == 6
    for case in cases:
        parts = [bytes.fromhex(p) for p in case["parts"]]
        assert hash_to_scalar(g, case["tag"].encode(), *parts) == int(case["scalar"])
        assert 0 <= int(case["scalar"]) < L
    # the length prefixes: ("ab", "c") and ("a", "bc") are different inputs
    assert cases[3]["scalar"] != cases[4]["scalar"]


@pytest.mark.parametrize("case", VECTORS["ballots"], ids=_ids)
def test_each_ballot_verifies_and_holds_its_choice(case: dict[str, Any]) -> None:
    g = ristretto255()
    key = bytes.fromhex(case["key"])
    assert key == g.base(int(case["key_secret"]))
    bounds = (case["min"], case["max"])
    options = case["options"]
    ctx = ballot_context(
        g, bytes.fromhex(case["fingerprint"]), key, bytes.fromhex(case["pseudonym"])
    )
    ballot = EncryptedBallot.decode(g, case["encrypted"], options, bounds)
    ballot.verify(ctx, key, bounds)
    assert ballot.to_json() == case["encrypted"]
    assert secret_vectors.refusal(case) is None

    # each ciphertext is the encryption of the choice with the randomness given ...
    randomness = [int(r) for r in case["randomness"]]
    assert len(randomness) == options and all(0 < r < L for r in randomness)
    for k, (ct, r) in enumerate(zip(ballot.ciphertexts, randomness, strict=True)):
        assert ct == encrypt(g, key, 1 if k in case["selected"] else 0, r)
    open_challenge(g, key, ballot, Opening(tuple(case["selected"]), tuple(randomness)))
    # ... and decrypts to it under the key's secret
    x = int(case["key_secret"])
    for k, ct in enumerate(ballot.ciphertexts):
        plain = g.sub(ct.beta, g.mul(x, ct.alpha))
        assert plain == (g.generator if k in case["selected"] else g.identity)

    # the draw order: 3 nonces per option proof (w, c, s), 1 + 2 (K - 1) for the count
    assert len(case["nonces"]) == 3 * options + 1 + 2 * (case["max"] - case["min"])
    assert all(0 < int(w) < L for w in case["nonces"])


@pytest.mark.parametrize("case", VECTORS["ballots"][:2], ids=_ids)
def test_another_choice_does_not_open_the_ballot(case: dict[str, Any]) -> None:
    g = ristretto255()
    key = bytes.fromhex(case["key"])
    ballot = EncryptedBallot.decode(g, case["encrypted"], case["options"], (1, 1))
    other = (case["selected"][0] + 1) % case["options"]
    randomness = tuple(int(r) for r in case["randomness"])
    with pytest.raises(ProofError) as err:
        open_challenge(g, key, ballot, Opening((other,), randomness))
    assert err.value.code == "challenge_mismatch"


@pytest.mark.parametrize("case", VECTORS["refused"], ids=_ids)
def test_each_refused_ballot_is_refused_with_its_code(case: dict[str, Any]) -> None:
    assert secret_vectors.refusal(case) == case["code"]


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str]]:
    """The base64 values in which two ``encrypted`` fields of one shape differ."""
    values = [[*e["ciphertexts"], *e["proofs"], e["count"]] for e in (a, b)]
    return [(x, y) for x, y in zip(*values, strict=True) if x != y]


def test_each_refused_ballot_is_a_valid_ballot_changed_in_one_place() -> None:
    """A refusal is for the reason it names, not for another difference."""
    shape = ("fingerprint", "key", "options", "min", "max")
    for case in VECTORS["refused"]:
        bases = [
            b
            for b in VECTORS["ballots"]
            if all(b[f] == case[f] for f in shape)
            and len(_differences(b["encrypted"], case["encrypted"])) <= 1
        ]
        assert len(bases) == 1, case["name"]
        base = bases[0]
        changed = _differences(base["encrypted"], case["encrypted"])
        if case["pseudonym"] != base["pseudonym"]:
            assert changed == [], case["name"]
        else:
            assert len(changed) == 1, case["name"]
            old, new = (base64.b64decode(v) for v in changed[0])
            assert len(old) == len(new), case["name"]


# -- secret budgets ---------------------------------------------------------------------------


def test_the_budget_cases_cover_the_rules() -> None:
    cases = VECTORS["budget_ballots"]
    spends = [c["spend"] for c in cases]
    assert any(s and s["floor"] for s in spends)  # capped, with a minimum share
    assert any(s and not s["floor"] for s in spends)  # capped, without
    uncapped = [c for c in cases if c["spend"] is None]
    assert uncapped and all(c["rule"]["max_projects"] is not None for c in uncapped)
    # a ballot spending exactly the budget, one exactly the floor, one nothing
    spent = [
        (c["spend"], sum(c["spend"]["costs"][k] for k in c["selected"]))
        for c in cases
        if c["spend"]
    ]
    assert any(total == s["ceiling"] for s, total in spent)
    assert any(s["floor"] and total == s["floor"] for s, total in spent)
    assert any(total == 0 for _, total in spent)
    # the uncapped ballot costs more than the budget: only the count is proven
    assert all(
        sum(c["proposals"][k]["cost"] for k in c["selected"]) > c["rule"]["budget"]
        for c in uncapped
    )
    assert max(s["ceiling"] for s, _ in spent) == 2**53 - 1  # the largest budget
    codes = sorted(c["code"] for c in VECTORS["budget_refused"])
    assert codes == sorted(
        ["bad_ballot_proof"] * 6 + ["bad_encrypted_ballot"] * 4 + ["bad_point", "bad_proof"]
    )


def _slack(g: Group, x: int, bits: list[str]) -> int:
    """The value a bound's bits encrypt, decrypted with the key's secret."""
    value = 0
    for i, b in enumerate(bits):
        raw = base64.b64decode(b)
        plain = g.sub(raw[32:], g.mul(x, raw[:32]))
        assert plain in (g.identity, g.generator)
        value |= int(plain == g.generator) << i
    return value


@pytest.mark.parametrize("case", VECTORS["budget_ballots"], ids=_ids)
def test_each_budget_ballot_verifies_with_its_rule_s_shape(case: dict[str, Any]) -> None:
    g = ristretto255()
    projects = {p["id"]: p["cost"] for p in case["proposals"]}
    bounds, spend = secret_vectors.shape_of(projects, case["rule"])
    assert bounds == (case["min"], case["max"]) and case["options"] == len(projects)
    assert secret_vectors.spend_json(spend) == case["spend"]
    assert case["bits"] == (None if spend is None else spend.bits)
    key = bytes.fromhex(case["key"])
    assert key == g.base(int(case["key_secret"]))
    ctx = ballot_context(
        g, bytes.fromhex(case["fingerprint"]), key, bytes.fromhex(case["pseudonym"])
    )
    ballot = EncryptedBallot.decode(g, case["encrypted"], case["options"], bounds, spend)
    ballot.verify(ctx, key, bounds, spend)
    assert ballot.to_json() == case["encrypted"]
    assert secret_vectors.refusal(case) is None
    assert ("spend" in case["encrypted"]) == (spend is not None)

    # each proposal's ciphertext holds the choice, and opens with its randomness
    x = int(case["key_secret"])
    randomness = [int(r) for r in case["randomness"]]
    for k, (ct, r) in enumerate(zip(ballot.ciphertexts, randomness, strict=True)):
        assert ct == encrypt(g, key, int(k in case["selected"]), r)
    open_challenge(g, key, ballot, Opening(tuple(case["selected"]), tuple(randomness)))

    # the slack: the budget less the cost, the cost less the floor, bit by bit
    if spend is not None:
        cost = spend.spent(case["selected"])
        encrypted_spend = case["encrypted"]["spend"]
        assert _slack(g, x, encrypted_spend["ceiling"]["bits"]) == spend.ceiling - cost
        assert set(encrypted_spend) == ({"ceiling", "floor"} if spend.floor else {"ceiling"})
        if spend.floor:
            assert _slack(g, x, encrypted_spend["floor"]["bits"]) == cost - spend.floor
        for bound in encrypted_spend:
            ts = [int(t) for t in case[f"{bound}_randomness"]]
            assert len(ts) == spend.bits and len(case[f"{bound}_nonces"]) == 3 * spend.bits + 1
            for i, (b, t) in enumerate(zip(encrypted_spend[bound]["bits"], ts, strict=True)):
                value = (spend.ceiling - cost if bound == "ceiling" else cost - spend.floor) >> i
                assert base64.b64decode(b) == encrypt(g, key, value & 1, t).to_bytes()
    else:
        assert not any(
            case[f"{b}_{w}"] for b in ("ceiling", "floor") for w in ("randomness", "nonces")
        )
    if spend is None or not spend.floor:
        assert case["floor_randomness"] == case["floor_nonces"] == []

    # remade from the file's values in its draw order: the same bytes, every value used
    nonces = secret_vectors.Replay(
        [int(w) for w in case["nonces"] + case["ceiling_nonces"] + case["floor_nonces"]]
    )
    again, _ = encrypt_ballot(
        ctx,
        key,
        case["options"],
        case["selected"],
        bounds,
        randomness=randomness,
        nonce=nonces,
        spend=spend,
        spend_randomness=None
        if spend is None
        else [int(t) for t in case["ceiling_randomness"] + case["floor_randomness"]],
    )
    assert again.to_json() == case["encrypted"]
    assert nonces.drawn == len(nonces.values)
    assert len(case["nonces"]) == 3 * case["options"] + 1 + 2 * (case["max"] - case["min"])


@pytest.mark.parametrize("case", VECTORS["budget_refused"], ids=_ids)
def test_each_refused_budget_ballot_is_refused_with_its_code(case: dict[str, Any]) -> None:
    assert secret_vectors.refusal(case) == case["code"]


def test_a_ballot_proven_against_other_bounds_holds_for_them_only() -> None:
    """Over the budget, or under the floor: refused for that alone, since it
    verifies against the bounds it was proven for, of the same bit length."""
    loose = [c for c in VECTORS["budget_refused"] if "proven_with" in c]
    assert len(loose) == 2
    for case in loose:
        spent = sum(case["spend"]["costs"][k] for k in _selected_of(case))
        assert spent > case["spend"]["ceiling"] or spent < case["spend"]["floor"]
        assert secret_vectors.refusal({**case, "spend": case["proven_with"]}) is None
        rule, proven = case["spend"], case["proven_with"]
        assert len(bin(rule["ceiling"])) == len(bin(proven["ceiling"]))


def _selected_of(case: dict[str, Any]) -> list[int]:
    """The proposals a refused budget case's ballot holds, decrypted with its election's secret."""
    g = ristretto255()
    (secret,) = {c["key_secret"] for c in VECTORS["budget_ballots"] if c["key"] == case["key"]}
    x = int(secret)
    out = []
    for k, b in enumerate(case["encrypted"]["ciphertexts"]):
        raw = base64.b64decode(b)
        if g.sub(raw[32:], g.mul(x, raw[:32])) == g.generator:
            out.append(k)
    return out
