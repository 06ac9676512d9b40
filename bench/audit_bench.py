#!/usr/bin/env python3
"""Audit throughput: ``urne.verifier.check.audit.audit`` over HTTP on a petition of N signatures.

What one run does:

1. **Generate** (once; cached): a petition manifest and ``--n`` petition
   signatures, each by its own fresh Ed25519 pseudonym, each carrying a REAL
   credential ``S = sk * H(m)`` made directly with the issuer key
   (``bls.current_backend().sign(sk, m, CREDENTIAL_DST)``: the result blind
   issuance gives, without the round trip), then the institution's ``close``
   and a ``result`` certifying the count. Everything is derived from
   ``--seed``, generated on ``--gen-workers`` processes, and the signature
   leaves are cached in ``bench/results/`` (gitignored): repeated runs skip
   generation. A sample of credentials is verified one by one on loading; the
   audit then checks every one (it must pass, or the run fails).
2. **Build** the log with :class:`ledger.Log` on SQLite: plain appends of
   ``--batch`` entries (no admission rules: the audit is what checks them).
3. **Serve** it with the real HTTP service (``urne.api.main.create_app``) under
   uvicorn on 127.0.0.1, in a separate process.
4. **Audit**, timed end to end: ``audit(HttpSource(url), log_key)`` -- the
   checkpoint, every entry bundle and hash tile through the tile endpoints,
   the tree rebuilt, every entry decoded (canonical form) and its Ed25519
   signature checked, every credential batch-verified (decoding and subgroup
   checks included), the process rules, the recount and its comparison with
   the published result. Prints entries/s, the wall time and where the time
   went (CPU of the auditor's main process by component, of its credential
   workers, and of the server).
5. **ElectionGuard**, in the same run: per-ballot verification
   (``ballot_is_valid_for_election`` with proof checking) of a one-question
   ballot, on as many processes, if an interpreter with ``electionguard``
   importable is found (see ``--eg-python``); otherwise the error is printed.

Run ``python bench/audit_bench.py --help``; results in docs/performance-audit.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import multiprocessing
import os
import platform
import pstats
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from urne.verifier.citizen import authoring
from urne.verifier.citizen.blinding import Pseudonym
from urne.verifier.citizen.signing import AuthorKey, sign_entry
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import (
    CREDENTIAL_DST,
    credential_message,
    verify_credential,
)
from urne.verifier.tlog.note import Ed25519Signer

ROOT = Path(__file__).resolve().parent.parent

RESULTS = ROOT / "bench" / "results"
PID = "bench-petition"
ORIGIN = "bench.urne.example/log"
MAGIC = b"URNE-AUDIT-BENCH-LEAVES-1\n"
GEN_CHUNK = 2_000


# -- keys and entries (deterministic from the seed) ---------------------------------------


def _derive(seed: int, label: str) -> bytes:
    return hashlib.sha256(f"urne audit bench {seed} {label}".encode()).digest()


class Keys:
    def __init__(self, seed: int) -> None:
        self.institution = AuthorKey(_derive(seed, "institution"))
        self.issuer_sk = bls.keygen(_derive(seed, "issuer"))
        self.issuer_pk = bls.current_backend().sk_to_pk(self.issuer_sk)
        self.log = Ed25519Signer.from_seed(ORIGIN, _derive(seed, "log"))


def manifest(keys: Keys, n: int) -> bytes:
    """The petition's process entry; its threshold is ``n``, reached by the last signature."""
    return sign_entry(
        {
            "v": 1,
            "kind": "process",
            "id": PID,
            "type": "petition",
            "title": {"en": "Benchmark petition"},
            "text": {"en": "A petition signed by every pseudonym of the benchmark."},
            "institution": b64encode(keys.institution.public_key),
            "opens": "2026-01-01T00:00:00Z",
            "closes": "2026-12-31T23:59:59Z",
            "issuer": {"public_key": b64encode(keys.issuer_pk), "threshold": 1, "shares": 1},
            "officials": [],
            "proposals": [],
            "rule": {"threshold": n},
        },
        keys.institution,
    )


#: Entries before the signatures: the institution's registration, the
#: reservation of the petition's id (both signed by the log's key), the manifest.
OPENING = 3


def opening(keys: Keys, n: int) -> list[bytes]:
    """What the log holds before the signatures (indices 0 to ``OPENING - 1``)."""
    from urne.verifier.citizen.signing import OperatorKey

    operator = OperatorKey(keys.log)
    issuer = {"public_key": b64encode(keys.issuer_pk), "threshold": 1, "shares": 1}
    key = keys.institution.public_key
    return [
        authoring.registration("benchmark-institution", key, operator),
        authoring.reservation(PID, key, issuer, operator),
        manifest(keys, n),
    ]


def closing(keys: Keys, n: int) -> list[bytes]:
    """``close`` after the ``n`` signatures and the institution's ``result``
    through it (what the recount must give: n signatures, the threshold
    reached by the last one)."""
    last = OPENING + n - 1
    tally = {
        "process": PID,
        "type": "petition",
        "ballots": n,
        "paper_batches": {},
        "signatures": n,
        "paper_signatures": 0,
        "total": n,
        "threshold": n,
        "reached": n > 0,
        "reached_at": last if n > 0 else None,
    }
    return [
        authoring.close(PID, keys.institution),
        authoring.result(PID, keys.institution, last + 1, tally),
    ]


def _make_signatures(job: tuple[int, int, int]) -> bytes:
    """Signatures ``[start, stop)``: a fresh pseudonym each, a real credential
    ``sk * H(m)``; records of a 4-byte length and the leaf."""
    seed, start, stop = job
    bls.use_arkworks()
    keys = Keys(seed)
    be = bls.current_backend()
    out = bytearray()
    for i in range(start, stop):
        nym = Pseudonym.from_seed(_derive(seed, f"pseudonym {i}"))
        cred = be.sign(keys.issuer_sk, credential_message(PID, nym.public_key), CREDENTIAL_DST)
        leaf = authoring.signature(PID, nym, cred)
        out += len(leaf).to_bytes(4, "big") + leaf
    return bytes(out)


def _cache_path(n: int, seed: int) -> Path:
    return RESULTS / f"audit-petition-n{n}-seed{seed}.leaves"


def _split(blob: bytes) -> Iterator[bytes]:
    pos = 0
    while pos < len(blob):
        size = int.from_bytes(blob[pos : pos + 4], "big")
        yield blob[pos + 4 : pos + 4 + size]
        pos += 4 + size


def signatures(
    n: int, seed: int, workers: int, use_cache: bool
) -> tuple[list[bytes], dict[str, Any]]:
    """The n signature leaves, from the cache or generated (and cached)."""
    path = _cache_path(n, seed)
    info: dict[str, Any] = {"cache": str(path.relative_to(ROOT))}
    if use_cache and path.exists():
        t0 = time.perf_counter()
        with open(path, "rb") as fh:
            if fh.readline() != MAGIC:
                raise SystemExit(f"{path} is not a leaves cache of this benchmark: delete it")
            header = json.loads(fh.readline())
            blob = fh.read()
        if (header["n"], header["seed"]) != (n, seed):
            raise SystemExit(f"{path} holds n={header['n']}, seed={header['seed']}: delete it")
        if hashlib.sha256(blob).hexdigest() != header["sha256"]:
            raise SystemExit(f"{path} is damaged (SHA-256 mismatch): delete it")
        leaves = list(_split(blob))
        info.update(header, cached=True, load_s=time.perf_counter() - t0)
        return leaves, info
    print(f"generating {n:,} signatures on {workers} processes (cached afterwards) ...", flush=True)
    t0 = time.perf_counter()
    jobs = [(seed, s, min(s + GEN_CHUNK, n)) for s in range(0, n, GEN_CHUNK)]
    parts: list[bytes] = []
    done = 0
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for part in pool.imap(_make_signatures, jobs):
            parts.append(part)
            done += sum(1 for _ in _split(part))
            if len(parts) % 25 == 0 or done == n:
                rate = done / (time.perf_counter() - t0)
                print(f"  {done:,}/{n:,} ({rate:,.0f}/s)", flush=True)
    blob = b"".join(parts)
    gen_s = time.perf_counter() - t0
    header = {"n": n, "seed": seed, "sha256": hashlib.sha256(blob).hexdigest(), "gen_s": gen_s}
    if use_cache:
        RESULTS.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(MAGIC + json.dumps(header).encode() + b"\n" + blob)
        os.replace(tmp, path)
    info.update(header, cached=False)
    return list(_split(blob)), info


def spot_check(leaves: list[bytes], keys: Keys, k: int, seed: int) -> int:
    """Verify ``k`` random credentials one by one (the audit then checks them all)."""
    rng = random.Random(seed)
    for leaf in rng.sample(leaves, min(k, len(leaves))):
        body = decode_entry(leaf).body
        assert not isinstance(body, str)
        if not verify_credential(keys.issuer_pk, PID, body.pseudonym, body.credential):  # type: ignore[union-attr]
            raise SystemExit("a generated credential does not verify")
    return min(k, len(leaves))


# -- the log and the service ----------------------------------------------------------------


def build_log(url: str, keys: Keys, leaves: list[bytes], batch: int) -> float:
    from urne.ledger.log import Log

    t0 = time.perf_counter()
    with Log.open(url, signer=keys.log) as log:
        log.append_many(opening(keys, len(leaves)))
        for i in range(0, len(leaves), batch):
            log.append_many(leaves[i : i + batch])
        log.append_many(closing(keys, len(leaves)))
        assert log.size == OPENING + len(leaves) + 2
    return time.perf_counter() - t0


def _serve(url: str, seed: int, port: int) -> None:
    import uvicorn

    from urne.api.main import create_app
    from urne.ledger.log import Log

    log = Log.open(url, signer=Keys(seed).log)
    config = uvicorn.Config(
        create_app(log), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a live process (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


@contextlib.contextmanager
def served(url: str, seed: int) -> Iterator[tuple[str, int]]:
    port = _free_port()
    proc = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(url, seed, port), daemon=True
    )
    proc.start()
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while True:
            try:
                with urllib.request.urlopen(base + "/checkpoint", timeout=60) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if not proc.is_alive() or time.perf_counter() - t0 > 1800:
                    raise SystemExit("the service did not start") from None
                time.sleep(0.2)
        print(f"service up in {time.perf_counter() - t0:.1f} s", flush=True)
        assert proc.pid is not None
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.join(10)


# -- measuring the audit --------------------------------------------------------------------


class Timers:
    """Wall seconds spent inside some functions of the auditor's main process
    (wrapped for the run; ~1 us per call)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:
            return
        seconds, calls, clock = self.seconds, self.calls, time.perf_counter
        seconds.setdefault(label, 0.0)
        calls.setdefault(label, 0)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = clock()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] += clock() - t
                calls[label] += 1

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()


def timed_source(base: str) -> Any:
    from urne.verifier.check.audit import HttpSource

    class TimedHttpSource(HttpSource):
        """HttpSource counting requests, bytes and seconds per kind of path."""

        def __init__(self, url: str) -> None:
            super().__init__(url)
            self.stats: dict[str, list[float]] = {}
            self._lock = threading.Lock()

        def get(self, path: str) -> bytes:
            t = time.perf_counter()
            data = super().get(path)
            kind = (
                "entry bundles"
                if path.startswith("tile/entries/")
                else "hash tiles"
                if path.startswith("tile/")
                else path
            )
            with self._lock:
                s = self.stats.setdefault(kind, [0, 0, 0.0])
                s[0] += 1
                s[1] += len(data)
                s[2] += time.perf_counter() - t
            return data

    return TimedHttpSource(base)


def run_audit(base: str, server_pid: int, keys: Keys, n: int, profile: bool) -> dict[str, Any]:
    import urne.verifier.check.audit as va
    from urne.verifier.civic.process import Registry
    from urne.verifier.tlog import merkle

    timers = Timers()
    timers.wrap(va, "hash_leaf", "tree: leaf hashes")
    timers.wrap(merkle.CompactRange, "append", "tree: compact range (rebuild)")
    timers.wrap(va, "decode_entry", "decode: JSON, canonical form, fields")
    timers.wrap(Registry, "check", "rules + Ed25519 signatures (Registry.check)")
    timers.wrap(Registry, "apply", "rules: record (Registry.apply)")
    timers.wrap(Registry, "tally", "recount (Registry.tally)")
    timers.wrap(va, "invalid_credentials", "credentials, in the main process")
    timers.wrap(va.CredentialBatches, "wait", "waiting for credential workers")
    timers.wrap(va.TileChecker, "finish", "hash tiles: the last ones (the rest during the pass)")
    source = timed_source(base)

    total = OPENING + n + 2  # the opening, the signatures, the close and the result
    t_start = time.perf_counter()
    marks = {"next": 0.05}

    def progress(done: int, of: int) -> None:
        if done >= marks["next"] * of or done == of:
            elapsed = time.perf_counter() - t_start
            print(f"  {done:>9,}/{of:,} read  {elapsed:7.1f} s", file=sys.stderr, flush=True)
            marks["next"] = done / of + 0.05

    load0 = os.getloadavg()
    cpu0, srv0 = os.times(), _proc_cpu(server_pid)
    profiler = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    t_start = t0
    if profiler is not None:
        profiler.enable()
    try:
        report = va.audit(source, keys.log.verifier, progress=progress)
    finally:
        if profiler is not None:
            profiler.disable()
        wall = time.perf_counter() - t0
        timers.restore()
    cpu1, srv1 = os.times(), _proc_cpu(server_pid)
    load1 = os.getloadavg()

    ok = (
        report.ok
        and report.entries_checked == total
        and report.credentials_checked == n
        and report.results_compared == 1
        and report.tallies[PID]["signatures"] == n
        and report.tallies[PID]["reached_at"] == (OPENING + n - 1 if n else None)
    )
    if not ok:
        for f in report.findings[:5]:
            print(f"finding: step {f.step} {f.code} at {f.index}: {f.message}", file=sys.stderr)
        raise SystemExit(
            f"the audit did not pass as it should: ok={report.ok}, "
            f"entries={report.entries_checked}, credentials={report.credentials_checked}"
        )
    out: dict[str, Any] = {
        "entries": total,
        "credentials": report.credentials_checked,
        "wall_s": wall,
        "entries_per_s": total / wall,
        "main_cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
        "workers_cpu_s": (cpu1.children_user - cpu0.children_user)
        + (cpu1.children_system - cpu0.children_system),
        "server_cpu_s": None if srv0 is None or srv1 is None else srv1 - srv0,
        "loadavg_before": load0,
        "loadavg_after": load1,
        "main_timers": {k: [timers.calls[k], v] for k, v in timers.seconds.items()},
        "http": {
            k: {"requests": int(v[0]), "bytes": int(v[1]), "s": v[2]}
            for k, v in source.stats.items()
        },
    }
    if profiler is not None:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


# -- ElectionGuard ----------------------------------------------------------------------------

EG_SCRIPT = r"""
import json, logging, sys, time, multiprocessing as mp
from datetime import datetime


def election():
    from electionguard.ballot import (PlaintextBallot, PlaintextBallotContest,
                                      PlaintextBallotSelection)
    from electionguard.election import make_ciphertext_election_context
    from electionguard.elgamal import elgamal_keypair_from_secret
    from electionguard.group import TWO_MOD_Q, int_to_q
    from electionguard.manifest import (BallotStyle, Candidate, ElectionType, GeopoliticalUnit,
        InternalManifest, Manifest, ReferendumContestDescription, ReportingUnitType,
        SelectionDescription, SpecVersion, VoteVariationType)
    unit = GeopoliticalUnit("city", "City", ReportingUnitType.city)
    contest = ReferendumContestDescription(
        "petition", 0, "city", VoteVariationType.one_of_m, 1, 1, "Petition",
        [SelectionDescription("sign", 0, "sign")])
    manifest = Manifest(
        election_scope_id="bench", spec_version=SpecVersion.EG0_95, type=ElectionType.special,
        start_date=datetime(2026, 1, 1), end_date=datetime(2026, 12, 31),
        geopolitical_units=[unit], parties=[], candidates=[Candidate("sign")],
        contests=[contest], ballot_styles=[BallotStyle("style", ["city"])])
    internal = InternalManifest(manifest)
    keypair = elgamal_keypair_from_secret(int_to_q(123456789))
    context = make_ciphertext_election_context(
        1, 1, keypair.public_key, TWO_MOD_Q, internal.manifest_hash)

    def plaintext(i):
        return PlaintextBallot(f"b{i}", "style", [
            PlaintextBallotContest("petition", [PlaintextBallotSelection("sign", 1)])])
    return internal, context, plaintext


def worker(wid, n, barrier, out):
    logging.disable(logging.CRITICAL)  # it logs every ciphertext at INFO
    from electionguard.ballot import CiphertextBallot
    from electionguard.ballot_validator import ballot_is_valid_for_election
    from electionguard.encrypt import encrypt_ballot
    from electionguard.serialize import from_raw, to_raw
    internal, context, plaintext = election()
    raws = [to_raw(encrypt_ballot(plaintext(wid * n + i), internal, context,
                                  internal.manifest_hash)) for i in range(n)]
    barrier.wait()
    t0 = time.perf_counter()
    ballots = [from_raw(CiphertextBallot, r) for r in raws]
    t1 = time.perf_counter()
    ok = all(ballot_is_valid_for_election(b, internal, context, True) for b in ballots)
    t2 = time.perf_counter()
    out.put((ok, t1 - t0, t2 - t1, len(raws[0])))


def main():
    n, procs = int(sys.argv[1]), int(sys.argv[2])
    from importlib import metadata
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    ps = [ctx.Process(target=worker, args=(w, n, barrier, out)) for w in range(procs)]
    for p in ps:
        p.start()
    res = [out.get() for _ in ps]
    for p in ps:
        p.join()
    print(json.dumps({
        "version": metadata.version("electionguard"), "python": sys.version.split()[0],
        "ok": all(r[0] for r in res), "ballots": n * procs, "processes": procs,
        "decode_s": max(r[1] for r in res), "verify_s": max(r[2] for r in res),
        "ballot_json_bytes": res[0][3]}))


if __name__ == "__main__":
    main()
"""


def _eg_candidates(explicit: list[str]) -> list[str]:
    if explicit:
        return explicit
    found = [sys.executable]
    for venv in ("eg-py311", "eg-py310"):
        python = RESULTS / venv / "bin" / "python"
        if python.exists():
            found.append(str(python))
    return found


def electionguard(per_process: int, processes: int, explicit: list[str]) -> dict[str, Any]:
    """ElectionGuard's per-ballot verification, on the first interpreter that imports it."""
    attempts: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "eg_bench.py"
        script.write_text(EG_SCRIPT)
        for python in _eg_candidates(explicit):
            version = subprocess.run(
                [python, "-c", "import sys; print(sys.version.split()[0])"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            probe = subprocess.run(
                [python, "-c", "import electionguard.ballot_validator, electionguard.encrypt"],
                capture_output=True,
                text=True,
            )
            attempt: dict[str, Any] = {"python": python, "version": version}
            if probe.returncode != 0:
                lines = [x for x in probe.stderr.strip().splitlines() if x.strip()]
                attempt["error"] = lines[-1] if lines else f"exit {probe.returncode}"
                attempts.append(attempt)
                continue
            run = subprocess.run(
                [python, str(script), str(per_process), str(processes)],
                capture_output=True,
                text=True,
            )
            if run.returncode != 0:
                lines = [x for x in run.stderr.strip().splitlines() if x.strip()]
                attempt["error"] = lines[-1] if lines else f"exit {run.returncode}"
                attempts.append(attempt)
                continue
            result = json.loads(run.stdout.strip().splitlines()[-1])
            if not result["ok"]:
                raise SystemExit("ElectionGuard refused a ballot it had just encrypted")
            attempt.update(result)
            attempts.append(attempt)
            return {"ran": True, "attempts": attempts, **result}
    return {"ran": False, "attempts": attempts}


# -- report -------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.strip()
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "free_h": free,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "bls_backend": bls.current_backend().name,
        "py_arkworks_bls12381": metadata.version("py_arkworks_bls12381"),
        "pynacl": metadata.version("pynacl"),
    }


def print_report(res: dict[str, Any]) -> None:
    m, a, g = res["machine"], res["audit"], res["generation"]
    print(f"\nmachine: nproc={m['nproc']} {m['cpu']}; Python {m['python']}; {m['platform']}")
    print(m["free_h"])
    print(
        f"BLS backend: {m['bls_backend']} (py_arkworks_bls12381 {m['py_arkworks_bls12381']}), "
        f"PyNaCl {m['pynacl']}"
    )
    how = "loaded from cache" if g["cached"] else "generated"
    print(
        f"\nleaves: {g['n']:,} signatures, {how} ({g['cache']}; sha256 {g['sha256'][:16]}...; "
        f"generation took {g['gen_s']:.0f} s); {res['spot_checked']} credentials verified singly"
    )
    print(f"log built: {a['entries']:,} entries in {res['build_s']:.1f} s (SQLite, plain appends)")
    n = a["entries"]
    print(f"\nAUDIT over HTTP (127.0.0.1, uvicorn in a separate process): {n:,} entries")
    print(f"  wall time    {a['wall_s']:9.1f} s")
    print(f"  throughput   {a['entries_per_s']:9,.0f} entries/s")
    print(
        f"  1,000,000 entries at this rate: {1e6 / a['entries_per_s'] / 60:.1f} min "
        f"(target: >= 3,000 entries/s, under 6 min)"
    )
    print(
        f"  load average before/after: {a['loadavg_before'][0]:.2f} / {a['loadavg_after'][0]:.2f}"
    )
    print("\n  CPU seconds (2 cores = 2 CPU-seconds per wall second):")
    print(f"    auditor main process       {a['main_cpu_s']:9.1f} s")
    print(f"    auditor credential workers {a['workers_cpu_s']:9.1f} s")
    srv = a["server_cpu_s"]
    print(f"    HTTP server (same machine) {srv:9.1f} s" if srv is not None else "    server: n/a")
    print("\n  main process, wall seconds inside (they overlap with the workers):")
    print(f"    {'component':<46} {'calls':>10} {'s':>8} {'us/entry':>9}")
    for label, (calls, s) in a["main_timers"].items():
        if calls:
            print(f"    {label:<46} {calls:>10,} {s:8.1f} {s / n * 1e6:9.1f}")
    print("\n  HTTP GETs (from the auditor's fetch threads; overlapped with the rest):")
    for kind, h in a["http"].items():
        print(
            f"    {kind:<20} {h['requests']:>7,} requests {h['bytes'] / 1e6:9.1f} MB "
            f"{h['s']:8.1f} s  ({h['s'] / max(h['requests'], 1) * 1e3:.1f} ms each)"
        )
    if "profile" in a:
        print("\n  cProfile of the main process (times inflated by profiling):", file=sys.stderr)
        print(a["profile"], file=sys.stderr)
    eg = res.get("electionguard")
    print()
    if eg is None:
        print("ElectionGuard: skipped (--skip-electionguard)")
    else:
        for at in eg["attempts"]:
            if "error" in at:
                where = f"Python {at['version']} ({at['python']})"
                print(f"ElectionGuard on {where}: NOT usable: {at['error']}")
        if eg["ran"]:
            rate = eg["ballots"] / eg["verify_s"]
            print(
                f"ElectionGuard {eg['version']} on Python {eg['python']}: per-ballot verification "
                f"(ballot_is_valid_for_election, proofs checked) of {eg['ballots']} one-question "
                f"ballots on {eg['processes']} processes: {rate:,.1f} ballots/s "
                f"(+ JSON decoding {eg['decode_s']:.2f} s; "
                f"{eg['ballot_json_bytes']:,} bytes a ballot)"
            )
            print(
                f"  Urne audit / ElectionGuard verification: {a['entries_per_s'] / rate:,.0f}x "
                f"(Urne's figure is end to end: download, rebuild, decode, signatures, "
                f"credentials, recount)"
            )
            print(f"  1,000,000 ElectionGuard ballots at this rate: {1e6 / rate / 3600:.1f} h")
        else:
            print("ElectionGuard: no interpreter could run it (see above); no comparison.")
    target = a["entries_per_s"] >= 3000
    print(
        f"\nTARGET (>= 3,000 entries/s on this machine): "
        f"{'MET' if target else 'NOT MET'} ({a['entries_per_s']:,.0f} entries/s)"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--n", type=int, default=1_000_000, help="petition signatures (default 1,000,000)"
    )
    p.add_argument("--seed", type=int, default=0, help="derives every key (default 0)")
    p.add_argument("--gen-workers", type=int, default=2, help="processes generating (default 2)")
    p.add_argument("--batch", type=int, default=10_000, help="entries per append (default 10,000)")
    p.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the leaves cache"
    )
    p.add_argument(
        "--spot-check", type=int, default=32, help="credentials verified singly on loading"
    )
    p.add_argument("--profile", action="store_true", help="cProfile the auditor's main process")
    p.add_argument("--skip-electionguard", action="store_true")
    p.add_argument("--eg-ballots", type=int, default=100, help="ElectionGuard ballots per process")
    p.add_argument(
        "--eg-python",
        action="append",
        default=[],
        help="interpreter(s) to run ElectionGuard with (default: this one, then "
        "bench/results/eg-py311 and eg-py310 virtualenvs if present)",
    )
    p.add_argument("--json", type=Path, help="also write the results as JSON")
    args = p.parse_args(argv)

    bls.use_arkworks()
    keys = Keys(args.seed)
    res: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv)}
    leaves, res["generation"] = signatures(args.n, args.seed, args.gen_workers, not args.no_cache)
    res["spot_checked"] = spot_check(leaves, keys, args.spot_check, args.seed)

    tmp = Path(tempfile.mkdtemp(prefix="urne-audit-bench-"))
    try:
        url = f"sqlite:///{tmp / 'log.db'}"
        res["build_s"] = build_log(url, keys, leaves, args.batch)
        del leaves
        with served(url, args.seed) as (base, server_pid):
            print(f"auditing {base} ...", flush=True)
            res["audit"] = run_audit(base, server_pid, keys, args.n, args.profile)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if not args.skip_electionguard:
        print("ElectionGuard ...", flush=True)
        res["electionguard"] = electionguard(args.eg_ballots, os.cpu_count() or 1, args.eg_python)
    print_report(res)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
