"""The civic record: the log as a ballot box.

:class:`CivicRecord` is the log's :class:`~ledger.log.Admission`: every entry
goes through the same rules an observer replays (``verifier.process``), in
sequence order, under the sequencer's lock, so two ballots of one pseudonym in
one batch, or a ballot racing the ``close``, are decided exactly as an auditor
will decide them. What costs time and needs no state (canonical form, schema,
the credential's pairing check) is done before sequencing, in the caller's
thread; what needs state (process known and open, nullifier, revote order,
batch ids, results equal to the recount) is decided in the sequencer.

Deadlines: ballots and paper batches are accepted only between the manifest's
``opens`` and ``closes`` (UTC, by the service's clock); after ``close`` nothing
counts, whatever the clock says. The clock is not in the log (DESIGN §5: no
timestamp finer than a checkpoint), so observers check order against ``close``,
and times only against checkpoints.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from ledger.log import Log
from verifier.credential import invalid_credentials, verify_credential
from verifier.entries import Ballot, Entry, Paper, decode_entry
from verifier.errors import VerificationError
from verifier.process import EntryRefused, ProcessState, Registry

__all__ = ["CivicRecord", "CredentialBatcher"]

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _parse_time(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class _Check:
    __slots__ = ("error", "item", "ok", "public_key")

    def __init__(self, public_key: bytes, item: tuple[str, bytes, bytes]) -> None:
        self.public_key = public_key
        self.item = item
        self.ok: bool | None = None
        self.error: BaseException | None = None


class CredentialBatcher:
    """Verifies the credentials of ballots checked at the same time, together.

    Each caller (a request's worker thread) queues its credential and waits.
    At most ``parallel`` callers at a time verify: each takes every queued
    credential (up to ``max_batch``), its own or others', and checks them in
    one :func:`~verifier.credential.invalid_credentials` call per issuer key
    (one random linear combination and two pairings for the lot; failing
    halves are re-checked until the bad credentials stand alone). So batches
    grow with load by themselves, no caller ever waits for a timer, and a lone
    ballot is verified at once with :func:`~verifier.credential.verify_credential`.

    The answer for each credential is exactly :func:`verify_credential`'s,
    except with probability at most 2**-128 per batch (docs/credentials.md
    §3.4): a bad credential is refused alone, whatever shares its batch. The
    BLS library releases the GIL, so ``parallel`` batches use as many cores.
    """

    def __init__(self, *, max_batch: int = 256, parallel: int | None = None) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.max_batch = max_batch
        self.parallel = max(1, parallel if parallel is not None else os.cpu_count() or 1)
        self._cond = threading.Condition(threading.Lock())
        self._queued: list[_Check] = []
        self._running = 0
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
        mine = _Check(public_key, (process_id, pseudonym, cred))
        with self._cond:
            self._queued.append(mine)
            while mine.ok is None and mine.error is None:
                if self._queued and self._running < self.parallel:
                    batch = self._queued[: self.max_batch]
                    del self._queued[: self.max_batch]
                    self._running += 1
                    self._cond.release()
                    try:
                        self._verify(batch)
                    finally:
                        self._cond.acquire()
                        self._running -= 1
                        self.batches += 1
                        self.verified += len(batch)
                        self._cond.notify_all()
                else:
                    self._cond.wait()
        if mine.error is not None:
            raise mine.error
        return bool(mine.ok)

    @staticmethod
    def _verify(batch: Sequence[_Check]) -> None:
        try:
            by_key: dict[bytes, list[_Check]] = {}
            for check in batch:
                by_key.setdefault(check.public_key, []).append(check)
            for public_key, checks in by_key.items():
                if len(checks) == 1:
                    checks[0].ok = verify_credential(public_key, *checks[0].item)
                    continue
                bad = set(invalid_credentials(public_key, [c.item for c in checks]))
                for i, check in enumerate(checks):
                    check.ok = i not in bad
        except BaseException as exc:  # never leave a caller waiting: each gets the error
            for check in batch:
                if check.ok is None:
                    check.error = exc
            raise


class CivicRecord:
    """Processes, ballots, paper batches, closes and results on one log."""

    def __init__(
        self,
        log: Log,
        *,
        clock: Clock = _utc_now,
        credentials: CredentialBatcher | None = None,
    ) -> None:
        self.log = log
        self.clock = clock
        #: verifies the credentials of ballots prechecked at the same time together
        self.credentials = credentials if credentials is not None else CredentialBatcher()
        self._lock = threading.RLock()
        self._registry = Registry(credential_check=None)
        self._size = 0
        #: committed entries that break a rule (should never happen; the audit names them)
        self.anomalies: list[tuple[int, str]] = []
        log.admission = self
        log.catch_up()

    # -- the Admission protocol (called by the sequencer) --------------------------------

    @property
    def size(self) -> int:
        return self._size

    def replay(self, index: int, data: bytes) -> None:
        with self._lock:
            if index < self._size:  # seen already (two threads caught up at once)
                return
            if index > self._size:
                raise AssertionError(f"replay skipped entries {self._size} to {index - 1}")
            try:
                self._registry.admit(decode_entry(data), index)
            except VerificationError as exc:
                self.anomalies.append((index, f"{exc.code}: {exc}"))
            self._size = index + 1

    def admit(self, index: int, data: bytes) -> None:
        with self._lock:
            entry = decode_entry(data)
            self._registry.check(entry, index)
            self._registry.apply(entry, index)
            self._size = index + 1

    def reset(self) -> None:
        with self._lock:
            self._registry = Registry(credential_check=None)
            self._size = 0
            self.anomalies.clear()

    # -- submitting ----------------------------------------------------------------------

    def precheck(self, leaf: bytes) -> Entry:
        """The stateless checks, before sequencing: form, deadlines, credential."""
        entry = decode_entry(leaf)
        body = entry.body
        if isinstance(body, Ballot | Paper):
            st = self._known(body.process)
            p = st.process
            now = self.clock()
            if now < _parse_time(p.opens):
                raise EntryRefused(f"process {p.id!r} opens at {p.opens}", code="process_not_open")
            if now >= _parse_time(p.closes):
                raise EntryRefused(f"process {p.id!r} closed at {p.closes}", code="process_ended")
            if isinstance(body, Ballot) and not self.credentials.verify(
                p.issuer_key, p.id, body.pseudonym, body.credential
            ):
                raise EntryRefused(
                    "the credential is not the issuer's for this process and pseudonym",
                    code="bad_credential",
                )
        return entry

    def _known(self, process_id: str) -> ProcessState:
        """The process, catching up on the log first if another service process
        may have published it since."""
        with self._lock:
            st = self._registry.processes.get(process_id)
        if st is None:
            self.log.catch_up()
            with self._lock:
                st = self._registry.state(process_id)
        return st

    def submit(self, leaf: bytes) -> Future[int]:
        """Check and queue an entry; the future gives its index once committed,
        or raises the reason it was refused."""
        self.precheck(leaf)
        inner = self.log.submit([leaf])
        out: Future[int] = Future()

        def done(f: Future[range]) -> None:
            exc = f.exception()
            if exc is not None:
                out.set_exception(exc)
            else:
                out.set_result(f.result()[0])

        inner.add_done_callback(done)
        return out

    def append(self, leaf: bytes) -> int:
        """Submit and wait for the commit; returns the entry's index."""
        return self.submit(leaf).result()

    # -- reading --------------------------------------------------------------------------

    def process_ids(self) -> list[str]:
        self.log.catch_up()
        with self._lock:
            return list(self._registry.processes)

    def process(self, process_id: str) -> ProcessState:
        with self._lock:
            return self._registry.state(process_id)

    def tally(self, process_id: str, through: int | None = None) -> dict[str, Any]:
        """The recount of a process through ``through`` (default: all committed)."""
        self.log.catch_up()
        with self._lock:
            if through is None:
                through = self._size - 1
            return self._registry.tally(process_id, through)
