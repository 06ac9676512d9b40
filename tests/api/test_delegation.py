"""Delegation on a served Urne, as citizens use it with ``urne-wallet``: a
delegate stands, others delegate and revoke, a direct vote overrides; the
open data recounts it, the audit passes; and a result that counts a
delegated weight twice is caught with evidence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.civic import Citizen
from tests.support.evidence import audit_catches
from tests.support.service import Served, served_app
from urne.ledger.civic.opendata import entries_jsonl, open_export
from urne.verifier.check.audit import HttpSource, audit
from urne.verifier.check.opendata import check_export
from urne.verifier.citizen import authoring
from urne.verifier.citizen.cli import app as wallet_app

runner = CliRunner()
RULE = {"method": "single", "min": 1, "max": 1, "revoting": True, "delegation": True}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with served_app(tmp_path) as s:
        yield s


def _wallet(w: Path, *args: str, code: int = 0) -> str:
    r = runner.invoke(wallet_app, [*args, "--wallet", str(w)])
    assert r.exit_code == code, r.output
    return r.output


def test_citizens_delegate_and_the_count_follows(served: Served, tmp_path: Path) -> None:
    codes = served.open("city", "vote", people=5, rule=RULE)
    wallets = [tmp_path / f"w{k}" for k in range(5)]
    for w, code in zip(wallets, codes, strict=True):
        _wallet(
            w, "join", served.url, "city", "--code", code, "--log-key", served.log.verifier.vkey
        )
    ana, bob, cyd, dan, eve = wallets
    out = _wallet(ana, "stand", "city", "--name", "Ana, for the cycle lanes")
    key = out.split("urne-wallet delegate city ")[1].split()[0]
    assert "you stand as a delegate in city" in out
    assert "delegated to" in _wallet(bob, "delegate", "city", key)
    _wallet(cyd, "delegate", "city", key)
    _wallet(dan, "delegate", "city", key)
    _wallet(eve, "delegate", "city", "AAAA", code=2)  # not a key
    _wallet(eve, "delegate", "city", code=2)  # neither a key nor --revoke
    out = _wallet(eve, "delegate", "city", "A" * 43 + "=", code=1)  # nobody stands there
    assert "unknown_delegate" in out
    _wallet(ana, "vote", "city", "a")
    _wallet(dan, "vote", "city", "b")  # Dan's own vote overrides his delegation
    assert "revoked" in _wallet(cyd, "delegate", "city", "--revoke")
    t = served.civic.tally("city", served.log.size - 1)
    assert t["counts"] == {"a": 2, "b": 1, "c": 0}  # Ana and Bob; Dan
    assert t["delegated"] == 1 and t["delegates"][key]["weight"] == 2
    report = check_export(
        list(entries_jsonl(open_export(served.civic, "city"))), served.log.verifier
    )
    assert report.tally["counts"] == t["counts"]
    # the institution closes and publishes over HTTP; the audit recounts it
    close = _post(served, served.inst.close("city"))
    _post(served, served.inst.result("city", close, served.civic.tally("city", close)))
    _wallet(bob, "delegate", "city", "--revoke", code=1)  # closed: nothing more
    r = audit(HttpSource(served.url), served.log.verifier)
    assert r.ok, r.findings
    assert r.results_compared == 1 and r.tallies["city"]["delegated"] == 1


def _post(served: Served, entry: bytes) -> int:
    import httpx2

    r = httpx2.post(
        served.url + "/entries", content=entry, headers={"content-type": "application/json"}
    )
    assert r.status_code in (200, 201), r.text
    return int(r.json()["index"])


def test_a_result_counting_a_delegated_weight_twice_is_caught(
    served: Served, tmp_path: Path
) -> None:
    served.open("city", "vote", people=2, rule=RULE)
    inst = served.inst
    ana, bob = Citizen.enrol(inst, "city"), Citizen.enrol(inst, "city")
    served.civic.append(authoring.delegate("city", ana.pseudonym, ana.credential, "Ana"))
    served.civic.append(
        authoring.delegation("city", bob.pseudonym, bob.credential, ana.pseudonym.public_key)
    )
    served.civic.append(ana.ballot(["a"]))
    close = served.civic.append(inst.close("city"))
    honest = served.civic.tally("city", close)
    assert honest["counts"]["a"] == 2
    twice = json.loads(json.dumps(honest))
    twice["counts"]["a"], twice["total"]["a"] = 3, 3  # Bob's delegated vote counted again
    leaves = [*served.log.entries(0, served.log.size), inst.result("city", close, twice)]
    signer = served.log.signer
    audit_catches(tmp_path, signer, leaves, 7, "wrong_result")
