"""The civic record: the log as a ballot box.

:class:`CivicRecord` is the log's :class:`~urne.ledger.log.store.Admission`: every entry
goes through the same rules an observer replays (``urne.verifier.civic.process``), in
sequence order, under the sequencer's lock, so two ballots of one pseudonym in
one batch, or a ballot racing the ``close``, are decided exactly as an auditor
will decide them. What costs time and needs no state (canonical form, schema,
the issuer key's subgroup check, the credential's pairing check) is done before
sequencing, in the caller's thread; what needs state (process known and open,
nullifier, revote order, batch ids and tally sheets, one result per process,
through its close and equal to the recount) is decided in the sequencer.

Counting never holds the lock the sequencer needs: a tally copies what it
reads under the lock (a moment) and counts outside it, once per process and
last counted entry (:meth:`CivicRecord.tally`); a ``result`` is recounted that
way before it is sequenced, so admitting it compares two tallies
(docs/spec/counting.md §4).

Deadlines: ballots and paper batches are accepted only between the manifest's
``opens`` and ``closes`` (UTC, by the service's clock); after ``close`` nothing
counts, whatever the clock says. The clock is not in the log (docs/design.md §2.3: no
timestamp finer than a checkpoint), so observers check order against ``close``,
and times only against checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import fields
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from urne.ledger.civic import snapshot
from urne.ledger.errors import NotFound
from urne.ledger.log.store import Log, StoredCheckpoint
from urne.verifier.check.receipt import Receipt
from urne.verifier.check.workers import CredentialWorkers, WorkerDied
from urne.verifier.civic.beacon import NETWORKS
from urne.verifier.civic.entries import (
    Answer,
    Ballot,
    Delegate,
    Delegation,
    Entry,
    Paper,
    Process,
    Registration,
    Reservation,
    Result,
    SortitionRule,
    decode_entry,
    verify_entry_signature,
)
from urne.verifier.civic.process import (
    EntryConflict,
    EntryRefused,
    ProcessState,
    RegisteredInstitution,
    Registry,
    count,
)
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import invalid_credentials, verify_credential
from urne.verifier.errors import VerificationError

__all__ = ["CivicRecord", "CredentialBatcher"]

Clock = Callable[[], datetime]

_log = logging.getLogger("urne.civic")

#: A snapshot of the record is written once the log has grown by this many
#: entries since the last one (and when the service stops).
SNAPSHOT_EVERY = 50_000

#: How far ahead of the service's clock a sortition's beacon round must be
#: released when its manifest arrives (docs/spec/sortition.md §3).
ROUND_MARGIN = 60

#: How far an answer's ``answered`` time may be from the service's clock.
ANSWER_CLOCK_SLACK = 300


def _utc_now() -> datetime:
    return datetime.now(UTC)


@functools.lru_cache(maxsize=1024)
def _parse_time(s: str) -> datetime:
    """A manifest's ``opens`` or ``closes`` (checked on every ballot: cached)."""
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class _Check:
    """One credential to verify, and where its answer goes: a thread's future,
    or an asyncio future settled on its own event loop."""

    __slots__ = ("afuture", "error", "future", "item", "loop", "ok", "public_key")

    def __init__(self, public_key: bytes, item: tuple[str, bytes, bytes]) -> None:
        self.public_key = public_key
        self.item = item
        self.ok: bool | None = None
        self.error: BaseException | None = None
        self.future: Future[bool] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.afuture: asyncio.Future[bool] | None = None


def _settle(checks: list[_Check]) -> None:
    """On the event loop: hand each waiting coroutine its answer."""
    for check in checks:
        fut = check.afuture
        if fut is None or fut.done():  # the request was cancelled meanwhile
            continue
        if check.error is not None:
            fut.set_exception(check.error)
        else:
            fut.set_result(bool(check.ok))


def _verify_items(
    items: Sequence[tuple[bytes, tuple[str, bytes, bytes]]],
    workers: CredentialWorkers | None = None,
) -> list[bool]:
    """Whether each ``(issuer key, (process, pseudonym, credential))`` verifies:
    one batch per issuer key, in the worker processes if given (a batch whose
    worker died is verified here instead; the worker is replaced), else here,
    a lone credential on its own."""
    by_key: dict[bytes, list[int]] = {}
    for i, (public_key, _) in enumerate(items):
        by_key.setdefault(public_key, []).append(i)
    groups = [
        (key, positions, [items[i][1] for i in positions]) for key, positions in by_key.items()
    ]
    asked = [None if workers is None else workers.submit(key, work) for key, _, work in groups]
    ok = [False] * len(items)
    for (key, positions, work), future in zip(groups, asked, strict=True):
        if future is None and len(work) == 1:
            ok[positions[0]] = verify_credential(key, *work[0])
            continue
        try:
            bad = set(invalid_credentials(key, work) if future is None else future.result())
        except WorkerDied:
            bad = set(invalid_credentials(key, work))
        for j, i in enumerate(positions):
            ok[i] = j not in bad
    return ok


class CredentialBatcher:
    """Verifies the credentials of ballots checked at the same time, together.

    Callers queue their credential and wait: a thread with :meth:`verify`, a
    coroutine with :meth:`verify_async` (which holds no thread meanwhile). Up
    to ``parallel`` verifier threads each take every queued credential (up to
    ``max_batch``) and check them in one
    :func:`~urne.verifier.credentials.credential.invalid_credentials` call per issuer key (one
    random linear combination and two pairings for the lot; failing halves are
    re-checked until the bad credentials stand alone). So batches grow with
    load by themselves, nobody waits for a timer, and a lone ballot is
    verified at once with :func:`~urne.verifier.credentials.credential.verify_credential`. The
    answers of a batch reach an event loop in one call, not one per ballot.

    The answer for each credential is exactly :func:`verify_credential`'s,
    except with probability at most 2**-128 per batch (docs/spec/credentials.md
    §3.4): a bad credential is refused alone, whatever shares its batch.

    ``processes``: hashing to G2 and decoding points hold the GIL in the BLS
    library (only its multi-scalar multiplication lets go), so in a service
    the verification runs in that many worker processes
    (:class:`urne.verifier.check.workers.CredentialWorkers`, shared with the audit; as
    many verifier threads hand them batches); the event loop keeps its core.
    With ``processes=0`` (the default, for scripts and tests) the verifier
    threads verify themselves. A worker process that dies is replaced, and
    the batch it held is verified in the service meanwhile.
    Verifier threads start when work arrives and end after ``idle`` seconds
    without any; worker processes live until :meth:`close`.
    """

    @property
    def workers(self) -> CredentialWorkers | None:
        """The worker processes verifying credentials, while there are any."""
        return self._workers

    def __init__(
        self,
        *,
        max_batch: int = 256,
        parallel: int | None = None,
        processes: int = 0,
        idle: float = 1.0,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if processes < 0:
            raise ValueError("processes must be 0 (threads only) or more")
        self.max_batch = max_batch
        self.processes = processes
        if processes:
            parallel = processes
        self.parallel = max(1, parallel if parallel is not None else os.cpu_count() or 1)
        self.idle = idle
        self._cond = threading.Condition(threading.Lock())
        self._queued: list[_Check] = []
        self._threads = 0
        self._waiting = 0
        self._workers: CredentialWorkers | None = None
        self._closed = False
        #: how many batches were verified, and how many credentials in all
        self.batches = 0
        self.verified = 0

    @property
    def queued(self) -> int:
        """Credentials waiting for a verifier right now."""
        with self._cond:
            return len(self._queued)

    def verify(self, public_key: bytes, process_id: str, pseudonym: bytes, cred: bytes) -> bool:
        """Whether ``cred`` is the issuer's credential for this process and pseudonym."""
        check = _Check(public_key, (process_id, pseudonym, cred))
        check.future = Future()
        self._enqueue(check)
        return check.future.result()

    def verify_async(
        self, public_key: bytes, process_id: str, pseudonym: bytes, cred: bytes
    ) -> asyncio.Future[bool]:
        """:meth:`verify`, awaited on the running event loop."""
        check = _Check(public_key, (process_id, pseudonym, cred))
        check.loop = asyncio.get_running_loop()
        check.afuture = check.loop.create_future()
        self._enqueue(check)
        return check.afuture

    def start(self) -> None:
        """Start the worker processes now rather than on the first ballot (each
        imports the BLS library), so that no voter waits for that."""
        self._worker_pool()

    def close(self) -> None:
        """Stop the worker processes (verification goes on in threads)."""
        with self._cond:
            workers, self._workers, self._closed = self._workers, None, True
        if workers is not None:
            workers.shutdown()

    def _enqueue(self, check: _Check) -> None:
        with self._cond:
            self._queued.append(check)
            self._wake_helper()

    def _wake_helper(self) -> None:
        """Wake an idle verifier, or start one (the caller holds the lock)."""
        if self._waiting:
            self._cond.notify()
        elif self._threads < self.parallel:
            self._threads += 1
            threading.Thread(target=self._work, name="urne-credentials", daemon=True).start()

    def _work(self) -> None:
        with self._cond:
            while True:
                if not self._queued:
                    self._waiting += 1
                    woken = self._cond.wait(self.idle)
                    self._waiting -= 1
                    if not woken and not self._queued:  # idle: end (new work starts another)
                        self._threads -= 1
                        return
                    continue
                # Leave a fair share to every verifier that is idle or not yet
                # started: two half batches verify in half the time of one.
                helpers = self._waiting + self.parallel - self._threads
                take = min(self.max_batch, -(-len(self._queued) // (1 + helpers)))
                batch = self._queued[:take]
                del self._queued[:take]
                if self._queued:
                    self._wake_helper()
                self._cond.release()
                try:
                    self._verify(batch)
                    self._answer(batch)
                finally:
                    self._cond.acquire()
                    self.batches += 1
                    self.verified += len(batch)

    def _worker_pool(self) -> CredentialWorkers | None:
        with self._cond:
            if self.processes and self._workers is None and not self._closed:
                self._workers = CredentialWorkers(self.processes, bls.current_backend().name)
            return self._workers

    def _verify(self, batch: Sequence[_Check]) -> None:
        items = [(c.public_key, c.item) for c in batch]
        try:
            workers = self._worker_pool()
            ok = _verify_items(items, workers)
            for check, good in zip(batch, ok, strict=True):
                check.ok = good
        except BaseException as exc:  # never leave a caller waiting: each gets the error
            for check in batch:
                if check.ok is None:
                    check.error = exc

    @staticmethod
    def _answer(batch: Sequence[_Check]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Check]] = {}
        for check in batch:
            if check.loop is not None:
                by_loop.setdefault(check.loop, []).append(check)
            elif check.future is not None:
                if check.error is not None:
                    check.future.set_exception(check.error)
                else:
                    check.future.set_result(bool(check.ok))
        for loop, checks in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(_settle, checks)


#: A result's recount made before sequencing: (process, through, tally).
Recount = tuple[str, int, dict[str, Any]]


#: Where each kind of entry is decided within a batch (``CivicRecord.arrange``).
_KIND_RANK = {
    "institution": 0,
    "reservation": 1,
    # a process's issuers' key ceremony, in its own order, before its manifest
    "issuer-deal": 2,
    "issuer-complaint": 3,
    "issuer-check": 4,
    "issuer-key": 5,
    "process": 6,
    # a secret vote's key ceremony, in its own order, before any ballot
    "deal": 7,
    "complaint": 8,
    "check": 9,
    "election-key": 10,
    "ballot": 11,
    "paper": 11,
    "close": 12,
    # a sortition's draw ends it, as a close does
    "draw": 12,
    "decryption": 13,
    "result": 14,
    # an answer depends on nothing decided in the same batch
    "answer": 15,
    # a delegate stands before a delegation to it submitted with it is decided
    "delegate": 10,
    "delegation": 11,
}


class Decoded:
    """An entry and the very bytes object it was decoded from (the admission's
    hint), with the recount of a ``result`` made before sequencing."""

    __slots__ = ("entry", "leaf", "recount")

    def __init__(self, leaf: bytes, entry: Entry, recount: Recount | None = None) -> None:
        self.leaf = leaf
        self.entry = entry
        self.recount = recount


#: In an entry's canonical bytes, only a result has this (quotes inside strings are escaped).
_RESULT_KIND = b'"kind":"result"'

#: Tallies kept (per process and last counted entry), the least recently read dropped first.
_KEPT_COUNTS = 256


def _entry_index(item: tuple[int, object]) -> int:
    return item[0]


def _last_entry(st: ProcessState, through: int) -> int:
    """The index of the process's last entry at or before ``through``. A count
    through ``through`` reads nothing after it, and entries never change once
    committed: this index names the count."""
    ballots = bisect_right(st.ballot_indices, through)
    paper = bisect_right(st.paper, through, key=_entry_index)
    results = bisect_right(st.results, through, key=_entry_index)
    closed = st.closed_at if st.closed_at is not None and st.closed_at <= through else -1
    if st.secret is not None and st.secret.decryptions and closed >= 0:
        # a secret vote's count through its close changes as trustees decrypt
        return max(i for i, _ in st.secret.decryptions.values())
    # a delegate standing or a delegation changes a vote's count as a ballot does
    delegations = bisect_right(st.delegation_indices, through)
    return max(
        st.index,
        st.ballot_indices[ballots - 1] if ballots else -1,
        st.paper[paper - 1][0] if paper else -1,
        st.results[results - 1][0] if results else -1,
        st.delegation_indices[delegations - 1] if delegations else -1,
        closed,
    )


def _copied(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, set):
        return set(value)
    return value


def _snapshot(st: ProcessState) -> ProcessState:
    """``st`` with every container copied: the sequencer goes on adding to the
    originals while the copy is counted. The lists inside (a pseudonym's
    ballots) only grow at their end, past anything a count through an
    already admitted index reads."""
    return ProcessState(**{f.name: _copied(getattr(st, f.name)) for f in fields(st)})


def _count(snapshot: ProcessState, through: int) -> dict[str, Any]:
    """The tally of ``snapshot`` through ``through``, by the observers' own rules."""
    return count(snapshot, through)


class _ServiceRegistry(Registry):
    """The service's registry: the recount of a ``result`` was made before the
    result was sequenced (outside the lock, :meth:`CivicRecord.tally`), and is
    looked up here rather than made again while the sequencer waits."""

    def __init__(
        self, precounted: Callable[[str, int], dict[str, Any] | None], *, operator: bytes
    ) -> None:
        # credentials and secret ballots' proofs are verified before sequencing
        super().__init__(credential_check=None, operator=operator, ballot_proofs=False)
        self._precounted = precounted

    def tally(self, process_id: str, through: int) -> dict[str, Any]:
        found = self._precounted(process_id, through)
        return super().tally(process_id, through) if found is None else found


#: Entries up to this size are decoded on the event loop (see ``submit_async``).
_DECODE_ON_LOOP = 4096


def _ciphertext(text: str) -> bytes:
    import base64
    import binascii

    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("a ciphertext is not base64") from exc
    if len(raw) != 64:
        raise ValueError("a ciphertext is 64 bytes")
    return raw


def _bad_credential() -> EntryRefused:
    return EntryRefused(
        "the credential is not the issuer's for this process and pseudonym",
        code="bad_credential",
    )


class CivicRecord:
    """Processes, ballots, paper batches, closes and results on one log."""

    def __init__(
        self,
        log: Log,
        *,
        clock: Clock = _utc_now,
        credentials: CredentialBatcher | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        self.log = log
        #: the log operator's key, the root of every registration (the log's key)
        self.operator: bytes = log.verifier.public_key
        self.clock = clock
        #: verifies the credentials of ballots prechecked at the same time together
        self.credentials = credentials if credentials is not None else CredentialBatcher()
        self._lock = threading.RLock()
        self._registry: Registry = _ServiceRegistry(self._precounted, operator=self.operator)
        #: finished tallies by (process, last counted entry), and those being counted
        self._counts: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self._counting: dict[tuple[str, int], Future[dict[str, Any]]] = {}
        self._counts_lock = threading.Lock()
        #: the recount each result being admitted brought with it
        self._pinned: dict[tuple[str, int], dict[str, Any]] = {}
        self._size = 0
        #: committed entries that break a rule (should never happen; the audit names them)
        self.anomalies: list[tuple[int, str]] = []
        #: what a snapshot keeps (``urne.ledger.civic.snapshot``), in log order:
        #: every accepted entry that is not a ballot, and every accepted ballot.
        #: Kept as entries are admitted (the registry holds the same ballots by
        #: process and pseudonym) so that a snapshot copies two slices under the
        #: lock, where walking every process's casts would hold it for a second
        #: at a million ballots.
        self._kept: list[tuple[int, bytes]] = []
        self._rows: list[snapshot.BallotRow] = []
        self.snapshot_every = snapshot_every
        #: the size of the last snapshot written or restored (0: none)
        self.snapshot_size = 0
        #: how the record started: "snapshot at <size>", or why the log was replayed
        self.started_from = "the log (no snapshot)"
        self._writer: threading.Thread | None = None
        self._closed = False
        self._restore()
        log.admission = self
        log.catch_up()
        log.on_checkpoint.append(self._checkpointed)

    # -- the Admission protocol (called by the sequencer) --------------------------------

    @property
    def size(self) -> int:
        return self._size

    def replay(self, index: int, data: bytes) -> None:
        self._recount_committed(index, data)
        with self._lock:
            if index < self._size:  # seen already (two threads caught up at once)
                return
            if index > self._size:
                raise AssertionError(f"replay skipped entries {self._size} to {index - 1}")
            try:
                entry = decode_entry(data)
                self._registry.admit(entry, index)
                self._keep(entry, index, data)
            except VerificationError as exc:
                self.anomalies.append((index, f"{exc.code}: {exc}"))
            self._size = index + 1

    def admit(self, index: int, data: bytes, hint: Any = None) -> None:
        """``hint``: the entry as :meth:`submit` decoded it, used only if it was
        decoded from this very ``data`` object."""
        with self._lock:
            decoded = hint if isinstance(hint, Decoded) and hint.leaf is data else None
            entry = decode_entry(data) if decoded is None else decoded.entry
            recount = None if decoded is None else decoded.recount
            if recount is not None:
                self._pinned[recount[0], recount[1]] = recount[2]
            try:
                self._registry.check(entry, index)
            finally:
                if recount is not None:
                    del self._pinned[recount[0], recount[1]]
            self._registry.apply(entry, index)
            self._keep(entry, index, data)
            self._size = index + 1

    def _keep(self, entry: Entry, index: int, data: bytes) -> None:
        """What a snapshot will need of an accepted entry."""
        body = entry.body
        if isinstance(body, Ballot):
            cts = None if body.encrypted is None else tuple(body.encrypted["ciphertexts"])
            self._rows.append((body.process, body.pseudonym, index, body.seq, body.counted, cts))
        else:
            self._kept.append((index, data))

    def _recount_committed(self, index: int, data: bytes) -> None:
        """Before replaying a committed ``result``, recount what it counts
        outside the lock (everything before it is committed and replayed), so
        that replaying it under the lock only compares. Whatever fails here
        is left for the replay to find."""
        if _RESULT_KIND not in data:  # canonical JSON: an exact test, before decoding
            return
        with contextlib.suppress(VerificationError):
            body = decode_entry(data).body
            if isinstance(body, Result) and body.through < index <= self._size:
                self._count_through(body.process, body.through, index)

    def reset(self) -> None:
        """Forget what was admitted and not committed: back to the snapshot
        (or to nothing), from where the log replays what it committed."""
        with self._lock:
            self._empty()
            self._restore()

    def _empty(self) -> None:
        self._registry = _ServiceRegistry(self._precounted, operator=self.operator)
        self._size = 0
        self.anomalies.clear()
        self._kept, self._rows = [], []

    # -- snapshots ----------------------------------------------------------------------

    def _restore(self) -> None:
        """Start from the snapshot the log keeps, if it is this log's state at
        its size; otherwise from nothing (the log is then replayed whole)."""
        try:
            kept = self.log.snapshot()
            if kept is None:
                return
            size, data = kept
            try:
                root = self.log.checkpoint_at(size).root
            except NotFound as exc:
                raise snapshot.SnapshotUnusable(f"the log has no checkpoint at {size}") from exc
            # a million small objects at once: the collector would scan them
            # over and over for cycles that bulk loading does not make
            paused = gc.isenabled()
            gc.disable()
            try:
                contents = snapshot.decode(self.log.signer, size, root, data)
                with self._lock:
                    self._rebuild(contents)
            finally:
                if paused:
                    gc.enable()
        except snapshot.SnapshotUnusable as exc:
            with self._lock:
                self._empty()
            self.started_from = f"the log (the snapshot was not used: {exc})"
            _log.warning("civic record: rebuilt from the log; %s", exc)

    def _rebuild(self, contents: snapshot.Contents) -> None:
        """Replay the snapshot's entries and ballots through the registry's
        rules, in log order: the ballots between two other entries at once."""
        reg, rows, size = self._registry, contents.ballots, contents.size
        if any(a[2] >= b[2] for a, b in pairwise(rows)) or (rows and rows[-1][2] >= size):
            raise snapshot.SnapshotUnusable("its ballots are not in log order below its size")
        done, last = 0, -1
        try:
            for index, data in [*contents.entries, (size, b"")]:
                if index <= last or index > size:
                    raise snapshot.SnapshotUnusable(f"entry {index} is out of order or past it")
                upto = bisect_left(rows, index, lo=done, key=lambda r: r[2])
                if upto < len(rows) and rows[upto][2] == index:
                    raise snapshot.SnapshotUnusable(f"two entries at index {index}")
                reg.restore_ballots(
                    (p, nym, i, seq, c, None if cts is None else tuple(map(_ciphertext, cts)))
                    for p, nym, i, seq, c, cts in rows[done:upto]
                )
                done, last = upto, index
                if index == size:
                    break
                entry = decode_entry(data)
                if isinstance(entry.body, Ballot):
                    raise snapshot.SnapshotUnusable(f"entry {index} is a ballot")
                if not isinstance(entry.body, Result):
                    # a result is not recounted again: the tag vouches that this
                    # service admitted it, recount included, and a recount of
                    # a million ballots would double the start-up
                    reg.check(entry, index)
                reg.apply(entry, index)
        except (VerificationError, ValueError) as exc:
            raise snapshot.SnapshotUnusable(
                f"it does not replay after entry {last} ({exc})"
            ) from exc
        self._kept, self._rows = list(contents.entries), list(rows)
        self._size = size
        self.snapshot_size = size
        self.started_from = f"the snapshot at size {size}"

    def _checkpointed(self, cp: StoredCheckpoint) -> None:
        """After each checkpoint the sequencer signs: a snapshot in the
        background once the log has grown by ``snapshot_every`` since the last."""
        if self._closed or cp.size - self.snapshot_size < self.snapshot_every:
            return
        if self._writer is not None and self._writer.is_alive():
            return
        self._writer = threading.Thread(
            target=self._write_quietly, args=(cp.size, cp.root), name="urne-snapshot", daemon=True
        )
        self._writer.start()

    def _write_quietly(self, size: int, root: bytes) -> None:
        try:
            self.save_snapshot(size, root)
        except Exception:  # a snapshot is an optimisation: never take the service down
            _log.exception("civic record: the snapshot at size %d was not written", size)

    def save_snapshot(self, size: int | None = None, root: bytes | None = None) -> int:
        """Write the snapshot at checkpoint ``size`` (default: the latest one
        this record has seen); returns its size. The copy is taken under the
        lock (a slice of two lists), encoded and written outside it."""
        if size is None or root is None:
            cp = self.log.checkpoint()
            size, root = min(cp.size, self._size), None
            if size != cp.size:
                return self.snapshot_size
            root = cp.root
        with self._lock:
            if self._size < size:
                return self.snapshot_size  # not caught up to it: the next one will do
            entries = self._kept[: bisect_left(self._kept, size, key=lambda e: e[0])]
            rows = self._rows[: bisect_left(self._rows, size, key=lambda r: r[2])]
        data = snapshot.encode(self.log.signer, size, root, entries, rows)
        if self.log.save_snapshot(size, data):
            self.snapshot_size = max(self.snapshot_size, size)
        return self.snapshot_size

    def wait_for_snapshot(self) -> None:
        """Wait for the snapshot being written in the background, if any."""
        writer = self._writer
        if writer is not None:
            writer.join()

    def close(self) -> None:
        """Stop snapshotting; write the last snapshot if the log grew since."""
        self._closed = True
        writer = self._writer
        if writer is not None:
            writer.join()
        with contextlib.suppress(ValueError):
            self.log.on_checkpoint.remove(self._checkpointed)
        if self._size > self.snapshot_size:
            try:
                self.save_snapshot()
            except Exception:
                _log.exception("civic record: the last snapshot was not written")

    # -- submitting ----------------------------------------------------------------------

    def precheck(self, leaf: bytes) -> Entry:
        """The stateless checks, before sequencing: form, deadlines, credential."""
        entry, credential = self._prepare(leaf)
        if credential is not None and not self.credentials.verify(*credential):
            raise _bad_credential()
        self._secret_proofs(entry)
        return entry

    def _secret_proofs(self, entry: Entry) -> None:
        """A secret ballot's proofs (docs/secret-ballot.md §5), before sequencing:
        a few milliseconds each, never under the sequencer's lock."""
        body = entry.body
        if isinstance(body, Ballot) and body.encrypted is not None:
            st = self._known(body.process)
            if st.secret is not None:
                st.secret.check_ballot(body, verify_proofs=True)

    def _prepare(self, leaf: bytes) -> tuple[Entry, tuple[bytes, str, bytes, bytes] | None]:
        """Form and deadlines; for a ballot, the credential still to verify
        (issuer key, process, pseudonym, credential)."""
        entry = decode_entry(leaf)
        body = entry.body
        if isinstance(body, Process) and isinstance(body.rule, SortitionRule):
            # the round must not exist yet, nor come out while the manifest is on its
            # way to the log (docs/spec/sortition.md §3): checked by the clock here
            network = NETWORKS[body.rule.chain]
            released = network.round_time(body.rule.round)
            if released < self.clock().timestamp() + ROUND_MARGIN:
                raise EntryConflict(
                    f"round {body.rule.round} is released at {network.round_iso(body.rule.round)}: "
                    f"a sortition names a round at least {ROUND_MARGIN} s ahead, so that "
                    "nobody knows its randomness when the pool is committed",
                    code="round_not_ahead",
                )
        if isinstance(body, Answer):
            # an answer is dated by its institution; the service holds it to its clock
            # (docs/spec/answers.md §2), so that "answered by the deadline" means it
            stated = _parse_time(body.answered)
            if abs((stated - self.clock()).total_seconds()) > ANSWER_CLOCK_SLACK:
                raise EntryRefused(
                    f"the answer is dated {body.answered}; the service's clock says "
                    f"{self.clock().strftime('%Y-%m-%dT%H:%M:%SZ')} (at most "
                    f"{ANSWER_CLOCK_SLACK} s apart)",
                    code="answer_time_off",
                )
        if isinstance(body, Ballot | Paper | Delegate | Delegation):
            st = self._known(body.process)
            p = st.process
            now = self.clock()
            if now < _parse_time(p.opens):
                raise EntryConflict(f"process {p.id!r} opens at {p.opens}", code="process_not_open")
            if now >= _parse_time(p.closes):
                raise EntryConflict(f"process {p.id!r} closed at {p.closes}", code="process_ended")
            if isinstance(body, Ballot | Delegate | Delegation):
                return entry, (p.issuer_key, p.id, body.pseudonym, body.credential)
        return entry, None

    def _recount(self, entry: Entry) -> Recount | None:
        """For a ``result``, the recount it must equal, made now and outside the
        lock, so that the sequencer only compares (None for other entries, and
        for a result the rules refuse before any count).

        The recount covers committed entries only. A result counts through its
        process's close, so until the close is committed it is refused here
        (``process_not_closed``, as the rules would) rather than counted while
        the sequencer waits. Its signature is checked first: nobody can make
        the service count for them."""
        body = entry.body
        if not isinstance(body, Result):
            return None
        self.log.catch_up()  # another service process may have committed the close
        st = self._known(body.process)
        verify_entry_signature(entry, st.process.institution)
        committed = self.log.size
        with self._lock:
            closed_at, published = st.closed_at, bool(st.results)
            committed = min(committed, self._size)
        if closed_at is None or closed_at >= committed:
            raise EntryConflict(
                f"process {body.process!r} has no committed close; its result follows its close",
                code="process_not_closed",
            )
        if published or body.through != closed_at:
            return None  # refused by the rules before they count
        return body.process, body.through, self.tally(body.process, body.through)

    def _known(self, process_id: str) -> ProcessState:
        """The process, catching up on the log first if another service process
        may have published it since.

        The first look takes no lock: the event loop calls this for every
        ballot and must not wait while the sequencer admits a batch. A
        dictionary read is atomic, and a process once known stays known (a
        reset only empties the registry, which then sends us to the lock)."""
        st = self._registry.processes.get(process_id)
        if st is None:
            self.log.catch_up()
            with self._lock:
                st = self._registry.state(process_id)
        return st

    def arrange(self, batch: Sequence[tuple[Sequence[bytes], Any]]) -> list[int]:
        """The order a batch (already shuffled) is decided in: by content only,
        never by arrival (``urne.ledger.log.sequencer``). Manifests first, then
        ballots and paper batches (ballots by process, pseudonym and ``seq``:
        a revote after the ballot it replaces), then closes, then results; the
        random order is kept among equals. Registrations and reservations come
        before everything, so a manifest submitted with the reservation of its
        id is decided after it. Only entries submitted together fall
        in one batch: a client that waits for each receipt keeps its order."""

        def key(k: int) -> tuple[int, str, bytes, int]:
            hint = batch[k][1]
            if not isinstance(hint, Decoded):
                return (_KIND_RANK["ballot"], "", b"", 0)
            entry, body = hint.entry, hint.entry.body
            if isinstance(body, Ballot):
                return (_KIND_RANK["ballot"], body.process, body.pseudonym, body.seq)
            if isinstance(body, Delegation):  # a pseudonym's delegations in seq order
                return (_KIND_RANK["delegation"], body.process, body.pseudonym, body.seq)
            if isinstance(body, Registration):
                return (_KIND_RANK["institution"], body.name, b"", 0)
            return (_KIND_RANK[entry.kind], entry.process_id or "", b"", 0)

        return sorted(range(len(batch)), key=key)

    def submit(self, leaf: bytes) -> Future[int]:
        """Check and queue an entry; the future gives its index once committed,
        or raises the reason it was refused."""
        entry = self.precheck(leaf)
        inner = self.log.submit([leaf], Decoded(leaf, entry, self._recount(entry)))
        out: Future[int] = Future()

        def done(f: Future[range]) -> None:
            exc = f.exception()
            if exc is not None:
                out.set_exception(exc)
            else:
                out.set_result(f.result()[0])

        inner.add_done_callback(done)
        return out

    async def submit_async(self, leaf: bytes) -> Receipt:
        """Check and append an entry on the running event loop, holding no
        thread while the credential is verified and the batch commits; returns
        the entry's receipt, made from what the sequencer has just committed.

        Decoding a ballot (a few hundred bytes) costs less than handing it to a
        thread; a large entry (a manifest with many proposals, a result) is
        decoded in a worker thread so as not to hold the event loop."""
        if len(leaf) <= _DECODE_ON_LOOP:
            entry, credential = self._prepare(leaf)
        else:
            entry, credential = await asyncio.to_thread(self._prepare, leaf)
        if credential is not None and not await self.credentials.verify_async(*credential):
            raise _bad_credential()
        if isinstance(entry.body, Ballot) and entry.body.encrypted is not None:
            await asyncio.to_thread(self._secret_proofs, entry)
        recount = None
        if isinstance(entry.body, Result):  # counting may take long: never on the loop
            recount = await asyncio.to_thread(self._recount, entry)
        return await self.log.submit_for_receipt_async(leaf, Decoded(leaf, entry, recount))

    def append(self, leaf: bytes) -> int:
        """Submit and wait for the commit; returns the entry's index."""
        return self.submit(leaf).result()

    # -- reading --------------------------------------------------------------------------

    def process_ids(self) -> list[str]:
        self.log.catch_up()
        with self._lock:
            return list(self._registry.processes)

    @contextlib.contextmanager
    def still(self) -> Iterator[None]:
        """Hold the record still: no entry is admitted or replayed meanwhile, so
        a reader sees one consistent state (keep it short: the sequencer waits)."""
        with self._lock:
            yield

    def process(self, process_id: str) -> ProcessState:
        with self._lock:
            return self._registry.state(process_id)

    def institution(self, name: str) -> RegisteredInstitution | None:
        """The institution registered on the log under ``name``, if any
        (caught up with the log first: another service process may have
        admitted its registration)."""
        found = self._registry.institution(name)
        if found is None:
            self.log.catch_up()
            with self._lock:
                found = self._registry.institution(name)
        return found

    def registered(self, key: bytes) -> RegisteredInstitution | None:
        """The institution registered on the log with ``key``, if any."""
        with self._lock:
            return self._registry.institutions.get(key)

    def institutions(self) -> list[RegisteredInstitution]:
        """Every registered institution, in log order."""
        self.log.catch_up()
        with self._lock:
            return sorted(self._registry.institutions.values(), key=lambda i: i.index)

    def reservation(self, process_id: str) -> tuple[int, Reservation] | None:
        """The reservation of ``process_id`` and its index, if it is reserved."""
        self.log.catch_up()
        with self._lock:
            return self._registry.reservations.get(process_id)

    def may_open(self, key: bytes) -> RegisteredInstitution:
        """The institution of ``key`` if the log registered it with the
        ``open`` role (``NotAuthorized`` ``unregistered_institution`` otherwise)."""
        self.log.catch_up()
        with self._lock:
            return self._registry.may_open(key)

    def check_not_closed(self, process_id: str) -> None:
        """Refuse (``EntryConflict``) what only makes sense before a process
        ends -- importing its roll, issuing its credentials -- once it has a
        ``close`` on the log (``process_closed``) or its closing time has
        passed by the service's clock (``process_ended``). A reserved process
        whose manifest is not yet on the log has not closed."""
        self.log.catch_up()
        with self._lock:
            st = self._registry.processes.get(process_id)
        if st is None:
            return
        if st.closed_at is not None:
            raise EntryConflict(
                f"process {process_id!r} was closed at index {st.closed_at}",
                code="process_closed",
            )
        if self.clock() >= _parse_time(st.process.closes):
            raise EntryConflict(
                f"process {process_id!r} closed at {st.process.closes}", code="process_ended"
            )

    def authority(self, process_id: str) -> list[int]:
        """The indices of the registrations and the reservation behind the
        process's manifest (``Registry.authority``)."""
        with self._lock:
            return self._registry.authority(process_id)

    def participants(self, process_id: str) -> int:
        """How many pseudonyms have a ballot (or signature) in the process: the
        ``ballots`` of its tally, without counting anything."""
        with self._lock:
            return len(self._registry.state(process_id).casts)

    def tally(self, process_id: str, through: int | None = None) -> dict[str, Any]:
        """The recount of a process through ``through`` (default: all committed).

        The sequencer needs this record's lock to admit every entry, and a
        count can take long (docs/spec/counting-budgets.md §6), so no count
        is made under it: what the count reads is copied under the lock (no
        counting), and counted outside it. A count through ``through``
        depends only on the process's entries up to there, which never change
        once committed, so it is kept under (process, index of the last of
        those entries): polling a process between two of its entries costs a
        look-up, and concurrent requests for one count wait for a single
        computation. The tally returned is shared: read it, never change it.
        """
        self.log.catch_up()
        return self._count_through(process_id, through, self.log.size)

    def _count_through(
        self, process_id: str, through: int | None, committed: int
    ) -> dict[str, Any]:
        """:meth:`tally`, once caught up with the log, ``committed`` entries of
        which are known to be committed."""
        key: tuple[str, int] | None = None
        waiting: Future[dict[str, Any]] | None = None
        snapshot: ProcessState | None = None
        with self._lock:
            newest = min(committed, self._size) - 1
            if through is None:
                through = newest
            st = self._registry.state(process_id)
            if through <= newest:  # else uncommitted entries count: nothing to keep
                key = (process_id, _last_entry(st, through))
                with self._counts_lock:
                    found = self._counts.get(key)
                    if found is not None:
                        self._counts.move_to_end(key)
                        return found
                    waiting = self._counting.get(key)
                    if waiting is None:
                        self._counting[key] = Future()
            if waiting is None:
                snapshot = _snapshot(st)
        if waiting is not None:  # another thread is counting it: wait for its answer
            return waiting.result()
        assert snapshot is not None
        if key is None:
            return _count(snapshot, through)
        return self._count_once(key, snapshot, through)

    def _count_once(
        self, key: tuple[str, int], snapshot: ProcessState, through: int
    ) -> dict[str, Any]:
        """Count ``snapshot``, keep the tally under ``key`` and hand it to
        whoever waits for it (or the error, which is not kept)."""
        with self._counts_lock:
            mine = self._counting[key]
        try:
            tally = _count(snapshot, through)
        except BaseException as exc:
            with self._counts_lock:
                del self._counting[key]
            mine.set_exception(exc)
            raise
        with self._counts_lock:
            del self._counting[key]
            self._counts[key] = tally
            while len(self._counts) > _KEPT_COUNTS:
                self._counts.popitem(last=False)
        mine.set_result(tally)
        return tally

    def _precounted(self, process_id: str, through: int) -> dict[str, Any] | None:
        """A count already made of ``process_id`` through ``through``, if any
        (the sequencer calls this holding the lock)."""
        found = self._pinned.get((process_id, through))
        if found is not None:
            return found
        key = (process_id, _last_entry(self._registry.state(process_id), through))
        with self._counts_lock:
            return self._counts.get(key)
