"""Entry formats: canonical JSON, schemas, author signatures, fingerprints."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.civic import Citizen, Institution, proposal
from tests.support.paths import load_vector
from urne.verifier.citizen.signing import AuthorKey, sign_entry
from urne.verifier.civic.canonical import canonical, fingerprint, parse_canonical
from urne.verifier.civic.entries import (
    Ballot,
    Process,
    decode_entry,
    signing_bytes,
    verify_entry_signature,
)
from urne.verifier.errors import FormatError, SignatureError


def test_decidim_fingerprints() -> None:
    v = load_vector("decidim/fingerprints.json")
    assert len(v["cases"]) >= 4
    for case in v["cases"]:
        assert canonical(case["fields"]) == case["source"].encode("utf-8")
        assert fingerprint(case["fields"]) == case["fingerprint"], case["name"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b'{"b":1,"a":2}', "not_canonical"),  # key order
        (b'{"a": 1}', "not_canonical"),  # white space
        (b'{"a":"\\u00e9"}', "not_canonical"),  # needless escape
        (b'{"a":1.5}', "not_canonical"),  # floats never
        (b'{"a":1,"a":1}', "not_canonical"),  # duplicate key
        (b'{"a":9007199254740993}', "not_canonical"),  # beyond 2**53
        (b"[1]", "malformed_json"),
        (b'{"a":NaN}', "malformed_json"),
        (b"{", "malformed_json"),
        (b'{"a":"\xff"}', "malformed_json"),
    ],
)
def test_non_canonical_json_is_refused(data: bytes, code: str) -> None:
    with pytest.raises(FormatError) as e:
        parse_canonical(data)
    assert e.value.code == code


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
        lambda kids: st.lists(kids) | st.dictionaries(st.text(), kids),
        max_leaves=20,
    )
)
def test_canonical_round_trip(value: object) -> None:
    obj = {"x": value}
    assert parse_canonical(canonical(obj)) == obj


def test_process_manifest_decodes_and_is_self_signed() -> None:
    inst = Institution()
    e = decode_entry(inst.process("p1", "vote"))
    assert isinstance(e.body, Process)
    assert e.body.type == "vote" and [p.id for p in e.body.proposals] == ["a", "b", "c"]
    verify_entry_signature(e, inst.key.public_key)
    with pytest.raises(SignatureError) as err:
        verify_entry_signature(e, AuthorKey.generate().public_key)
    assert err.value.code == "bad_entry_signature"


def test_signature_is_domain_separated_by_kind() -> None:
    key = AuthorKey.generate()
    close = decode_entry(sign_entry({"v": 1, "kind": "close", "process": "p1"}, key))
    assert signing_bytes(close.obj).startswith(b"urne/v1/close\n")
    # The same signature presented on another kind with the same fields fails.
    forged = dict(close.obj, kind="result", through=0, tally={})
    with pytest.raises(SignatureError):
        verify_entry_signature(decode_entry(canonical(forged)), key.public_key)


def test_ballot_fields() -> None:
    inst = Institution()
    inst.process("p1", "vote")
    c = Citizen.enrol(inst, "p1")
    e = decode_entry(c.ballot(["a"]))
    assert isinstance(e.body, Ballot)
    assert e.body.choice == ("a",) and e.body.seq == 0
    assert e.body.pseudonym == c.pseudonym.public_key
    verify_entry_signature(e, c.pseudonym.public_key)


def _mutate(leaf: bytes, **changes: object) -> bytes:
    obj = json.loads(leaf)
    obj.update(changes)
    return canonical({k: v for k, v in obj.items() if v is not None})


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"v": 2}, "bad_version"),
        ({"kind": "vote"}, "bad_kind"),
        ({"extra": 1}, "unknown_field"),
        ({"seq": None}, "missing_field"),
        ({"pseudonym": "AAAA"}, "bad_length"),
        ({"credential": "not base64!"}, "bad_base64"),
        ({"sig": "AA=="}, "bad_length"),
        ({"process": "has space"}, "bad_identifier"),
        ({"process": "trailing\n"}, "bad_identifier"),
        ({"choice": ["a", "a"]}, "duplicate_choice"),
    ],
)
def test_malformed_ballots_are_refused(changes: dict[str, object], code: str) -> None:
    inst = Institution()
    inst.process("p1", "vote")
    leaf = Citizen.enrol(inst, "p1").ballot(["a"])
    with pytest.raises(FormatError) as e:
        decode_entry(_mutate(leaf, **changes))
    assert e.value.code == code


def test_manifest_refuses_a_wrong_fingerprint() -> None:
    inst = Institution()
    bad = proposal("a", "Option A")
    bad["fingerprint"] = "00" * 32
    with pytest.raises(FormatError) as e:
        inst.process("p1", "vote", proposals=[bad, proposal("b", "B")])
    assert e.value.code == "bad_fingerprint"


def test_manifest_refuses_impossible_rules() -> None:
    inst = Institution()
    with pytest.raises(FormatError, match="min <= max <= 3"):
        inst.process("p1", "vote", rule={"method": "k-of-n", "min": 1, "max": 4, "revoting": False})
    with pytest.raises(FormatError, match="single-choice"):
        inst.process("p2", "vote", rule={"method": "single", "min": 1, "max": 2, "revoting": False})
