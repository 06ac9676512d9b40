"""docs/secret-ballot.md §7, the worked example, cannot drift from the code.

The section is parsed: its two tables of small numbers must be the inputs and
derived numbers of ``tests.support.secret_example``, its list of values exactly
what that module computes (every name, every byte), any other hex string in it
one of those values, and its Python snippet must run and recompute the
challenge. Then the example itself is checked against the reference code: the
deal built there by hand from the specification is read by ``dkg`` as a deal,
every proof verifies, the ballot survives its JSON and decrypts to its choice.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.paths import ROOT
from tests.support.secret_example import (
    BOUNDS,
    COEFFICIENTS,
    COUNT_NONCES,
    DECRYPTING,
    FINGERPRINT,
    INPUTS,
    OPTION_NONCES,
    OPTIONS,
    RANDOMNESS,
    SELECTED,
    SHARE_SECRETS,
    THRESHOLD,
    Example,
    build,
    fixed,
)
from urne.verifier.errors import ProofError
from urne.verifier.secret.ballot import (
    EncryptedBallot,
    Opening,
    ballot_context,
    encrypt_ballot,
    open_challenge,
)
from urne.verifier.secret.dkg import (
    LABEL_CONSTANT,
    EncryptedShare,
    check_share,
    complain,
    deal,
    decrypt_share,
    evaluate,
    joint_key,
    trustee_context,
    verification_key,
    verify_complaint,
)
from urne.verifier.secret.group import L
from urne.verifier.secret.tally import decryption_context, verify_decryption

DOC = ROOT / "docs" / "secret-ballot.md"


def section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("\n## 7. A worked example\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def fenced(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, re.M | re.S)


def table(text: str, header: str) -> dict[str, tuple[int, ...]]:
    """The rows ``| `name` | 1, 2 | ... |`` of the table whose first column is ``header``."""
    block = text[text.index(f"| {header} | value |") :].split("\n\n", 1)[0]
    rows = {}
    for m in re.finditer(r"^\| `([^`]+)` \| (-?\d+(?:, -?\d+)*) \|", block, re.M):
        rows[m.group(1)] = tuple(int(v) for v in m.group(2).split(", "))
    return rows


@pytest.fixture(scope="module")
def ex() -> Example:
    return build()


@pytest.fixture(scope="module")
def doc() -> str:
    return section()


# -- the document ----------------------------------------------------------------------


def test_the_inputs_table_is_the_examples(doc: str) -> None:
    assert table(doc, "input") == INPUTS


def test_the_derived_table_is_what_the_example_derives(doc: str, ex: Example) -> None:
    assert table(doc, "derived") == ex.derived()
    # and those numbers are right, by hand
    assert ex.derived()["x_1, x_2, x_3"] == (112, 173, 234)
    assert ex.derived()["lambda_1, lambda_2"] == (2, -1)
    assert ex.derived()["T_0, T_1"] == (1, 0)


def test_every_listed_value_is_what_the_code_computes(doc: str, ex: Example) -> None:
    blocks = fenced(doc, "text")
    assert len(blocks) == 1
    listed: dict[str, str] = {}
    for line in blocks[0].splitlines():
        m = re.fullmatch(r"(\S+) +([0-9a-f]{64})", line)
        assert m, f"not a 'name hex' line: {line!r}"
        assert m.group(1) not in listed, m.group(1)
        listed[m.group(1)] = m.group(2)
    computed = {name: v.hex() for name, v in ex.values().items()}
    assert list(listed) == list(computed)  # the same names, in the same order
    for name, value in computed.items():
        assert listed[name] == value, name
    assert blocks[0].rstrip("\n") == ex.render()


def test_every_hex_string_of_the_section_is_a_computed_value(doc: str, ex: Example) -> None:
    computed = {v.hex() for v in ex.values().values()}
    found = re.findall(r"[0-9a-f]{64}", doc)
    assert len(found) > len(computed)  # the list, and the snippet's copies
    assert set(found) <= computed
    # no hex string of another length hides in the section (decimals aside: L)
    hexes = [h for h in re.findall(r"\b[0-9a-f]{16,}\b", doc) if not h.isdigit()]
    assert hexes and all(len(h) == 64 for h in hexes)


def test_the_snippet_recomputes_the_challenge(doc: str) -> None:
    blocks = fenced(doc, "python")
    assert len(blocks) == 1
    snippet = blocks[0]
    assert len(snippet.splitlines()) <= 30
    imports = set(re.findall(r"^import (\S+)", snippet, re.M))
    assert imports == {"hashlib", "pysodium"}
    exec(compile(snippet, "secret-ballot.md §7", "exec"), {})


def test_the_snippet_can_fail(doc: str, ex: Example) -> None:
    # its assertion is a real check: another ciphertext, or another pseudonym,
    # and the challenge no longer matches
    snippet = fenced(doc, "python")[0]
    values = ex.values()
    for name, other in [("ct_0.beta", "ct_1.beta"), ("pseudonym", "h"), ("h", "X_1")]:
        changed = snippet.replace(values[name].hex(), values[other].hex())
        assert changed != snippet
        with pytest.raises(AssertionError):
            exec(compile(changed, "changed", "exec"), {})


# -- the example, read by the reference code ---------------------------------------------


def test_the_deal_is_what_dkg_deals(ex: Example) -> None:
    g = ex.group
    real = deal(g, FINGERPRINT, 1, THRESHOLD, ex.share_keys, coefficients=COEFFICIENTS[1])
    assert real.commitments == ex.commitments[1]
    assert real.own_share == evaluate(COEFFICIENTS[1], 1, L)
    ex.deal_proof.verify(trustee_context(g, FINGERPRINT, 1), LABEL_CONSTANT, ex.commitments[1][0])
    for j in (2, 3):
        enc = EncryptedShare(ex.ephemerals[j], ex.masked[j])
        want = evaluate(COEFFICIENTS[1], j, L)
        # the pad built here from §4 is the one dkg uses: it unmasks the share
        assert decrypt_share(g, FINGERPRINT, 1, j, enc, secret_key=SHARE_SECRETS[j]) == want
        assert decrypt_share(g, FINGERPRINT, 1, j, enc, dh_key=ex.dh_keys[j]) == want
        assert check_share(g, ex.commitments[1], j, want)
        # a complaint about it does not stand
        k, proof = complain(g, FINGERPRINT, 1, j, SHARE_SECRETS[j], enc)
        assert k == ex.dh_keys[j]
        assert not verify_complaint(
            g, FINGERPRINT, 1, j, ex.share_keys[j], enc, ex.commitments[1], k, proof
        )
    assert ex.decrypted_share == 37


def test_the_keys_are_what_dkg_computes(ex: Example) -> None:
    g = ex.group
    commitments = [ex.commitments[i] for i in (1, 2, 3)]
    assert ex.key == joint_key(g, [c[0] for c in commitments]) == g.base(51)
    for j in (1, 2, 3):
        assert ex.verification_keys[j] == verification_key(g, commitments, j)
        assert g.base(ex.key_shares[j]) == ex.verification_keys[j]


def test_the_ballot_is_encrypt_ballots_and_verifies(ex: Example) -> None:
    g = ex.group
    ctx = ballot_context(g, FINGERPRINT, ex.key, ex.pseudonym)
    # encrypt_ballot with the same randomness and nonces (drawn in the order
    # §7 states: option 0's proof, option 1's, the count's) makes the same bytes
    nonces = fixed([*OPTION_NONCES[0], *OPTION_NONCES[1], *COUNT_NONCES])
    made, rs = encrypt_ballot(
        ctx, ex.key, OPTIONS, SELECTED, BOUNDS, randomness=RANDOMNESS, nonce=nonces
    )
    assert made == ex.ballot
    assert tuple(rs) == RANDOMNESS
    wire: dict[str, Any] = ex.ballot.to_json()
    decoded = EncryptedBallot.decode(g, wire, OPTIONS, BOUNDS)
    assert decoded == ex.ballot
    decoded.verify(ctx, ex.key, BOUNDS)
    assert ex.ballot.total(g) == ex.total
    open_challenge(g, ex.key, decoded, Opening(SELECTED, RANDOMNESS))
    with pytest.raises(ProofError):
        open_challenge(g, ex.key, decoded, Opening((1,), RANDOMNESS))
    # each ciphertext holds the choice, under x = 51
    for k, ct in enumerate(ex.ballot.ciphertexts):
        assert g.sub(ct.beta, g.mul(51, ct.alpha)) == g.base(1 if k in SELECTED else 0)


def test_the_decryption_shares_verify_and_give_the_result(ex: Example) -> None:
    g = ex.group
    dctx = decryption_context(g, FINGERPRINT, ex.key)
    assert ex.aggregates == list(ex.ballot.ciphertexts)
    for j in DECRYPTING:
        pairs = ex.decryptions[j]
        verify_decryption(
            dctx,
            ex.verification_keys[j],
            ex.aggregates,
            [d for d, _ in pairs],
            [p for _, p in pairs],
        )
    assert ex.result_points == [g.generator, g.identity]
    assert ex.counts == [1, 0]
