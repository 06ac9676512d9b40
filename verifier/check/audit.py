"""The full audit of a log, as a numbered checklist (docs/spec/verification.md).

1. the checkpoint is signed by the log's key;
2. it is consistent with the last checkpoint this auditor verified (state on
   disk: a second run reads only what is new);
3. the entries and hash tiles the log serves reproduce the checkpoint's root,
   and every tile equals what the entries imply;
4. every entry is canonical, well-formed and signed by an author with authority
   for it: institutions registered by the operator or a registrar, manifests
   by the institution their process id was reserved for, with its issuer key;
5. every credential is valid (batch-verified per process);
6. every manifest is respected (deadline order, choices, budget constraints,
   officials, revoting, one signature per pseudonym);
7. every process is recounted and every published ``result`` equals the recount.

Every failure is a :class:`Finding` with evidence a third party can check with
nothing but the log's public key: two signed checkpoints that cannot both be
true, or an entry with its inclusion proof under a signed checkpoint and the
rule it breaks. Steps 1 to 3 establish what the log is; the audit stops at the
first of them that fails, and reports the steps after it as not run, never as
passed (§2). Steps 4 to 7 are checked together, entry by entry.

The log is read through C2SP tlog-tiles paths, from a URL or a directory, with
every answer bounded in bytes and time (:mod:`urne.verifier.check.fetch`, §2c).

How it goes fast enough for a million entries (docs/performance-audit.md):
entries are checked in one pass as the bundles arrive, with the next bundles
and tiles already being fetched; credentials -- hashing to G1 and subgroup
checks, nine tenths of the work -- are batch-verified in one worker process per
core while this process goes on with the rest. Nothing is skipped for speed,
and the findings (and their order) are those of checking everything in
sequence after the download: what the rules refuse is only reported once the
tree is known to match the signed checkpoint.

What it holds does not grow with the log (§2c): the subtree hashes it computes
go to temporary files (:class:`Subtrees`), from which each finding's inclusion
proof is read in O(log n); a hash tile is compared as soon as the entries
complete it, then forgotten; nothing is sized on the size a checkpoint claims.
What grows is what the count needs (a record per accepted ballot) and the
findings themselves.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, overload

from urne.verifier.check.fetch import (
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    NOT_SERVED,
    TOO_LARGE,
    Limits,
    fetch_url,
    read_file,
)
from urne.verifier.check.state import AuditState, load_state, read_leaves, save_state
from urne.verifier.check.witnesses import compare as compare_witness
from urne.verifier.check.witnesses import date_entries, dated_checkpoints
from urne.verifier.check.workers import (
    CredentialWorkers,
    SecretContext,
    cores,
    invalid_proofs,
)
from urne.verifier.civic.beacon import NETWORKS
from urne.verifier.civic.entries import (
    Ballot,
    Delegate,
    Delegation,
    SortitionRule,
    decode_entry,
)
from urne.verifier.civic.process import EntryRefused, NotAuthorized, answers_due
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import invalid_credentials
from urne.verifier.errors import FetchError, VerificationError
from urne.verifier.tlog import merkle
from urne.verifier.tlog.checkpoint import Checkpoint, SignedCheckpoint, open_checkpoint
from urne.verifier.tlog.cosignature import (
    Cosignature,
    WitnessKey,
    WitnessPolicy,
    verify_cosignatures,
)
from urne.verifier.tlog.note import Ed25519Verifier, parse_note
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
    "MAX_NEW_ENTRIES",
    "STEPS",
    "AuditReport",
    "CredentialBatches",
    "DirectorySource",
    "Finding",
    "HttpSource",
    "Source",
    "Subtrees",
    "TileChecker",
    "audit",
    "open_source",
]

STEPS: dict[int, str] = {
    1: "checkpoint signed by the log's key",
    2: "consistent with the last checkpoint this auditor verified",
    3: "entries and tiles reproduce the checkpoint's root",
    4: "every entry canonical, well-formed and signed by an author with authority for it",
    5: "every credential valid (batched per process)",
    6: "every manifest respected",
    7: "recount of every process equals every published result",
}

#: The most entries one run reads beyond what the auditor verified before
#: (docs/spec/verification.md §2c): a checkpoint claiming more stops the audit
#: before anything is read ("could not check", code ``too_many_entries``),
#: unless the auditor allows more. 2**32 is far beyond any Urne log, and about
#: a month of auditing.
MAX_NEW_ENTRIES = 2**32

_RESULT_CODES = {"wrong_result", "bad_through", "bad_decryption", "not_decrypted"}
#: Refusals of who may sign what: step 4, with the signatures.
_AUTHORITY_CODES = {"wrong_issuer_key"}
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
    """A log exported as files (``urne export``): each read bounded in bytes
    like an answer over HTTP (docs/spec/verification.md §2c)."""

    _concurrent_reads = True

    def __init__(self, root: str | os.PathLike[str], *, limits: Limits | None = None) -> None:
        self.root = Path(root)
        self.limits = limits if limits is not None else Limits()

    def get(self, path: str) -> bytes:
        most, what = self.limits.for_path(path)
        return read_file(self.root / path, max_bytes=most, what=what)

    def __str__(self) -> str:
        return str(self.root)


class HttpSource(Source):
    """A log served over HTTP(S): each answer bounded in bytes by its kind and
    complete within ``deadline`` seconds (docs/spec/verification.md §2c)."""

    _concurrent_reads = True  # one connection per request

    def __init__(
        self,
        base: str,
        *,
        deadline: float = DEFAULT_DEADLINE,
        timeout: float = DEFAULT_TIMEOUT,
        limits: Limits | None = None,
    ) -> None:
        self.base = base.rstrip("/") + "/"
        self.deadline, self.timeout = deadline, timeout
        self.limits = limits if limits is not None else Limits()

    def get(self, path: str) -> bytes:
        most, what = self.limits.for_path(path)
        return fetch_url(
            self.base + path,
            max_bytes=most,
            what=what,
            deadline=self.deadline,
            timeout=self.timeout,
        )

    def __str__(self) -> str:
        return self.base


def open_source(location: str, *, deadline: float = DEFAULT_DEADLINE) -> Source:
    if location.startswith(("http://", "https://")):
        return HttpSource(location, deadline=deadline)
    return DirectorySource(location)


class _Reader:
    """Requests to a source: up to 4 at a time in threads when the source
    declares concurrent reads safe, else one at a time in the caller's thread
    (the future is then already settled)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.pool = (
            ThreadPoolExecutor(max_workers=4, thread_name_prefix="urne-audit-read")
            if source._concurrent_reads
            else None
        )

    def submit(self, path: str) -> Future[bytes]:
        if self.pool is not None:
            return self.pool.submit(self.source.get, path)
        done: Future[bytes] = Future()
        try:
            done.set_result(self.source.get(path))
        except Exception as exc:
            done.set_exception(exc)
        return done

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)


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


#: What each step's outcome is called: passed, failed, or not run because an
#: earlier step failed (docs/spec/verification.md §2).
OUTCOMES: dict[bool | None, str] = {True: "ok", False: "failed", None: "not run"}


@dataclass
class AuditReport:
    origin: str
    source: str
    size: int = 0
    root: str = ""
    previous_size: int = 0
    entries_checked: int = 0
    credentials_checked: int = 0
    ballot_proofs_checked: int = 0
    results_compared: int = 0
    #: per step: True when it ran and held, False when it failed, None when it
    #: did not run (an earlier step failed)
    steps: dict[int, bool | None] = field(default_factory=lambda: dict.fromkeys(STEPS))
    findings: list[Finding] = field(default_factory=list)
    tallies: dict[str, Any] = field(default_factory=dict)
    #: who cosigned the audited checkpoint (with a witness policy)
    cosigned_by: list[str] = field(default_factory=list)
    #: what each witness compared with said (urne.verifier.check.witnesses)
    witnesses: list[dict[str, Any]] = field(default_factory=list)
    #: quorum-cosigned checkpoints that dated the entries
    witnessed_checkpoints: int = 0
    #: per process, entries first witnessed after it closed (not proven in time)
    witnessed_late: dict[str, int] = field(default_factory=dict)
    #: per sortition first read in this run: when the witnesses first cosigned
    #: its manifest, against its beacon round's release (docs/spec/sortition.md §3)
    commitments: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per process, the answers its manifest promised that came late or are
    #: missing past their deadline, by the auditor's clock (docs/spec/answers.md §3)
    answers_behind: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: per process, the pseudonyms that took part next to the credentials the
    #: issuer says it issued (docs/spec/eligibility.md §4); ``credentials_issued``
    #: None where the source does not serve the issuer's counts (not checked)
    issuance: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings and all(self.steps.values())

    def fail(self, finding: Finding) -> None:
        self.findings.append(finding)
        self.steps[finding.step] = False

    def failed(self, step: int) -> bool:
        return self.steps[step] is False

    def passed(self, *steps: int) -> None:
        """Mark ``steps`` as run; those without a finding held."""
        for n in steps:
            if self.steps[n] is None:
                self.steps[n] = True

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["steps"] = [
            {"step": n, "check": STEPS[n], "ok": ok, "outcome": OUTCOMES[ok]}
            for n, ok in sorted(self.steps.items())
        ]
        return out


# -- the tree's nodes, for evidence --------------------------------------------------------


class Subtrees:
    """The hashes of the complete subtrees of the tree being audited that an
    inclusion proof of a new entry can name, so each proof costs O(log n)
    reads (docs/spec/verification.md §3), not a rebuild of the tree.

    Those are the border of the tree the auditor verified before (its compact
    range) and every node :meth:`CompactRange.append` completes in this run:
    a node left of a new leaf that holds no new leaf is one of the border's
    (:func:`urne.verifier.tlog.merkle.appended_nodes` gives the argument).
    They are kept in temporary files, one per level, in the order they are
    completed (32 bytes each, about 64 bytes per new entry in all), not in
    memory; level 0 holds this run's leaf hashes, which the state saves.
    ``reads`` counts the hashes read back, for tests of that bound."""

    def __init__(self, size: int, border: Sequence[bytes]) -> None:
        self.start = size
        self.border = dict(zip(merkle.range_nodes(0, size), border, strict=True))
        self.files: list[IO[bytes]] = []
        self.counts: list[int] = []
        self.reads = 0
        self.opened = ExitStack()

    def add(self, level: int, index: int, h: bytes) -> None:
        """Record node ``(level, index)``; nodes come level by level in index order."""
        while len(self.files) <= level:
            held = tempfile.TemporaryFile(prefix="urne-audit-")  # noqa: SIM115 -- closed by close()
            self.files.append(self.opened.enter_context(held))
            self.counts.append(0)
        if index != (self.start >> level) + self.counts[level]:
            raise ValueError(f"node ({level}, {index}) out of order")
        self.files[level].write(h)
        self.counts[level] += 1

    def node(self, level: int, index: int) -> bytes:
        """The hash of node ``(level, index)``: a border node, or one this run
        completed. ``KeyError`` for any other."""
        h = self.border.get((level, index))
        if h is not None:
            return h
        k = index - (self.start >> level)
        if level >= len(self.files) or not 0 <= k < self.counts[level]:
            raise KeyError((level, index))
        fh = self.files[level]
        fh.seek(k * HASH_SIZE)
        h = fh.read(HASH_SIZE)
        fh.seek(0, os.SEEK_END)  # where the next node is written
        self.reads += 1
        return h

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 proof of leaf ``index`` (one of this run's) in the
        tree of ``size`` (all of whose leaves were appended): the hashes of at
        most log2(size) ranges, each covered by complete nodes (docs/spec/log.md §3)."""
        return [
            merkle.fold_range([self.node(*n) for n in merkle.range_nodes(b, e)])
            for b, e in merkle.inclusion_ranges(index, size)
        ]

    def leaves(self) -> Sequence[bytes]:
        """This run's leaf hashes, in log order, read from disk when iterated."""
        if not self.files:
            return []
        return _LeafFile(self.files[0], self.counts[0])

    def close(self) -> None:
        self.opened.close()
        self.files, self.counts = [], []


class _LeafFile(Sequence[bytes]):
    """The leaf hashes in a :class:`Subtrees` file as a sequence, read in chunks."""

    def __init__(self, fh: IO[bytes], count: int) -> None:
        self.fh, self.size = fh, count

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, i: int) -> bytes: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[bytes]: ...

    def __getitem__(self, i: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(i, slice):
            begin, end, stride = i.indices(self.size)
            if stride != 1:
                return [self[k] for k in range(begin, end, stride)]
            if begin >= end:
                return []
            self.fh.seek(begin * HASH_SIZE)  # one read for a run of hashes
            data = self.fh.read((end - begin) * HASH_SIZE)
            self.fh.seek(0, os.SEEK_END)
            return [data[k : k + HASH_SIZE] for k in range(0, len(data), HASH_SIZE)]
        if i < 0:
            i += self.size
        if not 0 <= i < self.size:
            raise IndexError(i)
        self.fh.seek(i * HASH_SIZE)
        h = self.fh.read(HASH_SIZE)
        self.fh.seek(0, os.SEEK_END)
        return h

    def __iter__(self) -> Iterator[bytes]:
        per_read = 4096
        for first in range(0, self.size, per_read):
            self.fh.seek(first * HASH_SIZE)
            chunk = self.fh.read(min(per_read, self.size - first) * HASH_SIZE)
            yield from (chunk[k : k + HASH_SIZE] for k in range(0, len(chunk), HASH_SIZE))
        self.fh.seek(0, os.SEEK_END)


# -- the audit ---------------------------------------------------------------------------------


Progress = Callable[[int, int], None]


def audit(
    source: Source,
    log_key: Ed25519Verifier,
    *,
    state_dir: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    max_new_entries: int = MAX_NEW_ENTRIES,
    policy: WitnessPolicy | None = None,
    witnesses: Sequence[tuple[str, Callable[[str], bytes]]] = (),
) -> AuditReport:
    """Run the checklist against ``source``; never raises for what the log does
    wrong (that is a finding), only for what keeps the audit from running: a
    ``FetchError`` (the log did not answer, in time, or within the bytes its
    format allows; a checkpoint claiming more than ``max_new_entries`` new
    entries) or a ``state_dir`` whose state cannot be used (``bad_state``).

    With ``policy``, the audited checkpoint is the log's latest cosigned one
    (``checkpoint/cosigned``, else ``checkpoint``): a trusted witness's line
    that does not verify is a finding (step 1); too few cosignatures to meet
    the policy is a ``FetchError`` (``no_quorum``: nothing to audit with this
    policy yet, which says nothing against the log), and so is a cosigned
    checkpoint older than the state (``not_witnessed_yet``). A witness whose
    time went back is reported and left out of the quorum. Each of
    ``witnesses`` (a name, and a reader of that witness's paths) is compared
    with the audited log once its tree is rebuilt (step 2: ``split_view``,
    ``unproven_extension``; docs/spec/witness.md §6)."""
    report = AuditReport(origin=log_key.name, source=str(source))
    sdir = Path(state_dir) if state_dir is not None else None
    state = load_state(sdir, log_key) if sdir is not None else AuditState.fresh(log_key)
    report.previous_size = first = state.size

    # 1. the checkpoint's signature (and its witnesses', with a policy)
    try:
        signed = open_checkpoint(_latest(source, policy), log_key)
    except VerificationError as exc:  # a FetchError is not one: it reaches the caller
        report.fail(Finding(1, exc.code, f"the checkpoint is not signed by the log's key: {exc}"))
        return report
    if policy is not None:
        try:  # a trusted witness's line that does not verify: the log served a forgery
            found = verify_cosignatures(signed.note, policy.witnesses)
        except VerificationError as exc:
            report.fail(Finding(1, exc.code, f"the checkpoint is not cosigned as required: {exc}"))
            return report
        back = _times_gone_back(found, signed.checkpoint.size, state.checkpoint, policy)
        for witness, why in back.items():  # the witness's doing, not the log's
            report.witnesses.append({"witness": witness.name, "size": signed.checkpoint.size,
                                     "outcome": "time_went_back", "detail": why})  # fmt: skip
        trusted = [c for c in found if c.witness not in back]
        if len(trusted) < policy.quorum:  # not a verdict on the log: nothing to audit yet
            raise FetchError(
                f"the newest checkpoint this log serves is cosigned by {len(trusted)} of the "
                f"{len(policy.witnesses)} witnesses trusted here, the policy needs "
                f"{policy.quorum}: audit again once they have seen it",
                code="no_quorum",
            )
        if signed.checkpoint.size < state.size:
            raise FetchError(
                f"the newest checkpoint with the witnesses' quorum (size "
                f"{signed.checkpoint.size}) is older than what this auditor verified "
                f"(size {state.size}): audit again once they have seen more",
                code="not_witnessed_yet",
            )
        report.cosigned_by = [c.witness.name for c in trusted]
    report.passed(1)
    cp = signed.checkpoint
    report.size, report.root = cp.size, _b64(cp.root)

    # 2. consistency with what this auditor saw before: sizes here, the tree in step 3
    if state.checkpoint is None:
        report.passed(2)  # nothing verified before, nothing to be consistent with
    elif not _consistent_sizes(report, state, signed, log_key):
        return report

    # Checked before anything is read or sized on it (docs/spec/verification.md §2c).
    if cp.size - state.size > max_new_entries:
        raise FetchError(
            f"the signed checkpoint claims {cp.size:,} entries, {cp.size - state.size:,} "
            f"more than this auditor verified; an audit reads at most {max_new_entries:,} "
            "new entries unless allowed more",
            code="too_many_entries",
        )

    def old_leaves(begin: int, end: int) -> list[bytes]:
        return read_leaves(sdir, begin, end) if sdir is not None else []

    subtrees = Subtrees(state.size, state.border)
    reader = _Reader(source)
    credentials = CredentialBatches(cp.size - state.size)
    try:
        border = _check_log(
            report, state, signed, subtrees, reader, credentials, old_leaves, progress
        )
        if not report.steps[3]:
            return report  # the state is not advanced past a log that did not check
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for pid, st in state.registry.processes.items():
            report.tallies[pid] = state.registry.tally(pid, cp.size - 1) if cp.size else {}
            # the answers the manifest promised that are late or missing, as of now
            # (docs/spec/answers.md §3): reported, never a finding of the log
            behind = [
                {"about": d.about, "state": d.state, "status": d.status, "index": d.index}
                for d in answers_due(st, cp.size - 1, now)
                if d.state in ("late", "overdue")
            ]
            if behind:
                report.answers_behind[pid] = behind
        _check_issued(report, source, state)
        caught = False
        for name, get in witnesses:
            view = compare_witness(name, get, signed, log_key, subtrees.node, source.get, policy)
            report.witnesses.append(view.to_json())
            if view.outcome in ("split_view", "unproven_extension"):
                report.fail(Finding(2, view.outcome, view.detail, evidence=view.evidence))
                caught = True
        if policy is not None and isinstance(source, HttpSource):
            caught = (
                _witnessed_time(report, source, log_key, policy, signed, subtrees, state, first)
                or caught
            )
        if caught:
            return report  # not past a log that a witness contradicts
        # Remember what was verified: the tree is consistent even where entries
        # broke rules (those are findings, kept with the state).
        state.findings.extend(asdict(f) for f in report.findings)
        if sdir is not None:
            state.checkpoint, state.size, state.border = signed.signed, cp.size, border.hashes
            save_state(sdir, state, subtrees.leaves())
        return report
    finally:
        credentials.close()
        reader.close()
        subtrees.close()


#: The most bytes of an issuer's counts (``GET /issuance/<process>``).
_MAX_ISSUANCE_ANSWER = 64 * 1024


def _issued_by(source: Source, pid: str) -> tuple[int | None, str]:
    """The issuer's ``credentials_issued`` for ``pid`` as the source serves it,
    or None and why not."""
    try:
        raw = source.get(f"issuance/{pid}")
    except FetchError as exc:
        return None, f"not served ({exc.code})"
    if len(raw) > _MAX_ISSUANCE_ANSWER:
        return None, "the answer is too large"
    try:
        found = json.loads(raw)["credentials_issued"]
    except (ValueError, KeyError, TypeError):
        return None, "not an issuer's counts"
    if isinstance(found, bool) or not isinstance(found, int) or found < 0:
        return None, "not an issuer's counts"
    return found, "served"


def _check_issued(report: AuditReport, source: Source, state: AuditState) -> None:
    """No process has more pseudonyms taking part than credentials issued
    (docs/spec/eligibility.md §4): each pseudonym with a counted ballot,
    signature, delegate's standing or delegation holds one credential."""
    for pid, st in state.registry.processes.items():
        if st.process.type == "sortition":
            continue  # no credentials: a draw from a pool
        pseudonyms = len(st.casts.keys() | st.delegations.keys() | st.delegates.keys())
        if st.process.issuer_shares > 1:
            # t of n offices answer at their own hosts, each with its own roll:
            # no one host's count is the process's
            issued, how = None, "t-of-n issuers: each office counts apart"
        else:
            issued, how = _issued_by(source, pid)
        report.issuance[pid] = {
            "pseudonyms": pseudonyms,
            "credentials_issued": issued,
            "checked": issued is not None,
            "source": how,
        }
        if issued is not None and pseudonyms > issued:
            report.fail(
                Finding(
                    6,
                    "more_pseudonyms_than_credentials",
                    f"{pid}: {pseudonyms:,} pseudonyms took part, but the issuer says it "
                    f"issued {issued:,} credentials: someone holds a credential the issuer "
                    "did not count, or its count is false",
                    evidence={
                        "process": pid,
                        "pseudonyms": pseudonyms,
                        "credentials_issued": issued,
                        "issuance_path": f"issuance/{pid}",
                    },
                )
            )


def _posix(t: str) -> int:
    return int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())


def _witnessed_time(
    report: AuditReport,
    source: Source,
    log_key: Ed25519Verifier,
    policy: WitnessPolicy,
    signed: SignedCheckpoint,
    subtrees: Subtrees,
    state: AuditState,
    first_new: int,
) -> bool:
    """Date this run's new ballots and paper batches by the log's
    quorum-cosigned checkpoints (docs/spec/witness.md §8). Returns True when
    a cosigned checkpoint contradicts the rebuilt tree (the state must not
    advance); an entry witnessed before its opening is a step-6 finding."""
    if policy.quorum == 0:
        return False  # no quorum, no witnessed time
    entries = sorted(
        (i, pid)
        for pid, st in state.registry.processes.items()
        for i in (*st.ballot_indices, *(j for j, _ in st.paper))
        if i >= first_new
    )
    deadlines = {
        pid: (_posix(st.process.opens), _posix(st.process.closes))
        for pid, st in state.registry.processes.items()
    }
    # each new sortition's manifest, to be dated against its beacon round's release
    releases = {
        st.index: (pid, NETWORKS[st.process.rule.chain].round_time(st.process.rule.round))
        for pid, st in state.registry.processes.items()
        if isinstance(st.process.rule, SortitionRule) and st.index >= first_new
    }
    commitments = {i: release for i, (_, release) in releases.items()}
    counted = _Counted(dated_checkpoints(source.get, log_key, policy))
    try:
        findings, late = date_entries(
            counted, signed, subtrees.node, entries, deadlines, commitments
        )
    except FetchError as exc:
        if exc.code != NOT_SERVED:
            raise
        return False  # a log without witnesses dates nothing
    except VerificationError as exc:
        report.fail(Finding(2, exc.code, f"a cosigned checkpoint the log serves: {exc}"))
        return True
    report.witnessed_checkpoints = counted.n
    report.witnessed_late = late
    for i, (pid, release) in releases.items():
        seen = commitments.get(i)
        report.commitments[pid] = {
            "index": i,
            "round_released": release,
            "first_witnessed": seen,
            # cosigned before the round existed: nobody could have chosen the
            # commitment knowing the randomness (docs/spec/sortition.md §3)
            "proven_before_round": seen is not None and seen < release,
        }
    for f in findings:
        step = 2 if f.code == "split_view" else 6
        report.fail(Finding(step, f.code, f.message, index=f.index, evidence=f.evidence))
    return any(f.code == "split_view" for f in findings)


class _Counted(Iterator[Any]):
    """An iterator that counts what it gave."""

    def __init__(self, inner: Iterator[Any]) -> None:
        self.inner, self.n = inner, 0

    def __next__(self) -> Any:
        item = next(self.inner)
        self.n += 1
        return item


def _times_gone_back(
    found: Sequence[Cosignature], size: int, previous: str | None, policy: WitnessPolicy
) -> dict[WitnessKey, str]:
    """The witnesses whose cosignature of this (larger) checkpoint carries an
    earlier time than their cosignature of the one audited before: a witness
    misbehaving (its clock, or its key in other hands), which the log cannot
    cause; their word is left out of the quorum."""
    if previous is None:
        return {}
    try:
        if Checkpoint.parse(parse_note(previous).text).size >= size:
            return {}  # the same checkpoint cosigned again: times may be any
        earlier = verify_cosignatures(parse_note(previous), policy.witnesses)
        before = {c.witness: c.timestamp for c in earlier}
    except VerificationError:
        return {}
    return {
        c.witness: f"cosigned size {size} at {c.timestamp}, before its cosignature of the "
        f"smaller checkpoint audited earlier ({before[c.witness]})"
        for c in found
        if c.witness in before and c.timestamp < before[c.witness]
    }


def _latest(source: Source, policy: WitnessPolicy | None) -> bytes:
    """The checkpoint to audit: with a policy, the latest cosigned one where
    the log serves it apart (a log's latest is cosigned a moment later; an
    exported directory holds one checkpoint)."""
    if policy is not None and isinstance(source, HttpSource):
        try:
            return source.get("checkpoint/cosigned")
        except FetchError as exc:
            if exc.code != NOT_SERVED:
                raise
    return source.get("checkpoint")


def _check_log(
    report: AuditReport,
    state: AuditState,
    signed: SignedCheckpoint,
    subtrees: Subtrees,
    reader: _Reader,
    credentials: CredentialBatches,
    old_leaves: Callable[[int, int], list[bytes]],
    progress: Progress | None,
) -> merkle.CompactRange:
    """Steps 3 to 7, and the part of step 2 that needs the tree; returns the
    border of the tree rebuilt. Entries are checked as they arrive (one pass);
    what the rules refuse is reported only once the tree is known to match the
    checkpoint, with its inclusion proof, in log order, as if checked after the
    download. Step 3 failing leaves steps 4 to 7 not run."""
    cp = signed.checkpoint
    border = merkle.CompactRange(state.size, state.border)
    tiles = TileChecker(reader.source, cp.size, report, reader)
    changed: list[int] = []
    registry = state.registry
    proofs = ProofBatches(credentials)
    refused: list[tuple[int, VerificationError, int, bytes]] = []
    checked = results = 0

    def emit(level: int, index: int, h: bytes) -> None:
        subtrees.add(level, index, h)
        tiles.node(level, index, h)

    for index, data in _entries(reader, state.size, cp.size, report, old_leaves, changed):
        border.append(hash_leaf(data), emit)
        try:
            entry = decode_entry(data)
        except VerificationError as exc:
            refused.append((4, exc, index, data))
        else:
            try:
                registry.check(entry, index)
            except NotAuthorized as exc:
                refused.append((4, exc, index, data))
            except EntryRefused as exc:
                step = 4 if exc.code in _AUTHORITY_CODES else 6
                refused.append((7 if exc.code in _RESULT_CODES else step, exc, index, data))
            except VerificationError as exc:
                refused.append((4, exc, index, data))
            else:
                registry.apply(entry, index)
                body = entry.body
                if isinstance(body, Delegate | Delegation):  # a credential, and kept
                    st = registry.state(body.process)
                    credentials.add(body.process, st.process.issuer_key, index, data, body)
                    state.entries.append((index, data))
                elif isinstance(body, Ballot):
                    st = registry.state(body.process)
                    credentials.add(body.process, st.process.issuer_key, index, data, body)
                    if st.secret is not None:
                        proofs.add(st.secret.context(), index, data, body)
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
        return border
    if report.failed(3):  # a bundle that does not decode
        return border
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
        return border
    tiles.finish()
    if report.failed(3):  # a hash tile the log serves wrong
        return border
    report.passed(2, 3)

    # 4, 6, 7. what the rules refused, in log order
    report.entries_checked, report.results_compared = checked, results
    for step, reason, index, data in refused:
        report.fail(_entry_finding(step, reason, index, data, signed, subtrees))

    # 6. a secret vote's ballot proofs, checked in the workers as the log was read
    for index, data in proofs.results():
        forged = EntryRefused(
            "the ballot's proofs do not verify (docs/secret-ballot.md §5)",
            code="bad_ballot_proof",
        )
        report.fail(_entry_finding(6, forged, index, data, signed, subtrees))
    report.ballot_proofs_checked = proofs.checked

    # 5. credentials, batched per process
    for count, bad in credentials.results():
        report.credentials_checked += count
        for index, data in bad:
            forged = EntryRefused(
                "the credential is not the issuer's for this process and pseudonym",
                code="bad_credential",
            )
            report.fail(_entry_finding(5, forged, index, data, signed, subtrees))
    report.passed(4, 5, 6, 7)
    return border


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
    subtrees: Subtrees,
) -> Finding:
    """A finding on the entry at ``index``, with its inclusion proof under the
    signed checkpoint (docs/spec/verification.md §3), read from the subtree hashes in O(log n)."""
    size = signed.checkpoint.size
    evidence: dict[str, Any] = {
        "entry": _b64(data),
        "checkpoint": signed.signed,
        "inclusion_proof": [_b64(h) for h in subtrees.inclusion_proof(index, size)],
    }
    return Finding(step, exc.code, str(exc), index=index, evidence=evidence)


def _bundles(
    reader: _Reader, begin: int, end: int
) -> Iterator[tuple[int, int, str, Future[bytes]]]:
    """``(bundle, width, path, future of its bytes)`` of the entry bundles that
    hold entries ``[begin, end)``, in order, with up to :data:`_READ_AHEAD`
    requested ahead of the one being checked (a network round trip per bundle
    otherwise stalls the audit). Paths are made as they are requested: nothing
    is sized on ``end``, the size a checkpoint claims."""
    bundle, last = begin // TILE_WIDTH, -(-end // TILE_WIDTH)
    window: deque[tuple[int, int, str, Future[bytes]]] = deque()
    while True:
        while bundle < last and len(window) <= _READ_AHEAD:
            width = _tile_width(0, bundle, end)
            path = entries_path(bundle, width)
            window.append((bundle, width, path, reader.submit(path)))
            bundle += 1
        if not window:
            return
        yield window.popleft()


def _entries(
    reader: _Reader,
    begin: int,
    end: int,
    report: AuditReport,
    old_leaves: Callable[[int, int], list[bytes]],
    changed: list[int],
) -> Iterator[tuple[int, bytes]]:
    """Entries ``[begin, end)`` from the entry bundles. A partial bundle read
    before is read whole again: its earlier entries must hash as they did then
    (their indices go to ``changed`` otherwise). A bundle larger than its
    width allows is a finding, like one that does not decode; a bundle the log
    does not answer with is a ``FetchError``."""
    for bundle, width, path, read in _bundles(reader, begin, end):
        try:
            data = decode_entry_bundle(read.result(), width=width)
        except FetchError as exc:
            if exc.code != TOO_LARGE:
                raise
            report.fail(Finding(3, "bad_entry_bundle", str(exc), evidence={"path": path}))
            return
        except VerificationError as exc:
            report.fail(Finding(3, "bad_entry_bundle", f"{path}: {exc}", evidence={"path": path}))
            return
        first = bundle * TILE_WIDTH
        if first < begin:
            seen = old_leaves(first, begin)
            for k, h in enumerate(seen):
                if hash_leaf(data[k]) != h:
                    changed.append(first + k)
        for k in range(max(0, begin - first), len(data)):
            yield first + k, data[k]


@dataclass
class _Tile:
    level: int
    index: int
    width: int
    #: position in the tile -> the hash the entries imply there
    hashes: dict[int, bytes]

    @property
    def path(self) -> str:
        return tile_path(self.level, self.index, self.width)


class TileChecker:
    """Checks that every hash tile equals the nodes the entries imply.

    A tile is requested as soon as the entries complete its last hash, while
    later entries are read, compared a few tiles later and then forgotten: what
    is held is at most one tile being filled per level and :data:`_READ_AHEAD`
    awaiting comparison, whatever the size of the log. The findings are kept
    until :meth:`finish`, which reports them by level and index."""

    def __init__(
        self, source: Source, size: int, report: AuditReport, reader: _Reader | None = None
    ) -> None:
        self.source, self.size, self.report = source, size, report
        self.own_reader = reader is None
        self.reader = reader if reader is not None else _Reader(source)
        self.filling: dict[int, _Tile] = {}
        self.pending: deque[tuple[_Tile, Future[bytes]]] = deque()
        self.findings: list[tuple[tuple[int, int], Finding]] = []

    def node(self, level: int, index: int, h: bytes) -> None:
        if level % TILE_HEIGHT:
            return
        tl = level // TILE_HEIGHT
        n, k = divmod(index, TILE_WIDTH)
        tile = self.filling.get(tl)
        if tile is None or tile.index != n:
            tile = self.filling[tl] = _Tile(tl, n, _tile_width(tl, n, self.size), {})
        tile.hashes[k] = h
        if k == tile.width - 1:  # the tile's last hash: nothing more will come for it
            del self.filling[tl]
            self.pending.append((tile, self.reader.submit(tile.path)))
            while len(self.pending) > _READ_AHEAD:
                self._compare(*self.pending.popleft())

    def finish(self) -> None:
        try:
            while self.pending:
                self._compare(*self.pending.popleft())
        finally:
            if self.own_reader:
                self.reader.close()
        for _, finding in sorted(self.findings, key=lambda item: item[0]):
            self.report.fail(finding)
        self.findings = []

    def _found(self, tile: _Tile, finding: Finding) -> None:
        self.findings.append(((tile.level, tile.index), finding))

    def _compare(self, tile: _Tile, read: Future[bytes]) -> None:
        path, width = tile.path, tile.width
        try:
            data = read.result()
        except FetchError as exc:
            if exc.code == NOT_SERVED:
                self._found(tile, Finding(3, "missing_tile", str(exc), evidence={"path": path}))
            elif exc.code == TOO_LARGE:
                self._found(tile, Finding(3, "bad_tile", str(exc), evidence={"path": path}))
            else:  # no answer, or none in time: could not check
                raise
            return
        if len(data) != width * HASH_SIZE:
            self._found(
                tile,
                Finding(
                    3,
                    "bad_tile",
                    f"{path}: {len(data)} bytes, want {width * HASH_SIZE}",
                    evidence={"path": path},
                ),
            )
            return
        for k, h in sorted(tile.hashes.items()):
            if data[k * HASH_SIZE : (k + 1) * HASH_SIZE] != h:
                self._found(
                    tile,
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
                    ),
                )
                return


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
    entries. Hashing to G1 and the subgroup checks are most of an audit's
    work; the workers run them on every core.

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

    def add(
        self,
        process: str,
        public_key: bytes,
        index: int,
        data: bytes,
        b: Ballot | Delegate | Delegation,
    ) -> None:
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


_PROOF_BATCH = 256


class ProofBatches:
    """A secret vote's ballot proofs (docs/secret-ballot.md §5), checked while the
    log is read, like credentials: in the credential workers when the audit has
    them, else here. Each ballot costs about 26 variable-base multiplications in
    ristretto255; nothing sound batches them with libsodium's API (it has no
    multi-scalar multiplication), so every core takes a share instead."""

    def __init__(self, credentials: CredentialBatches) -> None:
        self.credentials = credentials
        self.open: dict[str, tuple[SecretContext, list[tuple[int, bytes, Ballot]]]] = {}
        self.done: list[
            tuple[SecretContext, list[tuple[int, bytes, Ballot]], Future[list[int]] | list[int]]
        ] = []
        self.checked = 0

    def add(self, ctx: SecretContext, index: int, data: bytes, b: Ballot) -> None:
        batch = self.open.setdefault(b.process, (ctx, []))
        batch[1].append((index, data, b))
        if len(batch[1]) >= _PROOF_BATCH:
            self._submit(*self.open.pop(b.process))

    def _submit(self, ctx: SecretContext, items: list[tuple[int, bytes, Ballot]]) -> None:
        work = _proof_work(items)
        pool = self.credentials.pool
        found = invalid_proofs(ctx, work) if pool is None else pool.submit_proofs(ctx, work)
        self.done.append((ctx, items, found))

    def results(self) -> Iterator[tuple[int, bytes]]:
        """``(index, entry)`` of each ballot whose proofs fail, in the order added."""
        for ctx, items in self.open.values():
            self._submit(ctx, items)
        self.open.clear()
        for ctx, items, found in self.done:
            if isinstance(found, Future):
                try:
                    found = found.result()
                except OSError:  # a worker died: do it here
                    found = invalid_proofs(ctx, _proof_work(items))
            self.checked += len(items)
            for k in found:
                yield items[k][0], items[k][1]


def _proof_work(items: list[tuple[int, bytes, Ballot]]) -> list[tuple[bytes, dict[str, Any]]]:
    return [(b.pseudonym, b.encrypted or {}) for _, _, b in items]


def write_report(report: AuditReport, path: str | os.PathLike[str]) -> None:
    Path(path).write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
