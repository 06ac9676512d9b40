#!/usr/bin/env python3
"""Start-up of the civic record on a large log: replaying every entry, against
starting from the snapshot (``urne.ledger.civic.snapshot``) at its last
checkpoint.

What one run does, on SQLite (``--url`` for PostgreSQL):

1. **Build** the log of bench/audit_bench.py: a petition of ``--n`` signatures,
   each by a fresh pseudonym, its close and its result. With
   ``--real-credentials`` each carries its real credential (generated once and
   cached in ``bench/results/``, about 700 a second on two cores); by default
   every signature carries one and the same credential, made once: start-up
   never checks credentials (the service verified each before sequencing it;
   the audit verifies them all), so what is timed is the same, and a million
   signatures are generated in about two minutes instead of twenty-five.
2. **Replay**: a :class:`CivicRecord` opened on it with no snapshot, timed: every
   entry decoded, its signature checked, the rules applied (what start-up cost
   before snapshots, and still costs when a snapshot is refused).
3. **Snapshot**: ``save_snapshot()`` at the last checkpoint, timed (the service
   writes one in the background every 50,000 entries and when it stops).
4. **Start**: a new :class:`CivicRecord` on the reopened log, timed: the
   snapshot read, its tag and root checked, its entries and ballots replayed
   through the rules. Its tallies must equal the replay's.

Prints the three times, the snapshot's size and the ratio, against the goal of
a start-up within 5 s at 1,000,000 entries.

Run: ``python bench/startup_bench.py [--n 1000000] [--url URL]``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import audit_bench as ab

from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.citizen import authoring
from urne.verifier.citizen.blinding import Pseudonym
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import CREDENTIAL_DST, credential_message

GOAL_S = 5.0
CHUNK = 20_000


def _derive(seed: int, label: str) -> bytes:
    """As bench/audit_bench.py derives its pseudonyms."""
    return hashlib.sha256(f"urne audit bench {seed} {label}".encode()).digest()


def _one_credential(job: tuple[int, int, int]) -> list[bytes]:
    """Signatures ``[start, stop)``, each by its own pseudonym, all with the
    credential of pseudonym 0."""
    seed, start, stop = job
    keys = ab.Keys(seed)
    first = Pseudonym.from_seed(_derive(seed, "pseudonym 0"))
    cred = bls.current_backend().sign(
        keys.issuer_sk, credential_message(ab.PID, first.public_key), CREDENTIAL_DST
    )
    return [
        authoring.signature(ab.PID, Pseudonym.from_seed(_derive(seed, f"pseudonym {i}")), cred)
        for i in range(start, stop)
    ]


def one_credential(n: int, seed: int, workers: int) -> list[bytes]:
    jobs = [(seed, s, min(s + CHUNK, n)) for s in range(0, n, CHUNK)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return [leaf for part in pool.imap(_one_credential, jobs) for leaf in part]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="signatures (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gen-workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--url", help="a database URL (default: a new SQLite file)")
    ap.add_argument(
        "--real-credentials", action="store_true", help="each signature its own credential"
    )
    args = ap.parse_args()

    keys = ab.Keys(args.seed)
    t0 = time.perf_counter()
    if args.real_credentials:
        leaves, _ = ab.signatures(args.n, args.seed, args.gen_workers, use_cache=True)
    else:
        leaves = one_credential(args.n, args.seed, args.gen_workers)
    print(f"{args.n:,} signatures ready in {time.perf_counter() - t0:.0f} s")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'startup.db'}"
        built = ab.build_log(url, keys, leaves, 10_000)
        del leaves
        print(
            f"log: {args.n:,} signatures and 5 other entries, built in {built:.1f} s "
            f"({url.split(':')[0]})"
        )

        with Log.open(url, signer=keys.log) as log:
            t0 = time.perf_counter()
            rec = CivicRecord(log)
            replay = time.perf_counter() - t0
            assert rec.started_from == "the log (no snapshot)", rec.started_from
            want = {pid: rec.tally(pid) for pid in rec.process_ids()}
            t0 = time.perf_counter()
            size = rec.save_snapshot()
            write = time.perf_counter() - t0
            kept = log.snapshot()
            assert kept is not None and kept[0] == size == rec.size
            del rec  # a restarted service holds one record, not two
            gc.collect()
        with Log.open(url, signer=keys.log) as log:
            t0 = time.perf_counter()
            again = CivicRecord(log)
            start = time.perf_counter() - t0
            assert again.started_from == f"the snapshot at size {size}", again.started_from
            assert {pid: again.tally(pid) for pid in again.process_ids()} == want

    print(f"replay of the whole log (no snapshot): {replay:.2f} s")
    print(f"snapshot written at size {size:,}: {write:.2f} s, {len(kept[1]) / 1e6:.1f} MB")
    print(f"start from the snapshot: {start:.2f} s ({replay / start:.0f}x faster than the replay)")
    verdict = "met" if start <= GOAL_S else "MISSED"
    print(f"goal: within {GOAL_S:.0f} s at 1,000,000 entries ({args.n:,} here): {verdict}")


if __name__ == "__main__":
    main()
