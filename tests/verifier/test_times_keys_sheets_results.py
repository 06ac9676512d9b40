"""The decoding and the rules that keep four things single-valued: a time is
one real UTC instant, an issuer key one point of G1's subgroup, a tally sheet
one count per process, and a process one final result, through its close."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import bls_points
from tests.support.civic import Citizen, Institution, RegistryLog
from urne.verifier.check.opendata import outcome_of
from urne.verifier.civic.entries import b64encode, decode_entry, parse_entry
from urne.verifier.civic.process import EntryConflict
from urne.verifier.credentials import bls
from urne.verifier.errors import FormatError, SignatureError


def _manifest(**change: Any) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(Institution().process("p", "vote"))
    obj.update(change)
    return obj


# -- times -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "time",
    [
        "2028-02-29T12:00:00Z",  # a leap day
        "2026-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ],
)
def test_a_real_utc_instant_is_a_time(time: str) -> None:
    first, last = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
    window = (first, time) if time == last else (time, last)
    manifest = parse_entry(_manifest(opens=window[0], closes=window[1]))
    assert time in (manifest.obj["opens"], manifest.obj["closes"])


@pytest.mark.parametrize(
    "time",
    [
        "2027-13-01T00:00:00Z",  # month 13
        "2027-01-01T25:00:00Z",  # hour 25
        "2027-02-30T00:00:00Z",  # no 30 February
        "2027-00-00T00:00:00Z",  # month and day 0
        "2027-02-29T00:00:00Z",  # not a leap year
        "2027-04-31T00:00:00Z",
        "2027-01-01T24:00:00Z",
        "2027-01-01T23:60:00Z",
        "2016-12-31T23:59:60Z",  # a real leap second: refused all the same
        "0000-01-01T00:00:00Z",
        "2027-01-01T00:00:00z",
        "2027-01-01T00:00:00+00:00",
        "2027-01-01T00:00:00.5Z",
        "2027-01-01 00:00:00Z",
        "\u0662\u0660\u0662\u0667-01-01T00:00:00Z",  # digits of another script
    ],
)
@pytest.mark.parametrize("field", ["opens", "closes"])
def test_anything_else_is_refused_as_bad_time(field: str, time: str) -> None:
    change = {"opens": "0001-01-01T00:00:00Z", "closes": "9999-12-31T23:59:59Z", field: time}
    with pytest.raises(FormatError) as e:
        parse_entry(_manifest(**change))
    assert (e.value.code, e.value.status) == ("bad_time", 400)
    assert field in str(e.value)


# -- issuer keys ---------------------------------------------------------------------------


def _bad_issuer_keys() -> dict[str, bytes]:
    """Issuer keys are points of G2 (docs/spec/credentials.md §1): every
    96-byte encoding a decoder must refuse (other lengths are ``bad_length``)."""
    return {k: v for k, v in bls_points.g2_bad_encodings().items() if len(v) == 96}


@pytest.fixture(params=bls.available_backends())
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each installed BLS backend as the default, in turn."""
    {"py_ecc": bls.use_py_ecc, "arkworks": bls.use_arkworks}[request.param]()
    try:
        yield str(request.param)
    finally:
        bls.use_fastest()


@pytest.mark.parametrize("name", list(_bad_issuer_keys()))
def test_a_manifest_with_an_invalid_issuer_key_is_refused(backend: str, name: str) -> None:
    key = _bad_issuer_keys()[name]
    obj = _manifest()
    obj["issuer"] = dict(obj["issuer"], public_key=b64encode(key))
    with pytest.raises(FormatError) as e:
        parse_entry(obj)
    assert (e.value.code, e.value.status) == ("bad_issuer_key", 400), backend


def test_a_valid_issuer_key_decodes(backend: str) -> None:
    obj = _manifest()
    obj["issuer"] = dict(obj["issuer"], public_key=b64encode(bls_points.G2_GENERATOR))
    assert parse_entry(obj).kind == "process"


# -- tally sheets --------------------------------------------------------------------------


def test_a_tally_sheet_counts_once_per_process() -> None:
    inst, log = Institution(), RegistryLog()
    log.add(inst.process("pet", "petition", rule={"threshold": 10}))
    log.add(inst.process("other", "petition"))
    sheet = "5a" * 32
    first = log.add(inst.paper("pet", "stand-1", sheet=sheet, signatures=6))
    again = inst.paper("pet", "stand-2", sheet=sheet, signatures=6)
    log.refuse(again, "duplicate_sheet", 409)
    with pytest.raises(EntryConflict) as e:
        log.reg.check(decode_entry(again), log.n)
    assert "'stand-1'" in str(e.value)  # names the batch the sheet was counted in
    # a batch id twice is still its own refusal, whatever its sheet
    log.refuse(inst.paper("pet", "stand-1", sheet="00" * 32, signatures=1), "duplicate_batch", 409)
    # another sheet of the same process, and the same sheet in another process
    log.add(inst.paper("pet", "stand-3", signatures=1))
    log.add(inst.paper("other", "stand-1", sheet=sheet, signatures=6))
    t = log.reg.tally("pet", log.n - 1)
    assert (t["paper_signatures"], t["reached"]) == (7, False)
    assert log.reg.state("pet").sheets[sheet] == "stand-1"
    assert log.reg.state("pet").paper[0][0] == first


# -- one final result, through the close ----------------------------------------------------


def test_one_final_result_counting_through_the_close() -> None:
    inst, log = Institution(), RegistryLog()
    manifest = log.add(inst.process("v", "vote"))
    for choice in ("b", "b", "a", "a", "a"):
        log.add(Citizen.enrol(inst, "v").ballot([choice]))
    second = manifest + 2  # through the second ballot
    early = log.reg.tally("v", second)
    assert early["winners"] == ["b"]
    # no interim result: before the close, not even one equal to the recount
    log.refuse(inst.result("v", second, early), "process_not_closed", 409)
    so_far = log.reg.tally("v", log.n - 1)
    log.refuse(inst.result("v", log.n - 1, so_far), "process_not_closed", 409)
    close = log.add(inst.close("v"))
    final = log.reg.tally("v", close)
    assert final["winners"] == ["a"]
    # after it, only through it: a true recount of a prefix is still refused
    log.refuse(inst.result("v", second, early), "bad_through", 422)
    log.refuse(inst.result("v", close - 1, log.reg.tally("v", close - 1)), "bad_through", 422)
    log.refuse(inst.result("v", close, dict(final, winners=["b"])), "wrong_result", 422)
    result = log.add(inst.result("v", close, final))
    # and once: neither a rewound result nor the same one again
    log.refuse(inst.result("v", second, early), "result_exists", 409)
    log.refuse(inst.result("v", close, final), "result_exists", 409)
    # a result from someone else is refused for its signature first
    with pytest.raises(SignatureError) as e:
        log.reg.check(decode_entry(Institution().result("v", close, final)), log.n)
    assert e.value.code == "bad_entry_signature"
    st = log.reg.state("v")
    assert [i for i, _ in st.results] == [result]
    outcome = outcome_of(st, log.n - 1, lambda through: log.reg.tally("v", through))
    assert (outcome.status, outcome.result_index, outcome.through) == ("published", result, close)
    assert outcome.tally["winners"] == ["a"]
