"""The full audit of a log, as a numbered checklist (docs/verification.md).

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
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from verifier import merkle
from verifier.checkpoint import SignedCheckpoint, open_checkpoint
from verifier.credential import invalid_credentials
from verifier.entries import Ballot, Entry, decode_entry
from verifier.errors import FormatError, VerificationError
from verifier.note import Ed25519Verifier
from verifier.process import EntryRefused, Registry
from verifier.rfc9162 import HASH_SIZE, hash_leaf
from verifier.tiles import TILE_HEIGHT, TILE_WIDTH, decode_entry_bundle, entries_path, tile_path
from verifier.tiles import tile_width as _tile_width

__all__ = [
    "STEPS",
    "AuditReport",
    "DirectorySource",
    "Finding",
    "HttpSource",
    "Source",
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


# -- where the log is read from ---------------------------------------------------------


class SourceError(VerificationError):
    code = "fetch_failed"


class Source:
    """Reads C2SP tlog-tiles paths (``checkpoint``, ``tile/...``)."""

    def get(self, path: str) -> bytes:
        raise NotImplementedError


class DirectorySource(Source):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def get(self, path: str) -> bytes:
        try:
            return (self.root / path).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read {path} in {self.root}: {exc.strerror}") from exc

    def __str__(self) -> str:
        return str(self.root)


class HttpSource(Source):
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
            raise SourceError(f"GET {url}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise SourceError(f"GET {url}: {exc}") from exc

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


# -- state kept between runs --------------------------------------------------------------


@dataclass
class _State:
    checkpoint: str | None = None  # signed text of the last verified checkpoint
    size: int = 0
    border: list[bytes] = field(default_factory=list)
    registry: Registry = field(default_factory=lambda: Registry(credential_check=None))
    findings: list[Finding] = field(default_factory=list)


def _load_state(directory: Path | None) -> tuple[_State, Path | None]:
    if directory is None:
        return _State(), None
    f = directory / "state.pickle"
    if not f.exists():
        return _State(), directory
    with open(f, "rb") as fh:
        state = pickle.load(fh)  # the auditor's own file
    if not isinstance(state, _State):
        raise FormatError(f"{f} is not an audit state")
    return state, directory


def _save_state(state: _State, directory: Path, leaves: list[bytes]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "leaves.bin", "ab") as fh:
        fh.write(b"".join(leaves))
    tmp = directory / "state.pickle.tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / "state.pickle")


# -- the audit ---------------------------------------------------------------------------------


Progress = Callable[[int, int], None]


class _Tree:
    """Leaf hashes of the whole log, for inclusion proofs in evidence: this
    run's in memory, earlier runs' read from the state directory when needed."""

    def __init__(self, directory: Path | None, old: int) -> None:
        self.directory, self.old = directory, old
        self.new: list[bytes] = []

    def _old_leaves(self, begin: int, end: int) -> list[bytes]:
        if self.directory is None or begin >= end:
            return []
        with open(self.directory / "leaves.bin", "rb") as fh:
            fh.seek(begin * HASH_SIZE)
            data = fh.read((end - begin) * HASH_SIZE)
        return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]

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
    wrong (that is a finding), only for what keeps the audit from running."""
    report = AuditReport(origin=log_key.name, source=str(source))
    state, sdir = _load_state(Path(state_dir) if state_dir is not None else None)
    report.previous_size = state.size

    # 1. the checkpoint's signature
    try:
        signed = open_checkpoint(source.get("checkpoint"), log_key)
    except SourceError:
        raise
    except VerificationError as exc:
        report.fail(Finding(1, exc.code, f"the checkpoint is not signed by the log's key: {exc}"))
        return report
    cp = signed.checkpoint
    report.size, report.root = cp.size, _b64(cp.root)

    # 2. consistency with what this auditor saw before
    if state.checkpoint is not None and not _consistent_sizes(report, state, signed, log_key):
        return report

    # 3-7. read what is new, rebuild, check every entry
    tree = _Tree(sdir, state.size)
    border = merkle.CompactRange(state.size, state.border)
    new_leaves = tree.new
    entries: list[tuple[int, Entry, bytes]] = []
    tiles = _TileChecker(source, cp.size, report)
    changed: list[int] = []
    for index, data in _entries(source, state.size, cp.size, report, tree, changed):
        lh = hash_leaf(data)
        new_leaves.append(lh)
        border.append(lh, tiles.node)
        try:
            entries.append((index, decode_entry(data), data))
        except VerificationError as exc:
            report.fail(_entry_finding(4, exc, index, data, signed, tree))
        if progress is not None:
            progress(index + 1 - state.size, cp.size - state.size)
    if changed:
        report.fail(
            Finding(
                2,
                "inconsistent_checkpoints",
                f"entries {changed[:5]} now read differently from when the earlier checkpoint "
                "covered them",
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
                    "the log served does not extend the checkpoint this auditor verified before",
                    evidence={"earlier": state.checkpoint, "later": signed.signed},
                )
            )
        return report
    tiles.finish()

    ballots: dict[str, list[tuple[int, Ballot, bytes]]] = {}
    registry = state.registry
    for index, entry, data in entries:
        try:
            registry.check(entry, index)
        except EntryRefused as exc:
            step = 7 if exc.code in _RESULT_CODES else 6
            report.fail(_entry_finding(step, exc, index, data, signed, tree))
            continue
        except VerificationError as exc:
            report.fail(_entry_finding(4, exc, index, data, signed, tree))
            continue
        registry.apply(entry, index)
        if isinstance(entry.body, Ballot):
            ballots.setdefault(entry.body.process, []).append((index, entry.body, data))
        if entry.kind == "result":
            report.results_compared += 1
        report.entries_checked += 1

    # 5. credentials, batched per process
    for pid, items in ballots.items():
        pk = registry.state(pid).process.issuer_key
        for start in range(0, len(items), _CREDENTIAL_BATCH):
            chunk = items[start : start + _CREDENTIAL_BATCH]
            bad = invalid_credentials(pk, [(pid, b.pseudonym, b.credential) for _, b, _ in chunk])
            report.credentials_checked += len(chunk)
            for k in bad:
                index, _, data = chunk[k]
                forged = EntryRefused(
                    "the credential is not the issuer's for this process and pseudonym",
                    code="bad_credential",
                )
                report.fail(_entry_finding(5, forged, index, data, signed, tree))

    for pid in registry.processes:
        report.tallies[pid] = registry.tally(pid, cp.size - 1) if cp.size else {}

    # Remember what was verified: the tree is consistent even where entries broke
    # rules (those are findings, kept with the state).
    state.findings.extend(report.findings)
    if sdir is not None:
        state.checkpoint, state.size, state.border = signed.signed, cp.size, border.hashes
        _save_state(state, sdir, new_leaves)
    return report


def _consistent_sizes(
    report: AuditReport, state: _State, signed: SignedCheckpoint, log_key: Ed25519Verifier
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
    for bundle in range(begin // TILE_WIDTH, -(-end // TILE_WIDTH)):
        width = _tile_width(0, bundle, end)
        path = entries_path(bundle, width)
        try:
            data = decode_entry_bundle(source.get(path), width=width)
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


class _TileChecker:
    """Checks that every hash tile equals the nodes the entries imply."""

    def __init__(self, source: Source, size: int, report: AuditReport) -> None:
        self.source, self.size, self.report = source, size, report
        self.expected: dict[tuple[int, int], dict[int, bytes]] = {}

    def node(self, level: int, index: int, h: bytes) -> None:
        if level % TILE_HEIGHT == 0:
            tl = level // TILE_HEIGHT
            self.expected.setdefault((tl, index // TILE_WIDTH), {})[index % TILE_WIDTH] = h

    def finish(self) -> None:
        for (tl, n), hashes in sorted(self.expected.items()):
            width = _tile_width(tl, n, self.size)
            path = tile_path(tl, n, width)
            try:
                data = self.source.get(path)
            except SourceError as exc:
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


def write_report(report: AuditReport, path: str | os.PathLike[str]) -> None:
    Path(path).write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
