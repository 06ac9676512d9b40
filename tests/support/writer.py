"""A writer process for the crash and two-writer tests.

``python -m tests.support.writer URL KEY_DIR ORIGIN TAG COUNT THREADS`` appends
COUNT entries ``TAG/<n>`` from THREADS threads in batches of 1 to 20 (after a
line on stdin when ``URNE_WRITER_WAIT=1``) and prints
``<index> <entry>`` for each entry the moment its commit has returned, flushing
every line: whatever the parent reads was acknowledged.
"""

from __future__ import annotations

import os
import random
import sys
import threading

from urne.ledger.log import Log


def main() -> None:
    url, key_dir, origin, tag = sys.argv[1:5]
    count, threads = int(sys.argv[5]), int(sys.argv[6])
    log = Log.open(url, key_dir=key_dir, origin=origin)
    out = threading.Lock()
    print("ready", flush=True)
    if os.environ.get("URNE_WRITER_WAIT") == "1":
        sys.stdin.readline()  # a start barrier: the parent starts all writers at once

    def work(t: int) -> None:
        rnd = random.Random(f"{tag}/{t}")
        n, target = 0, count // threads
        while n < target:
            k = min(rnd.randint(1, 20), target - n)
            batch = [f"{tag}/{t}/{n + j}".encode() for j in range(k)]
            idxs = log.append_many(batch)
            with out:
                for i, e in zip(idxs, batch, strict=True):
                    sys.stdout.write(f"{i} {e.decode()}\n")
                sys.stdout.flush()
            n += k

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    log.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
