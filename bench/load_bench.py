#!/usr/bin/env python3
"""Casting over HTTP: signed ballots per second and latency to the receipt.

What one run does:

1. **Prepare** (not timed): an issuer key, a petition manifest, and ``--n``
   petition signatures, each by its own fresh Ed25519 pseudonym and each with a
   REAL credential ``S = sk * H(m)`` made directly with the issuer's secret key
   (the result blind issuance gives, without the round trip: issuance is not
   what is measured). Generated on ``--gen-workers`` processes.
2. For each target, in the same run and on the same ballots:

   - ``null``: a minimal HTTP/1.1 responder on raw asyncio (no framework), the
     ceiling of the load generator itself on this machine;
   - ``peer`` (the named peer): FastAPI + uvicorn with one ``POST /entries``
     that reads the body and answers 201 with a fixed receipt-sized JSON, the
     framework's ceiling;
   - ``urne-sqlite`` / ``urne-postgres``: the real service
     (``urne.api.main.create_app`` under uvicorn, ``--workers`` processes) on a
     fresh SQLite file or a fresh PostgreSQL schema, with the manifest already
     published. Rate limiting is off (every ballot comes from 127.0.0.1).

   Each server is a separate process (``python -m uvicorn``); the load
   generator is another (``--gen-procs`` of them), holding ``--concurrency``
   keep-alive connections in all, each sending one ballot at a time with a raw
   HTTP/1.1 client on asyncio streams and timing it to the last byte of the
   answer.
3. **Check** (not timed): every answer from Urne must be 201 with a receipt of
   a new index holding exactly the ballot sent; ``--verify`` receipts, spread
   over the run, are checked with ``urne.verifier.check.receipt.check_receipt`` against
   the log's key; and the log must hold the manifest and the n ballots.

Reports sustained ballots/s over the steady window (the middle 80% of
completions), p50/p99/max latency, errors, the CPU used by the server and by
the generator, and the ratio Urne/peer. Run ``python bench/load_bench.py
--help``; results in docs/performance.md ("Casting over HTTP").
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import hashlib
import json
import multiprocessing
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from fastapi import Request

from urne.verifier.citizen import authoring
from urne.verifier.citizen.blinding import Pseudonym
from urne.verifier.citizen.signing import AuthorKey, sign_entry
from urne.verifier.civic.entries import b64encode
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import CREDENTIAL_DST, credential_message

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

PID = "load-petition"
ORIGIN = "load.urne.example/log"
PG_URL = os.environ.get(
    "URNE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
GEN_CHUNK = 1_000
STEADY = 0.1  # the first and last 10% of completions are left out of the rate


# -- the ballots (deterministic from the seed) -----------------------------------------------


def _derive(seed: int, label: str) -> bytes:
    return hashlib.sha256(f"urne load bench {seed} {label}".encode()).digest()


def _issuer_sk(seed: int) -> int:
    return bls.keygen(_derive(seed, "issuer"))


#: Entries before the ballots: registration, reservation, manifest.
OPENING = 3


def manifest(seed: int, n: int) -> bytes:
    """A petition open since yesterday, for a year, with a threshold of ``n``."""
    now = datetime.now(UTC).replace(microsecond=0)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    issuer_pk = bls.current_backend().sk_to_pk(_issuer_sk(seed))
    return sign_entry(
        {
            "v": 1,
            "kind": "process",
            "id": PID,
            "type": "petition",
            "title": {"en": "Load benchmark petition"},
            "text": {"en": "A petition signed by every pseudonym of the load benchmark."},
            "institution": b64encode(AuthorKey(_derive(seed, "institution")).public_key),
            "opens": (now - timedelta(days=1)).strftime(fmt),
            "closes": (now + timedelta(days=365)).strftime(fmt),
            "issuer": {"public_key": b64encode(issuer_pk), "threshold": 1, "shares": 1},
            "officials": [],
            "proposals": [],
            "rule": {"threshold": max(n, 1)},
        },
        AuthorKey(_derive(seed, "institution")),
    )


def _make_ballots(job: tuple[int, int, int]) -> list[bytes]:
    """Signatures ``[start, stop)``: a fresh pseudonym each, a real credential."""
    seed, start, stop = job
    bls.use_arkworks()
    sk, be = _issuer_sk(seed), bls.current_backend()
    out = []
    for i in range(start, stop):
        nym = Pseudonym.from_seed(_derive(seed, f"pseudonym {i}"))
        cred = be.sign(sk, credential_message(PID, nym.public_key), CREDENTIAL_DST)
        out.append(authoring.signature(PID, nym, cred))
    return out


def ballots(n: int, seed: int, workers: int) -> list[bytes]:
    jobs = [(seed, s, min(s + GEN_CHUNK, n)) for s in range(0, n, GEN_CHUNK)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return [b for part in pool.imap(_make_ballots, jobs) for b in part]


# -- the servers (uvicorn app factories, imported by the server process) ------------------


def urne_app() -> Any:
    """The real service on the log named by ``URNE_DATABASE_URL`` / ``URNE_KEY_DIR``;
    ``LOAD_BENCH_CREDENTIAL_BATCH`` caps the credential batches (1: one by one)."""
    from urne.api.main import create_app, open_log
    from urne.ledger.civic.record import CivicRecord, CredentialBatcher
    from urne.ledger.db.settings import Settings

    log = open_log(Settings())
    if os.environ.get("LOAD_BENCH_DIAGNOSTIC_SKIP_PAIRINGS") == "1":
        # A diagnostic only (bench/README.md): what everything but the BLS
        # check costs. Every credential counts as valid; never a target figure.
        import urne.ledger.civic.record as civic_module

        civic_module.verify_credential = lambda *a: True
        civic_module.invalid_credentials = lambda pk, items: []
    batch = int(os.environ.get("LOAD_BENCH_CREDENTIAL_BATCH", "256"))
    processes = int(os.environ.get("LOAD_BENCH_CREDENTIAL_PROCESSES", os.cpu_count() or 1))
    credentials = CredentialBatcher(max_batch=batch, processes=processes)
    credentials.start()

    def report() -> None:
        n = max(credentials.batches, 1)
        print(
            f"  (service: {credentials.verified:,} credentials in {credentials.batches:,}"
            f" batches, {credentials.verified / n:.1f} per batch)",
            file=sys.stderr,
        )

    atexit.register(report)
    CivicRecord(log, credentials=credentials)  # the log's admission
    return create_app(log, rate_limit=None)


_PEER_ANSWER = {
    "v": 1,
    "origin": ORIGIN,
    "log_key": "load.urne.example/log+01234567+" + "A" * 44,
    "index": 1,
    "entry": "A" * 600,
    "checkpoint": "load.urne.example/log\n1\n" + "A" * 44 + "\n\n\u2014 sig " + "A" * 88 + "\n",
    "inclusion_proof": ["A" * 44] * 14,
}


def peer_app() -> Any:
    """The named peer: FastAPI + uvicorn, read the body, answer 201 with a fixed JSON."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/entries", status_code=201)
    async def post_entry(request: Request) -> dict[str, Any]:
        await request.body()
        return _PEER_ANSWER

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


class _NullServer(asyncio.Protocol):
    """Answers every HTTP/1.1 request with a fixed 201 (keep-alive)."""

    ANSWER = json.dumps(_PEER_ANSWER).encode()
    RESPONSE = (
        b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % len(ANSWER)
    ) + ANSWER

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buf[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            self.transport.write(self.RESPONSE)


def _null_server(port: int) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(
            _NullServer, "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        total += cpu.get(p, 0.0)
        stack.extend(children.get(p, []))
    return total


def _wait_ready(base: str, alive: Any, what: str) -> None:
    t0 = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=30) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if not alive() or time.monotonic() - t0 > 120:
                raise SystemExit(f"{what} did not start") from None
            time.sleep(0.1)


@contextlib.contextmanager
def uvicorn_server(
    factory: str, workers: int, http: str, env: dict[str, str], loop: str = "auto"
) -> Iterator[tuple[int, int]]:
    """``python -m uvicorn --factory load_bench:<factory>``; yields (port, pid)."""
    port = _free_port()
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", f"load_bench:{factory}",
        "--app-dir", str(BENCH), "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--http", http, "--loop", loop,
        "--log-level", "warning", "--no-access-log", "--backlog", "4096",
    ]  # fmt: skip
    profile = os.environ.get("LOAD_BENCH_PROFILE")  # py-spy collapsed stacks of the server
    if profile:
        cmd = ["py-spy", "record", "--format", "raw", "--threads", "-o", profile, "--", *cmd]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", lambda: proc.poll() is None, factory)
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def null_server() -> Iterator[tuple[int, int]]:
    port = _free_port()
    proc = multiprocessing.get_context("spawn").Process(target=_null_server, args=(port,))
    proc.start()
    try:
        t0 = time.monotonic()
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
                break
            except OSError:
                if not proc.is_alive() or time.monotonic() - t0 > 60:
                    raise SystemExit("the null server did not start") from None
                time.sleep(0.05)
        assert proc.pid is not None
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.join(10)


# -- the stores ----------------------------------------------------------------------------


@contextlib.contextmanager
def store(engine: str, seed: int, n: int) -> Iterator[tuple[str, Path, str]]:
    """A fresh log with the manifest published: (database URL, key dir, log vkey)."""
    from urne.ledger.civic.authority import register_institution, reserve_process
    from urne.ledger.civic.record import CivicRecord
    from urne.ledger.log import Log
    from urne.verifier.civic.entries import b64decode, decode_entry

    tmp = Path(tempfile.mkdtemp(prefix="urne-load-"))
    schema = None
    admin = None
    try:
        if engine == "sqlite":
            url = f"sqlite:///{tmp / 'log.db'}"
        else:
            import sqlalchemy as sa

            admin = sa.create_engine(PG_URL)
            schema = f"urne_load_{uuid.uuid4().hex[:12]}"
            with admin.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            sep = "&" if "?" in PG_URL else "?"
            url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
        with Log.open(url, key_dir=tmp / "keys", origin=ORIGIN) as log:
            civic = CivicRecord(log)
            leaf = manifest(seed, n)
            body = decode_entry(leaf).obj
            institution = b64decode(body["institution"], "institution", size=32)
            register_institution(civic, "benchmark-institution", institution)
            reserve_process(civic, PID, institution, body["issuer"])
            civic.append(leaf)
            vkey = log.verifier.vkey
        yield url, tmp / "keys", vkey
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


# -- the load generator (its own processes) --------------------------------------------------

_HEAD = (
    b"POST /entries HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
)

Record = tuple[int, float, float, int, bytes]  # ballot index, sent, answered, status, body


async def _load(
    port: int, bodies: list[tuple[int, bytes]], connections: int, start_at: float
) -> list[Record]:
    todo = iter(bodies)
    out: list[Record] = []
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i, body in todo:
            t0 = time.monotonic()
            writer.write(_HEAD % len(body) + body)
            status = int((await reader.readline()).split(b" ", 2)[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            out.append((i, t0, time.monotonic(), status, answer))
        writer.close()

    await asyncio.gather(*(one(r, w) for r, w in conns))
    return out


def _generator(
    port: int, bodies: list[tuple[int, bytes]], connections: int, start_at: float, conn: Any
) -> None:
    t0 = os.times()
    records = asyncio.run(_load(port, bodies, connections, start_at))
    t1 = os.times()
    conn.send((records, (t1.user - t0.user) + (t1.system - t0.system)))
    conn.close()


def drive(
    port: int, server_pid: int, leaves: list[bytes], concurrency: int, procs: int
) -> dict[str, Any]:
    """Send every leaf once with ``concurrency`` connections over ``procs`` processes."""
    ctx = multiprocessing.get_context("spawn")
    start_at = time.monotonic() + 2.0 + 0.002 * concurrency
    workers = []
    for p in range(procs):
        share = list(enumerate(leaves))[p::procs]
        conns = concurrency // procs + (1 if p < concurrency % procs else 0)
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_generator, args=(port, share, conns, start_at, send))
        proc.start()
        send.close()
        workers.append((proc, recv))
    cpu0 = None
    while time.monotonic() < start_at:
        time.sleep(0.001)
    cpu0 = tree_cpu(server_pid)
    records: list[Record] = []
    gen_cpu = 0.0
    for proc, recv in workers:
        recs, cpu = recv.recv()
        records.extend(recs)
        gen_cpu += cpu
        proc.join()
    server_cpu = tree_cpu(server_pid) - cpu0
    return summarise(records, start_at, server_cpu, gen_cpu)


def _pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def summarise(
    records: list[Record], start_at: float, server_cpu: float, gen_cpu: float
) -> dict[str, Any]:
    done = sorted(records, key=lambda r: r[2])
    k = int(len(done) * STEADY)
    window = done[k : len(done) - k] if len(done) > 10 else done
    span = window[-1][2] - window[0][2] if len(window) > 1 else float("nan")
    lat = sorted(r[2] - r[1] for r in window)
    wall = done[-1][2] - start_at
    statuses: dict[str, int] = {}
    for r in records:
        statuses[str(r[3])] = statuses.get(str(r[3]), 0) + 1
    return {
        "requests": len(records),
        "statuses": statuses,
        "rate": (len(window) - 1) / span,
        "rate_overall": len(records) / wall,
        "p50_ms": 1000 * _pct(lat, 0.50),
        "p99_ms": 1000 * _pct(lat, 0.99),
        "max_ms": 1000 * max(r[2] - r[1] for r in records),
        "wall_s": wall,
        "server_cpu_s": server_cpu,
        "generator_cpu_s": gen_cpu,
        "records": records,
    }


# -- checking what Urne answered ------------------------------------------------------------


def check_answers(
    records: list[Record],
    leaves: list[bytes],
    url: str,
    key_dir: Path,
    vkey: str,
    sample: int,
    seed: int,
) -> dict[str, Any]:
    """Every answer a 201 receipt of a new index holding the ballot sent; a sample
    of receipts verified; the log holds exactly the ballots after the
    ``OPENING`` entries (registration, reservation, manifest)."""
    from urne.ledger.log import Log
    from urne.verifier.check.receipt import Receipt, check_receipt
    from urne.verifier.tlog.note import Ed25519Verifier

    problems: list[str] = []
    seen: dict[int, int] = {}
    receipts: list[Receipt] = []
    for i, _, _, status, body in records:
        if status != 201:
            problems.append(f"ballot {i}: HTTP {status} {body[:200]!r}")
            continue
        receipt = Receipt.parse(body)
        if receipt.entry != leaves[i]:
            problems.append(f"ballot {i}: the receipt holds another entry")
        if receipt.index in seen:
            problems.append(f"ballots {seen[receipt.index]} and {i}: same index {receipt.index}")
        seen[receipt.index] = i
        receipts.append(receipt)
    last = OPENING + len(leaves) - 1
    if seen and (min(seen) < OPENING or max(seen) > last):
        problems.append(f"indices outside {OPENING}..{last}: {min(seen)}..{max(seen)}")
    key = Ed25519Verifier.from_vkey(vkey)
    chosen = random.Random(seed).sample(receipts, min(sample, len(receipts)))
    for r in chosen:
        try:
            check_receipt(r, key)
        except Exception as exc:  # any failure is reported, never timed as a success
            problems.append(f"receipt {r.index} does not verify: {exc}")
    with Log.open(url, key_dir=key_dir, origin=ORIGIN) as log:
        size = log.size
    if size != OPENING + len(leaves):
        problems.append(f"the log holds {size} entries, expected {OPENING + len(leaves)}")
    return {"receipts_verified": len(chosen), "log_size": size, "problems": problems}


# -- the run ---------------------------------------------------------------------------------


def run_target(
    target: str, args: argparse.Namespace, leaves: list[bytes], pg_ok: bool
) -> dict[str, Any]:
    load = os.getloadavg()[0]
    out: dict[str, Any] = {"target": target, "load_before": load}
    if target == "null":
        with null_server() as (port, pid):
            out.update(drive(port, pid, leaves, args.concurrency, args.gen_procs))
        out["workers"] = 1
    elif target == "peer":
        with uvicorn_server("peer_app", args.workers, args.http, {}) as (port, pid):
            out.update(drive(port, pid, leaves, args.concurrency, args.gen_procs))
        out["workers"] = args.workers
    else:
        engine = target.removeprefix("urne-")
        if engine == "postgres" and not pg_ok:
            out["error"] = f"PostgreSQL not reachable at {PG_URL}"
            return out
        with store(engine, args.seed, len(leaves)) as (url, key_dir, vkey):
            env = {
                "URNE_DATABASE_URL": url,
                "URNE_KEY_DIR": str(key_dir),
                "URNE_ORIGIN": ORIGIN,
                "LOAD_BENCH_CREDENTIAL_BATCH": str(args.credential_batch),
                # skipping pairings is patched into the service's own process only
                "LOAD_BENCH_CREDENTIAL_PROCESSES": (
                    "0" if args.skip_pairings else str(args.credential_processes)
                ),
                "LOAD_BENCH_DIAGNOSTIC_SKIP_PAIRINGS": "1" if args.skip_pairings else "0",
            }
            with uvicorn_server("urne_app", args.workers, args.http, env) as (port, pid):
                out.update(drive(port, pid, leaves, args.concurrency, args.gen_procs))
            out["check"] = check_answers(
                out["records"], leaves, url, key_dir, vkey, args.verify, args.seed
            )
        out["workers"] = args.workers
    return out


def _pg_reachable() -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def machine() -> dict[str, Any]:
    versions = {}
    for dist in ("fastapi", "starlette", "uvicorn", "h11", "httptools", "SQLAlchemy", "psycopg"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
    }


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "rate" in r]
    return max(ok, key=lambda r: r["rate"]) if ok else runs[0]


def print_report(res: dict[str, Any]) -> None:
    a = res["args"]
    print(
        f"\n{a['n']:,} ballots, {a['concurrency']} connections over {a['gen_procs']} generator "
        f"process(es), {a['workers']} server worker(s), uvicorn --http {a['http']}, "
        f"credential batches of at most {a['credential_batch']}; "
        f"best of {a['repeat']} (steady window: middle {100 - 200 * STEADY:.0f}% of completions)"
    )
    head = (
        f"{'target':<15}{'ballots/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'non-201':>9}{'srv CPU ms/b':>14}{'gen CPU ms/b':>14}{'load':>6}{'Urne/peer':>11}"
    )
    print(head)
    print("-" * len(head))
    peer = res["best"].get("peer", {}).get("rate")
    for target, r in res["best"].items():
        if "rate" not in r:
            print(f"{target:<15}ERROR {r.get('error')}")
            continue
        n = max(r["requests"], 1)
        bad = sum(v for k, v in r["statuses"].items() if k != "201")
        ratio = f"{r['rate'] / peer:.2f}x" if peer and target.startswith("urne") else ""
        print(
            f"{target:<15}{r['rate']:>10,.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
            f"{r['max_ms']:>9.0f}{bad:>9}{1000 * r['server_cpu_s'] / n:>14.2f}"
            f"{1000 * r['generator_cpu_s'] / n:>14.2f}{r['load_before']:>6.1f}{ratio:>11}"
        )
    for target, runs in res["runs"].items():
        if len(runs) > 1:
            rates = ", ".join(f"{r['rate']:,.0f}" for r in runs if "rate" in r)
            print(f"  {target} runs (ballots/s): {rates}")
    for target, r in res["best"].items():
        check = r.get("check")
        if check:
            verdict = "ok" if not check["problems"] else f"{len(check['problems'])} PROBLEMS"
            print(
                f"  {target}: every answer checked ({verdict}); {check['receipts_verified']} "
                f"receipts verified with check_receipt; log size {check['log_size']:,}"
            )
            for p in check["problems"][:10]:
                print(f"    {p}")
    if a.get("skip_pairings"):
        print(
            "  DIAGNOSTIC RUN (--skip-pairings): the service took every credential as valid;"
            " these figures measure everything but the BLS check and meet no target"
        )
        return
    for target, r in res["best"].items():
        if target.startswith("urne") and "rate" in r:
            met = r["rate"] >= 1000 and r["p99_ms"] < 1000
            print(
                f"  target >= 1,000 ballots/s with p99 < 1 s on {target}: "
                f"{'met' if met else 'NOT met'}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="ballots per target and run")
    parser.add_argument("--concurrency", type=int, default=64, help="keep-alive connections")
    parser.add_argument("--engines", default="sqlite,postgres", help="urne targets")
    parser.add_argument(
        "--peers", default="null,peer", help="'null' (generator ceiling), 'peer' (FastAPI)"
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--gen-procs", type=int, default=1, help="load generator processes")
    parser.add_argument(
        "--http",
        default="auto",
        help="uvicorn --http: auto (httptools when installed, as urne serve), h11, httptools",
    )
    parser.add_argument(
        "--credential-batch",
        type=int,
        default=256,
        help="largest credential batch in the service (1: each verified alone)",
    )
    parser.add_argument(
        "--credential-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="processes verifying credentials in the service (0: its threads)",
    )
    parser.add_argument(
        "--skip-pairings",
        action="store_true",
        help="diagnostic only: the service takes every credential as valid, to measure "
        "everything but the BLS check (no target is judged on such a run)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per target (best kept)")
    parser.add_argument("--verify", type=int, default=200, help="receipts checked in full")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--gen-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    targets = [t for t in args.peers.split(",") if t]
    targets += [f"urne-{e}" for e in args.engines.split(",") if e]
    for t in targets:
        if t not in ("null", "peer", "urne-sqlite", "urne-postgres"):
            parser.error(f"unknown target {t!r}")
    info = machine()
    print(f"Python {info['python']} on {info['platform']}, {info['cpus']} CPUs")
    print(", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    t0 = time.perf_counter()
    leaves = ballots(args.n, args.seed, args.gen_workers)
    print(
        f"prepared {len(leaves):,} signed ballots in {time.perf_counter() - t0:.1f} s (not timed)"
    )
    pg_ok = any(t == "urne-postgres" for t in targets) and _pg_reachable()

    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in targets}
    for rep in range(args.repeat):
        for target in targets:
            r = run_target(target, args, leaves, pg_ok)
            runs[target].append(r)
            if "rate" in r:
                print(
                    f"  run {rep + 1} {target:<14} {r['rate']:8,.0f}/s  p50 {r['p50_ms']:6.1f} ms"
                    f"  p99 {r['p99_ms']:7.1f} ms  load {r['load_before']:.1f}",
                    flush=True,
                )
            else:
                print(f"  run {rep + 1} {target:<14} ERROR {r.get('error')}", flush=True)
    for rs in runs.values():
        for r in rs:
            r.pop("records", None)
    res = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": info,
        "runs": runs,
        "best": {t: best(rs) for t, rs in runs.items()},
    }
    print_report(res)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    if any(r.get("check", {}).get("problems") for rs in runs.values() for r in rs):
        raise SystemExit("some answers were wrong (see above)")


if __name__ == "__main__":
    main()
