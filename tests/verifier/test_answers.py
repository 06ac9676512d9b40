"""The institution's answers (docs/spec/answers.md): what a manifest
promises, the answer entry's rules, and where each promised answer stands."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.civic import Citizen, Institution, RegistryLog
from urne.verifier.citizen import authoring
from urne.verifier.civic.entries import decode_entry
from urne.verifier.civic.process import answers_due
from urne.verifier.errors import FormatError

BY = "2026-09-30T00:00:00Z"


def _petition(inst: Institution, **answers: Any) -> bytes:
    return inst.process(
        "pet", "petition", rule={"threshold": 2}, answers={"by": BY, "proposals": [], **answers}
    )


def _answer(inst: Institution, about: str | None, status: str, when: str, **kw: Any) -> bytes:
    return authoring.answer(
        kw.pop("pid", "pet"),
        kw.pop("key", inst.key),
        about,
        status,
        {"fr": "Réponse.", "en": "Answer."},
        when,
        **kw,
    )


def test_a_manifest_promises_answers_by_a_date() -> None:
    inst = Institution()
    p = decode_entry(_petition(inst)).body
    assert p.answers is not None and p.answers.by == BY  # type: ignore[union-attr]
    vote = decode_entry(inst.process("v", "vote", answers={"by": BY, "proposals": ["a", "c"]})).body
    assert vote.answers.proposals == ("a", "c")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("ptype", "answers", "words"),
    [
        ("vote", {"by": BY, "proposals": ["zz"]}, "unknown proposal"),
        ("vote", {"by": BY, "proposals": []}, "names the proposals"),
        ("vote", {"by": "2025-01-01T00:00:00Z", "proposals": ["a"]}, "after the process opens"),
        ("vote", {"by": BY}, "missing field"),
        ("petition", {"by": "soon", "proposals": []}, "UTC time"),
    ],
)
def test_a_promise_that_cannot_be_kept_is_refused(
    ptype: str, answers: dict[str, Any], words: str
) -> None:
    with pytest.raises(FormatError, match=words):
        decode_entry(Institution().process("x", ptype, answers=answers))


def test_answers_follow_the_rules_and_a_decision_is_final() -> None:
    inst, log = Institution(), RegistryLog()
    log.add(_petition(inst))
    log.add(_answer(inst, None, "in_study", "2026-03-01T10:00:00Z"))
    log.add(_answer(inst, None, "accepted", "2026-04-01T10:00:00Z", cost=120_000))
    log.refuse(_answer(inst, None, "rejected", "2026-05-01T10:00:00Z"), "already_answered", 409)
    st = log.reg.state("pet")
    assert [a.status for _, a in st.answers[None]] == ["in_study", "accepted"]
    assert st.answers[None][1][1].cost == 120_000


def test_an_answer_breaking_a_rule_is_refused() -> None:
    inst, log = Institution(), RegistryLog()
    log.add(_petition(inst))
    log.add(inst.process("v", "vote", answers={"by": BY, "proposals": ["a"]}))
    stranger = Institution()
    log.refuse(
        _answer(inst, None, "accepted", "2026-03-01T10:00:00Z", key=stranger.key),
        "bad_entry_signature",
    )
    log.refuse(_answer(inst, "a", "accepted", "2026-03-01T10:00:00Z"), "unknown_proposal")
    log.refuse(_answer(inst, None, "accepted", "2026-03-01T10:00:00Z", pid="v"), "bad_subject")
    log.refuse(_answer(inst, "zz", "accepted", "2026-03-01T10:00:00Z", pid="v"), "unknown_proposal")
    log.refuse(_answer(inst, None, "accepted", "2025-12-31T10:00:00Z"), "bad_answer_time")
    log.add(_answer(inst, None, "in_study", "2026-03-01T10:00:00Z"))
    log.refuse(_answer(inst, None, "accepted", "2026-02-01T10:00:00Z"), "bad_answer_time")
    with pytest.raises(FormatError):
        _answer(inst, None, "maybe", "2026-03-01T10:00:00Z")
    # answers may come after the close: an institution answers once it has counted
    log.add(inst.close("v"))
    log.add(_answer(inst, "a", "rejected", "2026-03-02T10:00:00Z", pid="v"))


def test_where_each_promised_answer_stands() -> None:
    inst, log = Institution(), RegistryLog()
    log.add(_petition(inst))
    log.add(inst.process("v", "vote", answers={"by": BY, "proposals": ["a", "b", "c"]}))
    pet = log.reg.state("pet")
    # an unreached petition owes no answer
    assert answers_due(pet, log.n - 1, "2027-01-01T00:00:00Z") == []
    for _ in range(2):
        log.add(Citizen.enrol(inst, "pet").ballot())
    (due,) = answers_due(pet, log.n - 1, "2026-06-01T00:00:00Z")
    assert (due.about, due.state) == (None, "pending")
    (due,) = answers_due(pet, log.n - 1, "2026-10-01T00:00:00Z")
    assert due.state == "overdue"
    at = log.add(_answer(inst, None, "in_study", "2026-09-29T23:59:59Z"))
    (due,) = answers_due(pet, log.n - 1, "2027-01-01T00:00:00Z")
    assert (due.state, due.status, due.index) == ("answered", "in_study", at)
    vote = log.reg.state("v")
    log.add(_answer(inst, "a", "accepted", "2026-06-01T00:00:00Z", pid="v"))
    log.add(_answer(inst, "b", "rejected", "2026-10-02T00:00:00Z", pid="v"))
    states = {d.about: d.state for d in answers_due(vote, log.n - 1, "2026-10-03T00:00:00Z")}
    assert states == {"a": "answered", "b": "late", "c": "overdue"}
    # counted through an earlier index, the later answers are not there yet
    early = {d.about: d.state for d in answers_due(vote, at, "2026-10-03T00:00:00Z")}
    assert early == {"a": "overdue", "b": "overdue", "c": "overdue"}
    # a process that promises nothing owes nothing
    log.add(inst.process("quiet", "vote"))
    assert answers_due(log.reg.state("quiet"), log.n - 1, "2030-01-01T00:00:00Z") == []


def test_a_sortition_takes_no_answers() -> None:
    from tests.support.sortition import pool_file, rule

    inst = Institution(officials=[])
    with pytest.raises(FormatError, match="no answers"):
        decode_entry(
            inst.process(
                "s",
                "sortition",
                rule=rule(pool_file(30), 5),
                proposals=[],
                opens="2024-01-01T00:00:00Z",
                answers={"by": BY, "proposals": []},
            )
        )
