"""Delegation (docs/spec/delegation.md): the manifest's switch, the rules of
delegates and delegations, and the count against a plain reference on random
delegation graphs, cycles and revocations included."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.civic import Citizen, Institution, RegistryLog
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import sign_entry
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.civic.process import resolve_delegations
from urne.verifier.errors import FormatError

RULE = {"method": "single", "min": 1, "max": 1, "revoting": True, "delegation": True}


def _stand(c: Citizen, name: str) -> bytes:
    return authoring.delegate(c.pid, c.pseudonym, c.credential, name)


def _delegate(c: Citizen, to: Citizen | None, seq: int | None = None) -> bytes:
    s = c.seq if seq is None else seq
    c.seq = s + 1
    target = None if to is None else to.pseudonym.public_key
    return authoring.delegation(c.pid, c.pseudonym, c.credential, target, seq=s)


def _world() -> tuple[Institution, RegistryLog]:
    inst, log = Institution(), RegistryLog()
    log.add(inst.process("v", "vote", rule=RULE))
    return inst, log


def test_a_vote_takes_delegation_only_if_its_manifest_says_so() -> None:
    inst, log = _world()
    log.add(inst.process("plain", "vote"))
    c = Citizen.enrol(inst, "plain")
    log.refuse(_stand(c, "Ana"), "no_delegation")
    mj = {
        "method": "majority-judgment",
        "min": 3,
        "max": 3,
        "revoting": False,
        "delegation": True,
        "grades": [{"id": "g", "label": "G"}, {"id": "b", "label": "B"}],
    }
    with pytest.raises(FormatError, match="no delegation"):
        decode_entry(inst.process("mj", "vote", rule=mj))
    from tests.support.secret import Board

    with pytest.raises(FormatError) as e:
        decode_entry(inst.process("s", "vote", rule=RULE, secret=Board.make("s").manifest_field()))
    assert e.value.code == "secret_not_offered"


def test_delegations_follow_the_rules() -> None:
    inst, log = _world()
    ana, bob, eve = (Citizen.enrol(inst, "v") for _ in range(3))
    log.add(_stand(ana, "Ana, for the cycle lanes"))
    log.refuse(_stand(ana, "Ana again"), "already_delegate", 409)
    log.refuse(_delegate(bob, eve), "unknown_delegate")
    log.refuse(_delegate(ana, ana), "self_delegation")
    log.add(_delegate(bob, ana, seq=5))
    log.refuse(_delegate(bob, None, seq=5), "stale_seq", 409)
    log.add(_delegate(bob, None, seq=6))  # revoked
    forged = authoring.delegation("v", bob.pseudonym, eve.credential, None, seq=9)
    log.refuse(forged, "bad_credential")
    other = Institution().key  # signed by another key than the pseudonym's
    body = decode_entry(_delegate(bob, ana, seq=10)).obj
    resigned = sign_entry({k: v for k, v in body.items() if k != "sig"}, other)
    log.refuse(resigned, "bad_entry_signature")


def test_the_count_follows_delegations_and_a_direct_vote_overrides() -> None:
    inst, log = _world()
    ana, bob, cyd, dan, eva, fay = (Citizen.enrol(inst, "v") for _ in range(6))
    for c, name in ((ana, "Ana"), (bob, "Bob"), (eva, "Eva"), (fay, "Fay")):
        log.add(_stand(c, name))
    log.add(_delegate(bob, ana))  # Bob -> Ana
    log.add(_delegate(cyd, bob))  # Cyd -> Bob -> Ana
    log.add(_delegate(dan, bob))  # Dan -> Bob -> Ana, but Dan votes himself
    log.add(ana.ballot(["a"]))
    log.add(dan.ballot(["c"]))
    log.add(_delegate(eva, fay))  # Eva <-> Fay: a cycle with no voter counts nothing
    log.add(_delegate(fay, eva))
    t = log.reg.tally("v", log.n - 1)
    assert t["counts"] == {"a": 3, "b": 0, "c": 1}  # Ana, Bob, Cyd for a; Dan for c
    assert t["ballots"] == 2 and t["delegated"] == 2 and t["winners"] == ["a"]
    ana_key = b64encode(ana.pseudonym.public_key)
    assert t["delegates"][ana_key] == {"name": "Ana", "voted": True, "weight": 3}
    assert t["delegates"][b64encode(eva.pseudonym.public_key)]["weight"] == 0
    # Bob revokes: Cyd's chain now stops at Bob, who did not vote
    log.add(_delegate(bob, None))
    t = log.reg.tally("v", log.n - 1)
    assert t["counts"]["a"] == 1 and t["delegated"] == 0
    # Bob votes: his own vote counts, and Cyd's through him
    log.add(bob.ballot(["b"]))
    t = log.reg.tally("v", log.n - 1)
    assert t["counts"] == {"a": 1, "b": 2, "c": 1} and t["delegated"] == 1


def _reference(voted: set[int], to: dict[int, int | None]) -> dict[int, int]:
    """Whose vote each non-voter's counts as, by walking its chain step by
    step (LiquidFeedback's rule written plainly): at most n steps."""
    out = {}
    for start in to:
        if start in voted:
            continue
        x: int | None = start
        for _ in range(len(to) + 1):
            x = to.get(x) if x is not None else None
            if x is None:
                break
            if x in voted:
                out[start] = x
                break
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.sets(st.integers(0, n - 1)),
            st.dictionaries(st.integers(0, n - 1), st.one_of(st.none(), st.integers(0, n - 1))),
        )
    )
)
def test_resolution_against_a_plain_reference(case: tuple[int, set[int], dict[int, Any]]) -> None:
    n, voted, to = case
    to = {k: v for k, v in to.items() if v != k}  # nobody delegates to themself
    key = {i: i.to_bytes(2, "big") for i in range(n)}
    got = resolve_delegations(
        [key[v] for v in voted], {key[k]: None if v is None else key[v] for k, v in to.items()}
    )
    want = _reference(voted, to)
    assert got == {key[k]: key[v] for k, v in want.items()}


def test_a_long_chain_resolves_in_linear_time() -> None:
    """100,000 pseudonyms in one chain ending at a voter: each is walked once
    (a chain walked from every start would take 5·10^9 steps)."""
    n = 100_000
    key = [i.to_bytes(4, "big") for i in range(n)]
    got = resolve_delegations([key[-1]], {key[i]: key[i + 1] for i in range(n - 1)})
    assert len(got) == n - 1 and set(got.values()) == {key[-1]}
