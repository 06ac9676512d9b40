"""Kill a writer with SIGKILL at random moments during appends, many times.

After every kill: every acknowledged entry is at its index, unaltered; the
stored tree matches the last signed checkpoint (and every earlier one); and the
next writer carries on appending from there.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.checks import assert_log_intact
from tests.support.paths import ROOT
from urne.ledger.log import Log

ROUNDS = int(os.environ.get("URNE_CRASH_ROUNDS", "40"))


def _run_and_kill(url: str, keys: Path, tag: str, rnd: random.Random) -> dict[int, bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.writer",
            url,
            str(keys),
            "crash.example/log",
            tag,
            "100000",
            "4",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    # Kill sometimes while it starts up, mostly in the middle of appends.
    if rnd.random() < 0.15:
        time.sleep(rnd.uniform(0.0, 0.5))
    else:
        assert proc.stdout.readline() == "ready\n"
        time.sleep(rnd.uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the writer ended before it was killed"
    acked: dict[int, bytes] = {}
    for line in out.splitlines():
        if line in ("ready", "done"):
            continue
        idx, entry = line.split(" ", 1)
        assert int(idx) not in acked, f"index {idx} acknowledged twice"
        acked[int(idx)] = entry.encode()
    return acked


def _crash_loop(url: str, keys: Path, rounds: int) -> None:
    rnd = random.Random(int(os.environ.get("URNE_CRASH_SEED", "2026")))
    acknowledged: dict[int, bytes] = {}
    sizes = []
    for r in range(rounds):
        acknowledged.update(_run_and_kill(url, keys, f"r{r}", rnd))
        with Log.open(url, key_dir=keys, origin="crash.example/log") as log:
            # Checkpoints older than the previous round were checked then; the
            # previous size's checkpoint is checked again, for consistency.
            since = sizes[-1] if sizes else 0
            sizes.append(assert_log_intact(log, acknowledged, since=since))
            # Appends continue after the crash, at the next index.
            i = log.append(f"after r{r}".encode())
            assert i == sizes[-1]
            acknowledged[i] = f"after r{r}".encode()
    assert sizes == sorted(sizes)
    # The kills did land in the middle of work: most rounds acknowledged something.
    assert len(acknowledged) > 2 * rounds


@pytest.mark.slow
def test_sigkill_during_appends_sqlite(tmp_path: Path) -> None:
    _crash_loop(f"sqlite:///{tmp_path / 'log.db'}", tmp_path / "keys", ROUNDS)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_during_appends_postgres(tmp_path: Path, pg_url: str) -> None:
    _crash_loop(pg_url, tmp_path / "keys", max(5, ROUNDS // 2))
