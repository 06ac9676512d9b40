"""The one door to the pairing libraries: ``urne.verifier.credentials.bls`` on both backends.

Known answers come from third parties: RFC 9380 Appendix J.10.1 for hash to
G2, EIP-2333 for KeyGen, the standard generators' encodings. Both backends
must give byte-identical results and make identical refusals; the refused
encodings (not on the curve, outside the subgroup, ...) are built here in
plain Python, independently of either library.

py_ecc costs ~0.1-0.3 s per hash or pairing, so most tests run on arkworks
only, and the py_ecc runs that pair are marked ``slow``.
"""

from __future__ import annotations

import pytest

from tests.support.bls_points import (
    G1_GENERATOR,
    G2_GENERATOR,
    Fp2,
    P,
    R,
    encode_g1,
    encode_g2_affine,
    fp2_mul,
    g1_points_above,
    g2_bad_encodings,
    g2_rhs,
    non_subgroup_g1,
)
from urne.verifier.credentials import bls

QUUX_DST = b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"
OUR_DST = b"URNE-V01-CS01-with-BLS12381G2_XMD:SHA-256_SSWU_RO_"

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
# Plain-Python field arithmetic, to build encodings without either library
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Known answers
# --------------------------------------------------------------------------

# RFC 9380 Appendix J.10.1, suite BLS12381G2_XMD:SHA-256_SSWU_RO_, DST QUUX_DST:
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
    point = backend.hash_to_g2(msg, QUUX_DST)
    assert backend.g2_compress(point) == expected
    decoded = backend.g2_decompress(expected)
    assert decoded is not None and backend.g2_compress(decoded) == expected


def test_generators(backend: bls.AnyBackend) -> None:
    assert backend.g1_compress(backend.g1_generator()) == G1_GENERATOR
    assert backend.g2_compress(backend.g2_generator()) == G2_GENERATOR


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


# --------------------------------------------------------------------------
# Both backends, byte for byte
# --------------------------------------------------------------------------

FIXED_SCALARS = [1, 2, 0xDEADBEEF, R - 1, R + 5, bls.keygen(b"urne: fixed key material, 32 byte")]


def test_backends_agree_on_hash_to_g2_and_keys(ark: bls.AnyBackend, ref: bls.AnyBackend) -> None:
    for message in (b"", b"urne/v1/credential\nprocess-1\x00" + bytes(range(32))):
        assert ark.g2_compress(ark.hash_to_g2(message, OUR_DST)) == ref.g2_compress(
            ref.hash_to_g2(message, OUR_DST)
        )
    for k in FIXED_SCALARS:
        if 0 < k < R:
            assert ark.sk_to_pk(k) == ref.sk_to_pk(k)


def test_backends_agree_on_group_operations(ark: bls.AnyBackend, ref: bls.AnyBackend) -> None:
    def run(be: bls.AnyBackend) -> list[bytes]:
        g1, g2 = be.g1_generator(), be.g2_generator()
        h = be.hash_to_g2(b"fixed", OUR_DST)
        out = [be.g1_compress(be.g1_mul(g1, k)) for k in FIXED_SCALARS]
        out += [be.g2_compress(be.g2_mul(h, k)) for k in FIXED_SCALARS]
        out.append(be.g1_compress(be.g1_add(g1, be.g1_neg(be.g1_mul(g1, 3)))))
        out.append(be.g2_compress(be.g2_add(g2, h)))
        out.append(be.g1_compress(be.g1_msm([g1, be.g1_mul(g1, 7)], [5, R - 2])))
        out.append(be.g2_compress(be.g2_msm([g2, h, h], [2**127 + 1, 3, R - 3])))
        out.append(be.g2_compress(be.g2_mul(g2, 0)))  # the identity encodes canonically
        out.append(be.g1_compress(be.g1_mul(g1, R)))
        return out

    got = run(ark)
    assert got == run(ref)
    assert got[-2] == bytes([0xC0]) + bytes(95)
    assert got[-1] == bytes([0xC0]) + bytes(47)


@pytest.mark.slow
def test_backends_agree_on_signatures(ark: bls.AnyBackend, ref: bls.AnyBackend) -> None:
    sk = FIXED_SCALARS[-1]
    sig = ark.sign(sk, b"message", OUR_DST)
    assert ref.sign(sk, b"message", OUR_DST) == sig
    pk = ark.sk_to_pk(sk)
    assert ref.verify(pk, b"message", sig, OUR_DST)
    assert not ref.verify(pk, b"messagf", sig, OUR_DST)


# --------------------------------------------------------------------------
# Refusals: identical on both backends, decided before or by the library
# --------------------------------------------------------------------------


def g1_bad_encodings() -> dict[str, bytes]:
    good = G1_GENERATOR
    x_not_on_curve = g1_points_above(False)
    return {
        "empty": b"",
        "short": good[:-1],
        "long": good + b"\x00",
        "g2-length": good + good,
        "uncompressed-flag-clear": bytes([good[0] & 0x7F]) + good[1:],
        "infinity": bytes([0xC0]) + bytes(47),
        "infinity-with-sign": bytes([0xE0]) + bytes(47),
        "infinity-with-garbage": bytes([0xC0]) + bytes(46) + b"\x01",
        "infinity-flag-on-point": bytes([good[0] | 0x40]) + good[1:],
        "x-equal-p": encode_g1(P),
        "x-above-p": encode_g1(P + x_not_on_curve),
        "not-on-curve": encode_g1(x_not_on_curve),
        "not-in-subgroup": non_subgroup_g1(),
    }


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
    flipped = bytes([G1_GENERATOR[0] ^ 0x20]) + G1_GENERATOR[1:]
    assert backend.g1_decompress(flipped) is not None  # -G1
    assert backend.g2_decompress(G2_GENERATOR) is not None
    h = backend.g2_compress(backend.hash_to_g2(b"x", OUR_DST))
    assert backend.g2_decompress(h) is not None


def test_verify_returns_false_on_malformed_input(ark: bls.AnyBackend) -> None:
    sk = FIXED_SCALARS[-1]
    pk, sig = ark.sk_to_pk(sk), ark.sign(sk, b"m", OUR_DST)
    assert ark.verify(pk, b"m", sig, OUR_DST)
    for bad_pk in g1_bad_encodings().values():
        assert not ark.verify(bad_pk, b"m", sig, OUR_DST)
    for bad_sig in g2_bad_encodings().values():
        assert not ark.verify(pk, b"m", bad_sig, OUR_DST)
        assert not ark.batch_verify([(pk, b"m", bad_sig)], OUR_DST)


# --------------------------------------------------------------------------
# Pairing check and batch verification
# --------------------------------------------------------------------------


def test_core_verify(pairing_backend: bls.AnyBackend) -> None:
    be = pairing_backend
    h = be.hash_to_g2(b"m", OUR_DST)
    pk = be.g1_mul(be.g1_generator(), 5)
    assert be.core_verify(pk, h, be.g2_mul(h, 5))
    assert not be.core_verify(pk, h, be.g2_mul(h, 6))


def test_batch_verify(pairing_backend: bls.AnyBackend) -> None:
    be = pairing_backend
    sk = FIXED_SCALARS[-1]
    pk = be.sk_to_pk(sk)
    items = [(pk, m, be.sign(sk, m, OUR_DST)) for m in (b"one", b"two")]
    assert be.batch_verify(items, OUR_DST)
    swapped = [(pk, b"one", items[1][2]), (pk, b"two", items[0][2])]
    assert not be.batch_verify(swapped, OUR_DST)


def test_batch_verify_several_keys(ark: bls.AnyBackend) -> None:
    keys = [bls.keygen(bytes([i]) * 32) for i in range(3)]
    items = [
        (ark.sk_to_pk(sk), m, ark.sign(sk, m, OUR_DST)) for sk in keys for m in (b"a", b"b", b"c")
    ]
    assert ark.batch_verify(items, OUR_DST)
    pk0, m0, _ = items[0]
    wrong_key = [(pk0, m0, items[3][2]), *items[1:]]  # key 1's signature under key 0
    assert not ark.batch_verify(wrong_key, OUR_DST)
    assert ark.batch_verify([], OUR_DST)


def test_batch_weights_stop_cancelling_forgeries(ark: bls.AnyBackend) -> None:
    sk = FIXED_SCALARS[-1]
    pk = ark.sk_to_pk(sk)
    s1 = ark.hash_to_g2(b"one", OUR_DST)
    s2 = ark.hash_to_g2(b"two", OUR_DST)
    d = ark.g2_mul(ark.g2_generator(), 12345)
    forged = [
        (pk, b"one", ark.g2_compress(ark.g2_add(ark.g2_mul(s1, sk), d))),
        (pk, b"two", ark.g2_compress(ark.g2_add(ark.g2_mul(s2, sk), ark.g2_mul(d, R - 1)))),
    ]
    assert not ark.verify(*forged[0], OUR_DST)
    assert not ark.verify(*forged[1], OUR_DST)
    # Unweighted aggregation is fooled: the two errors cancel out ...
    assert ark.batch_verify_weighted(forged, OUR_DST, [1, 1])
    # ... random weights are not.
    assert not ark.batch_verify(forged, OUR_DST)


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
    with pytest.raises(ValueError):
        ark.hash_to_g2(b"m", b"")
    with pytest.raises(ValueError):
        ark.hash_to_g2(b"m", b"x" * 256)
    with pytest.raises(ValueError):
        ark.g2_msm([ark.g2_generator()], [1, 2])
    with pytest.raises(ValueError):
        ark.g1_msm([], [])
    for sk in (0, R):
        with pytest.raises(ValueError):
            ark.sk_to_pk(sk)
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
