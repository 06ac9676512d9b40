"""Demo data: an institution, a petition, a vote and a participatory budget,
with a crowd of simulated citizens who take part through the real protocol
(eligibility roll, blind issuance, signed ballots), so a newcomer sees the whole
flow at once. Only for an empty log; never for production data.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from urne.ledger.civic.authority import register_institution, reserve_process
from urne.ledger.civic.record import CivicRecord
from urne.ledger.issuance.issue import issue
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.roll import import_roll, open_roll
from urne.verifier.citizen import authoring
from urne.verifier.citizen.blinding import Pseudonym, blind, unblind
from urne.verifier.citizen.signing import AuthorKey, sign_entry
from urne.verifier.civic.entries import b64encode
from urne.verifier.credentials.credential import credential_message

__all__ = ["budget_choice", "demo_choice", "demo_descriptions", "populate_demo"]

_T = "%Y-%m-%dT%H:%M:%SZ"


def _proposal(pid: str, title: str, body: str, cost: int | None = None) -> dict[str, Any]:
    return authoring.proposal(pid, {"en": title}, {"en": body}, cost=cost)


_PROCESSES: list[dict[str, Any]] = [
    {
        "id": "demo-petition",
        "type": "petition",
        "title": {"en": "Open the library on Sundays"},
        "text": {"en": "We ask the city council to open the central library on Sundays."},
        "proposals": [],
        "rule": {"threshold": 40},
    },
    {
        "id": "demo-vote",
        "type": "vote",
        "title": {"en": "Name of the new park"},
        "text": {"en": "Choose one name for the park by the river."},
        "proposals": [
            _proposal("meadow", "Meadow Park", "After the old meadows."),
            _proposal("weavers", "Weavers' Garden", "After the town's weavers."),
            _proposal("river", "Riverside", "After the river."),
        ],
        "rule": {"method": "single", "min": 1, "max": 1, "revoting": True},
    },
    {
        "id": "demo-budget",
        "type": "budget",
        "title": {"en": "Neighbourhood budget 2026"},
        "text": {"en": "Choose projects within 100,000."},
        "proposals": [
            _proposal("trees", "Street trees", "200 new trees.", 30000),
            _proposal("lights", "Safer lighting", "LED lights on dark streets.", 45000),
            _proposal("play", "Playground", "A playground in the square.", 60000),
            _proposal("bikes", "Bike racks", "Racks at every school.", 10000),
            _proposal("benches", "Benches", "Benches along the river.", 8000),
        ],
        "rule": {
            "budget": 100000,
            "outcome": "mes",
            "min_projects": 1,
            "max_projects": None,
            "min_share_percent": 0,
            "capped": True,
            "revoting": False,
        },
    },
]


#: The institution that opens the demo's processes (its key is made and
#: forgotten by :func:`populate_demo`).
DEMO_TOWN_HALL = "demo-town-hall"


def populate_demo(
    record: CivicRecord,
    key_dir: Path,
    database_url: str,
    *,
    citizens: int = 60,
    seed: int = 2026,
    progress: Callable[[int, int], None] | None = None,
    spare: int = 0,
    spare_codes: dict[str, list[tuple[str, str]]] | None = None,
) -> dict[str, int]:
    """Open the three demo processes and let ``citizens`` people take part.
    Returns how many entries each process received. ``spare`` more people
    per process are put on its roll without taking part; their ``(person,
    code)`` go to ``spare_codes``, for someone to take part with
    (``urne-wallet``)."""
    rnd = random.Random(seed)
    institution, official = AuthorKey.generate(), AuthorKey.generate()
    keyring = IssuerKeyring(key_dir)
    roll = open_roll(database_url)
    now = datetime.now(UTC).replace(microsecond=0)
    counts: dict[str, int] = {}
    total, done = citizens * len(_PROCESSES), 0
    register_institution(record, DEMO_TOWN_HALL, institution.public_key)
    for spec in _PROCESSES:
        pid = spec["id"]
        public_key = keyring.create(pid)
        issuer = {"public_key": b64encode(public_key), "threshold": 1, "shares": 1}
        reserve_process(record, pid, institution.public_key, issuer)
        record.append(
            sign_entry(
                {
                    "v": 1,
                    "kind": "process",
                    **spec,
                    "institution": b64encode(institution.public_key),
                    "opens": (now - timedelta(days=1)).strftime(_T),
                    "closes": (now + timedelta(days=60)).strftime(_T),
                    "issuer": issuer,
                    "officials": [
                        {"name": "Town hall desk", "key": b64encode(official.public_key)}
                    ],
                },
                institution,
            )
        )
        people = [(f"resident-{i:04d}",) for i in range(citizens + spare)]
        codes = import_roll(roll, keyring, pid, people)
        all_codes = list(codes.codes.items())
        if spare_codes is not None:  # on the roll, left for a person to use
            spare_codes[pid] = all_codes[citizens:]
        n = 0
        # Submitted together, not one receipt at a time: the log commits at a
        # fixed cadence, and a crowd arrives in the same intervals.
        pending: list[Future[int]] = []
        for _, code in all_codes[:citizens]:
            pseudonym = Pseudonym.generate()
            state, blinded = blind(credential_message(pid, pseudonym.public_key))
            credential = unblind(state, issue(roll, keyring, pid, code, blinded), public_key)
            if spec["type"] == "petition":
                leaf = authoring.signature(pid, pseudonym, credential)
            elif spec["type"] == "vote":
                leaf = authoring.ballot(
                    pid, pseudonym, credential, [rnd.choice(["meadow", "weavers", "river"])]
                )
            else:
                leaf = authoring.ballot(pid, pseudonym, credential, budget_choice(rnd, spec))
            pending.append(record.submit(leaf))
            n += 1
            done += 1
            if progress is not None:
                progress(done, total)
        for f in pending:
            f.result()
        counts[pid] = n
    record.append(
        authoring.paper_batch("demo-petition", official, "street-stand-1", "0" * 64, signatures=12)
    )
    roll.dispose()
    return counts


def demo_descriptions(suffix: str, now: datetime, official_key: bytes) -> list[dict[str, Any]]:
    """The three demo processes as process descriptions (docs/guides/operating.md), their
    ids ending in ``suffix``, open from a day before ``now`` for 60 days, with
    one official (``official_key``) who may record paper batches."""
    out = []
    for spec in _PROCESSES:
        out.append(
            {
                **spec,
                "id": f"{spec['id']}{suffix}",
                "proposals": [
                    {k: v for k, v in p.items() if k != "fingerprint"} for p in spec["proposals"]
                ],
                "opens": (now - timedelta(days=1)).strftime(_T),
                "closes": (now + timedelta(days=60)).strftime(_T),
                "officials": [{"name": "Town hall desk", "key": b64encode(official_key)}],
            }
        )
    return out


def demo_choice(
    process_type: str, rnd: random.Random, budget: Mapping[str, Any] | None = None
) -> list[str] | None:
    """A simulated citizen's choice in a demo process (``None``: a petition).
    ``budget``: the budget's description, if not the built-in one."""
    if process_type == "petition":
        return None
    if process_type == "vote":
        return [rnd.choice(["meadow", "weavers", "river"])]
    return budget_choice(rnd, budget or _PROCESSES[2])


def budget_choice(rnd: random.Random, budget: Mapping[str, Any]) -> list[str]:
    """An approval ballot a simulated citizen may cast in ``budget`` (a process
    description or manifest): its projects in a random order, each taken with
    probability 0.6 while the ballot stays within the budget and its largest
    length, then topped up to its smallest length (within the budget if it is
    capped) with the cheapest projects left."""
    rule = budget["rule"]
    costs = {p["id"]: int(p["cost"]) for p in budget["proposals"]}
    most = rule.get("max_projects") or len(costs)
    least = max(1, rule.get("min_projects") or 0)
    order = rnd.sample(list(costs), len(costs))
    chosen: list[str] = []
    spent = 0
    for pid in order:
        if len(chosen) < most and spent + costs[pid] <= rule["budget"] and rnd.random() < 0.6:
            chosen.append(pid)
            spent += costs[pid]
    for pid in sorted(order, key=costs.__getitem__):  # the cheapest first
        if len(chosen) >= least:
            break
        if pid not in chosen and not (rule.get("capped") and spent + costs[pid] > rule["budget"]):
            chosen.append(pid)
            spent += costs[pid]
    return chosen
