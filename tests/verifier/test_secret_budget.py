"""A secret participatory budget (docs/secret-ballot.md §5-§6): each ballot
proves its projects' count within the rule and, when ballots are capped, its
cost within the budget (and above the minimum share); the trustees decrypt the
approvals per project and greedy counts them, as it would count the ballots in
clear. Each way to slip in a ballot the rule forbids is replayed."""

from __future__ import annotations

import base64
import itertools
import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.civic import RULES, Citizen, Institution, RegistryLog, proposal
from tests.support.secret import Board
from urne.verifier.citizen import authoring
from urne.verifier.civic import budget
from urne.verifier.errors import ProofError
from urne.verifier.secret.ballot import (
    CEILING,
    FLOOR,
    BoundProof,
    EncryptedBallot,
    Spend,
    SpendProof,
    ballot_context,
    encrypt_ballot,
    weighted,
)
from urne.verifier.secret.group import ristretto255
from urne.verifier.secret.proofs import DleqProof, encrypt

PID = "secret-budget"
COSTS = {"park": 600, "bikes": 300, "bench": 200, "trees": 150, "lights": 410}
PROJECTS = [proposal(k, f"Project {k}", c) for k, c in COSTS.items()]
IDS = list(COSTS)
G = ristretto255()


def _rule(**over: Any) -> dict[str, Any]:
    return {**RULES["budget"], "revoting": True, **over}


def _spend(rule: dict[str, Any]) -> Spend | None:
    if not rule["capped"]:
        return None
    floor = -(-rule["budget"] * rule["min_share_percent"] // 100)
    return Spend(tuple(COSTS.values()), rule["budget"], floor)


def _bounds(rule: dict[str, Any]) -> tuple[int, int]:
    hi = rule["max_projects"]
    return rule["min_projects"], len(IDS) if hi is None else hi


class Election:
    def __init__(self, **rule: Any) -> None:
        self.rule = _rule(**rule)
        self.reg, self.board, self.inst = RegistryLog(), Board.make(PID, 3, 2), Institution()
        manifest = self.inst.process(
            PID, "budget", proposals=PROJECTS, rule=self.rule, secret=self.board.manifest_field()
        )
        self.reg.add(manifest)
        self.board.opened(manifest)
        self.board.ceremony(self.reg.add, self.inst.key)

    @property
    def spend(self) -> Spend | None:
        return _spend(self.rule)

    def ballot(self, c: Citizen, encrypted: dict[str, Any]) -> bytes:
        seq = c.seq
        c.seq += 1
        return authoring.secret_ballot(PID, c.pseudonym, c.credential, encrypted, seq=seq)

    def cast(self, c: Citizen, chosen: list[str]) -> bytes:
        enc = self.board.encrypted(
            c.pseudonym.public_key,
            len(IDS),
            [IDS.index(x) for x in chosen],
            _bounds(self.rule),
            self.spend,
        )
        return self.ballot(c, enc)

    def decrypt(self) -> int:
        closed = self.reg.add(self.inst.close(PID))
        sec = self.reg.reg.state(PID).secret
        assert sec is not None and sec.aggregates is not None
        self.reg.add(self.board.decryption(2, sec.aggregates))
        self.reg.add(self.board.decryption(3, sec.aggregates))  # trustee 1 is absent
        return closed


def _in_clear(ballots: list[frozenset[str]], paper: list[list[str]]) -> tuple[str, ...]:
    election = budget.ApprovalElection.from_ballots(
        1000, COSTS, ballots + [frozenset(b) for b in paper]
    )
    return budget.greedy(election)


def test_an_honest_secret_budget_counts_as_greedy_over_the_ballots_in_clear() -> None:
    e = Election(min_share_percent=40)
    rng = random.Random(11)
    valid = [
        s
        for n in range(1, 4)
        for s in map(list, itertools.combinations(IDS, n))
        if 400 <= sum(COSTS[x] for x in s) <= 1000
    ]
    citizens = [Citizen.enrol(e.inst, PID) for _ in range(8)]
    last: dict[int, list[str]] = {}
    for _ in range(12):  # with revotes: the last ballot of each pseudonym counts
        k = rng.randrange(len(citizens))
        last[k] = rng.choice(valid)
        e.reg.add(e.cast(citizens[k], last[k]))
    paper = [["park", "trees"], ["bikes", "bench", "trees"]]
    e.reg.add(e.inst.paper(PID, "desk-1", ballots=paper))
    closed = e.decrypt()
    t = e.reg.reg.tally(PID, closed)
    want = {x: 0 for x in IDS}
    for chosen in [*last.values(), *paper]:
        for x in chosen:
            want[x] += 1
    assert t["secret"] is True and t["approvals"] == want
    assert t["ballots"] == len(last) and t["paper_ballots"] == 2
    clear = _in_clear([frozenset(v) for v in last.values()], paper)
    assert t["selected"] == sorted(clear)
    assert t["spent"] == sum(COSTS[x] for x in clear) <= 1000
    e.reg.add(e.inst.result(PID, closed, t))


def test_before_the_decryption_a_secret_budget_shows_no_outcome() -> None:
    e = Election()
    e.reg.add(e.cast(Citizen.enrol(e.inst, PID), ["park"]))
    closed = e.reg.add(e.inst.close(PID))
    t = e.reg.reg.tally(PID, closed)
    assert t["approvals"] is None and t["selected"] is None and t["spent"] is None
    e.reg.refuse(e.inst.result(PID, closed, t), "not_decrypted")


def test_a_ballot_over_the_budget_is_refused_whatever_its_proof_claims() -> None:
    """Over the budget, the slack is negative: no B bits encode it. A ballot
    proven against a larger ceiling, or carrying an honest ballot's spending
    proof, fails the real ceiling's proof."""
    e = Election()
    c = Citizen.enrol(e.inst, PID)
    key, nym = e.board.key, c.pseudonym.public_key
    ctx = ballot_context(G, e.board.fingerprint, key, nym)
    over = [IDS.index("park"), IDS.index("lights")]  # 1010
    with pytest.raises(ValueError):
        encrypt_ballot(ctx, key, 5, over, (1, 5), spend=e.spend)
    loose = Spend(tuple(COSTS.values()), 1023)  # 1010 fits under it, in the same 10 bits
    forged, _ = encrypt_ballot(ctx, key, 5, over, (1, 5), spend=loose)
    e.reg.refuse(e.ballot(c, forged.to_json()), "bad_ballot_proof")
    honest, _ = encrypt_ballot(ctx, key, 5, [0], (1, 5), spend=e.spend)
    assert forged.spend is not None and honest.spend is not None
    mixed = EncryptedBallot(forged.ciphertexts, forged.proofs, forged.count, honest.spend)
    e.reg.refuse(e.ballot(c, mixed.to_json()), "bad_ballot_proof")
    e.reg.add(e.ballot(c, honest.to_json()))


def test_a_ballot_below_the_minimum_share_is_refused() -> None:
    e = Election(min_share_percent=50)  # at least 500
    c = Citizen.enrol(e.inst, PID)
    key, nym = e.board.key, c.pseudonym.public_key
    ctx = ballot_context(G, e.board.fingerprint, key, nym)
    cheap = [IDS.index("bench")]  # 200
    assert e.spend is not None and e.spend.floor == 500
    with pytest.raises(ValueError):
        encrypt_ballot(ctx, key, 5, cheap, (1, 5), spend=e.spend)
    lax = Spend(tuple(COSTS.values()), 1000, 100)  # the same ceiling, a lower floor
    forged, _ = encrypt_ballot(ctx, key, 5, cheap, (1, 5), spend=lax)
    e.reg.refuse(e.ballot(c, forged.to_json()), "bad_ballot_proof")
    # without its floor proof, the ballot does not even have the shape
    assert forged.spend is not None
    bare = EncryptedBallot(
        forged.ciphertexts, forged.proofs, forged.count, SpendProof(forged.spend.ceiling, None)
    )
    e.reg.refuse(e.ballot(c, bare.to_json()), "bad_encrypted_ballot")


def test_a_bit_of_the_slack_that_is_not_0_or_1_is_refused() -> None:
    """A slack bit encrypting 2 would let a prover write a slack of more than
    B bits (here, the negative slack of a ballot over the budget)."""
    e = Election()
    c = Citizen.enrol(e.inst, PID)
    key, nym = e.board.key, c.pseudonym.public_key
    ctx = ballot_context(G, e.board.fingerprint, key, nym)
    honest, rs = encrypt_ballot(ctx, key, 5, [IDS.index("park")], (1, 5), spend=e.spend)
    assert honest.spend is not None
    spend = e.spend
    assert spend is not None
    # a slack of 400 written with a first "bit" of 2: the sum holds, the bits do not
    slack, bits = 400, spend.bits
    values = [2] + [((slack - 2) >> i) & 1 for i in range(1, bits)]
    assert sum(v << i for i, v in enumerate(values)) == slack
    ts = [i + 5 for i in range(bits)]
    cts = tuple(encrypt(G, key, v, t) for v, t in zip(values, ts, strict=True))
    r_spent = sum(c * r for c, r in zip(spend.costs, rs, strict=True))
    witness = (r_spent + sum(t << i for i, t in enumerate(ts))) % G.order
    bound = BoundProof(
        cts, honest.spend.ceiling.proofs, DleqProof.prove(ctx, b"ceiling", witness, key)
    )
    spent, x = weighted(G, honest.ciphertexts, spend.costs), bound.slack(G)
    bound.sum.verify(  # the sum alone accepts it
        ctx,
        b"ceiling",
        G.add(spent.alpha, x.alpha),
        key,
        G.sub(G.add(spent.beta, x.beta), G.base(spend.ceiling)),
    )
    forged = EncryptedBallot(
        honest.ciphertexts, honest.proofs, honest.count, SpendProof(bound, None)
    )
    with pytest.raises(ProofError) as err:
        forged.verify(ctx, key, (1, 5), spend)
    assert err.value.code == "bad_ballot_proof" and "bit 0" in str(err.value)
    e.reg.refuse(e.ballot(c, forged.to_json()), "bad_ballot_proof")


def test_every_single_bit_change_of_the_spending_proof_is_refused() -> None:
    e = Election(min_share_percent=20)
    c = Citizen.enrol(e.inst, PID)
    key, nym = e.board.key, c.pseudonym.public_key
    ctx = ballot_context(G, e.board.fingerprint, key, nym)
    spend = e.spend
    assert spend is not None
    ballot, _ = encrypt_ballot(ctx, key, 5, [1, 2], (1, 5), spend=spend)
    good = ballot.to_json()
    rng = random.Random(3)
    for bound in (CEILING, FLOOR):
        for field in ("bits", "proofs", "sum"):
            for _ in range(3):
                bad = json.loads(json.dumps(good))
                place = bad["spend"][bound]
                if field == "sum":
                    raw = bytearray(base64.b64decode(place["sum"]))
                else:
                    i = rng.randrange(len(place[field]))
                    raw = bytearray(base64.b64decode(place[field][i]))
                bit = rng.randrange(8 * len(raw))
                raw[bit // 8] ^= 1 << (bit % 8)
                text = base64.b64encode(bytes(raw)).decode()
                if field == "sum":
                    place["sum"] = text
                else:
                    place[field][i] = text
                with pytest.raises(Exception) as err:
                    EncryptedBallot.decode(G, bad, 5, (1, 5), spend).verify(ctx, key, (1, 5), spend)
                assert getattr(err.value, "code", None) in {
                    "bad_ballot_proof",
                    "bad_point",
                    "bad_proof",
                }


def test_an_uncapped_secret_budget_bounds_the_number_of_projects() -> None:
    e = Election(capped=False, min_projects=1, max_projects=2)
    assert e.spend is None
    c = Citizen.enrol(e.inst, PID)
    key, nym = e.board.key, c.pseudonym.public_key
    ctx = ballot_context(G, e.board.fingerprint, key, nym)
    forged, _ = encrypt_ballot(ctx, key, 5, [0, 1, 4], (2, 3))  # three, proven in 2..3
    e.reg.refuse(e.ballot(c, forged.to_json()), "bad_ballot_proof")  # not in 1..2
    priced = Spend(tuple(COSTS.values()), 5000)
    carrying, _ = encrypt_ballot(ctx, key, 5, [0], (1, 2), spend=priced)
    e.reg.refuse(e.ballot(c, carrying.to_json()), "bad_encrypted_ballot")  # no spend here
    e.reg.add(e.cast(c, ["park", "lights"]))  # over any budget: uncapped ballots may be
    closed = e.decrypt()
    t = e.reg.reg.tally(PID, closed)
    assert t["approvals"] == {"park": 1, "bikes": 0, "bench": 0, "trees": 0, "lights": 1}
    # a tie at 1 goes to "lights" (before "park"), which then no longer fits;
    # greedy goes on with the projects nobody chose, while they fit
    assert t["selected"] == sorted(_in_clear([frozenset({"park", "lights"})], []))
    assert t["selected"] == ["bench", "bikes", "lights"] and t["spent"] == 910


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sets(st.sampled_from(IDS), min_size=1, max_size=3).filter(
            lambda s: sum(COSTS[x] for x in s) <= 1000
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_decrypted_outcome_is_greedy_over_the_plain_ballots(
    choices: list[set[str]],
) -> None:
    e = Election()
    for chosen in choices:
        e.reg.add(e.cast(Citizen.enrol(e.inst, PID), sorted(chosen)))
    closed = e.decrypt()
    t = e.reg.reg.tally(PID, closed)
    assert t["selected"] == sorted(_in_clear([frozenset(c) for c in choices], []))


def test_a_spend_that_could_wrap_around_the_order_is_not_a_spend() -> None:
    with pytest.raises(ValueError):
        Spend((2**53,), 10)
    with pytest.raises(ValueError):
        Spend((1, 2), 2**53)
    with pytest.raises(ValueError):
        Spend((1, 2), 10, 11)
    assert Spend((1, 2), 0).bits == 1 and Spend((1,), 1024).bits == 11


def test_the_largest_secret_budget_ballot_fits_in_an_entry() -> None:
    """64 projects (the most a secret process has), a budget just below 2^53
    (53 bits per slack) and a floor: the largest ballot a manifest can ask for
    is still one log entry (at most 65,535 bytes, docs/spec/log.md)."""
    from urne.verifier.citizen.blinding import Pseudonym
    from urne.verifier.tlog.tiles import MAX_ENTRY_SIZE

    key = G.base(5)
    spend = Spend(tuple([2**46] * 64), 2**53 - 1, 2**52)
    assert spend.bits == 53
    nym = Pseudonym.generate()
    ctx = ballot_context(G, bytes(32), key, nym.public_key)
    ballot, _ = encrypt_ballot(ctx, key, 64, list(range(64)), (0, 64), spend=spend)
    entry = authoring.secret_ballot("p" * 128, nym, bytes(48), ballot.to_json(), seq=2**31)
    assert len(entry) <= MAX_ENTRY_SIZE, len(entry)
