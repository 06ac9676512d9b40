"""``urne-witness`` as a process: its command line, its HTTP answers, and
SIGKILL at random moments while two logs submit concurrently, one of them
showing two views under one key. Afterwards the witness has never cosigned
two roots for one size, nor a checkpoint that does not extend the one before,
its times never went back, and it resumes where its state file says."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx2
import pytest

from tests.support import reference
from tests.support.deployment import Deployment, describe
from tests.support.witnesses import View
from urne.verifier.tlog.checkpoint import Checkpoint
from urne.verifier.tlog.cosignature import WitnessKey, verify_cosignatures
from urne.verifier.tlog.note import Ed25519Signer, parse_note
from urne.verifier.witness.core import origin_hash

pytestmark = pytest.mark.slow

WITNESS = [sys.executable, "-m", "urne.verifier.witness.cli"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _post(url: str, body: bytes) -> tuple[int, str]:
    req = urllib.request.Request(url + "/add-checkpoint", data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        with e:
            text = e.read().decode()
        if e.code == 409:
            assert e.headers["Content-Type"] == "text/x.tlog.size" and text.endswith("\n")
        return e.code, text


class WitnessProcess:
    def __init__(
        self, tmp: Path, logs: list[Ed25519Signer] | list[tuple[str, str]], name: str = "test"
    ) -> None:
        self.tmp, self.port = tmp, _port()
        tmp.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            [*WITNESS, "keygen", f"{name}.example/witness", "--out", str(tmp / "w.key")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.key = WitnessKey.from_vkey(out.split("witness key: ")[1])
        assert (tmp / "w.key").stat().st_mode & 0o777 == 0o600
        pairs = [(k.name, k.verifier.vkey) if isinstance(k, Ed25519Signer) else k for k in logs]
        toml = "".join(f'[[log]]\norigin = "{o}"\nkey = "{v}"\n\n' for o, v in pairs)
        (tmp / "logs.toml").write_text(toml)
        self.proc: subprocess.Popen[str] | None = None
        self.output = (tmp / "witness.out").open("a")
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [*WITNESS, "serve", "--key", str(self.tmp / "w.key"), "--config",
             str(self.tmp / "logs.toml"), "--state", str(self.tmp / "w.db"),
             "--listen", f"127.0.0.1:{self.port}"],
            stdout=self.output, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).close()
                return
            except OSError:
                assert self.proc.poll() is None, (self.tmp / "witness.out").read_text()
                assert time.monotonic() < deadline
                time.sleep(0.02)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.output.close()


def test_the_command_line_and_http_answers(tmp_path: Path) -> None:
    log = Ed25519Signer.generate("cli.example/log")
    view = View(log, [b"e%d" % i for i in range(4)])
    w = WitnessProcess(tmp_path, [log])
    w.start()
    try:
        status, body = _post(w.url, view.body(0, 2))
        assert status == 200 and body.startswith("\u2014 test.example/witness ")
        note = parse_note(view.note(2) + body)
        [c] = verify_cosignatures(note, [w.key], quorum=1)
        assert abs(c.timestamp - time.time()) < 60
        assert _post(w.url, view.body(0, 4)) == (409, "2\n")
        assert _post(w.url, view.body(2, 4))[0] == 200
        other = Ed25519Signer.generate("other.example/log")
        assert _post(w.url, View(other, [b"x"]).body(0, 1))[0] == 404
        forged = View(Ed25519Signer("cli.example/log", os.urandom(32)), view.leaves)
        assert _post(w.url, forged.body(4, 4))[0] == 403  # the log's name, not its key
        assert _post(w.url, b"old 4\n")[0] == 400
        assert _post(w.url, b"x" * (17 << 10))[0] == 413
        # the monitoring endpoint: the stored checkpoint with both signatures
        with urllib.request.urlopen(f"{w.url}/{origin_hash(log.name)}/checkpoint") as r:
            stored = r.read().decode()
        assert Checkpoint.parse(parse_note(stored).text).size == 4
        verify_cosignatures(parse_note(stored), [w.key], quorum=1)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{w.url}/{origin_hash('nobody')}/checkpoint")
        e.value.close()
        assert e.value.code == 404
    finally:
        w.stop()
    status_out = subprocess.run(
        [*WITNESS, "status", "--config", str(tmp_path / "logs.toml"), "--state",
         str(tmp_path / "w.db")], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "cli.example/log  size 4  last cosigned 20" in status_out


def test_sigkill_at_random_moments_never_cosigns_two_roots_for_one_size(tmp_path: Path) -> None:
    rnd = random.Random(2026)
    honest = Ed25519Signer.generate("honest.example/log")
    split = Ed25519Signer.generate("split.example/log")
    common = [b"c%d" % i for i in range(20)]
    views = {
        "honest": View(honest, [b"h%d" % i for i in range(400)]),
        "split-a": View(split, common + [b"a%d" % i for i in range(380)]),
        "split-b": View(split, common + [b"b%d" % i for i in range(380)]),
    }
    w = WitnessProcess(tmp_path, [honest, split])
    w.start()
    cosigned: list[tuple[str, str, int]] = []  # (view, checkpoint + cosignature, size)
    lock = threading.Lock()
    stop = threading.Event()

    def submitter(name: str, seed: int) -> None:
        view, r, old = views[name], random.Random(seed), 0
        size = 1
        while not stop.is_set() and size < len(view.leaves):
            size = min(len(view.leaves), max(size, old) + r.randint(1, 9))
            try:
                status, body = _post(w.url, view.body(old, size))
            except (OSError, http.client.HTTPException):  # the witness is down: again
                time.sleep(0.01)
                continue
            if status == 200:
                with lock:
                    cosigned.append((name, view.note(size) + body, size))
                old = size
            elif status == 409:
                old = int(body)
                if old > size:
                    size = old
            else:
                assert status == 422, (name, status, body)
                if name.startswith("split"):  # the other view won: it stays refused
                    time.sleep(0.005)

    threads = [
        threading.Thread(target=submitter, args=(name, i))
        for i, name in enumerate(["honest", "honest", "split-a", "split-b", "split-a"])
    ]
    for t in threads:
        t.start()
    try:
        for _ in range(12):
            time.sleep(rnd.uniform(0.05, 0.4))
            w.kill()
            w.start()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        w.stop()

    assert len(cosigned) > 20
    roots: dict[tuple[str, int], set[bytes]] = {}
    times: dict[str, list[tuple[int, int]]] = {}
    for _, note_text, _ in cosigned:
        note = parse_note(note_text)
        cp = Checkpoint.parse(note.text)
        [c] = verify_cosignatures(note, [w.key], quorum=1)
        roots.setdefault((cp.origin, cp.size), set()).add(cp.root)
        times.setdefault(cp.origin, []).append((cp.size, c.timestamp))
    for pairs in times.values():  # a larger checkpoint never carries an earlier time
        stamps = [t for _, t in sorted(pairs)]
        assert stamps == sorted(stamps)
    assert all(len(r) == 1 for r in roots.values()), "two roots cosigned for one size"
    # of the split log, only one view was ever cosigned beyond what the views share
    split_views = {n for n, _, size in cosigned if n.startswith("split") and size > len(common)}
    assert len(split_views) <= 1
    # every cosigned checkpoint of a log extends every smaller one (one history)
    for origin in (honest.name, split.name):
        sizes = sorted(s for (o, s) in roots if o == origin)
        for a, b in itertools.pairwise(sizes):
            view = next(v for v in views.values() if v.key.name == origin
                        and reference.mth(v.leaves[:b]) in roots[(origin, b)])  # fmt: skip
            assert reference.mth(view.leaves[:a]) in roots[(origin, a)]
    # it resumes from its state: the next checkpoint from the stored size is cosigned
    w.output = (tmp_path / "witness.out").open("a")
    w.start()
    try:
        with urllib.request.urlopen(f"{w.url}/{origin_hash(honest.name)}/checkpoint") as r:
            stored = Checkpoint.parse(parse_note(r.read().decode()).text).size
        if stored < len(views["honest"].leaves):
            assert _post(w.url, views["honest"].body(stored, stored + 1))[0] == 200
    finally:
        w.stop()


def test_urne_serve_with_three_witnesses_one_killed(deployment: Deployment) -> None:
    """``urne serve --demo`` with three ``urne-witness`` processes (quorum 2):
    citizens' receipts upgrade to cosigned ones, the third witness is killed
    and the quorum still holds, and the audit with the witness policy passes
    against the service and the two live witnesses."""
    dep = deployment
    first = dep.serve("--demo", "--no-rate-limit")  # makes the log and its key
    info = httpx2.get(f"{first.url}/log", timeout=10).json()
    first.stop()
    origin, vkey = info["origin"], info["verifier_key"]
    witnesses = [
        WitnessProcess(dep.workdir / f"witness-{i}", [(origin, vkey)], f"w{i}") for i in range(3)
    ]
    for w in witnesses:
        w.start()
    try:
        args = [arg for w in witnesses for arg in ("--witness", f"{w.key.vkey}@{w.url}")]
        server = dep.serve(*args, "--witness-quorum", "2", "--no-rate-limit")
        assert "witnesses: 3, a checkpoint is cosigned with 2 of them" in server.output()
        policy = [arg for w in witnesses for arg in ("--witness", w.key.vkey)]
        codes = _demo_codes(dep)

        def take_part(n: int) -> int:
            wallet = dep.workdir / f"citizen-{n}"
            dep.run("urne-wallet", "join", server.url, "demo-vote", "--code", codes[n],
                    "--log-key", vkey, "--wallet", wallet)  # fmt: skip
            out = dep.run("urne-wallet", "vote", "demo-vote", "river", "--wallet", wallet).stdout
            return int(re.search(r"at log index (\d+)", out).group(1))  # type: ignore[union-attr]

        def cosigned_receipt(index: int, quorum: int) -> Path:
            deadline = time.monotonic() + 30
            path = dep.workdir / f"receipt-{index}.json"
            while True:
                receipt = httpx2.get(f"{server.url}/entries/{index}/receipt", timeout=10).json()
                path.write_text(json.dumps(receipt))
                r = dep.verify("receipt", path, "--log-key", vkey, *policy, "--quorum",
                               str(quorum), expect=None)  # fmt: skip
                if r.returncode == 0:
                    return path
                assert "no_quorum" in r.stdout, describe(r)
                assert time.monotonic() < deadline, "the receipt was never cosigned"
                time.sleep(0.2)

        index = take_part(0)
        cosigned_receipt(index, 3)  # all three, in time
        witnesses[2].kill()  # one witness goes down for good
        index = take_part(1)
        path = cosigned_receipt(index, 2)
        assert dep.verify("receipt", path, "--log-key", vkey, *policy, "--quorum", "3",
                          expect=1).stdout.count("no_quorum") == 1  # fmt: skip
        audit = dep.verify(
            "audit", "--log", server.url, "--log-key", vkey, *policy, "--quorum", "2",
            "--witness-at", witnesses[0].url, "--witness-at", witnesses[1].url,
        )  # fmt: skip
        assert "PASSED" in audit.stdout and "cosigned by 2 of 3 witnesses" in audit.stdout
        assert audit.stdout.count("witness http") == 2
        server.assert_running()
    finally:
        for w in witnesses:
            w.stop()


def _demo_codes(dep: Deployment) -> list[str]:
    """The demo's unused codes of demo-vote (urne-data keeps them beside the keys)."""
    rows = (dep.key_dir / "demo-codes.txt").read_text().splitlines()[1:]
    return [row.split("\t")[2] for row in rows if row.startswith("demo-vote\t")]
