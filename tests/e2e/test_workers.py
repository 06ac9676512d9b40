"""``urne serve``'s credential worker processes live and end with it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.deployment import Deployment

pytestmark = pytest.mark.slow  # real servers and processes: the full run


def _children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == pid and stat[0] != "Z":
            out.append(int(entry))
    return out


def _wait_gone(pids: list[int], timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if Path(f"/proc/{p}").exists() and _state(p) != "Z"]
    return alive


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_credential_workers_start_and_end_with_the_service(deployment: Deployment) -> None:
    deployment.env["URNE_CREDENTIAL_PROCESSES"] = "2"
    server = deployment.serve()
    assert server.proc is not None
    workers = _children(server.proc.pid)
    assert len(workers) == 2, server.output()  # started before the service answers
    assert server.stop() == -signal.SIGTERM  # as uvicorn ends: by the signal
    assert _wait_gone(workers) == []

    # Killed outright, the service leaves no worker behind either.
    server = deployment.serve()
    assert server.proc is not None
    workers = _children(server.proc.pid)
    assert len(workers) == 2
    server.proc.kill()
    server.proc.wait()
    server.proc = None
    assert _wait_gone(workers) == []
