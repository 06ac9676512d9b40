"""A secret process kept honestly by a real civic record, for the audit's
tampering tests: :func:`build` opens it with its trustees' ceremony, lets the
test cast and close, has two trustees decrypt, publishes the recount, and
returns the log's leaves."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.civic import Citizen, Institution, open_in
from tests.support.secret import Board
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.verifier.tlog.note import Ed25519Signer


@dataclass
class World:
    inst: Institution
    board: Board
    signer: Ed25519Signer
    leaves: list[bytes]
    citizens: list[Citizen]
    close: int

    def index(self, kind: str, n: int = 0) -> int:
        """The log index of the ``n``-th entry of ``kind``."""
        return [i for i, x in enumerate(self.leaves) if json.loads(x)["kind"] == kind][n]


def build(
    tmp: Path,
    pid: str,
    origin: str,
    ptype: str,
    cast: Callable[[CivicRecord, Institution, Board], list[Citizen]],
    decrypting: Sequence[int],
    check: Callable[[dict[str, Any]], None],
    **process: Any,
) -> World:
    """The process ``pid`` (``ptype``, ``process``: the manifest's other
    fields), 3 trustees of threshold 2; ``cast`` appends the ballots and paper
    batches and returns the citizens; after the close the trustees
    ``decrypting`` decrypt, ``check`` looks at the service's recount, which is
    then published."""
    inst, board = Institution(), Board.make(pid, 3, 2)
    signer = Ed25519Signer.generate(origin)
    log = Log.open(f"sqlite:///{tmp / 'real.db'}", signer=signer)
    rec = CivicRecord(log)
    manifest = inst.process(pid, ptype, secret=board.manifest_field(), **process)
    open_in(rec, manifest)
    board.opened(manifest)
    board.ceremony(rec.append, inst.key)
    citizens = cast(rec, inst, board)
    close = rec.append(inst.close(pid))
    sec = rec.process(pid).secret
    assert sec is not None and sec.aggregates is not None
    for j in decrypting:
        rec.append(board.decryption(j, sec.aggregates))
    tally = rec.tally(pid, close)
    check(tally)
    rec.append(inst.result(pid, close, tally))
    leaves = log.entries(0, log.size)
    log.close()
    return World(inst, board, signer, leaves, citizens, close)
