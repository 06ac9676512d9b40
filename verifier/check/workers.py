"""Worker processes that verify credential batches, for the audit and the service.

Hashing to G1 and decoding points with their subgroup checks, about 0.3 ms per
credential, are most of the work of checking ballots, and the BLS backend
holds the GIL while it does them. :class:`CredentialWorkers` runs them in
worker processes, one per core, each fed by a thread of the caller's process
(pipe I/O releases the GIL, so the caller goes on with its own work).

A worker is a fresh interpreter started with :mod:`subprocess`, not
:mod:`multiprocessing`: "spawn" re-runs the caller's main script in each child
(an unguarded script would run twice) and "fork" copies a process whose other
threads may hold locks. It reads length-prefixed pickled batches on stdin and
answers each with the indices of the invalid credentials
(:func:`~urne.verifier.credentials.credential.invalid_credentials`). Only this module's own
children are unpickled.

A worker that dies (killed, out of memory) fails the batch it held with
:class:`WorkerDied` and is replaced before the next batch.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import invalid_credentials

if TYPE_CHECKING:
    from urne.verifier.secret.ballot import Spend

__all__ = ["CredentialWorkers", "WorkerDied", "cores"]


class WorkerDied(OSError):
    """The worker process holding a batch ended before answering."""


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def verify_batch(
    backend: bls.BackendName, public_key: bytes, items: list[tuple[str, bytes, bytes]]
) -> list[int]:
    """In a worker process: :func:`invalid_credentials` of one batch."""
    return invalid_credentials(public_key, items, backend=bls.get_backend(backend))


#: What a worker needs to check a secret process's ballots: the manifest's
#: fingerprint, the election key, the number of proposals, the bounds, and a
#: capped budget's bounds on a ballot's cost.
SecretContext = tuple[bytes, bytes, int, int, int, "Spend | None"]


def invalid_proofs(ctx: SecretContext, items: list[tuple[bytes, dict[str, Any]]]) -> list[int]:
    """The indices of the secret ballots ``(pseudonym, encrypted)`` whose form or
    proofs are wrong (docs/secret-ballot.md §5)."""
    from urne.verifier.errors import VerificationError
    from urne.verifier.secret.ballot import EncryptedBallot, ballot_context
    from urne.verifier.secret.group import ristretto255

    fingerprint, key, options, lo, hi, spend = ctx
    g = ristretto255()
    bad = []
    for k, (pseudonym, encrypted) in enumerate(items):
        try:
            b = EncryptedBallot.decode(g, encrypted, options, (lo, hi), spend)
            b.verify(ballot_context(g, fingerprint, key, pseudonym), key, (lo, hi), spend)
        except VerificationError:
            bad.append(k)
    return bad


def run_task(task: tuple[Any, ...]) -> list[int]:
    """In a worker process: one batch, of credentials or of secret ballots' proofs."""
    if task[0] == "proofs":
        return invalid_proofs(task[1], task[2])
    return verify_batch(*task)


_WORKER = """
import os, pickle, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
inp, out = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)  # anything printed goes to stderr, never into the answers
def read():
    head = inp.read(8)
    return pickle.loads(inp.read(int.from_bytes(head, "big"))) if len(head) == 8 else None
sys.path[:0] = read()
from urne.verifier.check.workers import run_task
while (task := read()) is not None:
    answer = pickle.dumps(run_task(task))
    out.write(len(answer).to_bytes(8, "big") + answer)
    out.flush()
"""


def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj)
    return len(data).to_bytes(8, "big") + data


_Task = tuple["Future[list[int]]", bytes]


class CredentialWorkers:
    """``n`` worker processes using the BLS ``backend``; :meth:`submit` a batch,
    get a future of the indices of its invalid credentials."""

    def __init__(self, n: int, backend: bls.BackendName) -> None:
        if n < 1:
            raise ValueError("at least one worker")
        self.backend = backend
        self._path = _frame([p for p in sys.path if p])
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self.procs: list[subprocess.Popen[bytes]] = []
        self._threads: list[threading.Thread] = []
        for slot in range(n):
            self.procs.append(self._start())
            thread = threading.Thread(
                target=self._feed, args=(slot,), name="urne-credential-worker", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _start(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert proc.stdin is not None
        proc.stdin.write(self._path)
        proc.stdin.flush()
        return proc

    def _feed(self, slot: int) -> None:
        while (task := self._tasks.get()) is not None:
            future, payload = task
            if not future.set_running_or_notify_cancel():
                continue
            proc = self.procs[slot]
            try:
                future.set_result(self._ask(proc, payload))
            except WorkerDied as exc:
                with self._lock:
                    _stop(proc)
                    self.procs[slot] = self._start()
                future.set_exception(exc)
            except Exception as exc:
                future.set_exception(exc)

    @staticmethod
    def _ask(proc: subprocess.Popen[bytes], payload: bytes) -> list[int]:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(payload)
            proc.stdin.flush()
            head = proc.stdout.read(8)
            answer = proc.stdout.read(int.from_bytes(head, "big")) if len(head) == 8 else b""
        except OSError as exc:
            raise WorkerDied(f"credential worker {proc.pid} is gone: {exc}") from exc
        if not answer:
            raise WorkerDied(f"credential worker {proc.pid} exited ({proc.poll()})")
        result: list[int] = pickle.loads(answer)  # from our own child
        return result

    def submit(self, public_key: bytes, items: list[tuple[str, bytes, bytes]]) -> Future[list[int]]:
        future: Future[list[int]] = Future()
        self._tasks.put((future, _frame((self.backend, public_key, items))))
        return future

    def submit_proofs(
        self, ctx: SecretContext, items: list[tuple[bytes, dict[str, Any]]]
    ) -> Future[list[int]]:
        """A batch of a secret vote's ballots: a future of the invalid ones' indices."""
        future: Future[list[int]] = Future()
        self._tasks.put((future, _frame(("proofs", ctx, items))))
        return future

    def shutdown(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()
        with self._lock:
            for proc in self.procs:
                _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Close the worker's stdin (it ends at the end of its input), then wait."""
    assert proc.stdin is not None and proc.stdout is not None
    with contextlib.suppress(OSError):  # already gone: its pipe is broken
        proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()
