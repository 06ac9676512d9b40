"""BLS12-381 encodings built in plain Python, independently of either library:
the generators, points above a given x, and the encodings every decoder must
refuse (not on the curve, outside the subgroup, bad flags, x >= p)."""

from __future__ import annotations

from urne.verifier.credentials import bls


def non_subgroup_g2() -> bytes:
    """A point on G2's curve outside the order-r subgroup (the cofactor is ~2**381)."""
    x = g2_points_above(True)
    y = fp2_sqrt(g2_rhs(x))
    assert y is not None and fp2_mul(y, y) == g2_rhs(x)  # on the curve, checked here
    return encode_g2(x)


def g2_bad_encodings() -> dict[str, bytes]:
    good = G2_GENERATOR
    x_not_on_curve = g2_points_above(False)
    x_point = g2_points_above(True)
    return {
        "empty": b"",
        "short": good[:-1],
        "long": good + b"\x00",
        "g1-length": good[:48],
        "uncompressed-flag-clear": bytes([good[0] & 0x7F]) + good[1:],
        "infinity": bytes([0xC0]) + bytes(95),
        "infinity-with-sign": bytes([0xE0]) + bytes(95),
        "infinity-with-garbage": bytes([0xC0]) + bytes(94) + b"\x01",
        "infinity-flag-on-point": bytes([good[0] | 0x40]) + good[1:],
        "x-c1-equal-p": encode_g2((x_point[0], P)),
        "x-c0-above-p": encode_g2((x_point[0] + P, 0)),
        "flags-in-second-half": good[:48] + bytes([good[48] | 0x80]) + good[49:],
        "not-on-curve": encode_g2(x_not_on_curve),
        "not-in-subgroup": non_subgroup_g2(),
    }


def g1_bad_encodings() -> dict[str, bytes]:
    """Every kind of 48-byte-ish encoding a G1 decoder must refuse (credentials,
    blinded messages and blind signatures are points of G1)."""
    good = G1_GENERATOR
    return {
        "empty": b"",
        "short": good[:-1],
        "long": good + b"\x00",
        "g2-length": good + bytes(48),
        "uncompressed-flag-clear": bytes([good[0] & 0x7F]) + good[1:],
        "infinity": bytes([0xC0]) + bytes(47),
        "infinity-with-sign": bytes([0xE0]) + bytes(47),
        "infinity-with-garbage": bytes([0xC0]) + bytes(46) + b"\x01",
        "infinity-flag-on-point": bytes([good[0] | 0x40]) + good[1:],
        "x-equal-p": encode_g1(P),
        "x-above-p": encode_g1(P + 1),
        "not-on-curve": encode_g1(g1_points_above(False)),
        "not-in-subgroup": non_subgroup_g1(),
    }


P = bls.FIELD_MODULUS


R = bls.CURVE_ORDER


Fp2 = tuple[int, int]  # (c0, c1) = c0 + c1*i, i^2 = -1


B2: Fp2 = (4, 4)  # G2 is y^2 = x^3 + 4(1 + i)


def fp2_mul(a: Fp2, b: Fp2) -> Fp2:
    return ((a[0] * b[0] - a[1] * b[1]) % P, (a[0] * b[1] + a[1] * b[0]) % P)


def fp2_pow(a: Fp2, e: int) -> Fp2:
    result: Fp2 = (1, 0)
    while e:
        if e & 1:
            result = fp2_mul(result, a)
        a, e = fp2_mul(a, a), e >> 1
    return result


def fp2_sqrt(a: Fp2) -> Fp2 | None:
    """A square root in Fp2 for p = 3 mod 4 (Adj & Rodriguez-Henriquez 2012, Alg. 9)."""
    a1 = fp2_pow(a, (P - 3) // 4)
    alpha = fp2_mul(fp2_mul(a1, a1), a)
    if fp2_mul((alpha[0], -alpha[1] % P), alpha) == (P - 1, 0):  # alpha^(p+1) = -1
        return None
    x0 = fp2_mul(a1, a)
    if alpha == (P - 1, 0):
        root = fp2_mul((0, 1), x0)
    else:
        root = fp2_mul(fp2_pow(((1 + alpha[0]) % P, alpha[1]), (P - 1) // 2), x0)
    assert fp2_mul(root, root) == (a[0] % P, a[1] % P)
    return root


def g2_rhs(x: Fp2) -> Fp2:
    x3 = fp2_mul(fp2_mul(x, x), x)
    return ((x3[0] + B2[0]) % P, (x3[1] + B2[1]) % P)


def encode_g1(x: int, *, larger_y: bool = False) -> bytes:
    return (x | 1 << 383 | int(larger_y) << 381).to_bytes(48, "big")


def encode_g2(x: Fp2, *, larger_y: bool = False) -> bytes:
    """ZCash compressed: flags and x.c1, then x.c0."""
    return encode_g1(x[1], larger_y=larger_y) + x[0].to_bytes(48, "big")


def encode_g2_affine(x: Fp2, y: Fp2) -> bytes:
    """Compress an affine point, choosing the sign flag from y as ZCash does."""
    half = (P - 1) // 2
    larger = y[1] > half if y[1] else y[0] > half
    return encode_g2(x, larger_y=larger)


def g1_points_above(want_point: bool) -> int:
    """The smallest x >= 1 with (or without) a point (x, y) on y^2 = x^3 + 4."""
    x = 1
    while True:
        rhs = (x**3 + 4) % P
        has_point = pow(rhs, (P + 1) // 4, P) ** 2 % P == rhs
        if has_point == want_point:
            return x
        x += 1


def g2_points_above(want_point: bool) -> Fp2:
    """The smallest x = (k, 0) with (or without) a point above it on G2's curve."""
    k = 1
    while True:
        root = fp2_sqrt(g2_rhs((k, 0)))
        if (root is not None) == want_point:
            return (k, 0)
        k += 1


def non_subgroup_g1() -> bytes:
    """A point on G1's curve outside the order-r subgroup (the cofactor is ~2**126)."""
    x = g1_points_above(True)
    y = pow((x**3 + 4) % P, (P + 1) // 4, P)
    assert y * y % P == (x**3 + 4) % P
    return encode_g1(x)


# The standard generators (draft-irtf-cfrg-pairing-friendly-curves-11 §4.2.1), compressed.
G1_GENERATOR = bytes.fromhex(
    "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
)


G2_GENERATOR = bytes.fromhex(
    "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"
    "024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
)
