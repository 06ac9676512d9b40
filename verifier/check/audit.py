"""The full audit of a log, as a numbered checklist (docs/spec/verification.md).

1. the checkpoint is signed by the log's key;
2. it is consistent with the last checkpoint this auditor verified (state on
   disk: a second run reads only what is new);
3. the entries and hash tiles the log serves reproduce the checkpoint's root,
   and every tile equals what the entries imply;
4. every entry is canonical, well-formed and signed by its author;
5. every credential is valid (batch-verified per process);
6. every manifest is respected (deadline order, choices, budget constraints,
   officials, revoting, one signature per pseudonym);
7. every process is recounted and every published ``result`` equals the recount.

Every failure is a :class:`Finding` with evidence a third party can check with
nothing but the log's public key: two signed checkpoints that cannot both be
true, or an entry with its inclusion proof under a signed checkpoint and the
rule it breaks.

The log is read through C2SP tlog-tiles paths, from a URL or a directory.

How it goes fast enough for a million entries (docs/performance-audit.md):
entries are checked in one pass as the bundles arrive, with the next bundles
and tiles already being fetched; credentials -- hashing to G2 and subgroup
checks, nine tenths of the work -- are batch-verified in one worker process per
core while this process goes on with the rest. Nothing is skipped for speed,
and the findings (and their order) are those of checking everything in
sequence after the download: what the rules refuse is only reported once the
tree is known to match the signed checkpoint.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from urne.verifier.check.state import AuditState, load_state, read_leaves, save_state
from urne.verifier.check.workers import CredentialWorkers, cores
from urne.verifier.civic.entries import Ballot, decode_entry
from urne.verifier.civic.process import EntryRefused
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import invalid_credentials
from urne.verifier.errors import FetchError, VerificationError
from urne.verifier.tlog import merkle
from urne.verifier.tlog.checkpoint import SignedCheckpoint, open_checkpoint
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.tlog.rfc9162 import HASH_SIZE, hash_leaf
from urne.verifier.tlog.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    decode_entry_bundle,
    entries_path,
    tile_path,
)
from urne.verifier.tlog.tiles import tile_width as _tile_width

__all__ = [
    "STEPS",
    "AuditReport",
    "CredentialBatches",
    "DirectorySource",
    "Finding",
    "HttpSource",
    "Source",
    "TileChecker",
    "audit",
    "open_source",
]

STEPS: dict[int, str] = {
    1: "checkpoint signed by the log's key",
    2: "consistent with the last checkpoint this auditor verified",
    3: "entries and tiles reproduce the checkpoint's root",
    4: "every entry canonical, well-formed and signed by its author",
    5: "every credential valid (batched per process)",
    6: "every manifest respected",
    7: "recount of every process equals every published result",
}

_RESULT_CODES = {"wrong_result", "bad_through"}
_CREDENTIAL_BATCH = 4096
#: Audits of fewer new entries verify credentials in this process: starting
#: worker processes (~0.5 s) would cost more than it saves.
_PARALLEL_MIN = 4 * _CREDENTIAL_BATCH
#: Tiles and entry bundles requested ahead of the one being checked.
_READ_AHEAD = 8


# -- where the log is read from ---------------------------------------------------------


class Source:
    """Reads C2SP tlog-tiles paths (``checkpoint``, ``tile/...``)."""

    #: Whether ``get`` may be called from several threads at once: the audit
    #: then reads tiles ahead of the one it checks. A subclass that sets it
    #: must make ``get`` thread-safe.
    _concurrent_reads = False

    def get(self, path: str) -> bytes:
        raise NotImplementedError


class DirectorySource(Source):
    _concurrent_reads = True

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def get(self, path: str) -> bytes:
        try:
            return (self.root / path).read_bytes()
        except OSError as exc:
            raise FetchError(f"cannot read {path} in {self.root}: {exc.strerror}") from exc

    def __str__(self) -> str:
        return str(self.root)


class HttpSource(Source):
    _concurrent_reads = True  # one connection per request

    def __init__(self, base: str, *, timeout: float = 30.0) -> None:
        self.base = base.rstrip("/") + "/"
        self.timeout = timeout

    def get(self, path: str) -> bytes:
        url = self.base + path
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                data: bytes = resp.read()
                return data
        except urllib.error.HTTPError as exc:
            raise FetchError(f"GET {url}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise FetchError(f"GET {url}: {exc}") from exc

    def __str__(self) -> str:
        return self.base


def open_source(location: str) -> Source:
    if location.startswith(("http://", "https://")):
        return HttpSource(location)
    return DirectorySource(location)


# -- findings and the report ---------------------------------------------------------------


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


@dataclass
class Finding:
    step: int
    code: str
    message: str
    index: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuditReport:
    origin: str
    source: str
    size: int = 0
    root: str = ""
    previous_size: int = 0
    entries_checked: int = 0
    credentials_checked: int = 0
    results_compared: int = 0
    steps: dict[int, bool] = field(default_factory=lambda: dict.fromkeys(STEPS, True))
    findings: list[Finding] = field(default_factory=list)
    tallies: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def fail(self, finding: Finding) -> None:
        self.findings.append(finding)
        self.steps[finding.step] = False

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["steps"] = [
            {"step": n, "check": STEPS[n], "ok": ok} for n, ok in sorted(self.steps.items())
        ]
        return out


# -- the audit ---------------------------------------------------------------------------------


Progress = Callable[[int, int], None]


class _Tree:
    """Leaf hashes of the whole log, for inclusion proofs in evidence: this
    run's in memory, earlier runs' read from the state directory when needed."""

    def __init__(self, directory: Path | None, old: int) -> None:
        self.directory, self.old = directory, old
        self.new: list[bytes] = []

    def _old_leaves(self, begin: int, end: int) -> list[bytes]:
        if self.directory is None:
            return []
        return read_leaves(self.directory, begin, end)

    def old_leaf(self, index: int) -> bytes | None:
        got = self._old_leaves(index, index + 1)
        return got[0] if got else None

    def complete(self, size: int) -> bool:
        return self.old + len(self.new) >= size and (self.old == 0 or self.directory is not None)

    def proof(self, index: int, size: int) -> list[str]:
        leaves = self._old_leaves(0, self.old) + self.new

        def node(level: int, idx: int) -> bytes:
            layer = leaves[idx << level : (idx + 1) << level]
            while len(layer) > 1:
                layer = [merkle.fold_range(layer[i : i + 2]) for i in range(0, len(layer), 2)]
            return layer[0]

        covers = merkle.nodes_for_ranges(merkle.inclusion_ranges(index, size))
        lookup = {n: node(*n) for cover in covers for n in cover}
        return [_b64(h) for h in merkle.hash_ranges(covers, lookup)]


def audit(
    source: Source,
    log_key: Ed25519Verifier,
    *,
    state_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Run the checklist against ``source``; never raises for what the log does
    wrong (that is a finding), only for what keeps the audit from running --
    among them a ``state_dir`` whose state cannot be used (``bad_state``)."""
    report = AuditReport(origin=log_key.name, source=str(source))
    sdir = Path(state_dir) if state_dir is not None else None
    state = load_state(sdir, log_key) if sdir is not None else AuditState(origin=log_key.name)
    report.previous_size = state.size

    # 1. the checkpoint's signature
    try:
        signed = open_checkpoint(source.get("checkpoint"), log_key)
    except VerificationError as exc:  # a FetchError is not one: it reaches the caller
        report.fail(Finding(1, exc.code, f"the checkpoint is not signed by the log's key: {exc}"))
        return report
    cp = signed.checkpoint
    report.size, report.root = cp.size, _b64(cp.root)

    # 2. consistency with what this auditor saw before
    if state.checkpoint is not None and not _consistent_sizes(report, state, signed, log_key):
        return report

    # 3-7. read what is new, rebuild, check every entry. Entries are checked as
    # they arrive (one pass, nothing kept but leaf hashes); what the rules refuse
    # is reported only once the tree is known to match the checkpoint, with its
    # inclusion proof, in log order, as if checked after the download.
    tree = _Tree(sdir, state.size)
    border = merkle.CompactRange(state.size, state.border)
    new_leaves = tree.new
    tiles = TileChecker(source, cp.size, report)
    changed: list[int] = []
    registry = state.registry
    refused: list[tuple[int, VerificationError, int, bytes]] = []
    checked = results = 0
    credentials = CredentialBatches(cp.size - state.size)
    try:
        for index, data in _entries(source, state.size, cp.size, report, tree, changed):
            lh = hash_leaf(data)
            new_leaves.append(lh)
            border.append(lh, tiles.node)
            try:
                entry = decode_entry(data)
            except VerificationError as exc:
                report.fail(_entry_finding(4, exc, index, data, signed, tree))
            else:
                try:
                    registry.check(entry, index)
                except EntryRefused as exc:
                    refused.append((7 if exc.code in _RESULT_CODES else 6, exc, index, data))
                except VerificationError as exc:
                    refused.append((4, exc, index, data))
                else:
                    registry.apply(entry, index)
                    body = entry.body
                    if isinstance(body, Ballot):
                        key = registry.state(body.process).process.issuer_key
                        credentials.add(body.process, key, index, data, body)
                    else:  # kept as the log's bytes, to rebuild the registry next run
                        state.entries.append((index, data))
                    if entry.kind == "result":
                        results += 1
                    checked += 1
            if progress is not None:
                progress(index + 1 - state.size, cp.size - state.size)
        if changed:
            report.fail(
                Finding(
                    2,
                    "inconsistent_checkpoints",
                    f"entries {changed[:5]} now read differently from when the earlier "
                    "checkpoint covered them",
                    index=changed[0],
                    evidence={"earlier": state.checkpoint, "later": signed.signed},
                )
            )
            return report
        if report.findings and not report.steps[3]:
            return report
        if border.size != cp.size or border.root() != cp.root:
            report.fail(
                Finding(
                    3,
                    "root_mismatch",
                    f"the {cp.size} entries served give root {_b64(border.root())}, "
                    f"the signed checkpoint says {report.root}",
                    evidence={"checkpoint": signed.signed, "computed_root": _b64(border.root())},
                )
            )
            if state.checkpoint is not None:
                report.fail(
                    Finding(
                        2,
                        "inconsistent_checkpoints",
                        "the log served does not extend the checkpoint this auditor verified "
                        "before",
                        evidence={"earlier": state.checkpoint, "later": signed.signed},
                    )
                )
            return report
        tiles.finish()

        # 4, 6, 7. what the rules refused, in log order
        report.entries_checked, report.results_compared = checked, results
        for step, reason, index, data in refused:
            report.fail(_entry_finding(step, reason, index, data, signed, tree))

        # 5. credentials, batched per process
        for count, bad in credentials.results():
            report.credentials_checked += count
            for index, data in bad:
                forged = EntryRefused(
                    "the credential is not the issuer's for this process and pseudonym",
                    code="bad_credential",
                )
                report.fail(_entry_finding(5, forged, index, data, signed, tree))
    finally:
        credentials.close()

    for pid in registry.processes:
        report.tallies[pid] = registry.tally(pid, cp.size - 1) if cp.size else {}

    # Remember what was verified: the tree is consistent even where entries broke
    # rules (those are findings, kept with the state).
    state.findings.extend(asdict(f) for f in report.findings)
    if sdir is not None:
        state.checkpoint, state.size, state.border = signed.signed, cp.size, border.hashes
        save_state(sdir, state, new_leaves)
    return report


def _consistent_sizes(
    report: AuditReport, state: AuditState, signed: SignedCheckpoint, log_key: Ed25519Verifier
) -> bool:
    assert state.checkpoint is not None
    cp = signed.checkpoint
    old = open_checkpoint(state.checkpoint, log_key).checkpoint
    evidence = {"earlier": state.checkpoint, "later": signed.signed}
    if cp.size < old.size:
        report.fail(
            Finding(
                2,
                "log_shrank",
                f"the log's checkpoint went from size {old.size} back to {cp.size}",
                evidence=evidence,
            )
        )
        return False
    if cp.size == old.size and cp.root != old.root:
        report.fail(
            Finding(
                2,
                "fork",
                f"two checkpoints of size {cp.size} with different roots",
                evidence=evidence,
            )
        )
        return False
    return True


def _entry_finding(
    step: int,
    exc: VerificationError,
    index: int,
    data: bytes,
    signed: SignedCheckpoint,
    tree: _Tree,
) -> Finding:
    evidence: dict[str, Any] = {"entry": _b64(data), "checkpoint": signed.signed}
    size = signed.checkpoint.size
    if tree.complete(size):
        evidence["inclusion_proof"] = tree.proof(index, size)
    return Finding(step, exc.code, str(exc), index=index, evidence=evidence)


def _entries(
    source: Source, begin: int, end: int, report: AuditReport, tree: _Tree, changed: list[int]
) -> Iterator[tuple[int, bytes]]:
    """Entries ``[begin, end)`` from the entry bundles. A partial bundle read
    before is read whole again: its earlier entries must hash as they did then
    (their indices go to ``changed`` otherwise)."""
    bundles = range(begin // TILE_WIDTH, -(-end // TILE_WIDTH))
    widths = [_tile_width(0, bundle, end) for bundle in bundles]
    paths = [entries_path(bundle, width) for bundle, width in zip(bundles, widths, strict=True)]
    for bundle, width, (path, read) in zip(
        bundles, widths, _read_ahead(source, paths), strict=True
    ):
        try:
            data = decode_entry_bundle(read.result(), width=width)
        except VerificationError as exc:
            report.fail(Finding(3, "bad_entry_bundle", f"{path}: {exc}", evidence={"path": path}))
            return
        first = bundle * TILE_WIDTH
        for k, entry in enumerate(data):
            index = first + k
            if index < begin:
                seen = tree.old_leaf(index)
                if seen is not None and hash_leaf(entry) != seen:
                    changed.append(index)
                continue
            yield index, entry


class TileChecker:
    """Checks that every hash tile equals the nodes the entries imply."""

    def __init__(self, source: Source, size: int, report: AuditReport) -> None:
        self.source, self.size, self.report = source, size, report
        self.expected: dict[tuple[int, int], dict[int, bytes]] = {}

    def node(self, level: int, index: int, h: bytes) -> None:
        if level % TILE_HEIGHT == 0:
            tl = level // TILE_HEIGHT
            self.expected.setdefault((tl, index // TILE_WIDTH), {})[index % TILE_WIDTH] = h

    def finish(self) -> None:
        expected = sorted(self.expected.items())
        paths = [tile_path(tl, n, _tile_width(tl, n, self.size)) for (tl, n), _ in expected]
        for ((tl, n), hashes), (path, read) in zip(
            expected, _read_ahead(self.source, paths), strict=True
        ):
            width = _tile_width(tl, n, self.size)
            try:
                data = read.result()
            except FetchError as exc:
                self.report.fail(Finding(3, "missing_tile", str(exc), evidence={"path": path}))
                continue
            if len(data) != width * HASH_SIZE:
                self.report.fail(
                    Finding(
                        3,
                        "bad_tile",
                        f"{path}: {len(data)} bytes, want {width * HASH_SIZE}",
                        evidence={"path": path},
                    )
                )
                continue
            for k, h in hashes.items():
                if data[k * HASH_SIZE : (k + 1) * HASH_SIZE] != h:
                    self.report.fail(
                        Finding(
                            3,
                            "tile_mismatch",
                            f"{path}: hash {k} differs from what the entries imply",
                            evidence={
                                "path": path,
                                "position": k,
                                "served": _b64(data[k * HASH_SIZE : (k + 1) * HASH_SIZE]),
                                "computed": _b64(h),
                            },
                        )
                    )
                    break


def _read_ahead(source: Source, paths: Iterable[str]) -> Iterator[tuple[str, Future[bytes]]]:
    """``(path, future of source.get(path))`` in order, with up to :data:`_READ_AHEAD`
    requests in flight while the caller checks earlier ones (a network round trip
    per tile otherwise stalls the audit). Sequential for a source that does not
    declare concurrent reads safe."""
    if not source._concurrent_reads:
        for path in paths:
            done: Future[bytes] = Future()
            try:
                done.set_result(source.get(path))
            except Exception as exc:
                done.set_exception(exc)
            yield path, done
        return
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="urne-audit-read")
    window: deque[tuple[str, Future[bytes]]] = deque()
    try:
        for path in paths:
            window.append((path, pool.submit(source.get, path)))
            if len(window) > _READ_AHEAD:
                yield window.popleft()
        while window:
            yield window.popleft()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class _Batch:
    process: str
    public_key: bytes
    #: (log index, entry, pseudonym, credential) until verified
    items: list[tuple[int, bytes, bytes, bytes]]
    future: Future[list[int]] | None = None
    count: int = 0
    #: (log index, entry) of the invalid credentials, once verified
    bad: list[tuple[int, bytes]] = field(default_factory=list)

    def work(self) -> list[tuple[str, bytes, bytes]]:
        return [(self.process, nym, cred) for _, _, nym, cred in self.items]

    def settle(self, invalid: list[int]) -> None:
        self.count = len(self.items)
        self.bad = [self.items[k][:2] for k in invalid]
        self.items = []  # the entries themselves are no longer needed


class CredentialBatches:
    """Step 5 while the log is read: each process's ballots go in batches of
    :data:`_CREDENTIAL_BATCH` to :func:`invalid_credentials` (one batch check,
    bisection only when it fails), in this process for a small audit, else in
    one worker process per core, while this one goes on reading and checking
    entries. Hashing to G2 and the subgroup checks, about 1 ms per credential,
    are most of an audit's work; the workers run them on every core.

    Results are read back per process and per batch in log order, so the
    findings are the same, in the same order, whichever way they were computed.
    Workers use the caller's BLS backend (see :class:`CredentialWorkers`)."""

    def __init__(self, entries: int) -> None:
        self.backend: bls.BackendName = bls.current_backend().name
        workers = cores() if entries >= _PARALLEL_MIN and sys.executable else 1
        self.pool: CredentialWorkers | None = None
        if workers > 1:
            try:
                self.pool = CredentialWorkers(workers, self.backend)
            except OSError:  # cannot start processes here: verify in this one
                workers = 1
        self.in_flight: deque[_Batch] = deque()
        self.workers = workers
        self.max_in_flight = 2 * workers
        self.open: dict[str, _Batch] = {}
        self.batches: dict[str, list[_Batch]] = {}  # per process, in log order

    def add(self, process: str, public_key: bytes, index: int, data: bytes, b: Ballot) -> None:
        batch = self.open.get(process)
        if batch is None:
            batch = self.open[process] = _Batch(process, public_key, [])
            self.batches.setdefault(process, []).append(batch)
        batch.items.append((index, data, b.pseudonym, b.credential))
        if len(batch.items) >= _CREDENTIAL_BATCH:
            self._submit(self.open.pop(process))

    def _submit(self, batch: _Batch) -> None:
        if self.pool is None:
            batch.settle(invalid_credentials(batch.public_key, batch.work()))
            return
        while len(self.in_flight) >= self.max_in_flight:
            self.wait(self.in_flight.popleft())
        batch.future = self.pool.submit(batch.public_key, batch.work())
        self.in_flight.append(batch)

    def wait(self, batch: _Batch) -> None:
        if batch.future is None:
            return
        try:
            invalid = batch.future.result()
        except OSError:  # a worker died (killed, out of memory): do it here
            invalid = invalid_credentials(batch.public_key, batch.work())
        batch.future = None
        batch.settle(invalid)

    def results(self) -> Iterator[tuple[int, list[tuple[int, bytes]]]]:
        """``(credentials checked, [(index, entry) of each invalid one])`` per
        batch: process by process (in the order of their first ballot), in log order."""
        for batch in self.open.values():
            # The last batches are split over the workers, so none sits idle at the end.
            parts = max(1, min(self.workers, len(batch.items) // 512))
            size = -(-len(batch.items) // parts)
            pieces = [
                _Batch(batch.process, batch.public_key, batch.items[k : k + size])
                for k in range(0, len(batch.items), size)
            ]
            batches = self.batches[batch.process]
            assert batches[-1] is batch  # a process's open batch is its latest
            batches[-1:] = pieces
            for piece in pieces:
                self._submit(piece)
        self.open.clear()
        for batches in self.batches.values():
            for batch in batches:
                self.wait(batch)
                yield batch.count, batch.bad

    def close(self) -> None:
        if self.pool is not None:
            for batch in self.in_flight:
                if batch.future is not None:
                    batch.future.cancel()
            self.pool.shutdown()
            self.pool = None


def write_report(report: AuditReport, path: str | os.PathLike[str]) -> None:
    Path(path).write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
