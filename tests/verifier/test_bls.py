"""The one door to the pairing libraries: ``urne.verifier.credentials.bls`` on both backends.

The variant under test is draft-irtf-cfrg-bls-signature-05's
minimal-signature-size one: signatures and hashed messages in G1 (48 bytes),
public keys in G2 (96 bytes), messages hashed with RFC 9380
``BLS12381G1_XMD:SHA-256_SSWU_RO_``.

Known answers come from third parties: RFC 9380 Appendix J.9.1 for hash to G1
(``tests/vectors/rfc9380/``, unmodified) and J.10.1 for hash to G2, a
signature of drand's "quicknet" network (a deployed signer of the same
variant), EIP-2333 for KeyGen, the standard generators' encodings. Both
backends must give byte-identical results and make identical refusals; the
refused encodings (not on the curve, outside the subgroup, ...) are built here
or in ``tests.support.bls_points`` in plain Python, independently of either
library.

py_ecc costs ~0.1-0.6 s per hash, pairing or verification, so the tests that
pair run on arkworks only or mark their py_ecc run ``slow``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.bls_points import (
    G1_GENERATOR,
    G2_GENERATOR,
    Fp2,
    P,
    R,
    encode_g1,
    encode_g2_affine,
    fp2_mul,
    g1_bad_encodings,
    g2_bad_encodings,
    g2_rhs,
    non_subgroup_g1,
)
from tests.support.paths import load_vector
from urne.verifier.credentials import bls

QUUX_G1_DST = b"QUUX-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"
QUUX_G2_DST = b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"
# Signatures hash to G1; hash_to_g2 is still a primitive and gets its own tag.
OUR_DST = b"URNE-V01-CS02-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"
OUR_G2_DST = b"URNE-V01-CS01-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"

BOTH = ["arkworks", "py_ecc"]
# Pairings on py_ecc take seconds: run them, but mark them.
BOTH_SLOW_REF = ["arkworks", pytest.param("py_ecc", marks=pytest.mark.slow)]


@pytest.fixture(params=BOTH)
def backend(request: pytest.FixtureRequest) -> bls.AnyBackend:
    return bls.get_backend(request.param)


@pytest.fixture(params=BOTH_SLOW_REF)
def pairing_backend(request: pytest.FixtureRequest) -> bls.AnyBackend:
    return bls.get_backend(request.param)


@pytest.fixture
def ark() -> bls.AnyBackend:
    return bls.get_backend("arkworks")


@pytest.fixture
def ref() -> bls.AnyBackend:
    return bls.get_backend("py_ecc")


# --------------------------------------------------------------------------
# Plain-Python helpers, to read and build encodings without either library
# --------------------------------------------------------------------------


def negated(encoding: bytes) -> bytes:
    """The encoding of ``-Q`` from that of a finite ``Q`` (y != 0): flip the sign flag."""
    return bytes([encoding[0] ^ 0x20]) + encoding[1:]


def g1_affine(encoding: bytes) -> tuple[int, int]:
    """The affine ``(x, y)`` of a compressed finite G1 point, solved here for y."""
    assert len(encoding) == bls.G1_COMPRESSED_SIZE
    assert encoding[0] & 0x80 and not encoding[0] & 0x40, "not a compressed finite point"
    x = int.from_bytes(encoding, "big") & ((1 << 381) - 1)
    rhs = (x**3 + 4) % P
    y = pow(rhs, (P + 1) // 4, P)  # p = 3 mod 4
    assert y * y % P == rhs, "no point above x"
    if (y > (P - 1) // 2) != bool(encoding[0] & 0x20):
        y = P - y
    return x, y


# --------------------------------------------------------------------------
# Known answers: hashing to the curves
# --------------------------------------------------------------------------

# RFC 9380 Appendix J.9.1, suite BLS12381G1_XMD:SHA-256_SSWU_RO_, DST QUUX_G1_DST,
# as published by the draft's repository (tests/vectors/SOURCES.md).
H2C_G1 = load_vector("rfc9380/BLS12381G1_XMD_SHA-256_SSWU_RO_.json")
RFC9380_MESSAGES = [b"", b"abc", b"abcdef0123456789", b"q128_" + b"q" * 128, b"a512_" + b"a" * 512]


def test_g1_vector_file_is_the_rfc_suite() -> None:
    assert H2C_G1["ciphersuite"] == "BLS12381G1_XMD:SHA-256_SSWU_RO_"
    assert H2C_G1["dst"].encode("ascii") == QUUX_G1_DST
    assert (H2C_G1["hash"], H2C_G1["expand"], H2C_G1["randomOracle"]) == ("sha256", "XMD", True)
    assert int(H2C_G1["field"]["p"], 16) == P
    assert [v["msg"].encode("ascii") for v in H2C_G1["vectors"]] == RFC9380_MESSAGES


@pytest.mark.parametrize(
    "vector",
    H2C_G1["vectors"],
    ids=[v["msg"].split("_")[0][:16] or "empty" for v in H2C_G1["vectors"]],
)
def test_hash_to_g1_rfc9380_vectors(backend: bls.AnyBackend, vector: dict[str, Any]) -> None:
    x, y = int(vector["P"]["x"], 16), int(vector["P"]["y"], 16)
    assert 0 <= x < P and 0 < y < P
    assert y * y % P == (x**3 + 4) % P, "P is not on y^2 = x^3 + 4"
    point = backend.hash_to_g1(vector["msg"].encode("ascii"), QUUX_G1_DST)
    encoded = backend.g1_compress(point)
    # Exact: the affine point itself (y solved from the encoding in plain Python) ...
    assert g1_affine(encoded) == (x, y)
    # ... and the encoding built from it, sign flag chosen from y.
    assert encoded == encode_g1(x, larger_y=y > (P - 1) // 2)
    decoded = backend.g1_decompress(encoded)  # on the curve and in the subgroup
    assert decoded is not None and backend.g1_compress(decoded) == encoded


# RFC 9380 Appendix J.10.1, suite BLS12381G2_XMD:SHA-256_SSWU_RO_, DST QUUX_G2_DST:
# (msg, P.x = (c0, c1), P.y = (c0, c1)).
RFC9380_J10_1 = [
    (
        b"",
        (
            0x0141EBFBDCA40EB85B87142E130AB689C673CF60F1A3E98D69335266F30D9B8D4AC44C1038E9DCDD5393FAF5C41FB78A,
            0x05CB8437535E20ECFFAEF7752BADDF98034139C38452458BAEEFAB379BA13DFF5BF5DD71B72418717047F5B0F37DA03D,
        ),
        (
            0x0503921D7F6A12805E72940B963C0CF3471C7B2A524950CA195D11062EE75EC076DAF2D4BC358C4B190C0C98064FDD92,
            0x12424AC32561493F3FE3C260708A12B7C620E7BE00099A974E259DDC7D1F6395C3C811CDD19F1E8DBF3E9ECFDCBAB8D6,
        ),
    ),
    (
        b"abc",
        (
            0x02C2D18E033B960562AAE3CAB37A27CE00D80CCD5BA4B7FE0E7A210245129DBEC7780CCC7954725F4168AFF2787776E6,
            0x139CDDBCCDC5E91B9623EFD38C49F81A6F83F175E80B06FC374DE9EB4B41DFE4CA3A230ED250FBE3A2ACF73A41177FD8,
        ),
        (
            0x1787327B68159716A37440985269CF584BCB1E621D3A7202BE6EA05C4CFE244AEB197642555A0645FB87BF7466B2BA48,
            0x00AA65DAE3C8D732D10ECD2C50F8A1BAF3001578F71C694E03866E9F3D49AC1E1CE70DD94A733534F106D4CEC0EDDD16,
        ),
    ),
    (
        b"abcdef0123456789",
        (
            0x121982811D2491FDE9BA7ED31EF9CA474F0E1501297F68C298E9F4C0028ADD35AEA8BB83D53C08CFC007C1E005723CD0,
            0x190D119345B94FBD15497BCBA94ECF7DB2CBFD1E1FE7DA034D26CBBA169FB3968288B3FAFB265F9EBD380512A71C3F2C,
        ),
        (
            0x05571A0F8D3C08D094576981F4A3B8EDA0A8E771FCDCC8ECCEAF1356A6ACF17574518ACB506E435B639353C2E14827C8,
            0x0BB5E7572275C567462D91807DE765611490205A941A5A6AF3B1691BFE596C31225D3AABDF15FAFF860CB4EF17C7C3BE,
        ),
    ),
    (
        b"q128_" + b"q" * 128,
        (
            0x19A84DD7248A1066F737CC34502EE5555BD3C19F2ECDB3C7D9E24DC65D4E25E50D83F0F77105E955D78F4762D33C17DA,
            0x0934ABA516A52D8AE479939A91998299C76D39CC0C035CD18813BEC433F587E2D7A4FEF038260EEF0CEF4D02AAE3EB91,
        ),
        (
            0x14F81CD421617428BC3B9FE25AFBB751D934A00493524BC4E065635B0555084DD54679DF1536101B2C979C0152D09192,
            0x09BCCCFA036B4847C9950780733633F13619994394C23FF0B32FA6B795844F4A0673E20282D07BC69641CEE04F5E5662,
        ),
    ),
    (
        b"a512_" + b"a" * 512,
        (
            0x01A6BA2F9A11FA5598B2D8ACE0FBE0A0EACB65DECEB476FBBCB64FD24557C2F4B18ECFC5663E54AE16A84F5AB7F62534,
            0x11FCA2FF525572795A801EED17EB12785887C7B63FB77A42BE46CE4A34131D71F7A73E95FEE3F812AEA3DE78B4D01569,
        ),
        (
            0x0B6798718C8AED24BC19CB27F866F1C9EFFCDBF92397AD6448B5C9DB90D2B9DA6CBABF48ADC1ADF59A1A28344E79D57E,
            0x03A47F8E6D1763BA0CAD63D6114C0ACCBEF65707825A511B251A660A9B3994249AE4E63FAC38B23DA0C398689EE2AB52,
        ),
    ),
]


@pytest.mark.parametrize(
    ("msg", "x", "y"), RFC9380_J10_1, ids=["empty", "abc", "abcdef", "q128", "a512"]
)
def test_hash_to_g2_rfc9380_vectors(backend: bls.AnyBackend, msg: bytes, x: Fp2, y: Fp2) -> None:
    assert fp2_mul(y, y) == g2_rhs(x), "vector transcribed wrongly: P is not on the curve"
    expected = encode_g2_affine(x, y)
    point = backend.hash_to_g2(msg, QUUX_G2_DST)
    assert backend.g2_compress(point) == expected
    decoded = backend.g2_decompress(expected)
    assert decoded is not None and backend.g2_compress(decoded) == expected


def test_the_arkworks_backend_hashes_to_g1_with_blst_where_it_is_installed() -> None:
    """blst (pyblst: the `fast` extra, and part of `server`), where it is
    installed, is what the default backend hashes with; elsewhere (a plain
    observer's install) arkworks' own hash."""
    import importlib.util

    want = "blst" if importlib.util.find_spec("pyblst") is not None else "arkworks"
    if importlib.util.find_spec("fastapi") is not None:  # the server extra brings pyblst
        assert want == "blst", "pyblst is part of the server extra"
    assert bls.get_backend("arkworks").g1_hasher == want  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "vector",
    H2C_G1["vectors"],
    ids=[v["msg"].split("_")[0][:16] or "empty" for v in H2C_G1["vectors"]],
)
def test_hash_to_g1_rfc9380_vectors_without_blst(vector: dict[str, Any]) -> None:
    """arkworks' own hash, the path where pyblst has no wheel, on the same vectors."""
    plain = bls.arkworks_without_blst()
    assert plain.g1_hasher == "arkworks"  # type: ignore[attr-defined]
    encoded = plain.g1_compress(plain.hash_to_g1(vector["msg"].encode("ascii"), QUUX_G1_DST))
    assert g1_affine(encoded) == (int(vector["P"]["x"], 16), int(vector["P"]["y"], 16))


@settings(max_examples=40, deadline=None)
@given(message=st.binary(max_size=300), dst=st.binary(min_size=1, max_size=255))
def test_blst_arkworks_and_py_ecc_hash_alike(message: bytes, dst: bytes) -> None:
    """The three hashes to G1 give the same point on any message and tag."""
    fast = bls.get_backend("arkworks")
    plain = bls.arkworks_without_blst()
    ref = bls.get_backend("py_ecc")
    want = ref.g1_compress(ref.hash_to_g1(message, dst))
    assert fast.g1_compress(fast.hash_to_g1(message, dst)) == want
    assert plain.g1_compress(plain.hash_to_g1(message, dst)) == want
    assert fast.g1_decompress(want) is not None  # in the subgroup, as the unchecked decode assumed


def test_hash_to_g1_separates_domains(ark: bls.AnyBackend) -> None:
    def h(message: bytes, dst: bytes) -> bytes:
        return ark.g1_compress(ark.hash_to_g1(message, dst))

    assert h(b"m", OUR_DST) == h(b"m", OUR_DST)
    outputs = {h(b"m", OUR_DST), h(b"n", OUR_DST), h(b"m", QUUX_G1_DST), h(b"m", b"x" * 255)}
    assert len(outputs) == 4
    assert bytes([0xC0]) + bytes(47) not in outputs


def test_generators(backend: bls.AnyBackend) -> None:
    assert backend.g1_compress(backend.g1_generator()) == G1_GENERATOR
    assert backend.g2_compress(backend.g2_generator()) == G2_GENERATOR


# --------------------------------------------------------------------------
# Known answers: keys and signatures
# --------------------------------------------------------------------------

# EIP-2333 test cases 0 and 1: derive_master_SK(seed) is KeyGen(seed) of
# draft-irtf-cfrg-bls-signature-04 (salt = SHA-256("BLS-SIG-KEYGEN-SALT-")).
EIP2333 = [
    (
        "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
        6083874454709270928345386274498605044986640685124978867557563392430687146096,
    ),
    (
        "3141592653589793238462643383279502884197169399375105820974944592",
        29757020647961307431480504535336562678282505419141012933316116377660817309383,
    ),
]


@pytest.mark.parametrize(("seed", "sk"), EIP2333)
def test_keygen_known_answers(seed: str, sk: int) -> None:
    assert bls.keygen(bytes.fromhex(seed)) == sk


def test_keygen_refuses_short_keying_material() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        bls.keygen(bytes(31))
    assert bls.keygen(bytes(32), b"a") != bls.keygen(bytes(32), b"b")


FIXED_SCALARS = [1, 2, 0xDEADBEEF, R - 1, R + 5, bls.keygen(b"urne: fixed key material, 32 byte")]
SECRET_KEYS = [k for k in FIXED_SCALARS if 0 < k < R]


def test_keys_in_g2_signatures_in_g1_known_answers(backend: bls.AnyBackend) -> None:
    # sk_to_pk(1) is the generator of G2, sk_to_pk(r - 1) its negation ...
    assert backend.sk_to_pk(1) == G2_GENERATOR
    assert backend.sk_to_pk(R - 1) == negated(G2_GENERATOR)
    # ... and sign(1, m) is hash_to_g1(m): RFC 9380 J.9.1's P for m = "".
    vector = H2C_G1["vectors"][0]
    x, y = int(vector["P"]["x"], 16), int(vector["P"]["y"], 16)
    h = encode_g1(x, larger_y=y > (P - 1) // 2)
    assert backend.sign(1, b"", QUUX_G1_DST) == h
    assert backend.sign(R - 1, b"", QUUX_G1_DST) == negated(h)
    assert len(backend.sk_to_pk(SECRET_KEYS[-1])) == bls.G2_COMPRESSED_SIZE == 96
    assert len(backend.sign(SECRET_KEYS[-1], b"m", OUR_DST)) == bls.G1_COMPRESSED_SIZE == 48


# drand "quicknet" (League of Entropy mainnet, scheme bls-unchained-g1-rfc9380,
# chain 52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971): a
# deployed minimal-signature-size signer -- public key in G2, signatures in G1,
# hashed with RFC 9380 under the basic-scheme tag of draft-irtf-cfrg-bls-signature-05
# §4.2.1. A round's message is SHA-256 of the round number as 8 big-endian bytes,
# its randomness SHA-256 of the signature. Public key as the chain's /info gives
# it; round 657413 and its randomness as quoted in the README of
# github.com/mcdcam/python-drand-verify (bindings to noislabs/drand-verify).
QUICKNET_DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
QUICKNET_PK = bytes.fromhex(
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
    "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
    "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
)
QUICKNET_ROUND = 657413
QUICKNET_SIG = bytes.fromhex(
    "b713718a38ae728dfd477991af2822e08d2f305e47718cef"
    "9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
)
QUICKNET_RANDOMNESS = "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"


def quicknet_message(round_number: int) -> bytes:
    return hashlib.sha256(round_number.to_bytes(8, "big")).digest()


def test_verify_known_answer_drand_quicknet(pairing_backend: bls.AnyBackend) -> None:
    be = pairing_backend
    # The published randomness is SHA-256(signature): the signature is transcribed right.
    assert hashlib.sha256(QUICKNET_SIG).hexdigest() == QUICKNET_RANDOMNESS
    message = quicknet_message(QUICKNET_ROUND)
    assert be.verify(QUICKNET_PK, message, QUICKNET_SIG, QUICKNET_DST)
    assert not be.verify(
        QUICKNET_PK, quicknet_message(QUICKNET_ROUND + 1), QUICKNET_SIG, QUICKNET_DST
    )
    assert not be.verify(QUICKNET_PK, message, QUICKNET_SIG, OUR_DST)
    assert not be.verify(QUICKNET_PK, message, negated(QUICKNET_SIG), QUICKNET_DST)
    assert be.batch_verify([(QUICKNET_PK, message, QUICKNET_SIG)], QUICKNET_DST)


# --------------------------------------------------------------------------
# Both backends, byte for byte
# --------------------------------------------------------------------------


def test_backends_agree_on_hashes_and_keys(ark: bls.AnyBackend, ref: bls.AnyBackend) -> None:
    for message in (b"", b"urne/v1/credential\nprocess-1\x00" + bytes(range(32))):
        h1 = ark.g1_compress(ark.hash_to_g1(message, OUR_DST))
        assert len(h1) == 48
        assert ref.g1_compress(ref.hash_to_g1(message, OUR_DST)) == h1
        h2 = ark.g2_compress(ark.hash_to_g2(message, OUR_G2_DST))
        assert len(h2) == 96
        assert ref.g2_compress(ref.hash_to_g2(message, OUR_G2_DST)) == h2
    for sk in SECRET_KEYS:
        pk = ark.sk_to_pk(sk)
        assert len(pk) == 96
        assert ref.sk_to_pk(sk) == pk


def test_backends_agree_on_signatures(ark: bls.AnyBackend, ref: bls.AnyBackend) -> None:
    for sk, message in ((2, b""), (SECRET_KEYS[-1], b"message"), (R - 1, bytes(range(64)))):
        sig = ark.sign(sk, message, OUR_DST)
        assert len(sig) == 48
        assert ref.sign(sk, message, OUR_DST) == sig


@pytest.mark.slow
def test_backends_verify_each_others_signatures(ark: bls.AnyBackend, ref: bls.AnyBackend) -> None:
    sk = SECRET_KEYS[-1]
    pk = ark.sk_to_pk(sk)
    sig = ark.sign(sk, b"message", OUR_DST)
    assert ref.verify(pk, b"message", sig, OUR_DST)
    assert not ref.verify(pk, b"messagf", sig, OUR_DST)
    other = ref.sign(sk, b"other", OUR_DST)
    assert ark.verify(ref.sk_to_pk(sk), b"other", other, OUR_DST)


def test_backends_agree_on_group_operations(ark: bls.AnyBackend, ref: bls.AnyBackend) -> None:
    def run(be: bls.AnyBackend) -> dict[str, bytes]:
        g1, g2 = be.g1_generator(), be.g2_generator()
        h1 = be.hash_to_g1(b"fixed", OUR_DST)
        h2 = be.hash_to_g2(b"fixed", OUR_G2_DST)
        c1, c2 = be.g1_compress, be.g2_compress
        out: dict[str, bytes] = {}
        for i, k in enumerate(FIXED_SCALARS):
            out[f"g1*k{i}"] = c1(be.g1_mul(g1, k))
            out[f"h1*k{i}"] = c1(be.g1_mul(h1, k))  # signatures
            out[f"g2*k{i}"] = c2(be.g2_mul(g2, k))  # public keys
            out[f"h2*k{i}"] = c2(be.g2_mul(h2, k))
        out["g1*5"] = c1(be.g1_mul(g1, 5))
        out["g2*5"] = c2(be.g2_mul(g2, 5))
        out["g1-3g1"] = c1(be.g1_add(g1, be.g1_neg(be.g1_mul(g1, 3))))
        out["g2-3g2"] = c2(be.g2_add(g2, be.g2_neg(be.g2_mul(g2, 3))))
        out["-g1"] = c1(be.g1_neg(g1))
        out["-g2"] = c2(be.g2_neg(g2))
        out["-h1"] = c1(be.g1_neg(h1))
        out["h1+g1"] = c1(be.g1_add(h1, g1))
        out["g2+h2"] = c2(be.g2_add(g2, h2))
        out["msm1"] = c1(be.g1_msm([h1, g1, be.g1_mul(h1, 7)], [5, R - 2, 2**127 + 1]))
        out["msm2"] = c2(be.g2_msm([g2, h2, h2], [2**127 + 1, 3, R - 3]))
        # The identity encodes canonically (it is refused only when decoding).
        out["o1"] = c1(be.g1_mul(g1, R))
        out["o2"] = c2(be.g2_mul(g2, 0))
        out["h1-h1"] = c1(be.g1_add(h1, be.g1_neg(h1)))
        out["g2-g2"] = c2(be.g2_add(g2, be.g2_neg(g2)))
        return out

    got = run(ark)
    assert got == run(ref)
    assert got["-g1"] == negated(G1_GENERATOR)
    assert got["-g2"] == negated(G2_GENERATOR)
    assert got["-h1"] == negated(got["h1*k0"])
    assert got["g2*k3"] == got["-g2"]  # (r - 1) * G2
    assert got["g1-3g1"] == negated(got["g1*k1"])  # G1 - 3 G1 = -(2 G1)
    assert got["g2-3g2"] == negated(got["g2*k1"])
    assert got["g1*k4"] == got["g1*5"]  # scalars are reduced modulo r
    assert got["g2*k4"] == got["g2*5"]
    assert got["o1"] == got["h1-h1"] == bytes([0xC0]) + bytes(47)
    assert got["o2"] == got["g2-g2"] == bytes([0xC0]) + bytes(95)


# --------------------------------------------------------------------------
# Refusals: identical on both backends, decided before or by the library
# --------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(g1_bad_encodings()))
def test_g1_refusals(backend: bls.AnyBackend, case: str) -> None:
    assert backend.g1_decompress(g1_bad_encodings()[case]) is None


@pytest.mark.parametrize("case", sorted(g2_bad_encodings()))
def test_g2_refusals(backend: bls.AnyBackend, case: str) -> None:
    assert backend.g2_decompress(g2_bad_encodings()[case]) is None


def test_refused_points_differ_from_accepted_only_by_the_checked_property(
    backend: bls.AnyBackend,
) -> None:
    # The same x with either sign, or the next x with a point, decodes once in the subgroup:
    # the refusals above are about the property under test, not a slip in the encoding.
    assert backend.g1_decompress(G1_GENERATOR) is not None
    assert backend.g1_decompress(negated(G1_GENERATOR)) is not None  # -G1
    assert backend.g2_decompress(G2_GENERATOR) is not None
    assert backend.g2_decompress(negated(G2_GENERATOR)) is not None  # -G2
    h1 = backend.g1_compress(backend.hash_to_g1(b"x", OUR_DST))
    assert backend.g1_decompress(h1) is not None
    h2 = backend.g2_compress(backend.hash_to_g2(b"x", OUR_G2_DST))
    assert backend.g2_decompress(h2) is not None


def test_verify_refuses_points_of_the_wrong_group(
    backend: bls.AnyBackend, ark: bls.AnyBackend
) -> None:
    sk, m = SECRET_KEYS[-1], b"m"
    pk, sig = ark.sk_to_pk(sk), ark.sign(sk, m, OUR_DST)
    # The same key and message in the other variant (minimal-pubkey-size):
    # a genuine G1 point as the key, a genuine G2 point as the signature.
    g1_key = ark.g1_compress(ark.g1_mul(ark.g1_generator(), sk))
    h2 = ark.hash_to_g2(m, OUR_G2_DST)
    g2_sig = ark.g2_compress(ark.g2_mul(h2, sk))
    # They are valid points, and a valid signature of that variant:
    # e(-G1, sig) * e(pk, H2(m)) == 1 ...
    g1_key_point, g2_sig_point = ark.g1_decompress(g1_key), ark.g2_decompress(g2_sig)
    assert g1_key_point is not None and g2_sig_point is not None
    minus_g1 = ark.g1_neg(ark.g1_generator())
    assert ark.pairing_product_is_one([(minus_g1, g2_sig_point), (g1_key_point, h2)])
    # ... but not of this one: each is refused where the other group is expected.
    assert backend.g2_decompress(g1_key) is None
    assert backend.g1_decompress(g2_sig) is None
    refused = [
        (g1_key, sig),  # a G1 point given as the public key
        (G1_GENERATOR, sig),
        (pk, g2_sig),  # a G2 point given as the signature
        (pk, G2_GENERATOR),
        (g1_key, g2_sig),  # the whole other-variant signature
        (sig, pk),  # key and signature swapped
    ]
    for key, signature in refused:
        for dst in (OUR_DST, OUR_G2_DST):
            assert not backend.verify(key, m, signature, dst)
            assert not backend.batch_verify([(key, m, signature)], dst)
            assert not backend.batch_verify_weighted([(key, m, signature)], dst, [1])


def test_verify_returns_false_on_malformed_input(
    backend: bls.AnyBackend, ark: bls.AnyBackend
) -> None:
    sk = SECRET_KEYS[-1]
    pk, sig = ark.sk_to_pk(sk), ark.sign(sk, b"m", OUR_DST)
    good = (pk, b"m", sig)
    assert ark.verify(*good, OUR_DST)
    for bad_pk in g2_bad_encodings().values():
        assert not backend.verify(bad_pk, b"m", sig, OUR_DST)
        assert not backend.batch_verify([(bad_pk, b"m", sig)], OUR_DST)
    for bad_sig in g1_bad_encodings().values():
        assert not backend.verify(pk, b"m", bad_sig, OUR_DST)
        assert not backend.batch_verify([(pk, b"m", bad_sig)], OUR_DST)
    # A bad item after good ones is still decoded, and refused.
    assert not backend.batch_verify([good, (pk, b"m", non_subgroup_g1())], OUR_DST)
    assert not backend.batch_verify(
        [good, (g2_bad_encodings()["not-in-subgroup"], b"m", sig)], OUR_DST
    )


# --------------------------------------------------------------------------
# Pairing check and batch verification
# --------------------------------------------------------------------------


def test_core_verify(pairing_backend: bls.AnyBackend) -> None:
    be = pairing_backend
    h = be.hash_to_g1(b"m", OUR_DST)  # hashed messages and signatures in G1
    pk = be.g2_mul(be.g2_generator(), 5)  # keys in G2
    assert be.core_verify(pk, h, be.g1_mul(h, 5))
    assert not be.core_verify(pk, h, be.g1_mul(h, 6))
    assert not be.core_verify(be.g2_mul(be.g2_generator(), 6), h, be.g1_mul(h, 5))
    assert not be.core_verify(pk, be.hash_to_g1(b"n", OUR_DST), be.g1_mul(h, 5))
    # The order of hashed and signature matters: e(5 H, G2) == e(H, 5 G2), not e(H, G2).
    assert not be.core_verify(pk, be.g1_mul(h, 5), h)


def test_sign_and_verify(pairing_backend: bls.AnyBackend) -> None:
    be = pairing_backend
    sk = SECRET_KEYS[-1]
    pk, sig = be.sk_to_pk(sk), be.sign(sk, b"m", OUR_DST)
    assert be.verify(pk, b"m", sig, OUR_DST)
    assert not be.verify(pk, b"n", sig, OUR_DST)
    assert not be.verify(pk, b"m", sig, OUR_G2_DST)  # another domain
    assert not be.verify(be.sk_to_pk(sk + 1), b"m", sig, OUR_DST)
    assert not be.verify(pk, b"m", negated(sig), OUR_DST)
    point = be.g1_decompress(sig)
    assert point is not None
    assert be.g1_compress(point) == be.g1_compress(be.g1_mul(be.hash_to_g1(b"m", OUR_DST), sk))


def test_batch_verify(pairing_backend: bls.AnyBackend) -> None:
    be = pairing_backend
    sk = SECRET_KEYS[-1]
    pk = be.sk_to_pk(sk)
    items = [(pk, m, be.sign(sk, m, OUR_DST)) for m in (b"one", b"two")]
    assert be.batch_verify(items, OUR_DST)
    assert be.batch_verify_weighted(items, OUR_DST, [3, 2**128 - 1])
    swapped = [(pk, b"one", items[1][2]), (pk, b"two", items[0][2])]
    assert not be.batch_verify(swapped, OUR_DST)


def test_batch_verify_several_keys(ark: bls.AnyBackend) -> None:
    keys = [bls.keygen(bytes([i]) * 32) for i in range(3)]
    items = [
        (ark.sk_to_pk(sk), m, ark.sign(sk, m, OUR_DST)) for sk in keys for m in (b"a", b"b", b"c")
    ]
    assert all(len(pk) == 96 and len(sig) == 48 for pk, _, sig in items)
    assert ark.batch_verify(items, OUR_DST)
    assert ark.batch_verify(items[::-1], OUR_DST)  # keys interleave however they come
    pk0, m0, _ = items[0]
    wrong_key = [(pk0, m0, items[3][2]), *items[1:]]  # key 1's signature under key 0
    assert not ark.batch_verify(wrong_key, OUR_DST)
    moved = [*items[:-1], (items[0][0], items[-1][1], items[-1][2])]  # last item, first key
    assert not ark.batch_verify(moved, OUR_DST)
    assert ark.batch_verify([], OUR_DST)


def test_batch_verify_is_one_pairing_per_key_plus_one(
    ark: bls.AnyBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """e(sum rho_i S_i, -G2) * prod_k e(sum_{i: PK_i = PK_k} rho_i H_i, PK_k) == 1."""
    seen: list[list[tuple[Any, Any]]] = []
    plain = type(ark).pairing_product_is_one

    def spy(self: bls.AnyBackend, pairs: Sequence[tuple[Any, Any]]) -> bool:
        seen.append(list(pairs))
        return plain(self, pairs)

    monkeypatch.setattr(type(ark), "pairing_product_is_one", spy)
    keys = [bls.keygen(bytes([i]) * 32) for i in range(3)]
    messages = [b"a", b"b", b"c", b"d"]
    items = [
        (ark.sk_to_pk(keys[i % 3]), m, ark.sign(keys[i % 3], m, OUR_DST))
        for i, m in enumerate(messages)
    ]
    weights = [11, 2**127 + 3, 5, R - 1]
    assert ark.batch_verify_weighted(items, OUR_DST, weights)
    (pairs,) = seen
    assert len(pairs) == 1 + len(keys)
    c1, c2 = ark.g1_compress, ark.g2_compress

    def msm(indices: list[int], points: list[Any]) -> bytes:
        return c1(ark.g1_msm([points[i] for i in indices], [weights[i] for i in indices]))

    signatures = [ark.g1_decompress(sig) for _, _, sig in items]
    hashed = [ark.hash_to_g1(m, OUR_DST) for m in messages]
    assert (c1(pairs[0][0]), c2(pairs[0][1])) == (
        msm([0, 1, 2, 3], signatures),
        negated(G2_GENERATOR),
    )
    by_key = {0: [0, 3], 1: [1], 2: [2]}
    for (h, key), k in zip(pairs[1:], by_key, strict=True):
        assert c2(key) == items[k][0]
        assert c1(h) == msm(by_key[k], hashed)
    seen.clear()
    assert ark.batch_verify(items[:2] + items[3:], OUR_DST)  # two keys, three signatures
    assert len(seen[0]) == 3
    seen.clear()
    assert ark.batch_verify([items[0], items[3]], OUR_DST)  # one key: two pairings
    assert len(seen[0]) == 2


def test_batch_weights_stop_cancelling_forgeries(pairing_backend: bls.AnyBackend) -> None:
    be = pairing_backend
    sk = SECRET_KEYS[-1]
    pk = be.sk_to_pk(sk)
    s1 = be.g1_mul(be.hash_to_g1(b"one", OUR_DST), sk)
    s2 = be.g1_mul(be.hash_to_g1(b"two", OUR_DST), sk)
    d = be.g1_mul(be.g1_generator(), 12345)  # the error, in G1 with the signatures
    forged = [
        (pk, b"one", be.g1_compress(be.g1_add(s1, d))),  # S1 + D
        (pk, b"two", be.g1_compress(be.g1_add(s2, be.g1_neg(d)))),  # S2 - D
    ]
    assert not be.verify(*forged[0], OUR_DST)
    assert not be.verify(*forged[1], OUR_DST)
    # Equal fixed weights are fooled: the two errors cancel out ...
    assert be.batch_verify_weighted(forged, OUR_DST, [1, 1])
    assert be.batch_verify_weighted(forged, OUR_DST, [7, 7])
    # ... unequal ones are not, nor are random weights.
    assert not be.batch_verify_weighted(forged, OUR_DST, [1, 2])
    assert not be.batch_verify(forged, OUR_DST)


def test_random_weights_and_scalars() -> None:
    weights = {bls.random_weight() for _ in range(64)}
    assert len(weights) == 64
    assert all(0 < w < 2**128 for w in weights)
    assert all(0 < bls.random_scalar() < R for _ in range(64))


# --------------------------------------------------------------------------
# Scalars and misuse
# --------------------------------------------------------------------------


def test_scalar_serialisation() -> None:
    k = FIXED_SCALARS[-1]
    assert bls.scalar_from_bytes(bls.scalar_to_bytes(k)) == k
    assert bls.scalar_from_bytes(bytes(32)) is None
    assert bls.scalar_from_bytes(R.to_bytes(32, "big")) is None
    assert bls.scalar_from_bytes((R - 1).to_bytes(32, "big")) == R - 1
    assert bls.scalar_from_bytes(bytes(31) + b"\x01") == 1
    assert bls.scalar_from_bytes(b"\x01" * 31) is None
    with pytest.raises(ValueError):
        bls.scalar_to_bytes(R)
    assert bls.scalar_inverse(k) * k % R == 1
    with pytest.raises(ValueError):
        bls.scalar_inverse(R)


def test_misuse_raises(ark: bls.AnyBackend) -> None:
    for hash_to in (ark.hash_to_g1, ark.hash_to_g2):
        with pytest.raises(ValueError, match="domain separation tag"):
            hash_to(b"m", b"")
        with pytest.raises(ValueError, match="domain separation tag"):
            hash_to(b"m", b"x" * 256)
    with pytest.raises(ValueError):
        ark.g2_msm([ark.g2_generator()], [1, 2])
    with pytest.raises(ValueError):
        ark.g1_msm([], [])
    with pytest.raises(ValueError):
        ark.g1_msm([ark.g1_generator()], [])
    for sk in (0, R, -1):
        with pytest.raises(ValueError):
            ark.sk_to_pk(sk)
        with pytest.raises(ValueError):
            ark.sign(sk, b"m", OUR_DST)
    with pytest.raises(ValueError):
        ark.batch_verify_weighted([], OUR_DST, [1])


def test_choosing_backends() -> None:
    assert bls.available_backends() == ("arkworks", "py_ecc")
    try:
        bls.use_py_ecc()
        assert bls.current_backend().name == "py_ecc"
        bls.use_arkworks()
        assert bls.current_backend().name == "arkworks"
        bls.use_py_ecc()
        bls.use_fastest()
        assert bls.current_backend() is bls.get_backend("arkworks")
    finally:
        bls.use_fastest()
    with pytest.raises(ValueError, match="unknown"):
        bls.get_backend("blst")  # type: ignore[arg-type]
