"""The demo goes through the real protocol, and its log passes a full audit."""

from __future__ import annotations

from pathlib import Path

from urne.ledger.civic.record import CivicRecord
from urne.ledger.demo import populate_demo
from urne.ledger.issuance.roll import issued_count, open_roll
from urne.ledger.log import Log
from urne.ledger.log.export import export_tiles
from urne.verifier.check.audit import DirectorySource, audit


def test_demo_log_audits_clean(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    with Log.open(url, key_dir=tmp_path / "keys", origin="demo.example/log") as log:
        rec = CivicRecord(log)
        counts = populate_demo(rec, tmp_path / "keys", url, citizens=12)
        assert counts == {"demo-petition": 12, "demo-vote": 12, "demo-budget": 12}
        roll = open_roll(url)
        assert issued_count(roll, "demo-vote") == 12
        roll.dispose()
        assert rec.anomalies == []
        export_tiles(log, tmp_path / "tiles")
        report = audit(DirectorySource(tmp_path / "tiles"), log.verifier)
    assert report.ok, [f.message for f in report.findings]
    assert report.credentials_checked == 36
    assert report.tallies["demo-petition"]["total"] == 12 + 12  # online and on paper
    assert sum(report.tallies["demo-vote"]["counts"].values()) == 12
    assert report.tallies["demo-budget"]["spent"] <= 100000


def test_demo_descriptions_are_valid_processes() -> None:
    """What ``urne demo`` opens through the API: the same three processes, as
    process descriptions the operator CLI turns into signed manifests."""
    import random
    from datetime import UTC, datetime

    from urne.api.cli.institution import manifest_from_description
    from urne.ledger.demo import demo_choice, demo_descriptions
    from urne.ledger.issuance.issuer_key import IssuerKey
    from urne.verifier.citizen.signing import AuthorKey
    from urne.verifier.civic.entries import b64encode, decode_entry

    official = AuthorKey.generate()
    descs = demo_descriptions("-x1", datetime(2026, 5, 1, tzinfo=UTC), official.public_key)
    assert [d["id"] for d in descs] == ["demo-petition-x1", "demo-vote-x1", "demo-budget-x1"]
    issuer = {"public_key": b64encode(IssuerKey.generate().public_key), "threshold": 1, "shares": 1}
    for d in descs:
        manifest = decode_entry(manifest_from_description(d, AuthorKey.generate(), issuer)).obj
        assert manifest["opens"] == "2026-04-30T00:00:00Z"
        assert manifest["officials"][0]["key"] == b64encode(official.public_key)
    rnd = random.Random(1)
    assert demo_choice("petition", rnd) is None
    assert demo_choice("vote", rnd) in (["meadow"], ["weavers"], ["river"])
    assert demo_choice("budget", rnd)
