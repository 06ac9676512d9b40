#!/usr/bin/env python3
"""Witnesses: how many add-checkpoint requests one witness handles per second,
and how long a receipt waits to be quorum-cosigned.

What one run does:

1. **add-checkpoint per second.** ``urne-witness serve`` in its own process
   follows ``--logs`` logs (origins and keys made for the run). Not timed:
   for each log, a tree of ``--steps`` + 1 sizes and every request body
   (the signed checkpoint and the consistency proof from the previous size).
   Timed: one client thread per log, on keep-alive connections, sends its
   log's requests in order (each old size the one before), so that every
   request is verified, stored and cosigned for real; requests/s over the
   whole run. In the same run, the same requests against ``null``: a
   standard-library HTTP server in its own process that reads the body and
   answers a fixed cosignature line, the ceiling of the HTTP stack and the
   client on this machine. The ratio witness/null says what verifying,
   storing (SQLite, ``synchronous=FULL``) and signing cost. No peer witness
   runs here: litewitness and omniwitness are Go programs, and this machine
   has no Go toolchain.
2. **From acknowledgement to a quorum-cosigned receipt.** The real log
   (SQLite) with :class:`~urne.ledger.log.witnessing.Witnessing` submitting to
   three ``urne-witness`` processes, quorum 2, at the service's default
   cadence (a witness thread looks for a new checkpoint every 0.2 s).
   ``--receipts`` entries are appended one at a time, a random pause apart;
   for each, the time from its acknowledgement to the moment the log holds a
   checkpoint containing it with two cosignatures. Median and 90th
   percentile.

Run: ``python bench/witness_bench.py``; results in docs/performance.md
("Witnesses").
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from urne.ledger.log import Log
from urne.ledger.log.witnessing import WitnessEndpoint, Witnessing, wait_cosigned
from urne.verifier.tlog.checkpoint import Checkpoint
from urne.verifier.tlog.cosignature import WitnessKey
from urne.verifier.tlog.merkle import consistency_ranges, fold_range, range_nodes
from urne.verifier.tlog.note import Ed25519Signer, sign_note
from urne.verifier.tlog.rfc9162 import hash_children, hash_leaf

WITNESS = [sys.executable, "-m", "urne.verifier.witness.cli"]

NULL_SERVER = r"""
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
LINE = b"\xe2\x80\x94 null.example/witness " + b"A" * 102 + b"==\n"
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(LINE)))
        self.end_headers()
        self.wfile.write(LINE)
class S(ThreadingHTTPServer):
    def finish_request(self, request, client_address):
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().finish_request(request, client_address)
s = S(("127.0.0.1", int(sys.argv[1])), H)
s.daemon_threads = True
print("ready", flush=True)
s.serve_forever()
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Tree:
    """Leaf hashes, and every node, to make roots and consistency proofs fast."""

    def __init__(self, n: int) -> None:
        self.levels = [[hash_leaf(b"leaf %d" % i) for i in range(n)]]
        while len(self.levels[-1]) > 1:
            prev = self.levels[-1]
            self.levels.append(
                [hash_children(prev[i], prev[i + 1]) for i in range(0, len(prev) - 1, 2)]
            )

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int) -> bytes:
        return fold_range([self.node(*n) for n in range_nodes(0, size)])

    def proof(self, old: int, size: int) -> list[bytes]:
        if not 0 < old < size:
            return []
        return [fold_range([self.node(*n) for n in range_nodes(b, e)])
                for b, e in consistency_ranges(old, size)]  # fmt: skip


def _bodies(signer: Ed25519Signer, steps: int, stride: int) -> list[bytes]:
    tree = Tree(steps * stride + 1)
    out, old = [], 0
    for k in range(1, steps + 1):
        size = k * stride
        note = sign_note(Checkpoint(signer.name, size, tree.root(size)).to_text(), signer)
        lines = "".join(base64.b64encode(h).decode() + "\n" for h in tree.proof(old, size))
        out.append(f"old {old}\n{lines}\n{note}".encode())
        old = size
    return out


def _start(cmd: list[str], ready: str, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{cmd[0]} did not start: {ready}")


def _drive(port: int, per_log: list[list[bytes]]) -> float:
    """Requests per second, one thread and one keep-alive connection per log."""
    errors: list[str] = []

    def run(bodies: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for body in bodies:
            conn.request("POST", "/add-checkpoint", body)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                errors.append(f"HTTP {r.status}")
        conn.close()

    threads = [threading.Thread(target=run, args=(b,)) for b in per_log]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return sum(len(b) for b in per_log) / elapsed


def witness_throughput(tmp: Path, logs: int, steps: int) -> tuple[float, float]:
    signers = [Ed25519Signer.generate(f"bench.example/log{i}") for i in range(logs)]
    per_log = [_bodies(s, steps, 3) for s in signers]
    subprocess.run([*WITNESS, "keygen", "bench.example/w", "--out", str(tmp / "w.key")],
                   check=True, capture_output=True)  # fmt: skip
    toml = [f'[[log]]\norigin = "{s.name}"\nkey = "{s.verifier.vkey}"\n\n' for s in signers]
    (tmp / "logs.toml").write_text("".join(toml))
    port = _port()
    witness = _start([*WITNESS, "serve", "--key", str(tmp / "w.key"), "--config",
                      str(tmp / "logs.toml"), "--state", str(tmp / "w.db"), "--listen",
                      f"127.0.0.1:{port}"], "urne-witness", port)  # fmt: skip
    try:
        urne = _drive(port, per_log)
    finally:
        witness.terminate()
        witness.wait()
    port = _port()
    null = _start([sys.executable, "-c", NULL_SERVER, str(port)], "null", port)
    try:
        ceiling = _drive(port, per_log)
    finally:
        null.terminate()
        null.wait()
    return urne, ceiling


def receipt_delay(tmp: Path, receipts: int) -> list[float]:
    log = Log.open(f"sqlite:///{tmp / 'log.db'}", key_dir=tmp / "keys", origin="delay.example/log")
    procs, endpoints = [], []
    for i in range(3):
        d = tmp / f"w{i}"
        d.mkdir()
        out = subprocess.run([*WITNESS, "keygen", f"w{i}.example", "--out", str(d / "k")],
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        key = WitnessKey.from_vkey(out.split("witness key: ")[1])
        (d / "logs.toml").write_text(
            f'[[log]]\norigin = "{log.origin}"\nkey = "{log.verifier.vkey}"\n'
        )
        port = _port()
        procs.append(_start([*WITNESS, "serve", "--key", str(d / "k"), "--config",
                             str(d / "logs.toml"), "--state", str(d / "w.db"), "--listen",
                             f"127.0.0.1:{port}"], "urne-witness", port))  # fmt: skip
        endpoints.append(WitnessEndpoint(key, f"http://127.0.0.1:{port}"))
    witnessing = Witnessing(log, endpoints, 2)
    witnessing.start()
    rnd = random.Random(7)
    delays = []
    try:
        for k in range(receipts):
            time.sleep(rnd.uniform(0.0, 0.3))
            index = log.append(b"an entry %d" % k)  # the log alone: no rules to apply
            acked = time.perf_counter()
            if wait_cosigned(witnessing, index, 30) is None:
                raise RuntimeError(f"entry {index} was not cosigned within 30 s")
            delays.append(time.perf_counter() - acked)
    finally:
        witnessing.close()
        for p in procs:
            p.terminate()
            p.wait()
        log.close()
    return delays


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--logs", type=int, default=8, help="logs submitting at once (default 8)")
    ap.add_argument("--steps", type=int, default=400, help="checkpoints per log (default 400)")
    ap.add_argument("--receipts", type=int, default=40, help="receipts timed (default 40)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urne, null = witness_throughput(Path(tmp), args.logs, args.steps)
        n = args.logs * args.steps
        print(f"add-checkpoint, {n} requests from {args.logs} logs on {os.cpu_count()} cores:")
        print(f"  urne-witness {urne:8.0f}/s   null (HTTP ceiling) {null:8.0f}/s   "
              f"ratio {urne / null:.2f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        d = sorted(receipt_delay(Path(tmp), args.receipts))
        p90 = d[int(0.9 * (len(d) - 1))]
        print(f"acknowledgement to a receipt cosigned by 2 of 3 witnesses, {len(d)} receipts:")
        print(f"  median {statistics.median(d) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
              f"max {d[-1] * 1000:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
