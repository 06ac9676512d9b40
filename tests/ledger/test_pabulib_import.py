"""A real participatory budget, imported from pabulib into a log as paper
batches, counted from the log: the outcome equals pabutools' (exact fractions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.civic import open_in
from tests.support.paths import VECTORS
from urne.ledger.civic.pabulib_import import pabulib_entries, pabulib_sheet
from urne.ledger.civic.record import CivicRecord
from urne.ledger.issuance.issuer_key import IssuerKey
from urne.ledger.log import Log
from urne.verifier.citizen.signing import AuthorKey, sign_entry
from urne.verifier.civic.entries import decode_entry
from urne.verifier.civic.pabulib import PabulibInstance, parse_pabulib_text

PB = VECTORS / "pabulib"
RULE_KEYS = {"greedy": "greedy", "mes": "mes", "mes-then-greedy": "mes_then_greedy"}


def _expected(name: str) -> dict[str, list[str]]:
    outcomes: dict[str, dict[str, list[str]]] = json.loads(
        (PB / "expected_outcomes.json").read_text()
    )["outcomes"]
    return outcomes[name]


def _import(
    instance: PabulibInstance, source: bytes, institution: AuthorKey, rule: str, **options: int
) -> list[bytes]:
    """The manifest and paper batches of a pabulib file, as process ``pb``."""
    return pabulib_entries(
        instance,
        source,
        process_id="pb",
        institution=institution,
        official=AuthorKey.generate(),
        official_name="Import office",
        issuer_public_key=IssuerKey.generate().public_key,
        outcome=rule,
        **options,
    )


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("Netherlands_Assen_2024.pb", "greedy"),
        ("Netherlands_Assen_2024.pb", "mes"),
        ("Netherlands_Assen_2024.pb", "mes-then-greedy"),
        ("Poland_Swiecie_2023.pb", "mes"),
        ("Poland_Warszawa_2019_Targowek_FabrycznyElsnerow_i_Utrata.pb", "greedy"),
    ],
)
def test_imported_budget_counts_like_pabutools(tmp_path: Path, name: str, rule: str) -> None:
    source = (PB / name).read_bytes()
    instance = parse_pabulib_text(source)
    institution = AuthorKey.generate()
    leaves = _import(instance, source, institution, rule)
    assert all(len(x) <= 0xFFFF for x in leaves)
    log = Log.open(
        f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="pb.example/log"
    )
    try:
        rec = CivicRecord(log, clock=lambda: datetime.now(UTC) + timedelta(minutes=5))
        open_in(rec, leaves[0])  # the manifest, after what authorises it
        for leaf in leaves[1:]:
            rec.append(leaf)
        close = rec.append(sign_entry({"v": 1, "kind": "close", "process": "pb"}, institution))
        tally = rec.tally("pb", close)
        assert tally["selected"] == _expected(name)[RULE_KEYS[rule]]
        assert tally["paper_ballots"] == len(instance.ballots)
        assert tally["spent"] <= tally["budget"]
        # The institution publishes it; the log accepts it because it equals the recount.
        rec.append(
            sign_entry(
                {"v": 1, "kind": "result", "process": "pb", "through": close, "tally": tally},
                institution,
            )
        )
        papers = [decode_entry(x) for x in leaves[1:]]
        assert {p.obj["official"] for p in papers} == {decode_entry(leaves[1]).obj["official"]}
    finally:
        log.close()


def test_a_file_in_many_batches_is_imported_whole_each_batch_its_own_sheet(tmp_path: Path) -> None:
    """A sheet counts once per process, so each batch of a file names its own
    part of it; a file cut into many batches is imported whole."""
    name = "Poland_Swiecie_2023.pb"
    source = (PB / name).read_bytes()
    instance = parse_pabulib_text(source)
    institution = AuthorKey.generate()
    leaves = _import(instance, source, institution, "mes", batch_size_limit=4096)
    papers = [decode_entry(x).obj for x in leaves[1:]]
    assert len(papers) > 10
    assert [p["sheet"] for p in papers] == [
        pabulib_sheet(source, k) for k in range(1, len(papers) + 1)
    ]
    assert len({p["sheet"] for p in papers}) == len(papers)
    log = Log.open(
        f"sqlite:///{tmp_path / 'l.db'}", key_dir=tmp_path / "k", origin="pb.example/log"
    )
    try:
        rec = CivicRecord(log, clock=lambda: datetime.now(UTC) + timedelta(minutes=5))
        open_in(rec, leaves[0])  # the manifest, after what authorises it
        for leaf in leaves[1:]:
            rec.append(leaf)
        close = rec.append(sign_entry({"v": 1, "kind": "close", "process": "pb"}, institution))
        tally = rec.tally("pb", close)
        assert tally["paper_ballots"] == len(instance.ballots)
        assert tally["selected"] == _expected(name)["mes"]
    finally:
        log.close()
