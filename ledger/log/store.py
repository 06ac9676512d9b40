"""The transparent log on SQL storage: append, read, prove, sign.

``Log`` is the Python API an outsider can script::

    from urne.ledger.log import Log
    log = Log.open("sqlite:///urne.db", key_dir="keys", origin="vote.example.org/log")
    i = log.append(b"an entry")               # acknowledged after commit
    log.inclusion_proof(i, log.size)          # RFC 9162 §2.1.3.1
    log.checkpoint().text                     # C2SP signed checkpoint

Appends go through a :class:`~urne.ledger.log.sequencer.Sequencer` (group commit: one
transaction stores a batch of entries, their node hashes and the newly signed
checkpoint). Reads are answered from stored complete-subtree hashes with one
batched query: never by rebuilding the tree. Every read is bounded by the
latest *signed* checkpoint, so nothing is served that is not committed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from urne.ledger.db.engine import SEQUENCER_LOCK_ID, create_engine, is_postgres, write_connection
from urne.ledger.db.migrate import upgrade
from urne.ledger.errors import InvalidRequest, LogCorrupted, LogMismatch, NotFound, TooLarge
from urne.ledger.log.keys import KEY_FILE, load_or_create_log_key
from urne.ledger.log.models import NODE_STRIDE, LogCheckpoint, LogMeta, LogSnapshot
from urne.ledger.log.sequencer import Sequencer
from urne.verifier.check.receipt import Receipt
from urne.verifier.tlog import merkle
from urne.verifier.tlog.checkpoint import Checkpoint
from urne.verifier.tlog.note import Ed25519Signer, Ed25519Verifier, sign_note
from urne.verifier.tlog.rfc9162 import hash_children, hash_leaf, hash_leaves
from urne.verifier.tlog.tiles import TILE_HEIGHT, TILE_WIDTH, encode_entry_bundle

_log = logging.getLogger("urne.log")

__all__ = ["MAX_ENTRY_SIZE", "Admission", "Log", "StoredCheckpoint"]

DEFAULT_ORIGIN = "urne.localhost/log"

#: tlog-tiles entry bundles prefix each entry with a big-endian uint16 length.
MAX_ENTRY_SIZE = 0xFFFF

_checkpoint = LogCheckpoint.__table__  # type: ignore[attr-defined]
_meta = LogMeta.__table__  # type: ignore[attr-defined]
_snapshot = LogSnapshot.__table__  # type: ignore[attr-defined]


class Admission(Protocol):
    """Decides, in sequence order and under the sequencer lock, which entries
    the log accepts (the civic record's rules: see ``urne.ledger.civic.record``).

    It sees every entry of the log exactly once, in order: through ``replay``
    for entries already committed (by this process or another), through
    ``admit`` for new ones, which it records or refuses by raising. If a batch
    fails to commit, ``reset`` makes it forget everything; it is then brought
    up to date again by ``replay`` before the next decision.
    """

    @property
    def size(self) -> int:
        """How many entries of the log it has seen."""
        ...

    def replay(self, index: int, data: bytes) -> None: ...

    def admit(self, index: int, data: bytes, hint: Any = None) -> None:
        """Record ``data`` at ``index`` or raise the refusal. ``hint`` is what
        the submitter passed along (:meth:`Log.submit_for_receipt`): the
        admission's own business, for example the entry already decoded."""
        ...

    def reset(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint as stored: the parsed body and the signed note text."""

    size: int
    root: bytes
    text: str
    created_at: datetime


class CommittedBatch:
    """What one committed batch appended, kept by the sequencer just long enough
    to answer each submission of the batch with its receipt: the checkpoint it
    signed, and the tree's border before it with the new leaves' hashes, from
    which every inclusion proof in that checkpoint follows with no read
    (:func:`urne.verifier.tlog.merkle.appended_nodes`)."""

    __slots__ = ("_before", "_leaf_hashes", "_nodes", "checkpoint", "first")

    def __init__(
        self,
        checkpoint: StoredCheckpoint,
        before: merkle.CompactRange,
        leaf_hashes: Sequence[bytes],
    ) -> None:
        self.checkpoint = checkpoint
        self.first = before.size
        self._before = before
        self._leaf_hashes = leaf_hashes
        self._nodes: dict[merkle.Node, bytes] | None = None

    def inclusion_proof(self, index: int) -> list[bytes]:
        """The proof of entry ``index`` (appended by this batch) in its checkpoint.
        The nodes are made on the first call (by the sequencer's thread only)."""
        if not self.first <= index < self.checkpoint.size:
            raise InvalidRequest(
                f"entry {index} is not in the batch [{self.first}, {self.checkpoint.size})",
                code="bad_index",
            )
        if self._nodes is None:
            self._nodes = merkle.appended_nodes(self._before, self._leaf_hashes)
        return merkle.inclusion_proof_from_nodes(index, self.checkpoint.size, self._nodes)


class Log:
    """One append-only log in one database."""

    def __init__(
        self,
        engine: Engine,
        signer: Ed25519Signer,
        *,
        batch_wait: float = 0.0,
        max_batch: int = 20000,
        batch_interval: float = 0.0,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.origin = signer.name
        self.verifier: Ed25519Verifier = signer.verifier
        self._batch_wait = batch_wait
        self._max_batch = max_batch
        self._batch_interval = batch_interval
        self._sequencer: Sequencer | None = None
        #: the tree's border as the sequencer last committed it (its thread only)
        self._border: merkle.CompactRange | None = None
        self._sequencer_lock = threading.Lock()
        self._latest: StoredCheckpoint | None = None
        #: decides which entries the log accepts; None accepts every entry
        self.admission: Admission | None = None
        #: told of every checkpoint this process signs, once it is committed
        #: (witnessing wakes on it); each must return at once and never raise
        self.on_checkpoint: list[Callable[[StoredCheckpoint], None]] = []
        self._init_meta()
        if is_postgres(engine):
            self._analyzed = 0
            self._analyzing: threading.Thread | None = None
            self.on_checkpoint.append(self._keep_statistics)

    def _keep_statistics(self, cp: StoredCheckpoint) -> None:
        """PostgreSQL: ``ANALYZE`` the entries and nodes once the log has doubled
        since the last time (from 100,000 entries), in the background.

        A proof reads a few ranges of ``log_entry`` and ``log_node`` in one
        statement of ORed ranges; with statistics from when the tables were
        small, the planner scans them whole: at 10 million entries appended in
        a few minutes (before autovacuum's turn), proofs fell from 725 to 27 a
        second. Statistics kept in step keep the index scans."""
        if cp.size < max(100_000, 2 * self._analyzed):
            return
        if self._analyzing is not None and self._analyzing.is_alive():
            return
        self._analyzed = cp.size
        self._analyzing = threading.Thread(target=self._analyze, name="urne-analyze", daemon=True)
        self._analyzing.start()

    def _analyze(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE log_entry, log_node")
                conn.commit()
        except sa.exc.SQLAlchemyError:  # statistics are an optimisation: never fail a write
            _log.warning("ANALYZE of the log's tables failed", exc_info=True)

    # -- opening ---------------------------------------------------------------

    @classmethod
    def open(
        cls,
        url: str,
        *,
        key_dir: str | Path | None = None,
        origin: str | None = None,
        signer: Ed25519Signer | None = None,
        batch_wait: float = 0.0,
        max_batch: int = 20000,
        batch_interval: float = 0.0,
    ) -> Log:
        """Open (creating and migrating if needed) the log stored at ``url``.

        The signing key is ``signer`` if given, else loaded from (or created in)
        ``key_dir``. A database that already belongs to another origin or key is
        refused, so a misconfigured operator can never sign someone else's log.
        The database is opened first, and a key this call created is removed
        again if the log is refused: a refused start leaves no key behind.
        ``batch_interval`` > 0 commits batches at that cadence (the service's
        setting; see ``urne.ledger.log.sequencer``).
        """
        engine = create_engine(url)
        created: Path | None = None
        try:
            upgrade(engine)
            if signer is None:
                if key_dir is None:
                    raise ValueError("give key_dir or signer")
                key_path = Path(key_dir) / KEY_FILE
                existed = key_path.exists()
                signer = load_or_create_log_key(Path(key_dir), origin or DEFAULT_ORIGIN)
                created = None if existed else key_path
            elif origin is not None and signer.name != origin:
                raise LogMismatch(f"the signer is named {signer.name!r}, the origin is {origin!r}")
            return cls(
                engine,
                signer,
                batch_wait=batch_wait,
                max_batch=max_batch,
                batch_interval=batch_interval,
            )
        except BaseException:
            engine.dispose()
            if created is not None:
                created.unlink(missing_ok=True)
            raise

    def _init_meta(self) -> None:
        want = {"origin": self.origin, "vkey": self.verifier.vkey}
        with self._write_connection() as conn, conn.begin():
            self._lock(conn)
            have = {k: v for k, v in conn.execute(sa.select(_meta.c.key, _meta.c.value))}
            if not have:
                conn.execute(_meta.insert(), [{"key": k, "value": v} for k, v in want.items()])
                cp = Checkpoint(origin=self.origin, size=0, root=merkle.fold_range([]))
                conn.execute(_checkpoint.insert(), [self._sign(cp)])
                return
            for k, v in want.items():
                if have.get(k) != v:
                    raise LogMismatch(
                        f"this database holds the log with {k} {have.get(k)!r}, "
                        f"but it was opened with {k} {v!r}"
                    )

    def close(self) -> None:
        """Stop the sequencer (after committing what it holds) and the engine."""
        with self._sequencer_lock:
            if self._sequencer is not None:
                self._sequencer.stop()
                self._sequencer = None
        self.engine.dispose()

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------

    @property
    def sequencer(self) -> Sequencer:
        with self._sequencer_lock:
            if self._sequencer is None:
                self._sequencer = Sequencer(
                    self._flush,
                    batch_wait=self._batch_wait,
                    max_batch=self._max_batch,
                    interval=self._batch_interval,
                    arrange=self._arrange,
                )
            return self._sequencer

    def submit(self, entries: Sequence[bytes], hint: Any = None) -> Future[range]:
        """Queue entries; the future resolves to their indices once committed.

        With an admission, each submission is one entry (each is accepted or
        refused on its own), and the future raises the admission's refusal;
        ``hint`` goes to :meth:`Admission.admit` with it."""
        if self.admission is not None and len(entries) != 1:
            raise InvalidRequest(
                "this log decides on each entry: submit one entry at a time", code="one_entry"
            )
        _check_entries(entries)
        return self.sequencer.submit(list(entries), hint)

    def submit_for_receipt(self, entry: bytes, hint: Any = None) -> Future[Receipt]:
        """Queue one entry; the future resolves to its receipt once committed
        (against the checkpoint its batch signed), or raises the admission's
        refusal. The receipt is made from what the sequencer has just written,
        with no read. ``hint`` goes to :meth:`Admission.admit` with the entry."""
        _check_entries([entry])
        return self.sequencer.submit_for_receipt(entry, hint)

    def submit_for_receipt_async(self, entry: bytes, hint: Any = None) -> asyncio.Future[Receipt]:
        """:meth:`submit_for_receipt` for a coroutine, on its event loop: the
        sequencer wakes the loop once per batch, not once per entry."""
        _check_entries([entry])
        return self.sequencer.submit_for_receipt_async(entry, hint)

    def _arrange(self, items: Sequence[tuple[Sequence[bytes], Any]]) -> Sequence[int]:
        """The admission's order for a batch, if it has one (an ``arrange``
        method, as the civic record's): entries after what they depend on."""
        arrange = getattr(self.admission, "arrange", None)
        return range(len(items)) if arrange is None else cast(Sequence[int], arrange(items))

    def _flush(
        self, items: Sequence[tuple[Sequence[bytes], Any]]
    ) -> tuple[list[range | Exception], Callable[[int, bytes], Receipt] | None]:
        """The sequencer's flush function (runs on its writer thread only):
        commit a batch from the cached tree border. If the batch does not
        commit, the border and the admission's state are dropped, so the next
        batch starts again from what storage holds."""
        try:
            self._border, results, committed = self._commit_batch(self._border, items)
        except Exception:
            self._border = None
            if self.admission is not None:
                self.admission.reset()
            raise
        if committed is None:
            return results, None
        return results, functools.partial(self._receipt_from_batch, committed)

    def _receipt_from_batch(self, batch: CommittedBatch, index: int, entry: bytes) -> Receipt:
        return Receipt(
            origin=self.origin,
            log_key=self.verifier.vkey,
            index=index,
            entry=entry,
            checkpoint=batch.checkpoint.text,
            inclusion_proof=tuple(batch.inclusion_proof(index)),
        )

    def append_many(self, entries: Sequence[bytes]) -> range:
        """Append entries; returns their indices after the transaction commits."""
        return self.submit(entries).result()

    def append(self, entry: bytes) -> int:
        """Append one entry; returns its index after the transaction commits."""
        return self.append_many([entry])[0]

    @property
    def _ph(self) -> str:
        """The driver's positional placeholder (sqlite3: ``?``, psycopg: ``%s``)."""
        return "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    def _write_connection(self) -> Connection:
        return write_connection(self.engine)

    def _lock(self, conn: Connection) -> None:
        """Hold the sequencer lock until ``conn``'s transaction ends.

        SQLite: ``BEGIN IMMEDIATE`` already holds the database's write lock.
        PostgreSQL: a transaction-level advisory lock shared by every process.
        """
        if is_postgres(self.engine):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SEQUENCER_LOCK_ID})")

    def _sign(self, cp: Checkpoint) -> dict[str, object]:
        return {
            "size": cp.size,
            "root": cp.root,
            "note": sign_note(cp.to_text(), self.signer),
            # to the second: no finer time on the log side (docs/threat-model.md)
            "created_at": datetime.now(UTC).replace(microsecond=0),
        }

    def _load_compact_range(self, conn: Connection) -> merkle.CompactRange:
        """The right border of the tree at the latest checkpoint, read from storage
        and checked against that checkpoint's signed root."""
        size, root = conn.execute(
            sa.select(_checkpoint.c.size, _checkpoint.c.root)
            .order_by(_checkpoint.c.size.desc())
            .limit(1)
        ).one()
        nodes = merkle.range_nodes(0, size)
        found = _fetch_nodes(conn, nodes)
        missing = [n for n in nodes if n not in found]
        if missing:
            raise LogCorrupted(f"nodes {missing} of the tree of size {size} are missing")
        cr = merkle.CompactRange(size, [found[n] for n in nodes])
        if cr.root() != root:
            raise LogCorrupted(
                f"stored nodes give root {cr.root().hex()} at size {size}, "
                f"but the signed checkpoint says {root.hex()}"
            )
        return cr

    def _commit_batch(
        self, cr: merkle.CompactRange | None, items: Sequence[tuple[Sequence[bytes], Any]]
    ) -> tuple[merkle.CompactRange, list[range | Exception], CommittedBatch | None]:
        """Store the admitted items (entries and their admission hint) with their
        nodes and a new signed checkpoint in one transaction. Returns the new
        border, per item its indices or the reason it was refused, and what the
        batch appended (None if nothing).

        ``cr`` is the sequencer's cached border; it is reloaded whenever another
        process has appended since (the lock makes the check-and-write atomic).
        With an :class:`Admission`, it first catches up on what others appended,
        then decides on each item in sequence order.
        """
        with self._write_connection() as conn, conn.begin():
            self._lock(conn)
            latest = conn.execute(sa.select(sa.func.max(_checkpoint.c.size))).scalar_one()
            if cr is None or cr.size != latest:
                cr = self._load_compact_range(conn)
            new = cr.copy()
            first = new.size
            results: list[range | Exception] = []
            accepted: list[bytes] = []
            if self.admission is not None:
                self._catch_up(conn, latest, sequencer=True)
            for item, hint in items:
                at = first + len(accepted)
                if self.admission is not None:
                    try:
                        self.admission.admit(at, item[0], hint)
                    except Exception as exc:  # the admission's refusal, for this item only
                        results.append(exc)
                        continue
                accepted.extend(item)
                results.append(range(at, at + len(item)))
            if not accepted:
                return cr, results, None
            leaf_hashes = hash_leaves(accepted)
            nodes = new.extend(leaf_hashes, NODE_STRIDE)
            # The driver's own executemany: SQLAlchemy's per-row parameter
            # handling costs more than SQLite's insert itself.
            q = self._ph
            cur = conn.connection.cursor()
            try:
                cur.executemany(
                    f"INSERT INTO log_entry (idx, data) VALUES ({q}, {q})",
                    # sqlite3 and psycopg take any iterable: no list on the hot path
                    zip(range(first, first + len(accepted)), accepted, strict=True),  # type: ignore[arg-type]
                )
                if nodes:
                    cur.executemany(
                        f"INSERT INTO log_node (level, idx, hash) VALUES ({q}, {q}, {q})", nodes
                    )
            finally:
                cur.close()
            root = new.root()
            row = self._sign(Checkpoint(origin=self.origin, size=new.size, root=root))
            conn.execute(_checkpoint.insert(), [row])
        signed = StoredCheckpoint(
            new.size, root, cast(str, row["note"]), cast(datetime, row["created_at"])
        )
        latest = self._latest
        if latest is None or latest.size < signed.size:
            self._latest = signed
        for tell in list(self.on_checkpoint):
            tell(signed)
        return new, results, CommittedBatch(signed, cr, leaf_hashes)

    def _catch_up(
        self, conn: Connection, size: int, *, sequencer: bool, chunk: int = 10_000
    ) -> None:
        """Feed the admission every committed entry it has not seen yet.

        Readers only ever replay forward: an admission ahead of the committed
        size is normal while the sequencer holds admitted, uncommitted entries.
        Inside the sequencer's lock nothing is uncommitted, so an admission
        ahead of storage there has seen entries that never committed, and is
        reset and replayed from the start.
        """
        adm = self.admission
        assert adm is not None
        if sequencer and adm.size > size:
            adm.reset()
        while adm.size < size:
            begin = adm.size
            rows = _entry_rows(conn, begin, min(size, begin + chunk), "idx, data")
            for idx, data in rows:
                adm.replay(idx, data)

    def catch_up(self) -> None:
        """Bring the admission up to the latest checkpoint (at start-up, or before
        a read that must see what other service processes appended)."""
        if self.admission is None:
            return
        with self.engine.connect() as conn:
            size = conn.execute(sa.select(sa.func.max(_checkpoint.c.size))).scalar_one()
            self._catch_up(conn, size, sequencer=False)

    # -- the admission's snapshot ----------------------------------------------

    def save_snapshot(self, size: int, data: bytes) -> bool:
        """Keep ``data``, the admission's state at checkpoint ``size``, in place
        of any older snapshot; an older ``size`` than the one kept is ignored
        (False). Opaque here: the admission checks what it reads back."""
        self.checkpoint_at(size)  # a snapshot is taken at a signed size
        now = datetime.now(UTC)
        with self._write_connection() as conn, conn.begin():
            kept = conn.execute(sa.select(sa.func.max(_snapshot.c.size))).scalar_one()
            if kept is not None and kept >= size:
                return False
            conn.execute(_snapshot.delete())
            conn.execute(_snapshot.insert(), [{"size": size, "data": data, "created_at": now}])
        return True

    def snapshot(self) -> tuple[int, bytes] | None:
        """The snapshot kept: ``(size, data)``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_snapshot.c.size, _snapshot.c.data)
                .order_by(_snapshot.c.size.desc())
                .limit(1)
            ).first()
        return None if row is None else (int(row.size), bytes(row.data))

    # -- reading ---------------------------------------------------------------

    def checkpoint(self) -> StoredCheckpoint:
        """The latest signed checkpoint (C2SP tlog-checkpoint in a signed note)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_checkpoint).order_by(_checkpoint.c.size.desc()).limit(1)
            ).one()
        cp = StoredCheckpoint(row.size, row.root, row.note, row.created_at)
        self._latest = cp
        return cp

    def checkpoint_at(self, size: int) -> StoredCheckpoint:
        """The checkpoint signed for exactly ``size`` (not every size has one)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_checkpoint).where(_checkpoint.c.size == size)).first()
        if row is None:
            raise NotFound(f"no checkpoint was signed at size {size}", code="no_checkpoint")
        return StoredCheckpoint(row.size, row.root, row.note, row.created_at)

    def checkpoint_covering(self, index: int) -> StoredCheckpoint:
        """The first checkpoint that contains entry ``index``: the one signed by
        the batch that committed it."""
        self._bound(index + 1)
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_checkpoint)
                .where(_checkpoint.c.size > index)
                .order_by(_checkpoint.c.size)
                .limit(1)
            ).one()
        return StoredCheckpoint(row.size, row.root, row.note, row.created_at)

    def committed_at(self, indices: Sequence[int]) -> list[datetime]:
        """When each entry of ``indices`` was committed: the signing time (UTC)
        of the first checkpoint that contains it. One indexed lookup per index,
        in one connection: meant for a few hundred points of a chart."""
        if not indices:
            return []
        self._bound(max(indices) + 1)
        first = (
            sa.select(_checkpoint.c.created_at)
            .where(_checkpoint.c.size > sa.bindparam("index"))
            .order_by(_checkpoint.c.size)
            .limit(1)
        )
        out = []
        with self.engine.connect() as conn:
            for i in indices:
                if i < 0:
                    raise InvalidRequest(f"index {i} is negative", code="bad_index")
                t: datetime = conn.execute(first, {"index": i}).scalar_one()
                # SQLite gives back naive datetimes; every stored time is UTC
                out.append(t if t.tzinfo is not None else t.replace(tzinfo=UTC))
        return out

    def receipt(self, index: int) -> Receipt:
        """A receipt for entry ``index`` against the checkpoint that committed it."""
        cp = self.checkpoint_covering(index)
        return Receipt(
            origin=self.origin,
            log_key=self.verifier.vkey,
            index=index,
            entry=self.entry(index),
            checkpoint=cp.text,
            inclusion_proof=tuple(self.inclusion_proof(index, cp.size)),
        )

    @property
    def size(self) -> int:
        """Size of the latest signed checkpoint."""
        return self.checkpoint().size

    def _bound(self, size: int) -> None:
        """Refuse sizes beyond the latest signed checkpoint."""
        if size < 0:
            raise InvalidRequest(f"size {size} is negative", code="bad_size")
        latest = self._latest
        if latest is None or size > latest.size:
            latest = self.checkpoint()
        if size > latest.size:
            raise InvalidRequest(
                f"size {size} is beyond the log's latest checkpoint ({latest.size})",
                code="size_beyond_log",
            )

    def entry(self, index: int) -> bytes:
        return self.entries(index, index + 1)[0]

    def entries(self, begin: int, end: int) -> list[bytes]:
        """Entries ``[begin, end)``, all committed."""
        if not 0 <= begin < end:
            raise InvalidRequest(f"bad entry range [{begin}, {end})", code="bad_range")
        self._bound(end)
        with self.engine.connect() as conn:
            rows = _entry_rows(conn, begin, end, "data")
        if len(rows) != end - begin:
            raise LogCorrupted(f"entries [{begin}, {end}) are incomplete in storage")
        return [r[0] for r in rows]

    def range_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        covers = merkle.nodes_for_ranges(ranges)
        wanted = {n for cover in covers for n in cover}
        with self.engine.connect() as conn:
            found = _fetch_nodes(conn, wanted)
        if len(found) != len(wanted):
            raise LogCorrupted(f"nodes {sorted(wanted - found.keys())} are missing")
        return merkle.hash_ranges(covers, found)

    def root(self, size: int) -> bytes:
        """Root hash of the tree of the first ``size`` entries (RFC 9162 §2.1.1)."""
        self._bound(size)
        return self.range_hashes([(0, size)])[0]

    def leaf_hash(self, index: int) -> bytes:
        self._bound(index + 1)
        return self.range_hashes([(index, index + 1)])[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 inclusion proof of entry ``index`` in the tree of ``size``."""
        self._bound(size)
        if not 0 <= index < size:
            raise InvalidRequest(f"index {index} is not below size {size}", code="bad_index")
        return self.range_hashes(merkle.inclusion_ranges(index, size))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 consistency proof from ``size1`` to ``size2``.

        As the verifier refuses proofs from size 0, none is produced for it."""
        self._bound(size2)
        if not 0 < size1 <= size2:
            raise InvalidRequest(
                f"no consistency proof from size {size1} to {size2} (need 0 < size1 <= size2)",
                code="bad_size",
            )
        return self.range_hashes(merkle.consistency_ranges(size1, size2))

    def tile(self, level: int, index: int, width: int) -> bytes:
        """C2SP tlog-tiles hash tile: ``width`` hashes of tree level ``8*level``."""
        start = index * TILE_WIDTH
        tree_level = level * TILE_HEIGHT
        if start + width > self.checkpoint().size >> tree_level:
            raise NotFound(
                f"tile {level}/{index} of width {width} is beyond the log", code="no_tile"
            )
        with self.engine.connect() as conn:
            rows: Sequence[Any]
            if tree_level == 0:
                rows = [(hash_leaf(d),) for (d,) in _entry_rows(conn, start, start + width, "data")]
            else:
                rows = conn.exec_driver_sql(
                    f"SELECT hash FROM log_node WHERE level = {tree_level} "
                    f"AND idx >= {start} AND idx < {start + width} ORDER BY idx"
                ).all()
        if len(rows) != width:
            raise LogCorrupted(f"tile {level}/{index} is incomplete in storage")
        return b"".join(r[0] for r in rows)

    def entry_bundle(self, index: int, width: int) -> bytes:
        """C2SP tlog-tiles entry bundle ``index`` of ``width`` entries."""
        start = index * TILE_WIDTH
        if start + width > self.checkpoint().size:
            raise NotFound(
                f"entry bundle {index} of width {width} is beyond the log", code="no_tile"
            )
        return encode_entry_bundle(self.entries(start, start + width))


def _check_entries(entries: Sequence[object]) -> None:
    """Every entry is bytes of at most MAX_ENTRY_SIZE (one pass; a hot path)."""
    for e in entries:
        if type(e) is not bytes and not isinstance(e, bytes | bytearray | memoryview):
            raise InvalidRequest(f"an entry is bytes, got {type(e).__name__}", code="bad_entry")
    longest = max(map(len, entries), default=0)  # type: ignore[arg-type]
    if longest > MAX_ENTRY_SIZE:
        raise TooLarge(
            f"entry is {longest} bytes, the most is {MAX_ENTRY_SIZE}", code="entry_too_large"
        )


def _entry_rows(conn: Connection, begin: int, end: int, columns: str) -> list[Any]:
    """Rows of ``log_entry`` with ``begin <= idx < end``, in order. Driver SQL:
    the values are integers we computed, so they are written into the text."""
    return list(
        conn.exec_driver_sql(
            f"SELECT {columns} FROM log_entry WHERE idx >= {int(begin)} AND idx < {int(end)} "
            "ORDER BY idx"
        )
    )


def _fetch_nodes(conn: Connection, nodes: Iterable[merkle.Node]) -> dict[merkle.Node, bytes]:
    """Hashes of complete subtrees, in one query.

    Level 0 is hashed from the entries in ``log_entry``; a level that is a multiple of
    ``NODE_STRIDE`` from ``log_node``; any other level ``L`` is folded from the
    ``2**(L % NODE_STRIDE)`` stored hashes below it. (Indices and levels are
    integers computed here, so they are written into the statement.)
    """
    spans: dict[merkle.Node, tuple[int, int, int]] = {}
    leaf_conds: list[str] = []
    node_conds: list[str] = []
    for level, idx in set(nodes):
        r = level % NODE_STRIDE
        base = level - r
        lo, hi = idx << r, (idx + 1) << r
        spans[(level, idx)] = (base, lo, hi)
        if base == 0:
            leaf_conds.append(f"(idx >= {lo} AND idx < {hi})")
        else:
            node_conds.append(f"(level = {base} AND idx >= {lo} AND idx < {hi})")
    if not spans:
        return {}
    parts = []
    if leaf_conds:
        parts.append("SELECT 0 AS level, idx, data FROM log_entry WHERE " + " OR ".join(leaf_conds))
    if node_conds:
        parts.append("SELECT level, idx, hash FROM log_node WHERE " + " OR ".join(node_conds))
    stored = {
        (lv, ix): (hash_leaf(h) if lv == 0 else h)
        for lv, ix, h in conn.exec_driver_sql(" UNION ALL ".join(parts))
    }
    out: dict[merkle.Node, bytes] = {}
    for node, (base, lo, hi) in spans.items():
        hs = [stored.get((base, i)) for i in range(lo, hi)]
        if any(h is None for h in hs):
            continue  # missing: the caller reports it
        layer = [h for h in hs if h is not None]
        while len(layer) > 1:
            layer = [hash_children(layer[i], layer[i + 1]) for i in range(0, len(layer), 2)]
        out[node] = layer[0]
    return out
