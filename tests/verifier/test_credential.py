"""Blind-issued per-process credentials (docs/spec/credentials.md) on top of
``urne.verifier.credentials.bls``.

Most tests run on arkworks; the py_ecc reference is asked for byte-identical
results on fixed inputs and runs one end-to-end issuance (marked ``slow``).
"""

from __future__ import annotations

import itertools

import nacl.signing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.bls_points import g1_bad_encodings, non_subgroup_g1
from urne.ledger.issuance.issuer_key import IssuerKey, split_key
from urne.verifier.citizen.blinding import (
    BlindingState,
    Pseudonym,
    blind,
    combine_shares,
    unblind,
    verify_blind_share,
)
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import (
    CREDENTIAL_DST,
    CredentialError,
    check_credential,
    credential_message,
    invalid_credentials,
    verify_credential,
    verify_credentials_batch,
)
from urne.verifier.errors import FormatError, VerificationError

PROCESS = "urne-test-process"
R = bls.CURVE_ORDER

# RFC 8032 §7.1, TEST 1: an Ed25519 seed, its public key, its signature of "".
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIG_EMPTY = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

# Urne's own vector (docs/spec/credentials.md): issuer key KeyGen(IKM) and the
# credential for PROCESS and the RFC 8032 pseudonym. Both backends produce it.
VECTOR_IKM = b"urne credential test vector key!"
VECTOR_SK = 0x166A6821369B2636B5DB4AC369A4B49B61E7EF2F0D514FCF1F5F8264A840D0EF
VECTOR_PK = bytes.fromhex(
    "963cefbb1161a1c42877d1e66d692a92d7daea8d08df3676f5ab5e93d3d9a45305f3d679f78db67144c47d99d6ef2201"
    "1634e50ca81d224a6adbe23c31360ed23ff545c2116f9a18f06fe90f1519180153662bdcff0c5592adc88b8c010af0a5"
)
VECTOR_H = bytes.fromhex(
    "9799a92660cfe2ef5532659cafe81a864106b6f374c634bcd509786938bce59060da7fd6ec6658bdcbf9d1090fc638c0"
)
VECTOR_CREDENTIAL = bytes.fromhex(
    "a01db1de6517bd6b84c14320c3c44bc811a4f5f994d66754e280d3a832d963d2fd1bb1e725c5c97736936452955f390b"
)


@pytest.fixture
def ark() -> bls.AnyBackend:
    return bls.get_backend("arkworks")


@pytest.fixture
def ref() -> bls.AnyBackend:
    return bls.get_backend("py_ecc")


@pytest.fixture(scope="module")
def issuer() -> IssuerKey:
    return IssuerKey.generate()


def issue(
    key: IssuerKey, process_id: str, pseudonym: Pseudonym, be: bls.AnyBackend
) -> tuple[bytes, bytes]:
    """Blind issuance end to end: (blinded message, credential)."""
    state, blinded = blind(credential_message(process_id, pseudonym.public_key), backend=be)
    answer = key.sign_blinded(blinded, backend=be)
    return blinded, unblind(state, answer, key.public_key, backend=be)


# --------------------------------------------------------------------------
# The message and the pseudonym
# --------------------------------------------------------------------------


def test_credential_message_bytes() -> None:
    assert CREDENTIAL_DST == b"URNE-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"
    assert credential_message("budget-2025", bytes(range(32))) == (
        b"urne/v1/credential\nbudget-2025\x00" + bytes(range(32))
    )
    assert credential_message("vote-équipe", b"\xff" * 32) == (
        b"urne/v1/credential\nvote-\xc3\xa9quipe\x00" + b"\xff" * 32
    )


@pytest.mark.parametrize(
    ("process_id", "pseudonym", "code"),
    [
        ("", bytes(32), "bad_process_id"),
        ("a\x00b", bytes(32), "bad_process_id"),
        ("\udcff", bytes(32), "bad_process_id"),
        ("p", bytes(31), "bad_pseudonym"),
        ("p", bytes(33), "bad_pseudonym"),
        ("p", b"", "bad_pseudonym"),
    ],
)
def test_credential_message_refusals(process_id: str, pseudonym: bytes, code: str) -> None:
    with pytest.raises(FormatError) as info:
        credential_message(process_id, pseudonym)
    assert info.value.code == code


def test_pseudonym() -> None:
    known = Pseudonym.from_seed(RFC8032_SEED)
    assert known.public_key == RFC8032_PUBLIC
    assert known.sign(b"") == RFC8032_SIG_EMPTY
    assert known.seed == RFC8032_SEED
    assert known == Pseudonym.from_seed(RFC8032_SEED)
    assert RFC8032_SEED.hex() not in repr(known)
    fresh = Pseudonym.generate()
    assert fresh != known and len(fresh.public_key) == 32
    nacl.signing.VerifyKey(fresh.public_key).verify(b"ballot", fresh.sign(b"ballot"))
    assert fresh.credential_message(PROCESS) == credential_message(PROCESS, fresh.public_key)
    with pytest.raises(FormatError):
        Pseudonym.from_seed(bytes(31))


# --------------------------------------------------------------------------
# The issuer key
# --------------------------------------------------------------------------


def test_issuer_key_serialisation(ark: bls.AnyBackend) -> None:
    key = IssuerKey(VECTOR_SK)
    assert bls.keygen(VECTOR_IKM) == VECTOR_SK
    assert key.public_key == VECTOR_PK == ark.sk_to_pk(VECTOR_SK)
    assert key.to_bytes() == VECTOR_SK.to_bytes(32, "big")
    assert IssuerKey.from_bytes(key.to_bytes()) == key
    assert key.to_bytes().hex() not in repr(key)
    assert IssuerKey.generate() != IssuerKey.generate()
    for bad in (bytes(32), R.to_bytes(32, "big"), b"\x01" * 31, b"\x01" * 33):
        with pytest.raises(FormatError) as info:
            IssuerKey.from_bytes(bad)
        assert info.value.code == "bad_issuer_key"
    with pytest.raises(ValueError):
        IssuerKey(0)


def test_sign_blinded_is_sk_times_b_despite_the_key_split(ark: bls.AnyBackend) -> None:
    key = IssuerKey(VECTOR_SK)
    # Signing H itself (no blinding) must give the plain BLS signature, every time.
    assert key.sign_blinded(VECTOR_H, backend=ark) == VECTOR_CREDENTIAL
    assert key.sign_blinded(VECTOR_H, backend=ark) == VECTOR_CREDENTIAL


@pytest.mark.parametrize("case", sorted(g1_bad_encodings()))
def test_sign_blinded_refusals(ark: bls.AnyBackend, case: str) -> None:
    with pytest.raises(FormatError) as info:
        IssuerKey(VECTOR_SK).sign_blinded(g1_bad_encodings()[case], backend=ark)
    assert info.value.code == "bad_blinded_message"


# --------------------------------------------------------------------------
# Blind issuance
# --------------------------------------------------------------------------


def test_known_credential(ark: bls.AnyBackend) -> None:
    message = credential_message(PROCESS, RFC8032_PUBLIC)
    assert ark.g1_compress(ark.hash_to_g1(message, CREDENTIAL_DST)) == VECTOR_H
    assert (len(VECTOR_PK), len(VECTOR_H), len(VECTOR_CREDENTIAL)) == (96, 48, 48)
    assert ark.sign(VECTOR_SK, message, CREDENTIAL_DST) == VECTOR_CREDENTIAL
    assert verify_credential(VECTOR_PK, PROCESS, RFC8032_PUBLIC, VECTOR_CREDENTIAL, backend=ark)


def test_blind_issuance_end_to_end(ark: bls.AnyBackend, issuer: IssuerKey) -> None:
    pseudonym = Pseudonym.generate()
    blinded, credential = issue(issuer, PROCESS, pseudonym, ark)
    assert verify_credential(issuer.public_key, PROCESS, pseudonym.public_key, credential)
    check_credential(issuer.public_key, PROCESS, pseudonym.public_key, credential)
    # What the issuer saw is neither the hashed message nor the credential.
    message = credential_message(PROCESS, pseudonym.public_key)
    assert blinded != ark.g1_compress(ark.hash_to_g1(message, CREDENTIAL_DST))
    assert blinded != credential


def test_blinding_is_fresh_each_time(ark: bls.AnyBackend) -> None:
    message = credential_message(PROCESS, RFC8032_PUBLIC)
    requests = {blind(message, backend=ark)[1] for _ in range(8)}
    assert len(requests) == 8
    state, _ = blind(message, backend=ark)
    assert "_r" not in repr(state) and str(state._r) not in repr(state)


def test_blinding_then_unblinding_is_byte_identical_on_both_backends(
    ark: bls.AnyBackend, ref: bls.AnyBackend
) -> None:
    message = credential_message(PROCESS, RFC8032_PUBLIC)
    r = 0x1234567890ABCDEF
    results = []
    for be in (ark, ref):
        blinded = be.g1_compress(be.g1_mul(be.hash_to_g1(message, CREDENTIAL_DST), r))
        answer = IssuerKey(VECTOR_SK).sign_blinded(blinded, backend=be)
        results.append((blinded, answer))
    assert results[0] == results[1]
    state = BlindingState(message, r, results[0][0])
    assert unblind(state, results[0][1], VECTOR_PK, backend=ark) == VECTOR_CREDENTIAL


@pytest.mark.slow
def test_blind_issuance_end_to_end_on_the_reference(ref: bls.AnyBackend) -> None:
    key = IssuerKey(VECTOR_SK)
    _, credential = issue(key, PROCESS, Pseudonym.from_seed(RFC8032_SEED), ref)
    assert credential == VECTOR_CREDENTIAL


def test_unblind_refusals(ark: bls.AnyBackend, issuer: IssuerKey) -> None:
    message = credential_message(PROCESS, RFC8032_PUBLIC)
    state, blinded = blind(message, backend=ark)
    answer = issuer.sign_blinded(blinded, backend=ark)
    other = IssuerKey.generate()
    with pytest.raises(CredentialError) as info:
        unblind(state, answer, other.public_key, backend=ark)  # the wrong key
    assert info.value.code == "bad_blind_signature"
    with pytest.raises(CredentialError):
        unblind(state, other.sign_blinded(blinded, backend=ark), issuer.public_key, backend=ark)
    other_state, _ = blind(message, backend=ark)
    with pytest.raises(CredentialError):
        unblind(other_state, answer, issuer.public_key, backend=ark)  # another request's r
    with pytest.raises(FormatError) as fmt:
        unblind(state, non_subgroup_g1(), issuer.public_key, backend=ark)
    assert fmt.value.code == "bad_point"
    with pytest.raises(FormatError) as fmt:
        unblind(state, answer, issuer.public_key[:-1], backend=ark)
    assert fmt.value.code == "bad_public_key"
    assert unblind(state, answer, issuer.public_key, backend=ark)


# --------------------------------------------------------------------------
# Verification: refusals and batches
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pool(issuer: IssuerKey) -> list[tuple[bytes, bytes]]:
    """Six (pseudonym, credential) pairs for PROCESS under ``issuer``."""
    be = bls.get_backend("arkworks")
    out = []
    for _ in range(6):
        pseudonym = Pseudonym.generate().public_key
        message = credential_message(PROCESS, pseudonym)
        out.append(
            (pseudonym, issuer.sign_blinded(be.g1_compress(be.hash_to_g1(message, CREDENTIAL_DST))))
        )
    return out


def test_refused_credentials(
    ark: bls.AnyBackend, issuer: IssuerKey, pool: list[tuple[bytes, bytes]]
) -> None:
    pk = issuer.public_key
    (pseudonym, credential), (other_pseudonym, other_credential) = pool[:2]
    assert verify_credential(pk, PROCESS, pseudonym, credential)
    forged = ark.g1_compress(ark.hash_to_g1(b"not signed", CREDENTIAL_DST))
    cases = {
        "forged": (pk, PROCESS, pseudonym, forged),
        "another process": (pk, PROCESS + "-2", pseudonym, credential),
        "wrong pseudonym": (pk, PROCESS, other_pseudonym, credential),
        "another's credential": (pk, PROCESS, pseudonym, other_credential),
        "another issuer": (IssuerKey.generate().public_key, PROCESS, pseudonym, credential),
    }
    for name, (key, process_id, nym, cred) in cases.items():
        assert not verify_credential(key, process_id, nym, cred), name
        with pytest.raises(CredentialError):
            check_credential(key, process_id, nym, cred)
    malformed = {
        "bad_public_key": (pk[:-1], PROCESS, pseudonym, credential),
        "bad_process_id": (pk, "", pseudonym, credential),
        "bad_pseudonym": (pk, PROCESS, pseudonym[:-1], credential),
        "bad_credential_length": (pk, PROCESS, pseudonym, credential + b"\x00"),
        "bad_credential_encoding": (pk, PROCESS, pseudonym, non_subgroup_g1()),
    }
    for code, (key, process_id, nym, cred) in malformed.items():
        assert not verify_credential(key, process_id, nym, cred), code
        with pytest.raises(FormatError) as info:
            check_credential(key, process_id, nym, cred)
        assert info.value.code == code
    for bad in g1_bad_encodings().values():
        assert not verify_credential(pk, PROCESS, pseudonym, bad)
    # a credential of the G2 size (the former format) is refused for its length
    with pytest.raises(FormatError) as info:
        check_credential(pk, PROCESS, pseudonym, credential + bytes(48))
    assert info.value.code == "bad_credential_length"
    assert issubclass(CredentialError, VerificationError)
    assert CredentialError("x").code == "bad_credential"


def test_batches(issuer: IssuerKey, pool: list[tuple[bytes, bytes]]) -> None:
    pk = issuer.public_key
    items = [(PROCESS, nym, cred) for nym, cred in pool]
    assert verify_credentials_batch(pk, items)
    assert invalid_credentials(pk, items) == []
    mixed = list(items)
    mixed[3] = (PROCESS, pool[3][0], pool[4][1])
    assert not verify_credentials_batch(pk, mixed)
    assert invalid_credentials(pk, mixed) == [3]
    mixed[0] = ("another-process", *pool[0])
    assert invalid_credentials(pk, mixed) == [0, 3]
    assert not verify_credentials_batch(pk, [(PROCESS, b"short", pool[0][1])])
    assert verify_credentials_batch(pk, [])
    assert not verify_credentials_batch(pk[:-1], [])
    assert not verify_credentials_batch(IssuerKey.generate().public_key, items)


MUTATIONS = [
    "valid",
    "valid",
    "another process",
    "wrong pseudonym",
    "another's credential",
    "tampered",
    "not in subgroup",
    "identity",
    "truncated",
    "garbage",
    "nul in process id",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(MUTATIONS), max_size=6),
    garbage=st.binary(min_size=48, max_size=48),
)
def test_batch_accepts_iff_every_single_accepts(
    issuer: IssuerKey, pool: list[tuple[bytes, bytes]], kinds: list[str], garbage: bytes
) -> None:
    be = bls.get_backend("arkworks")
    items = []
    for j, kind in enumerate(kinds):
        nym, cred = pool[j]
        nxt_nym, nxt_cred = pool[(j + 1) % len(pool)]
        tampered = be.g1_compress(be.g1_add(be.g1_decompress(cred), be.g1_generator()))
        item = {
            "valid": (PROCESS, nym, cred),
            "another process": (PROCESS + "x", nym, cred),
            "wrong pseudonym": (PROCESS, nxt_nym, cred),
            "another's credential": (PROCESS, nym, nxt_cred),
            "tampered": (PROCESS, nym, tampered),
            "not in subgroup": (PROCESS, nym, non_subgroup_g1()),
            "identity": (PROCESS, nym, bytes([0xC0]) + bytes(47)),
            "truncated": (PROCESS, nym, cred[:-1]),
            "garbage": (PROCESS, nym, garbage),
            "nul in process id": (PROCESS + "\x00", nym, cred),
        }[kind]
        items.append(item)
    singles = [verify_credential(issuer.public_key, *item) for item in items]
    assert verify_credentials_batch(issuer.public_key, items) == all(singles)
    assert invalid_credentials(issuer.public_key, items) == [
        i for i, ok in enumerate(singles) if not ok
    ]


# --------------------------------------------------------------------------
# t-of-n issuers
# --------------------------------------------------------------------------


def test_any_t_of_n_shares_sign_and_t_minus_1_do_not(ark: bls.AnyBackend) -> None:
    key = IssuerKey.generate()
    t, n = 3, 5
    shares = split_key(key, t, n)
    assert sorted(shares) == [1, 2, 3, 4, 5]
    assert len({s.public_key for s in shares.values()} | {key.public_key}) == n + 1
    pseudonym = Pseudonym.generate()
    message = credential_message(PROCESS, pseudonym.public_key)
    state, blinded = blind(message, backend=ark)
    answers = {i: s.sign_blinded(blinded, backend=ark) for i, s in shares.items()}
    for i, answer in answers.items():
        assert verify_blind_share(shares[i].public_key, blinded, answer, backend=ark)
        assert not verify_blind_share(key.public_key, blinded, answer, backend=ark)

    for size in (t, t + 1, n):
        for subset in itertools.combinations(answers, size):
            combined = combine_shares({i: answers[i] for i in subset}, backend=ark)
            credential = unblind(state, combined, key.public_key, backend=ark)
            assert verify_credential(key.public_key, PROCESS, pseudonym.public_key, credential)
    for subset in itertools.combinations(answers, t - 1):
        combined = combine_shares({i: answers[i] for i in subset}, backend=ark)
        with pytest.raises(CredentialError):
            unblind(state, combined, key.public_key, backend=ark)


def test_combining_unblinded_shares(ark: bls.AnyBackend) -> None:
    key = IssuerKey.generate()
    shares = split_key(key, 2, 3)
    pseudonym = Pseudonym.generate()
    message = credential_message(PROCESS, pseudonym.public_key)
    state, blinded = blind(message, backend=ark)
    # Each issuer's answer is unblinded -- and so checked -- under that issuer's share key.
    unblinded = {
        i: unblind(state, shares[i].sign_blinded(blinded), shares[i].public_key, backend=ark)
        for i in (1, 3)
    }
    credential = combine_shares(unblinded, backend=ark)
    assert verify_credential(key.public_key, PROCESS, pseudonym.public_key, credential)
    hashed = ark.g1_compress(ark.hash_to_g1(message, CREDENTIAL_DST))
    assert credential == key.sign_blinded(hashed, backend=ark)  # the group key's own signature


def test_combined_shares_are_byte_identical_on_both_backends(
    ark: bls.AnyBackend, ref: bls.AnyBackend
) -> None:
    shares = split_key(IssuerKey(VECTOR_SK), 2, 3)
    answers = {i: shares[i].sign_blinded(VECTOR_H, backend=ark) for i in (2, 3)}
    assert answers == {i: shares[i].sign_blinded(VECTOR_H, backend=ref) for i in (2, 3)}
    assert combine_shares(answers, backend=ark) == VECTOR_CREDENTIAL
    assert combine_shares(answers, backend=ref) == VECTOR_CREDENTIAL


def test_sharing_edge_cases_and_refusals(ark: bls.AnyBackend) -> None:
    key = IssuerKey(VECTOR_SK)
    assert all(share == key for share in split_key(key, 1, 3).values())
    assert combine_shares({2: VECTOR_CREDENTIAL}, backend=ark) == VECTOR_CREDENTIAL  # t = 1
    for t, n in ((0, 3), (4, 3), (1, 0)):
        with pytest.raises(ValueError):
            split_key(key, t, n)
    for shares in ({}, {0: VECTOR_CREDENTIAL}, {R: VECTOR_CREDENTIAL}, {1: non_subgroup_g1()}):
        with pytest.raises(FormatError) as info:
            combine_shares(shares, backend=ark)
        assert info.value.code == "bad_share"
    assert not verify_blind_share(VECTOR_PK, VECTOR_H, non_subgroup_g1(), backend=ark)
    assert not verify_blind_share(VECTOR_PK[:-1], VECTOR_H, VECTOR_CREDENTIAL, backend=ark)
