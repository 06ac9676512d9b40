"""Verifiable sortition (docs/spec/sortition.md): drand's beacon on published
rounds, the pool file, the seeded stream, the draw, the manifest's and the
draw's rules, and the same panels as ``sortition-algorithms`` (GPL-3.0, a
test-only oracle) given the same random numbers."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import pytest

from tests.support.civic import Institution, RegistryLog
from tests.support.paths import load_vector
from tests.support.sortition import ROUND, ROUNDS, SIGNATURE, pool_file, rule
from urne.verifier.citizen import authoring
from urne.verifier.civic import beacon, sortition
from urne.verifier.civic.entries import SortitionRule, decode_entry
from urne.verifier.errors import FormatError

PID = "panel-2026"


def _rule(pool: bytes, seats: int, **changes: Any) -> SortitionRule:
    inst = Institution(officials=[])
    manifest = inst.process(
        PID,
        "sortition",
        rule=rule(pool, seats, **changes),
        proposals=[],
        opens="2024-01-01T00:00:00Z",
    )
    body = decode_entry(manifest).body
    assert isinstance(body.rule, SortitionRule)  # type: ignore[union-attr]
    return body.rule  # type: ignore[union-attr,return-value]


# -- the beacon --------------------------------------------------------------------------


@pytest.mark.parametrize("round_", sorted(ROUNDS))
def test_published_quicknet_rounds_verify(round_: int) -> None:
    sig = ROUNDS[round_]
    assert beacon.verify_round(beacon.QUICKNET, round_, sig)
    assert not beacon.verify_round(beacon.QUICKNET, round_ + 1, sig)
    assert not beacon.verify_round(beacon.QUICKNET, round_ - 1, sig)
    flipped = bytes([sig[0]]) + bytes([sig[1] ^ 1]) + sig[2:]
    assert not beacon.verify_round(beacon.QUICKNET, round_, flipped)
    assert not beacon.verify_round(beacon.QUICKNET, round_, sig[:-1])


def test_randomness_is_the_hash_of_the_signature_as_published() -> None:
    for b in load_vector("drand/quicknet.json")["beacons"]:
        assert beacon.randomness(bytes.fromhex(b["signature"])).hex() == b["randomness"]


def test_round_times_follow_genesis_and_period() -> None:
    q = beacon.QUICKNET
    assert q.round_iso(1) == "2023-08-23T15:09:27Z"
    assert q.round_time(ROUND) - q.round_time(ROUND - 1) == 3
    assert q.round_at(q.round_time(ROUND)) == ROUND
    assert q.round_at(q.round_time(ROUND) - 1) == ROUND - 1
    assert q.round_at(q.genesis - 1) == 0


# -- the pool file -----------------------------------------------------------------------


def test_the_pool_parses_in_file_order() -> None:
    data = pool_file(50)
    r = _rule(data, 10)
    pool = sortition.parse_pool(data, r)
    assert pool.ids[:2] == ("p0000000", "p0000001")
    assert len(pool.ids) == 50
    first = data.split(b"\n")[1].decode().split(",")
    assert [r.quotas[c].value for c in pool.cats[0]] == first[1:]


@pytest.mark.parametrize(
    ("mutate", "code", "words"),
    [
        (lambda d: d + b"p9,F,a16,north\n", "pool_mismatch", "SHA-256"),
        (lambda d: d.replace(b"\n", b"\r\n"), "bad_pool", "header"),
        (lambda d: d.replace(b"id,gender", b"id,sex", 1), "bad_pool", "header"),
        (lambda d: d.replace(b"p0000001,", b"p0000000,", 1), "bad_pool", "twice"),
        (lambda d: d.replace(b",north\n", b",nowhere\n", 1), "bad_pool", "not a value"),
        (lambda d: d.replace(b"p0000003,", b"p 3,", 1), "bad_pool", "not an identifier"),
        (lambda d: d[:-1], "bad_pool", "newline"),
        (lambda d: b"\xef\xbb\xbf" + d, "bad_pool", "header"),
        (lambda d: d + b"\n", "bad_pool", "fields"),
    ],
)
def test_a_pool_other_than_the_committed_form_is_refused(
    mutate: Any, code: str, words: str
) -> None:
    data = pool_file(40)
    bad = mutate(data)
    # a file other than the committed one fails on its hash; one committed as it
    # is fails on its form
    r = _rule(data, 10) if code == "pool_mismatch" else _rule_for_bytes(bad, 10)
    with pytest.raises(FormatError) as e:
        sortition.parse_pool(bad, r)
    assert e.value.code == code
    assert words in str(e.value)


def _rule_for_bytes(data: bytes, seats: int) -> SortitionRule:
    """A rule committing to ``data`` as it is (its hash), with 40 people."""
    import dataclasses

    base = _rule(pool_file(40), seats)
    return dataclasses.replace(base, pool_sha256=hashlib.sha256(data).hexdigest())


def test_the_pool_must_hold_as_many_people_as_the_manifest_says() -> None:
    import dataclasses

    data = pool_file(40)
    r = dataclasses.replace(_rule(data, 10), people=41)
    with pytest.raises(FormatError, match="lists 40 people"):
        sortition.parse_pool(data, r)


# -- the stream --------------------------------------------------------------------------


def test_uniform_is_deterministic_in_range_and_spread() -> None:
    seed = hashlib.sha256(b"seed").digest()
    assert sortition.uniform(seed, 0, 0, 10) == sortition.uniform(seed, 0, 0, 10)
    assert sortition.uniform(seed, 0, 0, 1) == 0
    values = [sortition.uniform(seed, a, s, 7) for a in range(3) for s in range(1400)]
    assert set(values) == set(range(7))
    counts = Counter(values)
    # 4,200 draws over 7 values: 600 each expected, a binomial sd of about 23
    assert all(500 < c < 700 for c in counts.values()), counts
    with pytest.raises(ValueError):
        sortition.uniform(seed, 0, 0, 0)
    with pytest.raises(ValueError):
        sortition.uniform(seed, 0, 0, 1 << 32)


def test_uniform_rejects_the_biased_tail() -> None:
    """With n just above 2^255 about half of the hashes fall in the tail and
    are drawn again: the answer is still below n and depends on j."""
    seed = b"\x01" * 32
    n = (1 << 32) - 1
    assert 0 <= sortition.uniform(seed, 5, 9, n) < n


# -- the draw ----------------------------------------------------------------------------


def test_a_draw_fills_the_seats_within_the_quotas() -> None:
    data = pool_file(3000)
    r = _rule(data, 40)
    pool = sortition.parse_pool(data, r)
    out = sortition.draw(pool, r, hashlib.sha256(b"a").digest())
    members = out.members(pool, r)
    assert len(members) == 40 == len(set(out.positions))
    assert sortition.quota_violations(r, members) == []
    again = sortition.draw(pool, r, hashlib.sha256(b"a").digest())
    assert again == out
    other = sortition.draw(pool, r, hashlib.sha256(b"b").digest())
    assert other.positions != out.positions


def test_a_value_with_maximum_zero_is_never_drawn() -> None:
    data = pool_file(600)
    quotas = rule(data, 20)["quotas"]
    for q in quotas:
        if q["value"] == "X":
            q["min"], q["max"] = 0, 0
        if q["feature"] == "gender" and q["value"] != "X":
            q["max"] = 20
    r = _rule(data, 20, quotas=quotas)
    pool = sortition.parse_pool(data, r)
    for k in range(5):
        members = sortition.draw(pool, r, bytes([k]) * 32).members(pool, r)
        assert all(m.values[0] != "X" for m in members)


def test_quotas_no_pool_can_meet_end_in_sortition_impossible() -> None:
    data = pool_file(200)
    quotas = rule(data, 20)["quotas"]
    xs = data.count(b",X,")
    for q in quotas:
        if q["value"] == "X":  # more seats for X than the pool has people with X
            q["min"], q["max"] = xs + 1, xs + 1
        elif q["feature"] == "gender":
            q["min"], q["max"] = 0, 20
    r = _rule(data, 20, quotas=quotas, attempts=3)
    pool = sortition.parse_pool(data, r)
    with pytest.raises(sortition.SortitionImpossible) as e:
        sortition.draw(pool, r, b"\x00" * 32)
    assert e.value.code == "sortition_impossible"
    assert "3 attempts" in str(e.value)


def test_the_seed_binds_the_process_the_round_the_randomness_and_the_log() -> None:
    base = ("p", 7, b"\x01" * 32, 10, b"\x02" * 32)
    s = sortition.seed(*base)
    assert len(s) == 32
    for k, other in enumerate(["q", 8, b"\x03" * 32, 11, b"\x04" * 32]):
        changed = list(base)
        changed[k] = other
        assert sortition.seed(*changed) != s  # type: ignore[arg-type]


# -- the same panels as sortition-algorithms ----------------------------------------------


def _oracle_panel(data: bytes, r: SortitionRule, seed: bytes) -> tuple[frozenset[str], int]:
    """sortition-algorithms' legacy algorithm, its randomness replaced by
    :func:`sortition.uniform` for the step and attempt it is at (its
    ``randbelow`` is asked once per category that leads the search; the
    last ask is the one it uses, so every ask gets the stream's number for
    that bound). sortition-algorithms (GPL-3.0) is a test-only oracle, not
    installed with the verifier alone: the tests that need it then skip."""
    pytest.importorskip("sortition_algorithms")
    from requests.structures import CaseInsensitiveDict
    from sortition_algorithms import errors, utils
    from sortition_algorithms.committee_generation import common, legacy
    from sortition_algorithms.features import FeatureValueMinMax
    from sortition_algorithms.people import People

    at = {"attempt": 0, "step": 0}

    class Stream(utils.RandomProvider):
        @classmethod
        def uniform(cls, lower: float, upper: float) -> float:  # pragma: no cover
            raise AssertionError("legacy draws integers only")

        @classmethod
        def randbelow(cls, upper: int) -> int:
            return sortition.uniform(seed, at["attempt"], at["step"], upper)

        @classmethod
        def randint(cls) -> int:  # pragma: no cover
            raise AssertionError("legacy draws below a bound only")

        @classmethod
        def choice(cls, seq: Any) -> Any:  # pragma: no cover
            raise AssertionError("legacy draws below a bound only")

    fc: Any = CaseInsensitiveDict()
    for q in r.quotas:
        fc.setdefault(q.feature, CaseInsensitiveDict())[q.value] = FeatureValueMinMax(
            min=q.min, max=q.max
        )
    people = People([])
    rows = [line.split(",") for line in data.decode().splitlines()[1:]]
    for n, row in enumerate(rows, start=2):
        people.add(row[0], dict(zip(r.features, row[1:], strict=True)), fc, n)
    find = legacy.PeopleFeatures.find_max_ratio_category

    def counted(self: Any) -> Any:
        found = find(self)
        at["step"] += 1
        return found

    def select(self: Any, person_key: str) -> list[str]:
        """``PeopleFeatures.select_person`` with the person counted as selected
        before they leave the remaining: upstream does it the other way round,
        so taking the last person of a value whose minimum is not met yet
        raises "no one/not enough left" although that very person meets it
        (sortition-algorithms 0.12.15). The specification counts them as
        selected (docs/spec/sortition.md §5); nothing else is changed."""
        person = self.people.get_person_dict(person_key)
        for feature_name in self.features:
            counts = self.select_collection[feature_name][person[feature_name]]
            counts.add_selected()
            counts.remove_remaining()
        self.people.remove(person_key)
        return []

    saved = utils._random_provider
    saved_select = legacy.PeopleFeatures.select_person
    utils._random_provider = Stream()
    legacy.PeopleFeatures.find_max_ratio_category = counted  # type: ignore[method-assign]
    legacy.PeopleFeatures.select_person = select  # type: ignore[method-assign]
    try:
        for attempt in range(r.attempts):
            at["attempt"], at["step"] = attempt, 0
            try:
                committees, _ = legacy.find_random_sample_legacy_single_attempt(people, fc, r.seats)
                common.check_category_selected(fc, people, committees, 1)
            except errors.SelectionError:
                continue
            return committees[0], attempt
        raise AssertionError("the oracle found no panel")
    finally:
        legacy.PeopleFeatures.find_max_ratio_category = find  # type: ignore[method-assign]
        legacy.PeopleFeatures.select_person = saved_select  # type: ignore[method-assign]
        utils._random_provider = saved


@pytest.mark.parametrize(("people", "seats"), [(400, 12), (2500, 40)])
def test_the_same_panels_as_sortition_algorithms_legacy(people: int, seats: int) -> None:
    data = pool_file(people, seed=people)
    r = _rule(data, seats)
    pool = sortition.parse_pool(data, r)
    chosen: Counter[str] = Counter()
    for k in range(40):
        seed = hashlib.sha256(b"oracle %d" % k).digest()
        out = sortition.draw(pool, r, seed)
        mine = frozenset(pool.ids[i] for i in out.positions)
        theirs, attempt = _oracle_panel(data, r, seed)
        assert (mine, out.attempt) == (theirs, attempt), k
        chosen.update(mine)
    # the selection probabilities agree person by person (the panels do); and
    # the draw is a lottery: many people were drawn at least once
    assert len(chosen) > seats * 10


def test_a_retry_is_the_oracles_retry_too() -> None:
    """Exact quotas over correlated features make some attempts fail: both
    draws retry at the same attempts and end on the same panel."""
    from tests.support.sortition_vectors import RETRY_POOL, RETRY_QUOTAS

    data = RETRY_POOL.encode()
    r = _rule_with(data, 6, ["gender", "age"], RETRY_QUOTAS)
    pool = sortition.parse_pool(data, r)
    retried = 0
    for k in range(30):
        seed = hashlib.sha256(b"tight %d" % k).digest()
        out = sortition.draw(pool, r, seed)
        theirs, attempt = _oracle_panel(data, r, seed)
        assert (frozenset(pool.ids[i] for i in out.positions), out.attempt) == (theirs, attempt)
        retried += out.attempt > 0
    assert retried, "no seed needed a second attempt: the quotas are not tight"


def _rule_with(
    data: bytes, seats: int, features: list[str], quotas: list[dict[str, Any]]
) -> SortitionRule:
    r = rule(data, seats, quotas=quotas)
    r["pool"]["features"] = features
    inst = Institution(officials=[])
    body = decode_entry(
        inst.process(PID, "sortition", rule=r, proposals=[], opens="2024-01-01T00:00:00Z")
    ).body
    assert isinstance(body.rule, SortitionRule)  # type: ignore[union-attr]
    return body.rule  # type: ignore[union-attr,return-value]


# -- the manifest ------------------------------------------------------------------------


def _manifest(r: dict[str, Any], **kw: Any) -> bytes:
    inst = Institution(officials=[])
    return inst.process(
        PID, "sortition", rule=r, proposals=[], opens=kw.pop("opens", "2024-01-01T00:00:00Z"), **kw
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"seats": 0}, "malformed"),
        ({"seats": 501}, "malformed"),
        ({"algorithm": "leximin"}, "malformed"),
        ({"attempts": 0}, "malformed"),
        ({"beacon": {"chain": "00" * 32, "round": ROUND}}, "unknown_beacon"),
        ({"beacon": {"round": ROUND}}, "missing_field"),
        ({"extra": 1}, "unknown_field"),
    ],
)
def test_a_sortition_rule_out_of_bounds_is_refused(change: dict[str, Any], code: str) -> None:
    data = pool_file(100)
    r = rule(data, 10)
    r.update(change)
    with pytest.raises(FormatError) as e:
        decode_entry(_manifest(r))
    assert e.value.code == code


def test_quotas_must_list_every_feature_in_the_pools_order_and_add_up() -> None:
    data = pool_file(100)
    r = rule(data, 10)
    shuffled = dict(r, quotas=r["quotas"][3:] + r["quotas"][:3])
    with pytest.raises(FormatError, match="feature by feature"):
        decode_entry(_manifest(shuffled))
    low = dict(r, quotas=[dict(q, min=0, max=1) for q in r["quotas"]])
    with pytest.raises(FormatError) as e:
        decode_entry(_manifest(low))
    assert e.value.code == "infeasible_quotas"
    twice = dict(r, quotas=[*r["quotas"][:1], *r["quotas"][:3], *r["quotas"][3:]])
    with pytest.raises(FormatError):
        decode_entry(_manifest(twice))


def test_the_round_lies_between_opens_and_closes() -> None:
    data = pool_file(100)
    released = beacon.QUICKNET.round_iso(ROUND)
    with pytest.raises(FormatError) as e:
        decode_entry(_manifest(rule(data, 10), opens=released))
    assert e.value.code == "bad_round"
    with pytest.raises(FormatError) as e:
        decode_entry(_manifest(rule(data, 10), closes="2024-10-14T17:13:32Z"))
    assert e.value.code == "bad_round"
    decode_entry(_manifest(rule(data, 10), closes=released))


def test_a_sortition_has_no_proposals_officials_or_secret() -> None:
    data = pool_file(100)
    with pytest.raises(FormatError, match="no proposals"):
        decode_entry(Institution().process(PID, "sortition", rule=rule(data, 10), proposals=[],
                                           opens="2024-01-01T00:00:00Z"))  # fmt: skip


# -- the draw's rules --------------------------------------------------------------------


class Drawn:
    """A sortition on a registry: its manifest, pool and honest panel."""

    def __init__(self, people: int = 300, seats: int = 12) -> None:
        self.data = pool_file(people)
        self.inst = Institution(officials=[])
        self.log = RegistryLog()
        self.manifest = self.inst.process(
            PID, "sortition", rule=rule(self.data, seats), proposals=[],
            opens="2024-01-01T00:00:00Z",
        )  # fmt: skip
        self.at = self.log.add(self.manifest)
        st = self.log.reg.state(PID)
        assert isinstance(st.process.rule, SortitionRule)
        self.rule = st.process.rule
        self.pool = sortition.parse_pool(self.data, self.rule)
        seed = sortition.seed(PID, ROUND, beacon.randomness(SIGNATURE), self.at + 1, b"\x00" * 32)
        self.outcome = sortition.draw(self.pool, self.rule, seed)
        self.members = self.outcome.members(self.pool, self.rule)

    def draw(self, **changes: Any) -> bytes:
        args: dict[str, Any] = {
            "round_": ROUND,
            "signature": SIGNATURE,
            "attempt": self.outcome.attempt,
            "panel": [(m.id, m.values) for m in self.members],
            "institution": self.inst.key,
        }
        args.update(changes)
        return authoring.draw(
            PID, args.pop("institution"), args["round_"], args["signature"], args["attempt"],
            args["panel"],
        )  # fmt: skip


def test_an_honest_draw_is_accepted_once_and_ends_the_process() -> None:
    d = Drawn()
    at = d.log.add(d.draw())
    tally = d.log.reg.tally(PID, at)
    assert tally["drawn_at"] == at
    assert [m["id"] for m in tally["panel"]] == [m.id for m in d.members]
    d.log.refuse(d.draw(), "already_drawn", 409)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"round_": ROUND + 1}, "wrong_round"),
        ({"signature": ROUNDS[1000]}, "bad_beacon"),
        ({"attempt": 100}, "bad_attempt"),
        ({"institution": Institution().key}, "bad_entry_signature"),
    ],
)
def test_a_draw_breaking_a_rule_is_refused(change: dict[str, Any], code: str) -> None:
    d = Drawn()
    d.log.refuse(d.draw(**change), code)


def test_a_panel_outside_the_quotas_is_refused() -> None:
    d = Drawn()
    panel = [(m.id, m.values) for m in d.members]
    same_gender = [(pid, ("F", *values[1:])) for pid, values in panel]
    d.log.refuse(d.draw(panel=same_gender), "quota_not_met")
    d.log.refuse(d.draw(panel=panel[:-1]), "quota_not_met")
    d.log.refuse(d.draw(panel=[(panel[0][0], ("F", "a16")), *panel[1:]]), "quota_not_met")


def test_a_sortition_takes_no_ballot_close_or_result_and_others_take_no_draw() -> None:
    d = Drawn()
    d.log.refuse(d.inst.close(PID), "not_for_sortition")
    d.log.refuse(d.inst.result(PID, d.at, {}), "not_for_sortition")
    other = Institution()
    d.log.add(other.process("vote-1", "vote"))
    draw = authoring.draw("vote-1", other.key, ROUND, SIGNATURE, 0, [("a", ("F",))])
    d.log.refuse(draw, "not_sortition")


# -- the specification's vectors ---------------------------------------------------------


def test_the_specification_vectors() -> None:
    """docs/spec/sortition-vectors.json, checked as a second implementation would."""
    from tests.support.sortition_vectors import PATH

    v = __import__("json").loads(PATH.read_text(encoding="utf-8"))
    for case in v["uniform"]:
        got = sortition.uniform(
            bytes.fromhex(case["seed"]), case["attempt"], case["step"], case["n"]
        )
        assert got == case["value"]
    s = v["seed"]
    assert (
        sortition.seed(
            s["process"],
            s["round"],
            bytes.fromhex(s["randomness"]),
            s["size"],
            bytes.fromhex(s["root"]),
        ).hex()
        == s["seed"]
    )
    assert beacon.randomness(bytes.fromhex(s["signature"])).hex() == s["randomness"]
    for case in v["draws"]:
        data = case["pool"].encode()
        r = _rule_with(data, case["seats"], case["features"], case["quotas"])
        pool = sortition.parse_pool(data, r)
        out = sortition.draw(pool, r, bytes.fromhex(case["seed"]))
        assert [pool.ids[i] for i in out.positions] == case["panel"]
        assert out.attempt == case["attempt"]


def test_a_round_past_the_last_writable_time_or_a_replay_too_costly_is_refused() -> None:
    """A round released after 9999-12-31 could never be checked against the
    manifest's times: refused as a form error, never a crash; and attempts
    times people bound what a replay may cost."""
    data = pool_file(100)
    for round_ in (2**40, 2**53 - 1):
        with pytest.raises(FormatError):
            decode_entry(_manifest(rule(data, 10, round_=round_), closes="9999-12-31T23:59:59Z"))
    r = rule(data, 10)
    r["pool"]["people"] = 5_000_000
    r["attempts"] = 21
    with pytest.raises(FormatError, match="attempts times people"):
        decode_entry(_manifest(r))
