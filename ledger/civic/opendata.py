"""A whole process as open data: ``entries.jsonl`` and ``results.csv``.

Both are pinned to one signed checkpoint, taken when the export is opened
(:func:`open_export`): the entries are those of the process below its size,
each with its inclusion proof in that tree, and the results are the
process's ``result`` among them (the final one: the rules admit one per
process, through its close) or, without one, the provisional recount through
the process's last entry. The formats are specified in docs/spec/open-data.md and written by the
pure functions of ``urne.verifier.check.opendata``, which also checks them.

Finding a process's entries: the civic record's state of a process
(``urne.verifier.civic.process.ProcessState``) remembers the index of its manifest, of
every accepted ballot and paper batch, of its ``close`` and of its result,
each list in log order. Merging them gives the process's entries without
scanning the log: reads are proportional to the process, not to the log.
The lists only grow at their end and nothing below a signed size changes, so
the export counts, under the civic record's lock, how much of each lies below
the checkpoint's size, then reads them without the lock up to those counts
while the service keeps accepting entries.

Streaming: the indices are merged lazily, entries are read per 256-entry tile
(``Log.entries``), lines are produced per tile. Proofs are batched per tile
too: for the indices in one tile ``[b, b + 256)``, every hash of an inclusion
proof covers a range either inside the tile or wholly outside it, and those
outside are the same for every index of the tile. So one ``Log.inclusion_proof``
per tile gives the outer hashes, and the tile's leaf hashes give the inner
ones. A tile that holds few of the process's entries is answered with one
``Log.inclusion_proof`` per entry instead of reading the whole tile. Memory
stays bounded by a tile, whatever the size of the process.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import tempfile
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby, islice
from pathlib import Path
from typing import Any

from urne.ledger.civic.record import CivicRecord
from urne.ledger.log.store import Log, StoredCheckpoint
from urne.verifier.check.opendata import Outcome, entry_line, header_line, outcome_of, results_csv
from urne.verifier.civic.process import ProcessState, UnknownProcess
from urne.verifier.tlog import merkle
from urne.verifier.tlog.rfc9162 import hash_children, hash_leaf
from urne.verifier.tlog.tiles import TILE_HEIGHT, TILE_WIDTH

__all__ = [
    "ExportedFiles",
    "ProcessExport",
    "entries_jsonl",
    "export_process",
    "open_export",
    "process_outcome",
    "results_csv_bytes",
]

#: A tile with at least this many of the process's entries is read whole and
#: its proofs are computed from its leaves; below, one proof query per entry.
_WHOLE_TILE_MIN = 8


@dataclass(frozen=True)
class ProcessExport:
    """One process pinned to one signed checkpoint.

    ``state`` is the civic record's live state of the process: its lists only
    ever grow at the end, in log order, and nothing below the checkpoint's
    size changes once the checkpoint is signed. What the export covers is
    counted once, under the civic record's lock (:func:`open_export`); the
    lists are then read without the lock, up to those counts, however much
    they grow meanwhile.
    """

    civic: CivicRecord
    process_id: str
    checkpoint: StoredCheckpoint
    state: ProcessState
    #: how many of the state's ballots, paper batches and results are below the size
    ballots: int
    paper: int
    results: int
    #: the index of the ``close``, if below the size
    closed_at: int | None
    #: the log index of the last entry of the process below the size
    last_index: int
    #: the indices of the registrations and the reservation behind the manifest
    authority: tuple[int, ...] = ()
    #: a secret vote's ceremony entries and decryptions below the size
    secret: tuple[int, ...] = ()
    #: how many of the state's answers are below the size
    answers: int = 0
    #: how many of its delegates' and delegations' entries are below the size
    delegations: int = 0

    @property
    def log(self) -> Log:
        return self.civic.log

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def entries(self) -> int:
        """How many entries of the process the checkpoint covers."""
        return (
            len(self.authority)
            + 1
            + self.ballots
            + self.paper
            + self.results
            + (self.closed_at is not None)
            + len(self.secret)
            + self.answers
            + self.delegations
        )

    def indices(self) -> Iterator[int]:
        """The log indices of the process's entries below the checkpoint's size,
        in log order: a lazy merge of the lists the state keeps, each read up to
        the count taken when the export was opened."""
        st = self.state
        streams: list[Iterable[int]] = [
            self.authority,
            (st.index,),
            islice(st.ballot_indices, self.ballots),
            (i for i, _ in islice(st.paper, self.paper)),
            (i for i, _ in islice(st.results, self.results)),
            () if self.closed_at is None else (self.closed_at,),
            self.secret,
            islice(st.answer_indices, self.answers),
            islice(st.delegation_indices, self.delegations),
        ]
        return heapq.merge(*streams)


def open_export(civic: CivicRecord, process_id: str) -> ProcessExport:
    """Pin ``process_id`` to the log's latest signed checkpoint.

    The checkpoint is read first, then the civic record is brought up to it,
    then what the process has below its size is counted under the record's
    lock (a moment: a few binary searches). Raises ``EntryRefused`` (code
    ``unknown_process``) when the checkpoint holds no such process."""
    checkpoint = civic.log.checkpoint()
    civic.log.catch_up()  # the civic record has now seen at least this checkpoint
    size = checkpoint.size
    with civic.still():  # one consistent view of the state's lists
        state = civic.process(process_id)
        if state.index >= size:  # published after the checkpoint was read
            raise UnknownProcess(f"no process {process_id!r} in the log's latest checkpoint")
        authority = tuple(civic.authority(process_id))
        ballots = bisect_left(state.ballot_indices, size)
        paper = bisect_left(state.paper, size, key=_first)
        results = bisect_left(state.results, size, key=_first)
        closed_at = (
            state.closed_at if state.closed_at is not None and state.closed_at < size else None
        )
        secret = () if state.secret is None else tuple(i for i in state.secret.indices if i < size)
        answers = bisect_left(state.answer_indices, size)
        delegations = bisect_left(state.delegation_indices, size)
        last = max(
            secret[-1] if secret else -1,
            state.index,
            state.ballot_indices[ballots - 1] if ballots else -1,
            state.paper[paper - 1][0] if paper else -1,
            state.results[results - 1][0] if results else -1,
            -1 if closed_at is None else closed_at,
            state.answer_indices[answers - 1] if answers else -1,
            state.delegation_indices[delegations - 1] if delegations else -1,
        )
    return ProcessExport(
        civic=civic,
        process_id=process_id,
        checkpoint=checkpoint,
        state=state,
        ballots=ballots,
        paper=paper,
        results=results,
        closed_at=closed_at,
        last_index=last,
        authority=authority,
        secret=secret,
        answers=answers,
        delegations=delegations,
    )


def _first(item: tuple[int, object]) -> int:
    return item[0]


# -- entries.jsonl ------------------------------------------------------------------------


def entries_jsonl(export: ProcessExport) -> Iterator[bytes]:
    """The lines of ``entries.jsonl`` (newlines included): the header, then
    one line per entry of the process, in log order. Lazy: nothing but one
    tile of entries and its proofs is held at a time."""
    log, cp = export.log, export.checkpoint
    yield header_line(
        process=export.process_id,
        origin=log.origin,
        log_key=log.verifier.vkey,
        checkpoint=cp.text,
        entries=export.entries,
    )
    for _, group in groupby(export.indices(), key=lambda i: i // TILE_WIDTH):
        yield from tile_lines(log, cp.size, list(group))


def tile_lines(log: Log, size: int, indices: list[int]) -> Iterator[bytes]:
    """The lines of ``indices``, all in one tile, with their proofs in the tree of ``size``."""
    if len(indices) < _WHOLE_TILE_MIN:
        first = indices[0]
        data = log.entries(first, indices[-1] + 1)
        for i in indices:
            entry = data[i - first]
            yield entry_line(i, entry, hash_leaf(entry), log.inclusion_proof(i, size))
        return
    begin = indices[0] - indices[0] % TILE_WIDTH
    end = min(begin + TILE_WIDTH, size)
    data = log.entries(begin, end)
    leaves = [hash_leaf(d) for d in data]
    inner = _subtree_nodes(begin, leaves)
    outer = dict(
        zip(
            merkle.inclusion_ranges(indices[0], size),
            log.inclusion_proof(indices[0], size),
            strict=True,
        )
    )
    for i in indices:
        proof = [
            outer[r] if r in outer else _range_hash(inner, r)
            for r in merkle.inclusion_ranges(i, size)
        ]
        yield entry_line(i, data[i - begin], leaves[i - begin], proof)


def _range_hash(nodes: dict[merkle.Node, bytes], r: tuple[int, int]) -> bytes:
    return merkle.fold_range([nodes[n] for n in merkle.range_nodes(*r)])


def _subtree_nodes(begin: int, leaves: list[bytes]) -> dict[merkle.Node, bytes]:
    """Every complete subtree of the leaves ``[begin, begin + len(leaves))``
    (``begin`` a multiple of the tile width), as ``(level, index) -> hash``."""
    nodes: dict[merkle.Node, bytes] = {(0, begin + k): h for k, h in enumerate(leaves)}
    end = begin + len(leaves)
    for level in range(1, TILE_HEIGHT + 1):
        for j in range(begin >> level, end >> level):
            nodes[(level, j)] = hash_children(
                nodes[(level - 1, 2 * j)], nodes[(level - 1, 2 * j + 1)]
            )
    return nodes


# -- results.csv --------------------------------------------------------------------------


def process_outcome(export: ProcessExport) -> Outcome:
    """The process's final ``result`` if the export holds it, else the
    provisional recount through its last entry."""
    civic, pid = export.civic, export.process_id

    def tally(through: int) -> dict[str, Any]:
        return civic.tally(pid, through)

    return outcome_of(export.state, export.last_index, tally)


def results_csv_bytes(export: ProcessExport) -> bytes:
    """``results.csv`` (at most one row per proposal: small enough to hold)."""
    return b"".join(results_csv(process_outcome(export)))


# -- both, into a directory ---------------------------------------------------------------


@dataclass(frozen=True)
class ExportedFiles:
    process_id: str
    entries_path: Path
    results_path: Path
    #: the size of the checkpoint the files are pinned to
    size: int
    entries: int
    #: ``published`` or ``provisional``
    status: str


def export_process(
    civic: CivicRecord, process_id: str, directory: str | os.PathLike[str]
) -> ExportedFiles:
    """Write ``entries.jsonl`` and ``results.csv`` of one process into
    ``directory`` (created if needed), both pinned to the same checkpoint.
    Each file is written under a temporary name and renamed when complete.

    Raises ``EntryRefused`` (``unknown_process``) for a process not on the log."""
    export = open_export(civic, process_id)
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    entries_path, results_path = root / "entries.jsonl", root / "results.csv"
    _write(entries_path, entries_jsonl(export))
    outcome = process_outcome(export)
    _write(results_path, results_csv(outcome))
    return ExportedFiles(
        process_id=process_id,
        entries_path=entries_path,
        results_path=results_path,
        size=export.checkpoint.size,
        entries=export.entries,
        status=outcome.status,
    )


def _write(path: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``path`` atomically: a temporary file beside it,
    flushed to disk, then renamed; removed if anything fails on the way."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # public data; mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
