"""The demo goes through the real protocol, and its log passes a full audit."""

from __future__ import annotations

from pathlib import Path

from ledger import Log
from ledger.civic import CivicRecord
from ledger.demo import populate_demo
from ledger.export import export_tiles
from ledger.issuance import issued_count, open_roll
from verifier.audit import DirectorySource, audit


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
