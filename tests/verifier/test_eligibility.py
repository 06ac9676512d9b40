"""The manifest's ``eligibility`` and its rule (docs/spec/eligibility.md §1-2)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.civic import Institution, RegistryLog
from tests.support.eligibility_vectors import PATH, render
from urne.verifier.civic.eligibility import (
    Ineligible,
    age_on,
    credential_nonce,
    evaluate,
    parse_eligibility,
)
from urne.verifier.civic.entries import decode_entry
from urne.verifier.errors import FormatError

GOOD: dict[str, Any] = {
    "provider": "https://auth.franceconnect.gouv.fr/api/v2",
    "name": "FranceConnect",
    "acr": ["eidas2", "eidas3"],
    "rules": [
        {"claim": "birthdate", "min_age": 16},
        {"claim": "address.postal_code", "in": ["75001", "75002"]},
    ],
}


def test_a_good_object_parses_and_names_the_claims_to_ask_for() -> None:
    e = parse_eligibility(GOOD)
    assert e.provider == GOOD["provider"]
    assert e.acr == ("eidas2", "eidas3")
    assert e.claims == ("birthdate", "address")
    assert e.rules[0].min_age == 16 and e.rules[1].values == frozenset({"75001", "75002"})
    assert parse_eligibility({**GOOD, "acr": [], "rules": []}).claims == ()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"provider": "http://auth.example.org"}, "bad_url"),  # http off loopback
        ({"provider": "https://auth.example.org/"}, "bad_url"),
        ({"provider": "https://auth.example.org?x=1"}, "bad_url"),
        ({"provider": "https://u:p@auth.example.org"}, "bad_url"),
        ({"provider": "https://auth.example.org:99999"}, "bad_url"),
        ({"other": 1}, "unknown_field"),
        ({"rules": [{"claim": "birthdate", "min_age": 16, "in": ["x"]}]}, "bad_rule"),
        ({"rules": [{"claim": "Birthdate", "min_age": 16}]}, "bad_rule"),
        ({"rules": [{"claim": "a.b.c", "in": ["x"]}]}, "bad_rule"),
        ({"rules": [{"claim": "birthdate"}]}, "bad_rule"),
    ],
)
def test_malformed_objects_are_refused_with_a_stable_code(
    change: dict[str, Any], code: str
) -> None:
    with pytest.raises(FormatError) as caught:
        parse_eligibility({**GOOD, **change})
    assert caught.value.code == code


@pytest.mark.parametrize(
    "change",
    [
        {"name": ""},
        {"name": "x" * 61},
        {"acr": ["eidas2", "eidas2"]},
        {"acr": "eidas2"},
        {"rules": [{"claim": "birthdate", "min_age": 151}]},
        {"rules": [{"claim": "birthdate", "min_age": True}]},
        {"rules": [{"claim": "birthplace", "in": []}]},
        {"rules": [{"claim": "birthplace", "in": ["a", "a"]}]},
        {"rules": [{"claim": "birthplace", "in": [str(i) for i in range(2001)]}]},
        {"rules": [{"claim": "birthdate", "min_age": 1}] * 9},
    ],
)
def test_out_of_bounds_values_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(FormatError):
        parse_eligibility({**GOOD, **change})


def test_http_is_admitted_on_loopback_only() -> None:
    for url in ("http://127.0.0.1:8080", "http://localhost:3000/oidc"):
        assert parse_eligibility({**GOOD, "provider": url}).provider == url


def test_the_manifest_carries_it_and_refuses_it_where_it_cannot_hold() -> None:
    inst = Institution()
    manifest = decode_entry(inst.process("p1", "petition", eligibility=GOOD))
    assert manifest.obj["eligibility"] == GOOD
    log = RegistryLog()
    log.add(inst.process("p2", "petition", eligibility=GOOD))
    st = log.reg.processes["p2"]
    assert st.process.eligibility is not None
    assert st.process.eligibility.name == "FranceConnect"
    shared = {"public_key": manifest.obj["issuer"]["public_key"], "threshold": 2, "shares": 3}
    with pytest.raises(FormatError) as caught:
        decode_entry(inst.process("p3", "petition", issuer_key=shared, eligibility=GOOD))
    assert caught.value.code == "eligibility_not_offered"


def _definition_age(born: date, on: date) -> int:
    """Count the anniversaries up to ``on``, one year at a time from the birth."""
    years = 0
    while True:
        nxt_year = born.year + years + 1
        try:
            anniversary = born.replace(year=nxt_year)
        except ValueError:  # 29 February in another year: 1 March
            anniversary = date(nxt_year, 3, 1)
        if anniversary > on:
            return years
        years += 1


@given(
    st.dates(min_value=date(1904, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=0, max_value=40 * 366),
)
def test_age_on_matches_counting_anniversaries(born: date, days: int) -> None:
    on = born + timedelta(days=days)
    assert age_on(born, on) == _definition_age(born, on)


def test_age_on_29_february() -> None:
    born = date(2008, 2, 29)
    assert age_on(born, date(2025, 2, 28)) == 16
    assert age_on(born, date(2025, 3, 1)) == 17
    assert age_on(born, date(2024, 2, 29)) == 16


def _evaluate(claims: dict[str, Any], acr: str | None = "eidas2") -> str:
    try:
        evaluate(parse_eligibility(GOOD), claims, acr, "2027-01-10T12:00:00Z")
    except Ineligible as exc:
        return exc.code
    return "eligible"


def test_rules_over_claims() -> None:
    ok = {"birthdate": "2011-01-10", "address": {"postal_code": "75001"}}
    assert _evaluate(ok) == "eligible"
    assert _evaluate({**ok, "birthdate": "2011-01-11"}) == "ineligible"  # 16 the next day
    assert _evaluate({**ok, "address": {"postal_code": "69001"}}) == "ineligible"
    assert _evaluate({**ok, "address": "75001"}) == "claim_missing"  # not an object
    assert _evaluate({"birthdate": "2011-01-10"}) == "claim_missing"
    assert _evaluate(ok, "eidas1") == "acr_too_low"
    assert _evaluate(ok, None) == "acr_too_low"
    assert _evaluate({**ok, "birthdate": 20110110}) == "claim_missing"
    assert _evaluate({**ok, "birthdate": "2011-02-30"}) == "claim_missing"


def test_a_refusal_names_the_rule_never_the_persons_values() -> None:
    with pytest.raises(Ineligible) as caught:
        evaluate(
            parse_eligibility(GOOD),
            {"birthdate": "2015-07-14", "address": {"postal_code": "13055"}},
            "eidas2",
            "2027-01-10T12:00:00Z",
        )
    text = str(caught.value)
    assert "birthdate" in text and "address.postal_code" in text
    assert "2015" not in text and "13055" not in text


def test_the_vectors_file_is_what_the_code_gives() -> None:
    assert PATH.read_text(encoding="utf-8") == render()


def test_the_vectors_hold_by_their_definitions() -> None:
    v = json.loads(PATH.read_text(encoding="utf-8"))
    for case in v["nonce"]["cases"]:
        blinded = bytes.fromhex(case["blinded_hex"])
        msg = b"urne/v1/oidc-nonce\n" + case["process"].encode() + b"\n" + blinded
        want = base64.urlsafe_b64encode(hashlib.sha256(msg).digest()).rstrip(b"=").decode()
        assert case["nonce"] == want == credential_nonce(case["process"], blinded)
        assert len(want) == 43
    for case in v["subject"]["cases"]:
        msg = b"urne/v1/oidc-subject\n" + case["provider"].encode() + b"\n" + case["sub"].encode()
        key = bytes.fromhex(case["roll_key_hex"])
        assert hmac.new(key, msg, hashlib.sha256).hexdigest() == case["subject_hmac_hex"]
    for case in v["age"]:
        born, on = date.fromisoformat(case["birthdate"]), date.fromisoformat(case["on"])
        assert case["age"] == _definition_age(born, on)
    assert [c["outcome"] for c in v["rules"]["cases"]] == [
        "eligible",
        "eligible",
        "acr_too_low",
        "ineligible",
        "eligible",
        "ineligible",
        "claim_missing",
        "claim_missing",
        "claim_missing",
        "ineligible",
    ]
