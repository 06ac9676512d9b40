"""The log gathers witnesses' cosignatures (docs/spec/witness.md §4).

For each configured witness, a thread of its own submits the log's latest
checkpoint (woken when this process signs one, and every ``interval`` seconds
for what other processes sign) (C2SP tlog-witness ``add-checkpoint``, with the consistency proof
from the size that witness last cosigned), checks the cosignature it gets
back under the witness's key, and stores it (``log_cosignature``). Appending
never waits for any of this: the sequencer signs and acknowledges as before,
and a witness that is slow or down only delays its own cosignatures (with
a growing pause between attempts, at most :data:`MAX_BACKOFF` seconds).

What is served with them:

- ``GET /checkpoint``: the latest checkpoint with the cosignatures it has so far;
- ``GET /log/checkpoints/{size}``: that checkpoint with its cosignatures;
- ``GET /entries/{i}/receipt``: the *best* receipt of entry ``i``: against
  the first checkpoint holding it that has the policy's quorum of
  cosignatures, else against the first one holding it (and what
  cosignatures it has). A receipt given at acknowledgement is upgraded by
  asking again.

A witness answering 409 with a size larger than the log's own latest has
seen a longer tree of this log's origin than this database holds: another
view under the same key, or a database restored from an old backup. It is
logged as an error and the witness is left alone (never submitted a
checkpoint that the witness would have to refuse anyway).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from urne.ledger.db.engine import write_connection
from urne.ledger.errors import InvalidRequest
from urne.ledger.log.models import LogCheckpoint, LogCosignature
from urne.ledger.log.store import Log, StoredCheckpoint
from urne.verifier.check.receipt import Receipt
from urne.verifier.errors import SignatureError
from urne.verifier.tlog.cosignature import WitnessKey, WitnessPolicy, verify_cosignatures
from urne.verifier.tlog.note import parse_note

__all__ = ["MAX_BACKOFF", "WitnessEndpoint", "Witnessing", "parse_witnesses"]

log_ = logging.getLogger("urne.witnessing")
_table = LogCosignature.__table__  # type: ignore[attr-defined]
#: The longest pause between two attempts at an unresponsive witness, in seconds.
MAX_BACKOFF = 30.0
_MAX_ANSWER = 4096


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log submits to: its key and its submission URL prefix."""

    key: WitnessKey
    url: str

    @property
    def label(self) -> str:
        return f"{self.key.name}+{self.key.key_id.hex()}"


def parse_witnesses(spec: str) -> list[WitnessEndpoint]:
    """``VKEY@URL[, VKEY@URL ...]`` (``URNE_WITNESSES``, ``urne serve --witness``)."""
    out = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        vkey, sep, url = item.partition("@")
        if not sep or not url.startswith(("http://", "https://")):
            raise InvalidRequest(
                f"a witness is given as VKEY@URL (its verifier key, then its address), "
                f"found {item!r}",
                code="bad_witness",
            )
        out.append(WitnessEndpoint(WitnessKey.from_vkey(vkey), url.rstrip("/")))
    labels = [w.label for w in out]
    if len(set(labels)) != len(labels):
        raise InvalidRequest("a witness is listed twice", code="bad_witness")
    return out


class Witnessing:
    """Cosignatures for ``log`` from ``witnesses``; ``quorum`` of them make a
    checkpoint "cosigned" (default: all)."""

    def __init__(
        self,
        log: Log,
        witnesses: Sequence[WitnessEndpoint],
        quorum: int | None = None,
        *,
        interval: float = 0.2,
        timeout: float = 5.0,
    ) -> None:
        self.log = log
        self.witnesses = list(witnesses)
        self.policy = WitnessPolicy(
            tuple(w.key for w in self.witnesses),
            len(self.witnesses) if quorum is None else quorum,
        )
        self.interval = interval
        self.timeout = timeout
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._generation = 0
        self._threads: list[threading.Thread] = []
        #: what each witness said last, for the operator (``urne status``)
        self.last_error: dict[str, str] = {}

    # -- reading ------------------------------------------------------------------------

    def lines(self, size: int) -> list[str]:
        """The cosignature lines stored for the checkpoint of ``size``, in witness order."""
        with self.log.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_table.c.witness, _table.c.line).where(_table.c.size == size)
            ).all()
        by: dict[str, str] = {str(w): str(line) for w, line in rows}
        return [by[w.label] for w in self.witnesses if w.label in by]

    def cosigned(self, cp: StoredCheckpoint) -> str:
        """``cp``'s note with the cosignatures it has."""
        return cp.text + "".join(self.lines(cp.size))

    def _cosigned_sizes(self) -> sa.Select[int]:
        """The sizes of the checkpoints with the quorum of cosignatures (at least one)."""
        return (
            sa.select(_table.c.size)
            .where(_table.c.witness.in_([w.label for w in self.witnesses]))
            .group_by(_table.c.size)
            .having(sa.func.count() >= max(self.policy.quorum, 1))
        )

    def first_cosigned(self, index: int) -> int | None:
        """The size of the first checkpoint holding entry ``index`` that has
        the quorum of cosignatures, if one has it yet."""
        q = self._cosigned_sizes().where(_table.c.size > index).order_by(_table.c.size).limit(1)
        with self.log.engine.connect() as conn:
            size: int | None = conn.execute(q).scalar()
        return size

    def latest_cosigned(self) -> StoredCheckpoint | None:
        """The largest checkpoint with the quorum of cosignatures."""
        q = self._cosigned_sizes().order_by(_table.c.size.desc()).limit(1)
        with self.log.engine.connect() as conn:
            size = conn.execute(q).scalar()
        return None if size is None else self.log.checkpoint_at(size)

    def cosigned_page(self, after: int, limit: int = 1000) -> tuple[list[str], int | None]:
        """The quorum-cosigned checkpoints larger than ``after``, smallest
        first, at most ``limit`` (with their cosignatures); and where the next
        page starts (None after the last)."""
        page = (
            self._cosigned_sizes().where(_table.c.size > after).order_by(_table.c.size).limit(limit)
        ).subquery()
        cp = LogCheckpoint.__table__  # type: ignore[attr-defined]
        labels = {w.label: k for k, w in enumerate(self.witnesses)}
        with self.log.engine.connect() as conn:  # two queries a page, whatever its length
            notes: dict[int, str] = {
                int(size): str(note)
                for size, note in conn.execute(
                    sa.select(cp.c.size, cp.c.note).where(cp.c.size.in_(sa.select(page.c.size)))
                )
            }
            rows = conn.execute(
                sa.select(_table.c.size, _table.c.witness, _table.c.line).where(
                    _table.c.size.in_(sa.select(page.c.size))
                )
            ).all()
        lines: dict[int, list[tuple[int, str]]] = {}
        for size, witness, line in rows:
            if witness in labels:
                lines.setdefault(int(size), []).append((labels[witness], str(line)))
        sizes = sorted(int(x) for x in notes)
        out = [str(notes[z]) + "".join(line for _, line in sorted(lines.get(z, []))) for z in sizes]
        return out, sizes[-1] if len(sizes) == limit else None

    def existed_by(self, receipt: Receipt) -> int | None:
        """The witnessed time of ``receipt``'s checkpoint (POSIX seconds): by then
        the quorum of witnesses had seen it; None below the quorum."""
        found = verify_cosignatures(parse_note(receipt.checkpoint), self.policy.witnesses)
        return self.policy.existed_by(found)

    def receipt(self, index: int) -> Receipt:
        """The best receipt of entry ``index`` (see the module's docstring)."""
        size = self.first_cosigned(index)
        cp = self.log.checkpoint_covering(index) if size is None else self.log.checkpoint_at(size)
        return Receipt(
            origin=self.log.origin,
            log_key=self.log.verifier.vkey,
            index=index,
            entry=self.log.entry(index),
            checkpoint=self.cosigned(cp),
            inclusion_proof=tuple(self.log.inclusion_proof(index, cp.size)),
        )

    # -- gathering ----------------------------------------------------------------------

    def start(self) -> None:
        self.log.on_checkpoint.append(self._signed)
        for w in self.witnesses:
            t = threading.Thread(target=self._run, args=(w,), name=f"witness {w.label}",
                                 daemon=True)  # fmt: skip
            t.start()
            self._threads.append(t)

    def _signed(self, cp: StoredCheckpoint) -> None:
        self.poke()

    def close(self) -> None:
        if self._signed in self.log.on_checkpoint:
            self.log.on_checkpoint.remove(self._signed)
        self._stop.set()
        self.poke()
        for t in self._threads:
            t.join(self.timeout + 1)
        self._threads.clear()

    def poke(self) -> None:
        """Wake the witness threads (a new checkpoint was signed)."""
        with self._wake:
            self._generation += 1
            self._wake.notify_all()

    def _wait(self, seconds: float, seen: int | None = None) -> None:
        """Sleep ``seconds``, or until a poke after generation ``seen`` (a
        poke between reading the checkpoint and waiting is not missed)."""
        with self._wake:
            if seen is None or self._generation == seen:
                self._wake.wait(seconds)

    def _run(self, w: WitnessEndpoint) -> None:
        old = 0  # what this witness last cosigned, as far as the log knows
        done = -1  # the last size it cosigned for the log
        backoff = self.interval
        while not self._stop.is_set():
            try:
                seen = self._generation
                cp = self.log.checkpoint()
                if cp.size == done:
                    self._wait(self.interval, seen)
                    continue
                old = self.submit(w, cp, old)
                done, backoff = cp.size, self.interval
            except _Conflict as c:
                if c.size == old:  # it names the size just sent: it is not listening
                    self.last_error[w.label] = str(c)
                    self._wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                old = c.size
                continue  # again, from the size the witness holds
            except _Diverged as exc:
                self.last_error[w.label] = str(exc)
                log_.error("witness %s: %s", w.label, exc)
                self._wait(MAX_BACKOFF)
            except Exception as exc:
                self.last_error[w.label] = str(exc)
                log_.warning("witness %s: %s", w.label, exc)
                self._wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def submit(self, w: WitnessEndpoint, cp: StoredCheckpoint, old: int) -> int:
        """Submit ``cp`` to ``w`` from ``old``; store the cosignature; the new old size."""
        if old > cp.size:
            raise _Diverged(
                f"the witness holds a checkpoint of size {old} of this log, larger than its "
                f"latest ({cp.size}): another view under this key, or lost data"
            )
        proof = self.log.consistency_proof(old, cp.size) if 0 < old < cp.size else []
        body = (f"old {old}\n" + "".join(_b64(h) + "\n" for h in proof) + "\n" + cp.text).encode()
        request = urllib.request.Request(
            w.url + "/add-checkpoint", data=body, method="POST",
            headers={"Content-Type": "text/plain"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                text = answer.read(_MAX_ANSWER).decode("utf-8")
        except urllib.error.HTTPError as exc:
            reason = exc.read(_MAX_ANSWER).decode("utf-8", "replace")
            if exc.code == 409 and exc.headers.get("Content-Type") == "text/x.tlog.size":
                size = int(reason.strip()) if reason.strip().isdigit() else -1
                if size < 0:
                    raise _Refused(f"409 without a size: {reason!r}") from exc
                if size > cp.size:
                    raise _Diverged(
                        f"the witness holds size {size} of this log, beyond its latest ({cp.size})"
                    ) from exc
                raise _Conflict(size) from exc
            raise _Refused(f"HTTP {exc.code}: {' '.join(reason.split())[:200]}") from exc
        note = parse_note(cp.text + text)
        timestamps = [w.key.timestamp_of(s, note.text) for s in note.signatures if w.key.matches(s)]
        if len(timestamps) != 1:
            raise SignatureError(f"the witness's answer holds {len(timestamps)} cosignatures of it")
        line = next(s.line() for s in note.signatures if w.key.matches(s))
        # BEGIN IMMEDIATE on SQLite: a read that turns into a write beside the
        # sequencer's commits would otherwise fail at once ("database is locked")
        with write_connection(self.log.engine) as conn, conn.begin():
            exists = conn.execute(
                sa.select(_table.c.size)
                .where(_table.c.size == cp.size)
                .where(_table.c.witness == w.label)
            ).first()
            if exists is None:
                conn.execute(
                    _table.insert().values(
                        size=cp.size, witness=w.label, line=line, timestamp=timestamps[0]
                    )
                )
        self.last_error.pop(w.label, None)
        return cp.size


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode("ascii")


class _Conflict(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"the witness holds size {size}")
        self.size = size


class _Refused(Exception):
    pass


class _Diverged(Exception):
    pass


def wait_cosigned(witnessing: Witnessing, index: int, timeout: float) -> int | None:
    """The size of the first quorum-cosigned checkpoint holding ``index``,
    waiting up to ``timeout`` seconds (tests and benchmarks)."""
    deadline = time.monotonic() + timeout
    while True:
        size = witnessing.first_cosigned(index)
        if size is not None or time.monotonic() > deadline:
            return size
        time.sleep(0.01)
