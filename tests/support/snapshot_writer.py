"""A process that writes the civic record's snapshot over and over, for the
test that kills it mid-write.

``python -m tests.support.snapshot_writer URL`` (the log's secret key in the
environment, ``URNE_TEST_LOG_SKEY``) opens the log, replays it, then writes the
snapshot at each of its checkpoints in increasing size, printing ``saved
<size>`` once each write has committed."""

from __future__ import annotations

import os
import sys

from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.tlog.note import Ed25519Signer


def main() -> None:
    signer = Ed25519Signer.from_skey(os.environ["URNE_TEST_LOG_SKEY"])
    log = Log.open(sys.argv[1], signer=signer)
    rec = CivicRecord(log, snapshot_every=10**9)
    print("ready", flush=True)
    for size in range(1, rec.size + 1):
        root = log.checkpoint_at(size).root
        if rec.save_snapshot(size, root) == size:
            print(f"saved {size}", flush=True)
    log.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
