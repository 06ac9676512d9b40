"""Group commit: one writer thread turns queued submissions into batches.

Submissions are pooled and committed in batches (docs/design.md, "The flow
of an entry"): the caller's :data:`FlushFunc` stores a batch, its node hashes
and the new signed checkpoint in one transaction, and a submission is
acknowledged only after that transaction commits. While one batch
commits, the next one gathers, so batches grow with load by themselves;
``batch_wait`` (at most 0.5 s) adds a deliberate wait after the first
submission for deployments that prefer fewer, larger transactions.

Order and time say nothing of who submitted when (docs/threat-model.md):

- the submissions of a batch are committed in a random order (the OS CSPRNG),
  then, if the log's owner arranges batches, in an order that depends on their
  content only (the civic record puts a manifest before its ballots, a close
  after them); so an entry's position in the log does not tell when, within
  its batch, it arrived; the entries of one submission stay together, in
  their order;
- with ``interval`` > 0, batches are committed at a fixed cadence: at the
  first tick (a multiple of ``interval`` on the monotonic clock) after the
  first submission waiting, whatever arrived by then, however few. When an
  entry was committed then tells only which interval it arrived in.

If a flush fails, every submission in that batch gets the exception; the
flush function itself drops what it cached (the log drops its tree border, so
the next batch reloads it from storage and checks it against the latest
signed checkpoint before signing anything).

The sequencer knows nothing of the log, as tessera's queue knows nothing of
its storage: it is handed the function that flushes a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from urne.ledger.errors import SequencerBroken

if TYPE_CHECKING:
    from urne.verifier.check.receipt import Receipt

__all__ = ["ArrangeFunc", "FlushFunc", "ReceiptFunc", "Sequencer", "SequencerBroken", "next_tick"]

#: The receipt of one entry of the batch just flushed: ``(index, entry)``.
ReceiptFunc = Callable[[int, bytes], "Receipt"]
#: Stores a batch: the items' entries with their admission hints, in order.
#: Returns per item its indices or the reason it was refused, and the receipt
#: maker of the batch (None when nothing was appended). Raises if the batch
#: did not commit: then nothing of it is in the log.
#: Given a batch in random order, the order to commit it in (positions in that
#: list): an owner that knows what entries mean puts each after what it depends
#: on, by content only, never by arrival.
ArrangeFunc = Callable[[Sequence[tuple[Sequence[bytes], Any]]], Sequence[int]]
FlushFunc = Callable[
    [Sequence[tuple[Sequence[bytes], Any]]],
    tuple[list["range | Exception"], "ReceiptFunc | None"],
]


class _Item:
    """One submission: its entries, the admission's hint, and where its outcome
    goes: a thread's ``future`` (its indices, or with ``receipt`` the one
    entry's receipt), or for a coroutine a ``waiter`` on its event loop, which
    takes the outcome the sequencer leaves in ``value`` / ``error``."""

    __slots__ = ("entries", "error", "future", "hint", "receipt", "value", "waiter")

    def __init__(
        self,
        entries: list[bytes],
        hint: Any = None,
        *,
        receipt: bool = False,
        waiter: asyncio.Future[Any] | None = None,
    ) -> None:
        self.entries = entries
        self.hint = hint
        self.receipt = receipt
        self.waiter = waiter
        self.future: Future[Any] | None = None if waiter is not None else Future()
        self.value: Any = None
        self.error: BaseException | None = None

    def start(self) -> bool:
        """False if the submitter gave up before its batch was taken."""
        if self.future is not None:
            return self.future.set_running_or_notify_cancel()
        return not (self.waiter is not None and self.waiter.cancelled())

    def settle(self, value: Any = None, error: BaseException | None = None) -> None:
        if self.future is None:
            self.value, self.error = value, error
        elif self.future.done():
            pass
        elif error is not None:
            if self.future.running() or self.future.set_running_or_notify_cancel():
                self.future.set_exception(error)
        else:
            self.future.set_result(value)


def _copy_outcomes(items: list[_Item]) -> None:
    """On an event loop: each waiter takes its item's outcome."""
    for it in items:
        waiter = it.waiter
        if waiter is None or waiter.done():  # cancelled meanwhile
            continue
        if it.error is not None:
            waiter.set_exception(it.error)
        else:
            waiter.set_result(it.value)


def _notify(items: list[_Item]) -> None:
    """Wake the event loops waiting on ``items``: one call per loop, not one per item."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Item]] = {}
    for it in items:
        if it.waiter is not None:
            by_loop.setdefault(it.waiter.get_loop(), []).append(it)
    for loop, waiting in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            loop.call_soon_threadsafe(_copy_outcomes, waiting)


_STOP = object()


def next_tick(now: float, interval: float) -> float:
    """The first multiple of ``interval`` strictly after ``now``: when the batch
    gathering at ``now`` is committed, at a fixed cadence."""
    return math.floor(now / interval + 1) * interval


class Sequencer:
    def __init__(
        self,
        flush: FlushFunc,
        *,
        batch_wait: float = 0.0,
        max_batch: int = 20000,
        interval: float = 0.0,
        order: random.Random | None = None,
        arrange: ArrangeFunc | None = None,
    ) -> None:
        """``order`` shuffles each batch (default: the OS CSPRNG; a test may
        give a seeded one to replay an order); ``arrange`` then orders it by
        content (a stable sort keeps the random order among equals)."""
        if not 0.0 <= interval <= 60.0:
            raise ValueError("the batch interval is 0 (off) to 60 seconds")
        self._flush = flush
        self._batch_wait = batch_wait
        self._max_batch = max_batch
        self._interval = interval
        self._order = order if order is not None else random.SystemRandom()
        self._arrange = arrange
        self._queue: queue.Queue[object] = queue.Queue()
        self._stopped = False
        self._broken: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="urne-sequencer", daemon=True)
        self._thread.start()

    def submit(self, entries: list[bytes], hint: Any = None) -> Future[range]:
        fut: Future[range] = Future()
        if not entries:
            self._check_running()
            fut.set_result(range(0))
            return fut
        item = _Item(entries, hint)
        self._put(item)
        assert item.future is not None
        return item.future

    def submit_for_receipt(self, entry: bytes, hint: Any = None) -> Future[Receipt]:
        item = _Item([entry], hint, receipt=True)
        self._put(item)
        assert item.future is not None
        return item.future

    def submit_for_receipt_async(self, entry: bytes, hint: Any = None) -> asyncio.Future[Receipt]:
        """:meth:`submit_for_receipt` for a coroutine (call it on its event loop).
        A waiter cancelled before its batch is taken drops the submission."""
        waiter: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._put(_Item([entry], hint, receipt=True, waiter=waiter))
        return waiter

    def _check_running(self) -> None:
        if self._broken is not None:
            raise SequencerBroken(
                f"the sequencer stopped on an unexpected error: {self._broken!r}"
            ) from self._broken
        if self._stopped:
            raise RuntimeError("the sequencer is stopped")

    def _put(self, item: _Item) -> None:
        self._check_running()
        self._queue.put(item)

    def stop(self) -> None:
        """Commit what is queued, then end the writer thread."""
        self._stopped = True
        self._queue.put(_STOP)
        self._thread.join()

    def _deadline(self) -> float:
        """When the batch now gathering is committed."""
        now = time.monotonic()
        if self._interval > 0:
            return next_tick(now, self._interval)
        return now + self._batch_wait

    def _gather(self, first: _Item) -> tuple[list[_Item], bool]:
        batch, count, stop = [first], len(first.entries), False
        deadline = self._deadline()
        while count < self._max_batch:
            timeout = deadline - time.monotonic()
            try:
                item = (
                    self._queue.get_nowait() if timeout <= 0 else self._queue.get(timeout=timeout)
                )
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
                break
            assert isinstance(item, _Item)
            batch.append(item)
            count += len(item.entries)
        return batch, stop

    def _run(self) -> None:
        live: list[_Item] = []
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                assert isinstance(item, _Item)
                batch, stop = self._gather(item)
                live = [it for it in batch if it.start()]
                if live:
                    live = self._arranged(live)
                    self._commit(live)
                live = []
                if stop:
                    return
        except BaseException as exc:
            # A bug, not a refusal: never leave a caller waiting forever. Fail
            # what this thread holds and what is queued, and refuse new work.
            self._broken = exc
            self._fail_all(live, exc)

    def _fail_all(self, held: list[_Item], exc: BaseException) -> None:
        pending = list(held)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Item):
                pending.append(item)
        for it in pending:
            it.settle(error=exc)
        _notify(pending)

    def _arranged(self, batch: list[_Item]) -> list[_Item]:
        self._order.shuffle(batch)
        if self._arrange is None:
            return batch
        positions = list(self._arrange([(it.entries, it.hint) for it in batch]))
        if sorted(positions) != list(range(len(batch))):
            raise ValueError("the batch's arrangement is not a permutation of it")
        return [batch[k] for k in positions]

    def _commit(self, batch: list[_Item]) -> None:
        try:
            results, receipt_for = self._flush([(it.entries, it.hint) for it in batch])
        except Exception as exc:  # the batch did not commit: nothing of it is in the log
            for it in batch:
                it.settle(error=exc)
            _notify(batch)
            return
        for it, res in zip(batch, results, strict=True):
            if isinstance(res, Exception):
                it.settle(error=res)
            elif it.receipt:
                assert receipt_for is not None
                it.settle(receipt_for(res[0], it.entries[0]))
            else:
                it.settle(res)
        _notify(batch)
