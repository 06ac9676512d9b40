"""The log on SQL storage: the store (proofs from stored subtree hashes, signed
checkpoints, receipts), the sequencer that commits entries in batches, the log
key, the tile export."""

from urne.ledger.log.store import MAX_ENTRY_SIZE, Log, StoredCheckpoint

__all__ = ["MAX_ENTRY_SIZE", "Log", "StoredCheckpoint"]
