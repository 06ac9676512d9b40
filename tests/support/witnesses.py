"""Witnesses and logs for the witness tests: real ``urne-witness`` servers in
threads of the test process (HTTP on loopback, SQLite state), and a log's
view (its leaves under its key) that makes checkpoints and add-checkpoint
requests from the slow reference tree."""

from __future__ import annotations

import base64
from contextlib import ExitStack
from pathlib import Path

from tests.support import reference
from urne.ledger.log import Log
from urne.ledger.log.witnessing import WitnessEndpoint
from urne.verifier.tlog.checkpoint import Checkpoint
from urne.verifier.tlog.cosignature import CosignatureSigner
from urne.verifier.tlog.note import Ed25519Signer, parse_note, sign_note
from urne.verifier.witness.core import Witness
from urne.verifier.witness.server import WitnessServer
from urne.verifier.witness.state import SqliteStore


def witness_servers(stack: ExitStack, tmp: Path, log: Log, n: int) -> list[WitnessEndpoint]:
    """``n`` witnesses of ``log`` (named ``w0.example``...), served until
    ``stack`` closes; their endpoints, as ``urne serve --witness`` names them."""
    endpoints = []
    for i in range(n):
        signer = CosignatureSigner.generate(f"w{i}.example")
        store = SqliteStore(tmp / f"w{i}.db", [log.origin])
        server = WitnessServer(
            ("127.0.0.1", 0), Witness(signer, {log.origin: [log.verifier]}, store)
        )
        server.serve_in_thread()
        stack.callback(server.server_close)
        stack.callback(server.shutdown)
        endpoints.append(WitnessEndpoint(signer.witness, server.url))
    return endpoints


class View:
    """One history a log shows: its leaves, under its key."""

    def __init__(self, key: Ed25519Signer, leaves: list[bytes]) -> None:
        self.key, self.leaves = key, leaves

    def root(self, size: int) -> bytes:
        return reference.mth(self.leaves[:size])

    def note(self, size: int | None = None) -> str:
        """The signed checkpoint of ``size`` (default: all the leaves)."""
        size = len(self.leaves) if size is None else size
        return sign_note(Checkpoint(self.key.name, size, self.root(size)).to_text(), self.key)

    def body(self, old: int, size: int | None = None) -> bytes:
        """The add-checkpoint request from ``old`` to ``size``."""
        size = len(self.leaves) if size is None else size
        proof = reference.proof(old, self.leaves[:size]) if 0 < old < size else []
        lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
        return f"old {old}\n{lines}\n{self.note(size)}".encode()

    def receipt(self, index: int, note: str) -> dict[str, object]:
        """A receipt of leaf ``index`` against the signed checkpoint ``note``."""
        size = Checkpoint.parse(parse_note(note).text).size
        proof = reference.path(index, self.leaves[:size])
        return {
            "v": 1,
            "origin": self.key.name,
            "log_key": self.key.verifier.vkey,
            "index": index,
            "entry": base64.b64encode(self.leaves[index]).decode(),
            "checkpoint": note,
            "inclusion_proof": [base64.b64encode(h).decode() for h in proof],
        }
