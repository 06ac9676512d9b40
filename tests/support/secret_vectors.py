"""The secret ballot on fixed inputs, computed by ``urne.verifier.secret``: the
vectors of docs/spec/secret-vectors.json, which the browser's wallet
(``api/static/wallet/secret.js``) must reproduce byte for byte: secret votes'
ballots, and secret budgets' (a capped budget's with its proof that the
projects cost within the budget and above its floor, docs/secret-ballot.md §5).

``python -m tests.support.secret_vectors`` writes the file;
tests/verifier/test_secret_vectors.py checks that it is what this computes and
that each case is accepted or refused as it says, and
tests/web/test_secret_crypto.py that Chromium computes and decides the same.

Every random value is fixed here: the election key's secret, the randomness of
each ciphertext and the provers' nonces (``RangeProof.prove(..., nonce=...)``),
drawn in the order :data:`DRAW_ORDER` states. :func:`encrypted_ballot` is
``urne.verifier.secret.ballot.encrypt_ballot`` with those nonces passed to
each proof, and each case checks that its ciphertexts are the ones
``encrypt_ballot`` makes from the same randomness. A budget's ballot is
``encrypt_ballot`` itself, with its nonces and its slack bits' randomness
fixed, and its vote part is checked to be :func:`encrypted_ballot`'s. The
refused cases carry the
code docs/secret-ballot.md gives their fault (a non-canonical point is
``bad_point``, RFC 9496 §4.3.1), not whatever the verifier answers: the tests
hold the verifier to it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from tests.support.paths import ROOT
from urne.verifier.errors import FormatError, ProofError
from urne.verifier.secret.ballot import (
    COUNT_LABEL,
    EncryptedBallot,
    Spend,
    ballot_context,
    bit_label,
    budget_shape,
    encrypt_ballot,
    option_label,
)
from urne.verifier.secret.group import Group, L, Ristretto255, hash_to_scalar, ristretto255
from urne.verifier.secret.proofs import Ciphertext, Context, RangeProof, encrypt

PATH = ROOT / "docs" / "spec" / "secret-vectors.json"

#: How a second implementation draws the fixed values, to reproduce every byte.
DRAW_ORDER = (
    "A ballot of n options draws, in this order: the randomness r_0 .. r_{n-1} of "
    "the n ciphertexts; then the nonces of the n option proofs (option 0 first), "
    "then those of the count proof. Each range proof draws its nonces in this "
    "order: first w (the real branch's commitment), then, for each other branch "
    "i in increasing order, its challenge c_i and then its response s_i. A "
    "ballot's 'randomness' and 'nonces' list these values in draw order. A capped "
    "budget's ballot then draws, for its ceiling, the randomness t_0 .. t_{B-1} of "
    "the B bits of its slack, the nonces of the B bit proofs (bit 0 first, each "
    "drawn as a range proof's), and the nonce w of its sum (a proof of equal "
    "logarithms draws one); then the same for its floor, if it has one. Its "
    "'ceiling_randomness', 'ceiling_nonces', 'floor_randomness' and 'floor_nonces' "
    "list these values (empty where there is no such bound)."
)

DESCRIPTION = (
    "The secret ballot on fixed inputs (docs/secret-ballot.md: hash_to_scalar in section 1, "
    "the range proofs in 2, the ballot in 5), computed by urne.verifier.secret "
    "(tests/support/secret_vectors.py). Hex strings are bytes; scalars are decimal "
    "integers below the group order (on the wire they are 32-byte little-endian); "
    "'selected' lists 0-based proposal indices; 'encrypted' is a ballot's "
    "'encrypted' field exactly as its entry carries it. 'key' is g^key_secret. "
    + DRAW_ORDER
    + " Each 'ballots' case verifies in the context (ristretto255, fingerprint, key, "
    "pseudonym) with bounds [min, max]; each 'refused' case is refused with its "
    "'code'. A 'budget_ballots' case is a secret budget's: 'proposals' (ids and "
    "costs) and 'rule' as its manifest has them, and what they ask of a ballot: "
    "[min, max] projects and, for capped ballots, 'spend' (the costs, the budget as "
    "'ceiling', its min_share_percent rounded up as 'floor', 0 for none) proven "
    "with 'bits' bits (section 5); it verifies with them. Each 'budget_refused' "
    "case is refused with its 'code' for its 'spend' (null: an uncapped budget)."
)


def _scalar(label: str) -> int:
    """A fixed non-zero scalar derived from ``label`` (vectors only: never do this for real)."""
    digest = hashlib.sha512(b"urne secret vector " + label.encode()).digest()
    return int.from_bytes(digest, "little") % (L - 1) + 1


def _pseudonym(label: str) -> bytes:
    """An Ed25519 public key from a fixed seed, as a wallet's pseudonym is."""
    seed = hashlib.sha256(b"urne secret vector pseudonym " + label.encode()).digest()
    return bytes(SigningKey(seed).verify_key)


def _fingerprint(label: str) -> bytes:
    return hashlib.sha256(b"urne secret vector manifest " + label.encode()).digest()


class _Nonces:
    """The fixed nonces of one ballot, recorded in the order they are drawn."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.drawn: list[int] = []

    def __call__(self, group: Group) -> int:
        k = _scalar(f"{self.label} nonce {len(self.drawn)}")
        self.drawn.append(k)
        return k


def encrypted_ballot(
    ctx: Context,
    key: bytes,
    options: int,
    selected: Sequence[int],
    bounds: tuple[int, int],
    randomness: Sequence[int],
    nonces: _Nonces,
) -> EncryptedBallot:
    """``encrypt_ballot`` with the given randomness, its proofs made with ``nonces``."""
    g = ctx.group
    lo, hi = bounds
    chosen = set(selected)
    cts: list[Ciphertext] = []
    proofs: list[RangeProof] = []
    for k in range(options):
        cts.append(encrypt(g, key, 1 if k in chosen else 0, randomness[k]))
    for k in range(options):
        m = 1 if k in chosen else 0
        proofs.append(
            RangeProof.prove(
                ctx, option_label(k), key, cts[k], (0, 1), m, randomness[k], nonce=nonces
            )
        )
    total = Ciphertext(g.identity, g.identity)
    for ct in cts:
        total = total.add(g, ct)
    count = RangeProof.prove(
        ctx,
        COUNT_LABEL,
        key,
        total,
        range(lo, hi + 1),
        len(chosen),
        sum(randomness) % g.order,
        nonce=nonces,
    )
    return EncryptedBallot(tuple(cts), tuple(proofs), count)


#: name, the election's label (its fingerprint and key), options, min, max, selected
BALLOTS: list[tuple[str, str, int, int, int, list[int]]] = [
    *[(f"exactly 1 of 4, option {k}", "one-of-four", 4, 1, 1, [k]) for k in range(4)],
    ("approval of 3, none", "approval", 3, 0, 3, []),
    ("approval of 3, one", "approval", 3, 0, 3, [1]),
    ("approval of 3, two", "approval", 3, 0, 3, [0, 2]),
    ("approval of 3, all", "approval", 3, 0, 3, [0, 1, 2]),
    ("2 of 5", "two-of-five", 5, 2, 2, [1, 4]),
]

#: (tag, parts): the length prefixes keep ("ab", "c") apart from ("a", "bc").
HASHES: list[tuple[str, list[bytes]]] = [
    ("urne/secret/v1/range", []),
    ("urne/secret/v1/dleq", [b""]),
    ("urne/secret/v1/schnorr", [b"ristretto255", bytes(32), b"\xff" * 64]),
    ("", [b"ab", b"c"]),
    ("", [b"a", b"bc"]),
    ("urne/secret/v1/range", [bytes(range(256)) * 3]),
]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _ballot_case(
    name: str, election: str, options: int, lo: int, hi: int, selected: list[int]
) -> dict[str, Any]:
    g = ristretto255()
    secret = _scalar(f"election key {election}")
    key = g.base(secret)
    fingerprint = _fingerprint(election)
    pseudonym = _pseudonym(name)
    ctx = ballot_context(g, fingerprint, key, pseudonym)
    randomness = [_scalar(f"{name} randomness {k}") for k in range(options)]
    nonces = _Nonces(name)
    ballot = encrypted_ballot(ctx, key, options, selected, (lo, hi), randomness, nonces)
    reference, _ = encrypt_ballot(ctx, key, options, selected, (lo, hi), randomness=randomness)
    assert reference.ciphertexts == ballot.ciphertexts
    encrypted = ballot.to_json()
    EncryptedBallot.decode(g, encrypted, options, (lo, hi)).verify(ctx, key, (lo, hi))
    return {
        "name": name,
        "options": options,
        "min": lo,
        "max": hi,
        "selected": selected,
        "fingerprint": fingerprint.hex(),
        "key_secret": str(secret),
        "key": key.hex(),
        "pseudonym": pseudonym.hex(),
        "randomness": [str(r) for r in randomness],
        "nonces": [str(w) for w in nonces.drawn],
        "encrypted": encrypted,
    }


def _replace(
    encrypted: dict[str, Any], field: str, index: int | None, at: int, new: bytes
) -> dict[str, Any]:
    """``encrypted`` with bytes ``at .. at + len(new)`` of one of its values replaced."""
    out = json.loads(json.dumps(encrypted))
    value = out[field] if index is None else out[field][index]
    raw = bytearray(base64.b64decode(value))
    raw[at : at + len(new)] = new
    if index is None:
        out[field] = _b64(bytes(raw))
    else:
        out[field][index] = _b64(bytes(raw))
    return out


def _refused(ballots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    one, approval = ballots[0], ballots[5]

    def case(name: str, base: dict[str, Any], code: str, **changed: Any) -> dict[str, Any]:
        keep = ("options", "min", "max", "fingerprint", "key", "pseudonym", "encrypted")
        return {"name": name, **{k: base[k] for k in keep}, **changed, "code": code}

    proof0 = base64.b64decode(one["encrypted"]["proofs"][0])
    p = 2**255 - 19
    beta1 = base64.b64decode(approval["encrypted"]["ciphertexts"][1])[32:]
    return [
        case(
            "a bit of a proof flipped (option 0's c_0)",
            one,
            "bad_ballot_proof",
            encrypted=_replace(one["encrypted"], "proofs", 0, 0, bytes([proof0[0] ^ 1])),
        ),
        case(
            "copied under another pseudonym",
            one,
            "bad_ballot_proof",
            pseudonym=_pseudonym("someone else").hex(),
        ),
        case(
            "ciphertext 0's alpha is p, a non-canonical encoding of the identity",
            approval,
            "bad_point",
            encrypted=_replace(
                approval["encrypted"], "ciphertexts", 0, 0, p.to_bytes(32, "little")
            ),
        ),
        case(
            "ciphertext 1's beta has its top bit set",
            approval,
            "bad_point",
            encrypted=_replace(
                approval["encrypted"], "ciphertexts", 1, 63, bytes([beta1[31] | 0x80])
            ),
        ),
        case(
            "the count proof's s_0 is the group order",
            one,
            "bad_proof",
            encrypted=_replace(one["encrypted"], "count", None, 32, L.to_bytes(32, "little")),
        ),
    ]


# -- secret budgets ---------------------------------------------------------------------------

#: The projects of the budget vectors (ids and costs, the manifest's order).
PROJECTS = {"park": 600, "bikes": 300, "bench": 200, "trees": 150, "lights": 410, "fountain": 100}
#: Costs near 2^53, the most a cost or a budget may be.
LARGE = {"bridge": 2**52, "tram": 3_000_000_000_000_000, "port": 1_500_000_000_000_001}


def budget_rule(
    budget: int, min_share_percent: int, min_projects: int, max_projects: int | None, capped: bool
) -> dict[str, Any]:
    """A secret budget's rule, as its manifest has it (docs/spec/entries.md §2)."""
    return {
        "budget": budget,
        "outcome": "greedy",
        "min_projects": min_projects,
        "max_projects": max_projects,
        "min_share_percent": min_share_percent,
        "capped": capped,
        "revoting": True,
    }


FLOOR_40 = budget_rule(1000, 40, 1, None, True)
NO_FLOOR = budget_rule(1000, 0, 0, None, True)
UNCAPPED = budget_rule(1000, 0, 1, 2, False)
LARGE_RULE = budget_rule(2**53 - 1, 50, 1, None, True)

#: name, the election's label (its fingerprint and key), projects, rule, the projects chosen
BUDGETS: list[tuple[str, str, dict[str, int], dict[str, Any], list[str]]] = [
    (
        "capped, floor 40%: three projects",
        "budget-floor",
        PROJECTS,
        FLOOR_40,
        ["bikes", "bench", "trees"],
    ),
    (
        "capped, floor 40%: exactly the budget",
        "budget-floor",
        PROJECTS,
        FLOOR_40,
        ["park", "bikes", "fountain"],
    ),
    (
        "capped, floor 40%: exactly the floor",
        "budget-floor",
        PROJECTS,
        FLOOR_40,
        ["bikes", "fountain"],
    ),
    ("capped, no floor: nothing chosen", "budget-capped", PROJECTS, NO_FLOOR, []),
    ("capped, no floor: two projects", "budget-capped", PROJECTS, NO_FLOOR, ["trees", "lights"]),
    (
        "uncapped, at most 2: over the budget",
        "budget-uncapped",
        PROJECTS,
        UNCAPPED,
        ["park", "lights"],
    ),
    (
        "capped in amounts near 2^53, floor 50%",
        "budget-large",
        LARGE,
        LARGE_RULE,
        ["bridge", "port"],
    ),
]


def shape_of(
    projects: dict[str, int], rule: dict[str, Any]
) -> tuple[tuple[int, int], Spend | None]:
    """What a budget's rule asks of a secret ballot: ``budget_shape``."""
    return budget_shape(
        list(projects.values()),
        rule["budget"],
        rule["min_projects"],
        rule["max_projects"],
        rule["min_share_percent"],
        rule["capped"],
    )


def spend_json(spend: Spend | None) -> dict[str, Any] | None:
    if spend is None:
        return None
    return {"costs": list(spend.costs), "ceiling": spend.ceiling, "floor": spend.floor}


def spend_of(obj: dict[str, Any] | None) -> Spend | None:
    """A case's ``spend`` (``null``: an uncapped budget) as the verifier takes it."""
    return None if obj is None else Spend(tuple(obj["costs"]), obj["ceiling"], obj["floor"])


class Replay:
    """Nonces given in advance (a case's, as integers), drawn in order."""

    def __init__(self, values: Sequence[int]) -> None:
        self.values = list(values)
        self.drawn = 0

    def __call__(self, group: Group) -> int:
        self.drawn += 1
        return self.values[self.drawn - 1]


def _budget_ballot(
    name: str,
    election: str,
    projects: dict[str, int],
    chosen: list[str],
    bounds: tuple[int, int],
    spend: Spend | None,
) -> dict[str, Any]:
    """A budget's ballot on fixed values: ``encrypt_ballot`` with its nonces and
    its slack bits' randomness given, every value listed in draw order."""
    g = ristretto255()
    secret = _scalar(f"election key {election}")
    key = g.base(secret)
    fingerprint = _fingerprint(election)
    pseudonym = _pseudonym(name)
    ctx = ballot_context(g, fingerprint, key, pseudonym)
    ids = list(projects)
    options, selected = len(ids), [ids.index(c) for c in chosen]
    randomness = [_scalar(f"{name} randomness {k}") for k in range(options)]
    bits = 0 if spend is None else spend.bits
    ceiling = [_scalar(f"{name} ceiling randomness {i}") for i in range(bits)]
    floor = [
        _scalar(f"{name} floor randomness {i}")
        for i in range(bits if spend is not None and spend.floor else 0)
    ]
    nonces = _Nonces(name)
    ballot, returned = encrypt_ballot(
        ctx,
        key,
        options,
        selected,
        bounds,
        randomness=randomness,
        nonce=nonces,
        spend=spend,
        spend_randomness=None if spend is None else ceiling + floor,
    )
    assert returned == randomness
    # the nonces: the vote's (3 per option proof, 1 + 2 (K - 1) for the count),
    # then 3 per bit proof and 1 for the sum, for each bound
    vote = 3 * options + 1 + 2 * (bounds[1] - bounds[0])
    per_bound = 3 * bits + 1
    drawn = nonces.drawn
    assert len(drawn) == vote + per_bound * ((1 if ceiling else 0) + (1 if floor else 0))
    ceiling_nonces = drawn[vote : vote + per_bound] if ceiling else []
    floor_nonces = drawn[vote + per_bound :] if floor else []
    # the vote part is a vote's ballot, drawn as the vote vectors are
    plain = encrypted_ballot(
        ctx,
        key,
        options,
        selected,
        bounds,
        randomness,
        _Nonces(name),  # the same labels
    )
    assert (plain.ciphertexts, plain.proofs, plain.count) == (
        ballot.ciphertexts,
        ballot.proofs,
        ballot.count,
    )
    encrypted = ballot.to_json()
    EncryptedBallot.decode(g, encrypted, options, bounds, spend).verify(ctx, key, bounds, spend)
    return {
        "name": name,
        "options": options,
        "min": bounds[0],
        "max": bounds[1],
        "spend": spend_json(spend),
        "bits": bits or None,
        "selected": selected,
        "fingerprint": fingerprint.hex(),
        "key_secret": str(secret),
        "key": key.hex(),
        "pseudonym": pseudonym.hex(),
        "randomness": [str(r) for r in randomness],
        "nonces": [str(w) for w in drawn[:vote]],
        "ceiling_randomness": [str(t) for t in ceiling],
        "ceiling_nonces": [str(w) for w in ceiling_nonces],
        "floor_randomness": [str(t) for t in floor],
        "floor_nonces": [str(w) for w in floor_nonces],
        "encrypted": encrypted,
    }


def _budget_case(
    name: str, election: str, projects: dict[str, int], rule: dict[str, Any], chosen: list[str]
) -> dict[str, Any]:
    bounds, spend = shape_of(projects, rule)
    ballot = _budget_ballot(name, election, projects, chosen, bounds, spend)
    head = {
        "name": name,
        "proposals": [{"id": k, "cost": c} for k, c in projects.items()],
        "rule": rule,
    }
    return {**head, **{k: v for k, v in ballot.items() if k != "name"}}


def _bound_bit(case: dict[str, Any], bound: str, i: int) -> dict[str, Any]:
    """``case``'s ``encrypted`` with bit ``i`` of ``bound`` replaced by an
    encryption of its other value, itself proven 0 or 1: only the sum fails."""
    g = ristretto255()
    key = bytes.fromhex(case["key"])
    ctx = ballot_context(
        g, bytes.fromhex(case["fingerprint"]), key, bytes.fromhex(case["pseudonym"])
    )
    x = int(case["key_secret"])
    old = Ciphertext.decode(
        g, base64.b64decode(case["encrypted"]["spend"][bound]["bits"][i]), "bit"
    )
    value = 0 if g.sub(old.beta, g.mul(x, old.alpha)) == g.generator else 1
    t = _scalar(f"{case['name']} {bound} bit {i} flipped")
    ct = encrypt(g, key, value, t)
    proof = RangeProof.prove(
        ctx, bit_label(bound, i), key, ct, (0, 1), value, t, nonce=_Nonces(f"{bound} {i}")
    )
    out: dict[str, Any] = json.loads(json.dumps(case["encrypted"]))
    out["spend"][bound]["bits"][i] = _b64(ct.to_bytes())
    out["spend"][bound]["proofs"][i] = _b64(proof.to_bytes())
    return out


def _budget_refused(budgets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    floor, uncapped = budgets[0], budgets[5]
    assert floor["spend"]["floor"] and uncapped["spend"] is None

    def case(name: str, base: dict[str, Any], code: str, **changed: Any) -> dict[str, Any]:
        keep = ("options", "min", "max", "spend", "fingerprint", "key", "pseudonym", "encrypted")
        return {"name": name, **{k: base[k] for k in keep}, **changed, "code": code}

    def spend_changed(**bounds: Any) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(json.dumps(floor["encrypted"]))
        out["spend"] = {**out["spend"], **bounds}
        return out

    def loose(name: str, chosen: list[str], ceiling: int, floor_: int) -> dict[str, Any]:
        """A ballot proven against other bounds of the same bit length, checked with the rule's."""
        bounds, spend = shape_of(PROJECTS, FLOOR_40)
        assert spend is not None
        looser = Spend(spend.costs, ceiling, floor_)
        assert looser.bits == spend.bits
        made = _budget_ballot(name, "budget-floor", PROJECTS, chosen, bounds, looser)
        return {**made, "proven_with": spend_json(looser), "spend": spend_json(spend)}

    encrypted = floor["encrypted"]
    ceiling, flo = encrypted["spend"]["ceiling"], encrypted["spend"]["floor"]
    flipped_sum = bytearray(base64.b64decode(ceiling["sum"]))
    flipped_sum[0] ^= 1
    flipped_proof = bytearray(base64.b64decode(flo["proofs"][3]))
    flipped_proof[0] ^= 1
    bit2 = bytearray(base64.b64decode(ceiling["bits"][2]))
    bit2[0:32] = (2**255 - 19).to_bytes(32, "little")
    floor_sum = bytearray(base64.b64decode(flo["sum"]))
    floor_sum[32:64] = L.to_bytes(32, "little")
    over = loose("over the budget, proven against a looser ceiling", ["park", "lights"], 1023, 400)
    under = loose("under the floor, proven against a lower floor", ["trees", "fountain"], 1000, 200)
    keep = ("options", "min", "max", "spend", "fingerprint", "key", "pseudonym", "encrypted")
    return [
        case(
            "a bit of the ceiling's sum proof flipped",
            floor,
            "bad_ballot_proof",
            encrypted=spend_changed(ceiling={**ceiling, "sum": _b64(bytes(flipped_sum))}),
        ),
        case(
            "a bit of the proof of floor bit 3 flipped",
            floor,
            "bad_ballot_proof",
            encrypted=spend_changed(
                floor={
                    **flo,
                    "proofs": [*flo["proofs"][:3], _b64(bytes(flipped_proof)), *flo["proofs"][4:]],
                }
            ),
        ),
        case(
            "ceiling bit 0 flipped, and proven 0 or 1",
            floor,
            "bad_ballot_proof",
            encrypted=_bound_bit(floor, "ceiling", 0),
        ),
        *(
            {
                "name": c["name"],
                **{k: c[k] for k in keep},
                "proven_with": c["proven_with"],
                "code": "bad_ballot_proof",
            }
            for c in (over, under)
        ),
        case(
            "copied under another pseudonym",
            floor,
            "bad_ballot_proof",
            pseudonym=_pseudonym("someone else").hex(),
        ),
        case(
            "the spend missing",
            floor,
            "bad_encrypted_ballot",
            encrypted={k: v for k, v in encrypted.items() if k != "spend"},
        ),
        case(
            "the floor missing",
            floor,
            "bad_encrypted_ballot",
            encrypted={**encrypted, "spend": {"ceiling": ceiling}},
        ),
        case(
            "the ceiling with one bit fewer",
            floor,
            "bad_encrypted_ballot",
            encrypted=spend_changed(
                ceiling={**ceiling, "bits": ceiling["bits"][:-1], "proofs": ceiling["proofs"][:-1]}
            ),
        ),
        case(
            "a spend on an uncapped budget's ballot",
            uncapped,
            "bad_encrypted_ballot",
            encrypted={**uncapped["encrypted"], "spend": encrypted["spend"]},
        ),
        case(
            "ceiling bit 2's alpha is p, a non-canonical encoding of the identity",
            floor,
            "bad_point",
            encrypted=spend_changed(
                ceiling={
                    **ceiling,
                    "bits": [*ceiling["bits"][:2], _b64(bytes(bit2)), *ceiling["bits"][3:]],
                }
            ),
        ),
        case(
            "the floor's sum s is the group order",
            floor,
            "bad_proof",
            encrypted=spend_changed(floor={**flo, "sum": _b64(bytes(floor_sum))}),
        ),
    ]


def refusal(case: dict[str, Any]) -> str | None:
    """The code of the verifier's refusal of a case, or ``None`` if it is
    accepted; a budget's case with its ``spend``."""
    g = ristretto255()
    key = g.decode(bytes.fromhex(case["key"]), "key")
    bounds = (case["min"], case["max"])
    spend = spend_of(case.get("spend"))
    ctx = ballot_context(
        g, bytes.fromhex(case["fingerprint"]), key, bytes.fromhex(case["pseudonym"])
    )
    try:
        EncryptedBallot.decode(g, case["encrypted"], case["options"], bounds, spend).verify(
            ctx, key, bounds, spend
        )
    except (FormatError, ProofError) as exc:
        return exc.code
    return None


def build() -> dict[str, Any]:
    g = ristretto255()
    ballots = [_ballot_case(*b) for b in BALLOTS]
    refused = _refused(ballots)
    budgets = [_budget_case(*b) for b in BUDGETS]
    return {
        "description": DESCRIPTION,
        "group": Ristretto255.name,
        "order": str(L),
        "generator": Ristretto255.generator.hex(),
        "hash_to_scalar": [
            {
                "tag": tag,
                "parts": [p.hex() for p in parts],
                "scalar": str(hash_to_scalar(g, tag.encode(), *parts)),
            }
            for tag, parts in HASHES
        ],
        "ballots": ballots,
        "refused": refused,
        "budget_ballots": budgets,
        "budget_refused": _budget_refused(budgets),
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=True) + "\n"


def main() -> None:
    Path(PATH).write_text(render(), encoding="ascii")


if __name__ == "__main__":
    main()
