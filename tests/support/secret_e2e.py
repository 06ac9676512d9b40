"""A secret process's set-up through the real console scripts, as an
institution and its trustees run it: the trustees' keys (``urne-trustee
keygen``), the process opened with its roll (``urne``), the ceremony (each
trustee its own ``urne-trustee ceremony``, at once) and its end (``urne
process election-key``)."""

from __future__ import annotations

import csv
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from tests.support.deployment import Deployment


def institution_key(dep: Deployment) -> Path:
    """The institution's key, registered by the operator."""
    key = dep.workdir / "town.key"
    out = dep.urne("institution", "keygen", "town-hall", "--out", key).stdout
    public = next(x.split()[-1] for x in out.splitlines() if x.startswith("public key:"))
    dep.urne("institution", "add", "town-hall", public)
    return key


def trustees(dep: Deployment, pid: str, n: int = 3) -> list[dict[str, str]]:
    """``n`` trustees, each on "their own machine" (their own secret file):
    the public objects the manifest lists."""
    out = []
    for i in range(1, n + 1):
        secret, pub = dep.workdir / f"trustee{i}.secret", dep.workdir / f"trustee{i}.json"
        dep.run(
            "urne-trustee", "keygen", "--process", pid, "--name", f"Trustee {i}",
            "--out", secret, "--public", pub,
        )  # fmt: skip
        assert secret.stat().st_mode & 0o077 == 0, "a trustee's secret file is private"
        out.append(json.loads(pub.read_text()))
    return out


def open_with_roll(
    dep: Deployment,
    url: str,
    key: Path,
    pid: str,
    people: list[str],
    trustees: list[dict[str, str]],
    **fields: Any,
) -> dict[str, str]:
    """The secret process ``pid`` (its description's ``fields``: type, title,
    text, proposals, rule), open since yesterday for a month, with
    ``trustees`` (threshold 2), opened; and its roll: each person's code."""
    now = datetime.now(UTC).replace(microsecond=0)
    desc = dep.workdir / "secret.json"
    desc.write_text(
        json.dumps(
            {
                "id": pid,
                "opens": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "closes": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "secret": {"threshold": 2, "trustees": trustees},
                **fields,
            }
        ),
        encoding="utf-8",
    )
    dep.urne("process", "open", desc, "--server", url, "--key", key)
    codes_file, roll = dep.workdir / "codes.csv", dep.workdir / "people.csv"
    roll.write_text("person\n" + "\n".join(people) + "\n", encoding="utf-8")
    dep.urne("roll", "import", pid, roll, "--server", url, "--key", key, "--codes-out", codes_file)
    with open(codes_file, newline="", encoding="utf-8") as fh:
        return {row["person"]: row["code"] for row in csv.DictReader(fh)}


def serve_and_open(
    dep: Deployment, pid: str, people: list[str], **fields: Any
) -> tuple[str, httpx2.Client, str, Path, dict[str, str]]:
    """A service started, the institution's key, three trustees' keys, and the
    secret process ``pid`` (``fields``: see :func:`open_with_roll`) opened with
    its roll: ``(url, client, log key, institution key, codes)``."""
    url = dep.serve().url
    http = httpx2.Client(base_url=url, timeout=30)
    vkey: str = http.get("/log").json()["verifier_key"]
    key = institution_key(dep)
    codes = open_with_roll(dep, url, key, pid, people, trustees(dep, pid), **fields)
    return url, http, vkey, key, codes


def ceremony(dep: Deployment, url: str, vkey: str, key: Path, pid: str, n: int = 3) -> Any:
    """Every trustee's ``urne-trustee ceremony`` at once, then the election key
    the institution signs; the output of ``urne process election-key``."""
    results: dict[int, str] = {}

    def one(i: int) -> None:
        r = dep.run(
            "urne-trustee", "ceremony", "--service", url,
            "--secret", dep.workdir / f"trustee{i}.secret", "--log-key", vkey,
            "--wait", "120", "--poll", "0.2",
        )  # fmt: skip
        results[i] = r.stdout

    threads = [threading.Thread(target=one, args=(i,)) for i in range(1, n + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, n + 1))
    return dep.urne(
        "process", "election-key", pid, "--server", url, "--key", key, "--log-key", vkey
    ).stdout


def decrypt(dep: Deployment, url: str, vkey: str, who: list[int]) -> None:
    """The trustees ``who`` decrypt the totals after the close."""
    for i in who:
        r = dep.run(
            "urne-trustee", "decrypt", "--service", url,
            "--secret", dep.workdir / f"trustee{i}.secret", "--log-key", vkey,
        )  # fmt: skip
        assert "Your decryption is on the log" in r.stdout, r.stdout
