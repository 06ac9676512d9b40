"""ristretto255 as ``urne.verifier.secret.group`` gives it, against RFC 9496.

Known answers are the RFC's own (Appendix A, ``tests/vectors/ristretto255/``,
origin in tests/vectors/SOURCES.md): the multiples 0..15 of the generator, the
encodings every implementation must refuse, the element derivation
(``from_hash``). Then the pitfalls of reaching libsodium directly, which the
wrapper answers itself (docs/guides/dependencies.md): a product that is the
identity (libsodium refuses it), the scalar's top bit (libsodium clears it), the
identity as an encoding (libsodium's check accepts it).
"""

from __future__ import annotations

import ctypes
import hashlib
from typing import Any

import pysodium
import pytest

from tests.support.paths import load_vector
from urne.verifier.errors import FormatError
from urne.verifier.secret.group import L, Ristretto255, hash_to_scalar, ristretto255

VECTORS: dict[str, Any] = load_vector("ristretto255/rfc9496_appendix_a.json")
MULTIPLES: list[str] = VECTORS["multiples"]
INVALID: list[dict[str, str]] = VECTORS["invalid"]
FROM_HASH: list[dict[str, str]] = VECTORS["from_hash"]
SAME_OUTPUT: dict[str, Any] = VECTORS["from_hash_same_output"]


def multiple(k: int) -> bytes:
    """The RFC's ``B[k]``."""
    return bytes.fromhex(MULTIPLES[k])


@pytest.fixture(scope="module")
def g() -> Ristretto255:
    return ristretto255()


def test_the_vector_file_is_the_whole_appendix() -> None:
    # a truncated transcription must not pass as a short list of cases
    assert len(MULTIPLES) == 16
    assert len(INVALID) == 29
    assert len(FROM_HASH) == 7
    assert len(SAME_OUTPUT["inputs"]) == 4
    assert {v["kind"] for v in INVALID} == {
        "Non-canonical field encodings",
        "Negative field elements",
        "Non-square x^2",
        "Negative xy value",
        "s = -1, which causes y = 0",
    }


# -- A.1: multiples of the generator ---------------------------------------------------


def test_the_generator_is_the_rfcs(g: Ristretto255) -> None:
    assert g.generator.hex() == MULTIPLES[1]
    assert g.identity.hex() == MULTIPLES[0] == "00" * 32
    assert g.order == L == 2**252 + 27742317777372353535851937790883648493


@pytest.mark.parametrize("k", range(16))
def test_base_k_is_the_rfcs_multiple(g: Ristretto255, k: int) -> None:
    assert g.base(k).hex() == MULTIPLES[k]


@pytest.mark.parametrize("k", range(16))
def test_mul_and_repeated_addition_reach_the_same_multiple(g: Ristretto255, k: int) -> None:
    assert g.mul(k, g.generator).hex() == MULTIPLES[k]
    acc = g.identity
    for _ in range(k):
        acc = g.add(acc, g.generator)
    assert acc.hex() == MULTIPLES[k]
    # and back down: B[k] - B[1] = B[k-1]
    if k:
        assert g.sub(acc, g.generator).hex() == MULTIPLES[k - 1]


@pytest.mark.parametrize("k", range(1, 16))
def test_every_nonzero_multiple_decodes(g: Ristretto255, k: int) -> None:
    point = bytes.fromhex(MULTIPLES[k])
    assert g.decode(point, "B[k]") == point


def test_msm_matches_the_multiples(g: Ristretto255) -> None:
    points = [bytes.fromhex(MULTIPLES[k]) for k in (1, 2, 3)]
    # 4*B1 + 2*B2 + 1*B3 = B11
    assert g.msm(points, [4, 2, 1]).hex() == MULTIPLES[11]


# -- A.2: invalid encodings ------------------------------------------------------------


@pytest.mark.parametrize(
    "case", INVALID, ids=[f"{i}-{v['kind'][:24]}" for i, v in enumerate(INVALID)]
)
def test_every_invalid_encoding_is_refused(g: Ristretto255, case: dict[str, str]) -> None:
    data = bytes.fromhex(case["encoding"])
    with pytest.raises(FormatError) as err:
        g.decode(data, "point")
    assert err.value.code == "bad_point"
    # allowing the identity does not let anything else through
    with pytest.raises(FormatError) as err:
        g.decode(data, "point", allow_identity=True)
    assert err.value.code == "bad_point"


@pytest.mark.parametrize("k", range(16))
def test_a_multiple_with_its_top_bit_set_is_refused(g: Ristretto255, k: int) -> None:
    # RFC 9496 §4.3.1: the top bit of a canonical encoding is 0. libsodium 1.0.18's
    # is_valid_point ignores it (later releases refuse it): the wrapper must not
    data = bytearray(multiple(k))
    data[31] |= 0x80
    with pytest.raises(FormatError) as err:
        g.decode(bytes(data), "point", allow_identity=True)
    assert err.value.code == "bad_point"


@pytest.mark.parametrize("bit", range(256))
def test_every_bit_flip_of_the_generator_is_refused_or_another_point(
    g: Ristretto255, bit: int
) -> None:
    data = bytearray(g.generator)
    data[bit // 8] ^= 1 << (bit % 8)
    try:
        decoded = g.decode(bytes(data), "point")
    except FormatError as err:
        assert err.code == "bad_point"
    else:
        # a valid encoding is another point, never the generator again
        assert decoded != g.generator
        assert bytes(data) == decoded


@pytest.mark.parametrize("data", [b"", bytes(31), bytes(33), b"\x01" * 64])
def test_a_wrong_length_is_refused(g: Ristretto255, data: bytes) -> None:
    with pytest.raises(FormatError) as err:
        g.decode(data, "point", allow_identity=True)
    assert err.value.code == "bad_point"


def test_a_str_is_not_a_point(g: Ristretto255) -> None:
    with pytest.raises(FormatError) as err:
        g.decode(MULTIPLES[1], "point")  # type: ignore[arg-type]
    assert err.value.code == "bad_point"


# -- A.3: element derivation -----------------------------------------------------------


@pytest.mark.parametrize("case", FROM_HASH, ids=[c["output"][:8] for c in FROM_HASH])
def test_from_hash_matches_the_rfc(g: Ristretto255, case: dict[str, str]) -> None:
    out = g.from_hash(bytes.fromhex(case["input"]))
    assert out.hex() == case["output"]
    assert g.decode(out, "derived") == out


def test_from_hash_inputs_with_one_output(g: Ristretto255) -> None:
    outs = {g.from_hash(bytes.fromhex(i)).hex() for i in SAME_OUTPUT["inputs"]}
    assert outs == {SAME_OUTPUT["output"]}


def test_the_rfcs_derivation_inputs_are_sha512_of_the_ristretto_labels(g: Ristretto255) -> None:
    # the first input is SHA-512 of the first label of the earlier drafts'
    # vectors: a second, independent way to the same point
    digest = hashlib.sha512(b"Ristretto is traditionally a short shot of espresso coffee").digest()
    assert digest.hex() == FROM_HASH[0]["input"]
    assert g.from_hash(digest).hex() == FROM_HASH[0]["output"]


def test_from_hash_takes_64_bytes(g: Ristretto255) -> None:
    with pytest.raises(ValueError):
        g.from_hash(bytes(32))


# -- the pitfalls ----------------------------------------------------------------------


def _raw_mul(k: bytes, point: bytes) -> int:
    """libsodium's own answer code, without the wrapper."""
    out = ctypes.create_string_buffer(32)
    return int(pysodium.sodium.crypto_scalarmult_ristretto255(out, k, point))


def test_libsodium_refuses_a_product_that_is_the_identity() -> None:
    # the reason the wrapper answers these cases itself
    two = bytes.fromhex(MULTIPLES[2])
    assert _raw_mul(bytes(32), two) == -1
    assert _raw_mul(L.to_bytes(32, "little"), two) == -1
    assert _raw_mul((3).to_bytes(32, "little"), bytes(32)) == -1


def test_mul_by_zero_is_the_identity(g: Ristretto255) -> None:
    for k in range(1, 16):
        assert g.mul(0, bytes.fromhex(MULTIPLES[k])) == g.identity
        assert g.mul(L, bytes.fromhex(MULTIPLES[k])) == g.identity
        assert g.mul(-L, bytes.fromhex(MULTIPLES[k])) == g.identity


@pytest.mark.parametrize("k", [1, 2, 7, L - 1, L + 5, 2**255 - 1, -3])
def test_mul_of_the_identity_is_the_identity(g: Ristretto255, k: int) -> None:
    assert g.mul(k, g.identity) == g.identity


def test_base_of_the_order_is_the_identity(g: Ristretto255) -> None:
    assert g.base(0) == g.identity
    assert g.base(L) == g.identity
    assert g.base(5 * L) == g.identity
    assert g.mul(L - 1, g.generator) == g.sub(g.identity, g.generator)
    assert g.add(g.base(L - 1), g.generator) == g.identity


def test_scalars_are_reduced_before_libsodium_clears_the_top_bit(g: Ristretto255) -> None:
    # libsodium reads 255 bits: 2^255 + 3 would be taken as 3 unreduced
    k = 2**255 + 3
    assert k % L != 3
    assert g.base(k) == g.base(k % L) != g.base(3)
    assert g.mul(k, g.generator) == g.base(k % L)
    raw = ctypes.create_string_buffer(32)
    assert pysodium.sodium.crypto_scalarmult_ristretto255_base(raw, k.to_bytes(32, "little")) == 0
    assert raw.raw == g.base(3)  # what an unreduced scalar silently gives
    # every scalar congruent mod L gives the same point
    for s in (7, L + 7, 2 * L + 7, 7 - L):
        assert g.base(s) == multiple(7)


def test_the_identity_is_refused_unless_allowed(g: Ristretto255) -> None:
    # libsodium's check says the identity is a valid point ...
    assert pysodium.sodium.crypto_core_ristretto255_is_valid_point(bytes(32)) == 1
    # ... so the wrapper decides
    with pytest.raises(FormatError) as err:
        g.decode(g.identity, "key")
    assert err.value.code == "bad_point"
    assert g.decode(g.identity, "alpha", allow_identity=True) == g.identity


def test_add_and_sub_with_the_identity(g: Ristretto255) -> None:
    p = multiple(5)
    assert g.add(g.identity, p) == p
    assert g.add(p, g.identity) == p
    assert g.sub(p, g.identity) == p
    assert g.sub(p, p) == g.identity
    assert g.add(g.identity, g.identity) == g.identity
    assert g.sub(g.identity, g.identity) == g.identity


def test_arithmetic_on_an_invalid_encoding_raises(g: Ristretto255) -> None:
    bad = bytes.fromhex(INVALID[0]["encoding"])
    with pytest.raises(ValueError):
        g.mul(3, bad)
    with pytest.raises(ValueError):
        g.add(g.generator, bad)
    with pytest.raises(ValueError):
        g.sub(bad, g.generator)


@pytest.mark.parametrize("k", [0, 1, 2**200, L - 1])
def test_decode_scalar_accepts_below_the_order(k: int) -> None:
    assert Ristretto255.decode_scalar(k.to_bytes(32, "little"), "s") == k
    assert Ristretto255.scalar_bytes(k) == k.to_bytes(32, "little")


@pytest.mark.parametrize("k", [L, L + 1, 2**255, 2**256 - 1])
def test_decode_scalar_refuses_the_order_and_above(k: int) -> None:
    with pytest.raises(FormatError) as err:
        Ristretto255.decode_scalar(k.to_bytes(32, "little"), "s")
    assert err.value.code == "bad_scalar"


@pytest.mark.parametrize("data", [bytes(31), bytes(33), b""])
def test_decode_scalar_refuses_a_wrong_length(data: bytes) -> None:
    with pytest.raises(FormatError) as err:
        Ristretto255.decode_scalar(data, "s")
    assert err.value.code == "bad_scalar"


def test_scalar_bytes_reduces() -> None:
    assert Ristretto255.scalar_bytes(L + 2) == (2).to_bytes(32, "little")
    assert Ristretto255.scalar_bytes(-1) == (L - 1).to_bytes(32, "little")


# -- hash_to_scalar --------------------------------------------------------------------


def test_hash_to_scalar_is_the_specified_bytes(g: Ristretto255) -> None:
    # SHA-512 of len(tag) || tag || len(p) || p ..., little-endian, mod L
    tag, parts = b"urne/test", (b"", b"ab", bytes(40))
    h = hashlib.sha512()
    for p in (tag, *parts):
        h.update(len(p).to_bytes(4, "big") + p)
    assert hash_to_scalar(g, tag, *parts) == int.from_bytes(h.digest(), "little") % L


def test_hash_to_scalar_separates_the_parts(g: Ristretto255) -> None:
    # no two splittings of the same bytes hash alike: the lengths are hashed
    assert hash_to_scalar(g, b"t", b"ab", b"c") != hash_to_scalar(g, b"t", b"a", b"bc")
    assert hash_to_scalar(g, b"t", b"abc") != hash_to_scalar(g, b"t", b"abc", b"")
    assert hash_to_scalar(g, b"t1", b"x") != hash_to_scalar(g, b"t", b"1x")


def test_without_libsodium_nothing_secret_is_checked_and_it_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pysodium finds no libsodium: the group cannot be made, as "could not
    check" with a code and the package to install, never as a verdict."""
    import sys

    from urne.verifier.errors import FetchError
    from urne.verifier.secret.group import Ristretto255

    monkeypatch.setitem(sys.modules, "pysodium", None)  # import pysodium raises ImportError
    with pytest.raises(FetchError) as e:
        Ristretto255()
    assert e.value.code == "no_libsodium" and "libsodium23" in str(e.value)
