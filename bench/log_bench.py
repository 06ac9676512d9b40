#!/usr/bin/env python3
"""Benchmark Urne's log (RFC 9162 on SQLite) against Python Merkle-tree libraries.

On the SAME deterministic entries and proof workload, in the SAME run, measures:

- append throughput (entries/s) of all n entries;
- ``--proofs`` inclusion proofs (random index, tree size n), proofs/s;
- ``--proofs`` consistency proofs (random 1 <= size1 < size2 = n), proofs/s;

for each peer:

- ``urne``: :class:`ledger.Log` on an SQLite file (``append_many`` per batch: one
  committed transaction with a signed checkpoint per batch);
- ``pymerkle-sqlite``: pymerkle 7 ``SqliteTree`` (bulk ``append_entries`` per batch);
- ``pymerkle-inmemory``: pymerkle 7 ``InmemoryTree`` (not persistent);
- ``merkletools``: ``MerkleTools`` (static in-memory tree; no consistency proofs).

Every (peer, n) runs in a fresh child process (so that one peer's millions of
objects never slow another's garbage collection, and peak memory is per peer).
Only the library calls are timed. Every proof is then checked, outside the
timed part: against RFC 9162 (``urne.verifier.tlog.proof``) with roots computed here
independently of every peer, and with the peer's own verifier where it has one.

Run ``python bench/log_bench.py --help``; see bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from urne.verifier.errors import VerificationError
from urne.verifier.tlog.proof import (
    consistency_proof_length,
    inclusion_proof_length,
    verify_consistency,
    verify_inclusion,
)
from urne.verifier.tlog.rfc9162 import empty_root, hash_children, hash_leaf

ROOT = Path(__file__).resolve().parent.parent

PEERS = ("urne", "urne-postgres", "pymerkle-sqlite", "pymerkle-inmemory", "merkletools")
ENTRY_SIZE = 100
ORIGIN = "bench.example/log"


# -- the shared input ----------------------------------------------------------


def make_entries(count: int, seed: int) -> list[bytes]:
    """``count`` deterministic 100-byte JSON ballots (the same for every peer)."""
    rng = random.Random(seed)
    out: list[bytes] = []
    for i in range(count):
        poll, ballot, choice = rng.randrange(10000), rng.randbytes(16).hex(), rng.randrange(8)
        core = f'{{"poll":"p-{poll:04d}","ballot":"{ballot}","choice":{choice},"seq":{i},"pad":"'
        out.append((core + "x" * (ENTRY_SIZE - 2 - len(core)) + '"}').encode())
    return out


def entries_digest(entries: Sequence[bytes]) -> str:
    h = hashlib.sha256()
    for e in entries:
        h.update(len(e).to_bytes(4, "big"))
        h.update(e)
    return h.hexdigest()


def make_workload(n: int, proofs: int, seed: int) -> tuple[list[int], list[int]]:
    """Inclusion indices in [0, n) and consistency size1 in [1, n); size2 = n."""
    rng = random.Random(f"urne-bench:{seed}:{n}")
    indices = [rng.randrange(n) for _ in range(proofs)]
    sizes1 = [rng.randrange(1, n) for _ in range(proofs)]
    return indices, sizes1


def reference_roots(entries: Sequence[bytes], sizes: set[int]) -> dict[int, bytes]:
    """RFC 9162 roots at ``sizes``, computed here with a compact range over
    ``urne.verifier.tlog.rfc9162`` hashing only (independent of every peer)."""
    out: dict[int, bytes] = {}
    if 0 in sizes:
        out[0] = empty_root()
    border: list[bytes] = []
    top = max(sizes)
    for i, e in enumerate(entries[:top]):
        h = hash_leaf(e)
        j = i
        while j & 1:
            h = hash_children(border.pop(), h)
            j >>= 1
        border.append(h)
        if i + 1 in sizes:
            acc = border[-1]
            for left in reversed(border[:-1]):
                acc = hash_children(left, acc)
            out[i + 1] = acc
    return out


def batches(entries: Sequence[bytes], size: int) -> list[Sequence[bytes]]:
    return [entries[i : i + size] for i in range(0, len(entries), size)]


# -- timing helpers ------------------------------------------------------------


def timed_proofs(
    fn: Callable[[int], Any], args: Sequence[int], budget: float
) -> tuple[list[Any], float, str]:
    """Call ``fn`` on ``args`` in order; stop once ``budget`` seconds have passed.

    Returns the results (a prefix of ``args`` when the budget ran out), the
    seconds spent and a note saying how much was timed."""
    out: list[Any] = []
    t0 = time.perf_counter()
    deadline = t0 + budget
    for a in args:
        out.append(fn(a))
        if time.perf_counter() > deadline:
            break
    dt = time.perf_counter() - t0
    note = "" if len(out) == len(args) else f"time budget {budget:g}s: timed first {len(out)}"
    return out, dt, note


def phase(results: list[Any], seconds: float, total: int, note: str) -> dict[str, Any]:
    return {
        "timed": len(results),
        "of": total,
        "seconds": round(seconds, 4),
        "rate": len(results) / seconds if seconds > 0 else None,
        "note": note,
    }


def na(reason: str) -> dict[str, Any]:
    return {"timed": 0, "of": 0, "seconds": None, "rate": None, "note": reason}


class Profiler:
    """cProfile of a phase, including threads started during it (Urne's
    sequencer commits in its own thread). Only with --profile."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.profiles: list[cProfile.Profile] = []

    @contextlib.contextmanager
    def phase(self, name: str) -> Any:
        if not self.enabled:
            yield
            return
        main = cProfile.Profile()
        threads: list[cProfile.Profile] = []

        def hook(*_: object) -> None:  # first profile event in a new thread
            sys.setprofile(None)
            p = cProfile.Profile()
            threads.append(p)
            p.enable()

        threading.setprofile(hook)
        main.enable()
        try:
            yield
        finally:
            main.disable()
            threading.setprofile(None)  # type: ignore[arg-type]
            for p in threads:
                with contextlib.suppress(Exception):
                    p.disable()
            buf = io.StringIO()
            stats = pstats.Stats(main, stream=buf)
            for p in threads:
                with contextlib.suppress(TypeError):
                    stats.add(p)
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(20)
            print(f"\n==== cProfile: {name} ====\n{buf.getvalue()}", file=sys.stderr)


def loaded_source_digest() -> str:
    """SHA-256 of the Urne modules this process loaded (ledger.*, verifier.*): it
    names exactly the code that was measured, committed or not."""
    h = hashlib.sha256()
    for name in sorted(sys.modules):
        if name.split(".")[0] in ("ledger", "verifier"):
            path = getattr(sys.modules[name], "__file__", None)
            if path:
                src = Path(path)
                h.update(str(src.relative_to(ROOT)).encode() + b"\0" + src.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def fingerprint(proof: Sequence[bytes]) -> tuple[str, str]:
    """Digests of a proof's hashes in order and as a set (to compare proofs across
    processes without shipping them)."""
    ordered = hashlib.sha256(b"".join(proof)).hexdigest()[:16]
    as_set = hashlib.sha256(b"".join(sorted(proof))).hexdigest()[:16]
    return ordered, as_set


def peak_rss_mb() -> float:
    """Peak resident memory of this process. VmHWM, not ru_maxrss: Linux carries
    ru_maxrss over fork+exec, so a child would report its parent's peak."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def disk_mb(*paths: Path) -> float:
    return sum(p.stat().st_size for p in paths if p.exists()) / 2**20


# -- the peers (each run in its own child process) -------------------------------


#: The PostgreSQL server of the ``urne-postgres`` peer (a fresh schema per run).
PG_URL = os.environ.get(
    "URNE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def run_urne(ctx: dict[str, Any]) -> dict[str, Any]:
    tmp: Path = ctx["tmp"]
    db = tmp / "urne.db"
    return _run_log(ctx, f"sqlite:///{db}", lambda: disk_mb(db, Path(f"{db}-wal")))


def run_urne_postgres(ctx: dict[str, Any]) -> dict[str, Any]:
    """``urne`` on PostgreSQL: the same work, in a schema of its own (dropped
    afterwards); ``disk_mb`` is the tables' size with their indexes."""
    import uuid

    import sqlalchemy as sa

    schema = f"urne_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"

    def size() -> float:
        with admin.connect() as conn:
            total = conn.exec_driver_sql(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                f"WHERE n.nspname = '{schema}' AND c.relkind = 'r'"
            ).scalar_one()
        return float(total) / 1e6

    try:
        return _run_log(ctx, url, size)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def _run_log(ctx: dict[str, Any], url: str, disk: Callable[[], float]) -> dict[str, Any]:
    from urne.ledger.log import Log

    tmp: Path = ctx["tmp"]
    entries, n, batch = ctx["entries"], ctx["n"], ctx["batch"]
    indices, sizes1, refs = ctx["indices"], ctx["sizes1"], ctx["refs"]
    prof: Profiler = ctx["profiler"]
    log = Log.open(url, key_dir=tmp / "keys", origin=ORIGIN)
    res: dict[str, Any] = {
        "notes": [f"append_many per batch of {batch}: one transaction each"],
        "source_sha256": loaded_source_digest(),
    }
    try:
        with prof.phase("urne append"):
            t0 = time.perf_counter()
            expected = 0
            for b in batches(entries, batch):
                r = log.append_many(b)
                if r.start != expected or len(r) != len(b):
                    raise AssertionError(f"append_many returned {r}, expected start {expected}")
                expected += len(b)
            res["append_seconds"] = time.perf_counter() - t0
        res["disk_mb"] = disk()
        res["bytes_per_entry"] = res["disk_mb"] * 1e6 / n
        with prof.phase("urne inclusion proofs"):
            inc, dt, note = timed_proofs(
                lambda i: log.inclusion_proof(i, n), indices, ctx["budget"]
            )
        res["inclusion"] = phase(inc, dt, len(indices), note)
        with prof.phase("urne consistency proofs"):
            con, dt, note = timed_proofs(
                lambda s: log.consistency_proof(s, n), sizes1, ctx["budget"]
            )
        res["consistency"] = phase(con, dt, len(sizes1), note)

        # -- checks, not timed
        root = log.root(n)
        res["root"] = root.hex()
        res["root_is_rfc9162"] = root == refs[n]
        ok = 0
        for i, p in zip(indices, inc, strict=False):
            verify_inclusion(hash_leaf(entries[i]), i, n, p, refs[n])
            ok += 1
        res["check_inclusion_rfc"] = f"{ok}/{len(inc)}"
        ok = 0
        for s, p in zip(sizes1, con, strict=False):
            verify_consistency(s, n, p, refs[s], refs[n])
            ok += 1
        res["check_consistency_rfc"] = f"{ok}/{len(con)}"
        res["example_consistency"] = {
            "size1": sizes1[0],
            "size2": n,
            "proof": [h.hex() for h in con[0]],
        }
        res["consistency_fingerprints"] = [fingerprint(p) for p in con]
    finally:
        log.close()
    return res


def _pymerkle_proofs(tree: Any, ctx: dict[str, Any], res: dict[str, Any], label: str) -> None:
    """Time and check pymerkle proofs (shared by both pymerkle backends)."""
    from pymerkle import InvalidProof

    entries, n = ctx["entries"], ctx["n"]
    indices, sizes1, refs = ctx["indices"], ctx["sizes1"], ctx["refs"]
    prof: Profiler = ctx["profiler"]
    tree.cache_clear()  # proofs start from a cold subroot cache, as after opening
    with prof.phase(f"{label} inclusion proofs"):
        inc, dt, note = timed_proofs(
            lambda i: tree.prove_inclusion(i + 1, n), indices, ctx["budget"]
        )
    res["inclusion"] = phase(inc, dt, len(indices), note)
    tree.cache_clear()
    with prof.phase(f"{label} consistency proofs"):
        con, dt, note = timed_proofs(lambda s: tree.prove_consistency(s, n), sizes1, ctx["budget"])
    res["consistency"] = phase(con, dt, len(sizes1), note)
    info = tree.get_cache_info()
    res["notes"].append(
        f"subroot cache cleared before each proof phase; after: {info.size} B cached, "
        f"{info.hits} hits, {info.misses} misses"
    )

    # -- checks, not timed
    root = tree.get_root(n)
    res["root"] = root.hex()
    res["root_is_rfc9162"] = root == refs[n]
    native = rfc = 0
    for i, p in zip(indices, inc, strict=False):
        leaf = hash_leaf(entries[i])
        p.verify(leaf, refs[n], index=i + 1, size=n)  # pymerkle's own verifier
        native += 1
        # pymerkle's path is [leaf hash] + the audit path
        with contextlib.suppress(VerificationError):
            verify_inclusion(leaf, i, n, p.path[1:], refs[n])
            rfc += 1
    res["check_inclusion_native"] = f"{native}/{len(inc)}"
    res["check_inclusion_rfc"] = f"{rfc}/{len(inc)} (path without its leading leaf hash)"
    native = rfc = same_len = 0
    first_error = ""
    for s, p in zip(sizes1, con, strict=False):
        try:
            p.verify(refs[s], refs[n], prior_size=s, later_size=n)
            native += 1
        except InvalidProof:
            pass
        same_len += len(p.path) == consistency_proof_length(s, n)
        try:
            verify_consistency(s, n, p.path, refs[s], refs[n])
            rfc += 1
        except VerificationError as exc:
            first_error = first_error or f"({s}, {n}): {exc}"
    res["check_consistency_native"] = f"{native}/{len(con)}"
    res["check_consistency_rfc"] = f"{rfc}/{len(con)}"
    res["consistency_len_eq_rfc"] = f"{same_len}/{len(con)}"
    res["consistency_rfc_first_error"] = first_error
    res["example_consistency"] = {
        "size1": sizes1[0],
        "size2": n,
        "proof": [h.hex() for h in con[0].path],
        "rule": con[0].rule,
        "subset": con[0].subset,
    }
    res["consistency_fingerprints"] = [fingerprint(p.path) for p in con]


def run_pymerkle_sqlite(ctx: dict[str, Any]) -> dict[str, Any]:
    from pymerkle import SqliteTree

    tmp: Path = ctx["tmp"]
    entries, batch = ctx["entries"], ctx["batch"]
    db = tmp / "pymerkle.db"
    tree = SqliteTree(str(db), algorithm="sha256")  # security (0x00/0x01) on by default
    res: dict[str, Any] = {
        "notes": [
            f"append_entries(batch, chunksize={batch}) per batch of {batch}: one transaction "
            "each; sha256, security prefixes on (defaults)"
        ]
    }
    try:
        with ctx["profiler"].phase("pymerkle-sqlite append"):
            t0 = time.perf_counter()
            for b in batches(entries, batch):
                tree.append_entries(b, chunksize=batch)
            res["append_seconds"] = time.perf_counter() - t0
        res["disk_mb"] = disk_mb(db, Path(f"{db}-journal"))
        if tree.get_size() != ctx["n"]:
            raise AssertionError(f"size {tree.get_size()} after appending {ctx['n']}")
        _pymerkle_proofs(tree, ctx, res, "pymerkle-sqlite")
    finally:
        tree.close()
    return res


def run_pymerkle_inmemory(ctx: dict[str, Any]) -> dict[str, Any]:
    from pymerkle import InmemoryTree

    entries, batch = ctx["entries"], ctx["batch"]
    tree = InmemoryTree(algorithm="sha256")
    res: dict[str, Any] = {
        "notes": [
            "append_entries per batch (InmemoryTree has no bulk override: one append_entry "
            "per entry); not persistent"
        ]
    }
    with ctx["profiler"].phase("pymerkle-inmemory append"):
        t0 = time.perf_counter()
        for b in batches(entries, batch):
            tree.append_entries(b)
        res["append_seconds"] = time.perf_counter() - t0
    if tree.get_size() != ctx["n"]:
        raise AssertionError(f"size {tree.get_size()} after appending {ctx['n']}")
    _pymerkle_proofs(tree, ctx, res, "pymerkle-inmemory")
    return res


def run_merkletools(ctx: dict[str, Any]) -> dict[str, Any]:
    # merkletools 1.0.3 does `try: import sha3 except: warn(...)` at import: pysha3
    # does not build on Python 3.11 and is only needed for its sha3_* hash types,
    # which hashlib has anyway. Nothing is stubbed; only that warning is silenced.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import merkletools

    entries, n, batch = ctx["entries"], ctx["n"], ctx["batch"]
    indices, refs = ctx["indices"], ctx["refs"]
    prof: Profiler = ctx["profiler"]
    # Its add_leaf(do_hash=True) takes str; convert outside the timed part.
    texts = [e.decode() for e in entries]
    mt = merkletools.MerkleTools(hash_type="sha256")
    res: dict[str, Any] = {
        "notes": [
            "add_leaf(batch, do_hash=True) per batch, then make_tree() once over all n "
            "(a static tree: rebuilding per batch would be quadratic); not persistent",
            "leaves sha256(entry), nodes sha256(left||right): no RFC 9162 prefixes",
        ]
    }
    with prof.phase("merkletools append + make_tree"):
        t0 = time.perf_counter()
        for b in batches(texts, batch):
            mt.add_leaf(list(b), do_hash=True)
        mt.make_tree()
        res["append_seconds"] = time.perf_counter() - t0
    del texts
    with prof.phase("merkletools inclusion proofs"):
        inc, dt, note = timed_proofs(mt.get_proof, indices, ctx["budget"])
    res["inclusion"] = phase(inc, dt, len(indices), note)
    res["consistency"] = na("n/a: merkletools has no consistency proofs")

    # -- checks, not timed
    root_hex = mt.get_merkle_root()
    res["root"] = root_hex
    res["root_is_rfc9162"] = bytes.fromhex(root_hex) == refs[n]
    native = shape = 0
    for i, p in zip(indices, inc, strict=False):
        target = hashlib.sha256(entries[i]).hexdigest()
        native += bool(mt.validate_proof(p, target, root_hex))
        shape += len(p) == inclusion_proof_length(i, n)
    res["check_inclusion_native"] = f"{native}/{len(inc)}"
    res["check_inclusion_rfc"] = "n/a (not RFC 9162 hashing)"
    res["inclusion_len_eq_rfc"] = f"{shape}/{len(inc)}"
    return res


RUNNERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "urne": run_urne,
    "urne-postgres": run_urne_postgres,
    "pymerkle-sqlite": run_pymerkle_sqlite,
    "pymerkle-inmemory": run_pymerkle_inmemory,
    "merkletools": run_merkletools,
}


def worker(args: argparse.Namespace) -> None:
    """Child process: one peer at one size; writes its result as JSON."""
    n = args.n
    ref_data = json.loads(Path(args.ref).read_text())
    refs = {int(k): bytes.fromhex(v) for k, v in ref_data["roots"].items()}
    entries = make_entries(n, args.seed)
    if entries_digest(entries) != ref_data["digest"]:
        raise SystemExit("entries differ from the parent's: not the same input")
    indices, sizes1 = make_workload(n, args.proofs, args.seed)
    out: dict[str, Any] = {"peer": args.worker, "n": n, "loadavg_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix=f"urne-bench-{args.worker}-", dir=args.tmp) as d:
        ctx = {
            "tmp": Path(d),
            "entries": entries,
            "n": n,
            "batch": args.batch,
            "indices": indices,
            "sizes1": sizes1,
            "refs": refs,
            "budget": args.proof_budget,
            "profiler": Profiler(args.worker in args.profile),
        }
        try:
            out.update(RUNNERS[args.worker](ctx))
            out["ok"] = True
        except Exception as exc:  # reported in the table, never skipped silently
            import traceback

            traceback.print_exc()
            out["ok"] = False
            out["error"] = f"{type(exc).__name__}: {exc}"
    if out.get("append_seconds"):
        out["append_rate"] = n / out["append_seconds"]
    out["peak_rss_mb"] = peak_rss_mb()
    out["loadavg_after"] = os.getloadavg()[0]
    Path(args.out).write_text(json.dumps(out))


# -- the parent: run, tabulate, compare ------------------------------------------


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "sqlite": sqlite3.sqlite_version,
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
    for dist in ("pymerkle", "merkletools", "SQLAlchemy"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            info[dist] = "not installed"
    return info


def run_worker(peer: str, n: int, args: argparse.Namespace, ref: Path, tmp: Path) -> dict[str, Any]:
    out = tmp / f"result-{peer}-{n}.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker", peer,
        "--n", str(n),
        "--seed", str(args.seed),
        "--proofs", str(args.proofs),
        "--batch", str(args.batch),
        "--proof-budget", str(args.proof_budget),
        "--ref", str(ref),
        "--out", str(out),
        "--tmp", str(tmp),
        "--profile", ",".join(args.profile),
    ]  # fmt: skip
    print(f"  {peer:<18} n={n:,} ...", end="", flush=True, file=sys.stderr)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, check=False, timeout=args.worker_timeout)
    except subprocess.TimeoutExpired:
        print(" timed out", file=sys.stderr)
        return {
            "peer": peer,
            "n": n,
            "ok": False,
            "error": f"no result within --worker-timeout {args.worker_timeout:g}s",
        }
    print(f" {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    if proc.returncode != 0 or not out.exists():
        return {"peer": peer, "n": n, "ok": False, "error": f"worker exited {proc.returncode}"}
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Combine repeated runs of one (peer, n): each rate is the best run's (the
    least disturbed by other load on the machine); every run is kept in "runs"."""
    ok = [r for r in runs if r.get("ok")]
    if not ok:
        return runs[-1]
    best = dict(ok[0])
    if len(runs) > 1:
        rates = [r.get("append_rate") for r in ok]
        best["append_rate"] = max(x for x in rates if x is not None)
        best["append_seconds"] = best["n"] / best["append_rate"]
        for key in ("inclusion", "consistency"):
            phases = [r[key] for r in ok if r[key].get("rate") is not None]
            if phases:
                best[key] = max(phases, key=lambda ph: ph["rate"])
        best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
        best["runs"] = [
            {
                "append_rate": r.get("append_rate"),
                "inclusion_rate": r["inclusion"].get("rate"),
                "consistency_rate": r["consistency"].get("rate"),
                "loadavg_before": r.get("loadavg_before"),
                "loadavg_after": r.get("loadavg_after"),
                "source_sha256": r.get("source_sha256"),
            }
            for r in ok
        ]
        digests = sorted({r["source_sha256"] for r in ok if r.get("source_sha256")})
        if len(digests) > 1:
            best["source_sha256"] = "CHANGED between runs: " + ", ".join(digests)
        failed = len(runs) - len(ok)
        best["notes"] = [
            *best.get("notes", []),
            f"best of {len(ok)} runs" + (f" ({failed} failed)" if failed else ""),
        ]
    return best


def fmt_rate(r: float | None) -> str:
    return "n/a" if r is None else f"{r:,.0f}"


def fmt_ratio(u: float | None, p: float | None) -> str:
    return "-" if u is None or p is None or p == 0 else f"{u / p:.2f}x"


def rate(res: dict[str, Any], key: str) -> float | None:
    if not res.get("ok"):
        return None
    if key == "append":
        return res.get("append_rate")
    value: float | None = res.get(key, {}).get("rate")
    return value


def print_table(n: int, results: dict[str, dict[str, Any]]) -> None:
    urne = results.get("urne", {})
    print(f"\n### n = {n:,} entries of {ENTRY_SIZE} bytes")
    head = (
        f"{'peer':<18} {'append/s':>10} {'Urne/peer':>9} {'incl/s':>8} {'Urne/peer':>9} "
        f"{'cons/s':>8} {'Urne/peer':>9} {'RSS MB':>7} {'disk MB':>7}  root=RFC9162"
    )
    print(head)
    print("-" * len(head))
    for peer, res in results.items():
        if not res.get("ok"):
            print(f"{peer:<18} ERROR: {res.get('error')}")
            continue
        cells = []
        for key in ("append", "inclusion", "consistency"):
            mine = rate(res, key)
            ratio = "" if peer.startswith("urne") else fmt_ratio(rate(urne, key), mine)
            cells.append(f"{fmt_rate(mine):>{10 if key == 'append' else 8}} {ratio:>9}")
        disk = f"{res['disk_mb']:.0f}" if "disk_mb" in res else "-"
        print(
            f"{peer:<18} {' '.join(cells)} {res['peak_rss_mb']:>7.0f} {disk:>7}  "
            f"{'yes' if res.get('root_is_rfc9162') else 'NO'}"
        )
    for peer, res in results.items():
        if not res.get("ok"):
            continue
        notes = list(res.get("notes", []))
        for key in ("inclusion", "consistency"):
            ph = res.get(key, {})
            if ph.get("note"):
                notes.append(f"{key}: {ph['note']}")
        checks = {k: v for k, v in res.items() if k.startswith(("check_", "consistency_len"))}
        checks.update({k: v for k, v in res.items() if k == "inclusion_len_eq_rfc"})
        if res.get("source_sha256"):
            notes.append(f"ledger/verifier modules loaded: sha256 {res['source_sha256']}")
        loads = [r["loadavg_before"] for r in res.get("runs", []) if r.get("loadavg_before")]
        if loads:
            notes.append(f"load average before its runs {min(loads):.1f}-{max(loads):.1f}")
        print(f"  {peer}: " + "; ".join(notes))
        print(f"  {peer} checks (untimed): " + ", ".join(f"{k}={v}" for k, v in checks.items()))


#: Proof latency at the largest size over the smallest, at most (10M over 1M)
FLAT = 1.5


def flatness(by_size: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """For Urne on each engine: proof latency at the largest size over the
    smallest (time per proof, the inverse of the rates), against :data:`FLAT`,
    and the bytes each entry takes on disk."""
    if len(by_size) < 2:
        return []
    small, large = sorted(by_size, key=int)[0], sorted(by_size, key=int)[-1]
    lines = []
    for peer in ("urne", "urne-postgres"):
        a, b = by_size[small].get(peer, {}), by_size[large].get(peer, {})
        if not (a.get("ok") and b.get("ok")):
            continue
        for key in ("inclusion", "consistency"):
            ra, rb = rate(a, key), rate(b, key)
            if not ra or not rb:
                continue
            ratio = ra / rb  # latency ratio = inverse rate ratio
            verdict = "met" if ratio <= FLAT else "MISSED"
            lines.append(
                f"{peer}: {key} proof latency at {int(large):,} over {int(small):,}: "
                f"{ratio:.2f} (goal at most {FLAT}): {verdict}"
            )
        lines.append(
            f"{peer}: {b['bytes_per_entry']:.0f} bytes per entry on disk at {int(large):,} "
            f"({a['bytes_per_entry']:.0f} at {int(small):,}), entries of {ENTRY_SIZE} bytes"
        )
    return lines


def consistency_finding(n: int, results: dict[str, dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    urne = results.get("urne", {})
    for peer in ("pymerkle-sqlite", "pymerkle-inmemory"):
        res = results.get(peer, {})
        if not res.get("ok"):
            continue
        ex = res["example_consistency"]
        s1, s2 = ex["size1"], ex["size2"]
        lines.append(
            f"{peer} at n={n:,}: {res['check_consistency_rfc']} of its consistency proofs "
            f"verify with urne.verifier.tlog.proof.verify_consistency (RFC 9162 §2.1.4.2); "
            f"its own verifier accepts {res['check_consistency_native']}; "
            f"path length equals the RFC proof length for {res['consistency_len_eq_rfc']}."
        )
        if res.get("consistency_rfc_first_error"):
            lines.append(f"  first RFC rejection: {res['consistency_rfc_first_error']}")
        rfc_len = consistency_proof_length(s1, s2)
        lines.append(
            f"  example ({s1:,} -> {s2:,}): pymerkle path has {len(ex['proof'])} hashes "
            f"(+ rule bits {ex['rule']} and subset bits {ex['subset']}); "
            f"RFC 9162 proof has {rfc_len}."
        )
        if urne.get("ok"):
            u = urne["example_consistency"]["proof"]
            p = ex["proof"]
            same_pos = sum(a == b for a, b in zip(u, p, strict=False))
            lines.append(
                f"  vs Urne's proof for the same sizes: {len(u)} hashes; "
                f"{len(set(u) & set(p))} hashes in common, {same_pos} at the same position; "
                f"identical: {'yes' if u == p else 'no'}."
            )
            pairs = list(
                zip(urne["consistency_fingerprints"], res["consistency_fingerprints"], strict=False)
            )
            same = sum(a[0] == b[0] for a, b in pairs)
            reordered = sum(a[0] != b[0] and a[1] == b[1] for a, b in pairs)
            lines.append(
                f"  over all {len(pairs)} pairs vs Urne: identical {same}, same hashes in another "
                f"order {reordered}, different hashes {len(pairs) - same - reordered}."
            )
        break  # both pymerkle backends produce the same proofs; one is enough
    return lines


def small_consistency_demo() -> list[str]:
    """pymerkle vs RFC 9162 on the smallest case where they differ: (3 -> 4)."""
    try:
        from pymerkle import InmemoryTree
    except ImportError:
        return []
    es = [b"a", b"b", b"c", b"d"]
    t = InmemoryTree(algorithm="sha256")
    t.append_entries(es)
    leaf = [hash_leaf(e) for e in es]
    names = {leaf[2]: "h(c)", leaf[3]: "h(d)", hash_children(leaf[0], leaf[1]): "h(ab)"}
    py = [names.get(h, h.hex()[:8]) for h in t.prove_consistency(3, 4).path]
    # RFC 9162 §2.1.4.1: PROOF(3, D[4]) = SUBPROOF(1, D[2:4], false) : MTH(D[0:2])
    rfc = ["h(c)", "h(d)", "h(ab)"]
    root3 = hash_children(hash_children(leaf[0], leaf[1]), leaf[2])
    try:
        verify_consistency(3, 4, t.prove_consistency(3, 4).path, root3, t.get_root(4))
        verdict = "verifies (unexpected)"
    except VerificationError as exc:
        verdict = f"rejected: {exc}"
    return [
        f"smallest case (3 -> 4 leaves a,b,c,d): pymerkle path {py}, RFC 9162 proof {rfc}; "
        f"RFC verifier on pymerkle's path: {verdict}"
    ]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated tree sizes n")
    ap.add_argument("--proofs", type=int, default=1000, help="proofs of each kind per size")
    ap.add_argument("--seed", type=int, default=9162)
    ap.add_argument("--only", default=",".join(PEERS), help=f"peers among {','.join(PEERS)}")
    ap.add_argument("--batch", type=int, default=10_000, help="entries per append call")
    ap.add_argument(
        "--proof-budget",
        type=float,
        default=300.0,
        help="seconds per proof phase; a slower peer is timed on the first proofs only "
        "(and the table says so)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each peer this many times (fresh processes) and report the best rates",
    )
    ap.add_argument(
        "--worker-timeout",
        type=float,
        default=3600.0,
        help="seconds before a peer's process is stopped and reported as an error",
    )
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    ap.add_argument(
        "--profile", default="", help="peers to run under cProfile (stats on stderr; slower)"
    )
    ap.add_argument("--tmp", help="directory for the databases (default: system temp)")
    for hidden in ("--worker", "--n", "--ref", "--out"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.profile = [p for p in args.profile.split(",") if p]
    if args.worker:
        args.n = int(args.n)
        worker(args)
        return

    sizes = sorted({int(s) for s in args.sizes.split(",") if s})
    peers = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(peers) - set(PEERS)
    if unknown or not peers:
        ap.error(f"unknown peers {sorted(unknown)}; choose among {','.join(PEERS)}")
    if sizes[0] < 2:
        ap.error("sizes must be at least 2 (consistency proofs need 1 <= size1 < n)")

    info = machine_info()
    print("# Urne log benchmark (RFC 9162 Merkle log)")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"machine: {info.get('cpu', '?')}, {info['cores']} cores ({info['cores_usable']} usable), "
        f"{info.get('memory_gib', '?')} GiB RAM; {info['python']}; {info['platform']}"
    )
    print(
        f"sqlite {info['sqlite']}, SQLAlchemy {info['SQLAlchemy']}, "
        f"pymerkle {info['pymerkle']}, merkletools {info['merkletools']}"
    )
    print(
        f"workload: {args.proofs} inclusion proofs (random index, size n) and {args.proofs} "
        f"consistency proofs (random 1 <= size1 < size2 = n) per size; appends in batches "
        f"of {args.batch:,}; seed {args.seed}; each peer in a fresh process; "
        f"wall clock (time.perf_counter); best of {args.repeat} run(s); "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )

    t_start = time.perf_counter()
    all_entries = make_entries(sizes[-1], args.seed)
    report: dict[str, Any] = {
        "machine": info,
        "args": {k: v for k, v in vars(args).items() if k not in ("worker", "n", "ref", "out")},
        "command": " ".join(sys.argv),
        "entries": {"bytes_each": ENTRY_SIZE, "seed": args.seed},
        "results": {},
        "findings": [],
        "targets": {},
    }
    with tempfile.TemporaryDirectory(prefix="urne-bench-", dir=args.tmp) as d:
        tmp = Path(d)
        for n in sizes:
            entries = all_entries[:n]
            digest = entries_digest(entries)
            _, sizes1 = make_workload(n, args.proofs, args.seed)
            refs = reference_roots(entries, {n, *sizes1})
            ref = tmp / f"ref-{n}.json"
            ref.write_text(
                json.dumps({"digest": digest, "roots": {k: v.hex() for k, v in refs.items()}})
            )
            print(f"\nrunning n={n:,} (entries sha256 {digest[:16]}...)", file=sys.stderr)
            runs: dict[str, list[dict[str, Any]]] = {p: [] for p in peers}
            for _ in range(args.repeat):  # interleaved, so that background load spreads
                for p in peers:
                    runs[p].append(run_worker(p, n, args, ref, tmp))
            results = {p: best_of(runs[p]) for p in peers}
            report["results"][str(n)] = results
            finding = consistency_finding(n, results)
            for res in results.values():
                res.pop("consistency_fingerprints", None)
            report["entries"][str(n)] = {"sha256": digest, "rfc9162_root": refs[n].hex()}
            print_table(n, results)
            print(f"  same entries for every peer: sha256 {digest}; RFC 9162 root {refs[n].hex()}")
            for line in finding:
                print("  " + line)
            report["findings"].extend(finding)
            urne, pms = results.get("urne", {}), results.get("pymerkle-sqlite", {})
            if urne.get("ok") and pms.get("ok"):
                targets = {
                    key: (rate(urne, key) or 0) >= (rate(pms, key) or 0)
                    for key in ("append", "inclusion", "consistency")
                }
                report["targets"][str(n)] = targets
                print(
                    "  targets vs pymerkle-sqlite: "
                    + ", ".join(f"{k} {'MET' if v else 'NOT MET'}" for k, v in targets.items())
                )
    for line in flatness(report["results"]):
        print(line)
        report["findings"].append(line)
    demo = small_consistency_demo()
    for line in demo:
        print(line)
    report["findings"].extend(demo)
    print(f"\ntotal wall time {time.perf_counter() - t_start:.0f}s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
