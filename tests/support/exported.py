"""A log holding exactly the given entries, exported as a tiles directory:
what an auditor reads, whatever the rules say (the operator may lie)."""

from __future__ import annotations

from pathlib import Path

from urne.ledger.log import Log
from urne.ledger.log.export import export_tiles
from urne.verifier.tlog.note import Ed25519Signer


def exported_log(
    tmp: Path, name: str, signer: Ed25519Signer, leaves: list[bytes], *, per_append: int = 7
) -> Path:
    """``leaves`` appended ``per_append`` at a time (several checkpoints), no
    rules applied, signed with ``signer``, exported to ``tmp / name``."""
    with Log.open(f"sqlite:///{tmp / (name + '.db')}", signer=signer) as log:
        for i in range(0, len(leaves), per_append):
            log.append_many(leaves[i : i + per_append])
        export_tiles(log, tmp / name)
    return tmp / name
