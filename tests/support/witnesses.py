"""A log's view for the witness tests: its leaves under its key, which
makes checkpoints, add-checkpoint requests and receipts from the slow
reference tree. Verifier-side only (the verifier's tests run without the
server extra); witnesses of a served log: ``tests.support.witnessing``."""

from __future__ import annotations

import base64

from tests.support import reference
from urne.verifier.tlog.checkpoint import Checkpoint
from urne.verifier.tlog.note import Ed25519Signer, parse_note, sign_note


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
