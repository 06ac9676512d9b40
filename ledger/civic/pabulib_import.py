"""Import a participatory budget in the pabulib format as a budget process.

The ``.pb`` file's ballots were not cast through Urne, so they enter the log as
what they are: paper batches, recorded and signed by an official named in the
manifest. Batches are cut so that every entry stays under the log's entry size
limit, and each names its own part of the file as its tally sheet (a sheet
counts once per process): :func:`pabulib_sheet`.
The outcome is then counted by the same code as any budget, and an observer
can recount it from the log alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from urne.ledger.errors import InvalidRequest
from urne.ledger.log.store import MAX_ENTRY_SIZE
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import EntrySigner, sign_entry
from urne.verifier.civic.entries import BUDGET_RULES, b64encode
from urne.verifier.civic.pabulib import PabulibInstance

__all__ = [
    "pabulib_description",
    "pabulib_entries",
    "pabulib_outcome",
    "pabulib_paper_batches",
    "pabulib_sheet",
]

_TIME = "%Y-%m-%dT%H:%M:%SZ"


def _int(value: Fraction, what: str) -> int:
    if value.denominator != 1:
        raise InvalidRequest(f"{what} {value} is not a whole amount", code="bad_pabulib_amount")
    return int(value)


def _text(value: str, language: str | None) -> str | dict[str, str]:
    return {language: value} if language else value


def pabulib_outcome(instance: PabulibInstance) -> str:
    """The counting rule closest to the file's own ``rule`` (``greedy`` unless
    it names the Method of Equal Shares)."""
    return "mes" if instance.meta.get("rule", "").startswith("equalshares") else "greedy"


def pabulib_description(
    instance: PabulibInstance,
    *,
    process_id: str,
    outcome: str,
    opens: datetime,
    closes: datetime,
    officials: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """The budget of ``instance`` as a process description (docs/guides/operating.md,
    what ``urne process open`` takes): its projects with their costs, its
    budget and ballot length limits, counted by ``outcome``."""
    if outcome not in BUDGET_RULES:
        raise InvalidRequest(f"outcome must be one of {BUDGET_RULES}", code="bad_rule")
    meta = instance.meta
    lang = meta.get("language") or None
    proposals: list[dict[str, Any]] = []
    for p in instance.projects:
        proposals.append(
            {
                "id": p.project_id,
                "title": _text(p.fields.get("name") or f"Project {p.project_id}", lang),
                "body": _text(p.fields.get("description") or p.fields.get("name") or "-", lang),
                "cost": _int(p.cost, f"cost of project {p.project_id}"),
            }
        )
    n = len(proposals)
    max_len = meta.get("max_length")
    described = ", ".join(
        f"{k}: {meta[k]}"
        for k in ("unit", "instance", "date_begin", "date_end", "rule")
        if k in meta
    )
    return {
        "id": process_id,
        "type": "budget",
        "title": _text(meta.get("description") or f"Participatory budget {process_id}", lang),
        "text": _text(f"Imported from pabulib ({described}).", lang),
        "opens": opens.strftime(_TIME),
        "closes": closes.strftime(_TIME),
        "officials": [dict(o) for o in officials],
        "proposals": proposals,
        "rule": {
            "budget": _int(instance.budget, "budget"),
            "outcome": outcome,
            "min_projects": min(int(meta.get("min_length", "0")), n),
            "max_projects": min(int(max_len), n) if max_len else None,
            "min_share_percent": 0,
            "capped": False,
            "revoting": False,
        },
    }


def pabulib_paper_batches(
    instance: PabulibInstance,
    source: bytes,
    *,
    process_id: str,
    official: EntrySigner,
    batch_size_limit: int = MAX_ENTRY_SIZE - 1024,
) -> list[bytes]:
    """The file's ballots as paper batches signed by ``official``, each under
    the entry size limit, batch ``k`` naming ``pabulib_sheet(source, k)``."""
    return [
        authoring.paper_batch(
            process_id,
            official,
            f"pabulib-{k:05d}",
            pabulib_sheet(source, k),
            ballots=[sorted(b) for b in chunk],
        )
        for k, chunk in enumerate(_chunks(instance.ballots, batch_size_limit), 1)
    ]


def pabulib_sheet(source: bytes, batch: int) -> str:
    """The tally sheet of the ``batch``-th batch (from 1) of a pabulib file:
    ``SHA-256("urne/v1/pabulib-sheet\n" || SHA-256(file) || "\n" || batch)``
    in hex, the file's hash in lower-case hex and ``batch`` in decimal.

    Anyone holding the file recomputes every batch's sheet, each batch's is its
    own (a sheet counts once per process), and the tag keeps these apart from
    the hash of any scanned sheet."""
    file_hash = hashlib.sha256(source).hexdigest()
    return hashlib.sha256(f"urne/v1/pabulib-sheet\n{file_hash}\n{batch}".encode()).hexdigest()


def pabulib_entries(
    instance: PabulibInstance,
    source: bytes,
    *,
    process_id: str,
    institution: EntrySigner,
    official: EntrySigner,
    official_name: str,
    issuer_public_key: bytes,
    outcome: str,
    opens: datetime | None = None,
    closes: datetime | None = None,
    batch_size_limit: int = MAX_ENTRY_SIZE - 1024,
) -> list[bytes]:
    """The manifest and the paper batches for ``instance`` (parsed from ``source``)."""
    now = datetime.now(UTC).replace(microsecond=0)
    desc = pabulib_description(
        instance,
        process_id=process_id,
        outcome=outcome,
        opens=opens or now - timedelta(minutes=1),
        closes=closes or now + timedelta(days=30),
        officials=[{"name": official_name, "key": b64encode(official.public_key)}],
    )
    manifest = sign_entry(
        {
            "v": 1,
            "kind": "process",
            **{k: desc[k] for k in ("id", "type", "title", "text", "opens", "closes")},
            "institution": b64encode(institution.public_key),
            "issuer": {"public_key": b64encode(issuer_public_key), "threshold": 1, "shares": 1},
            "officials": desc["officials"],
            "proposals": [
                authoring.proposal(p["id"], p["title"], p["body"], cost=p["cost"])
                for p in desc["proposals"]
            ],
            "rule": desc["rule"],
        },
        institution,
    )
    batches = pabulib_paper_batches(
        instance, source, process_id=process_id, official=official,
        batch_size_limit=batch_size_limit,
    )  # fmt: skip
    return [manifest, *batches]


def _chunks(ballots: Sequence[frozenset[str]], limit: int) -> list[list[frozenset[str]]]:
    """Consecutive runs of ballots whose JSON stays under ``limit`` bytes."""
    out: list[list[frozenset[str]]] = [[]]
    size = 0
    for b in ballots:
        cost = 3 + sum(len(p) + 3 for p in b)  # ["a","b"], and a comma
        if out[-1] and size + cost > limit:
            out.append([])
            size = 0
        out[-1].append(b)
        size += cost
    return out if out[-1] else out[:-1]
