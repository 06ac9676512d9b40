"""Urne's ledger: the transparent log on SQL storage (and, later, the civic record).

Builds on ``verifier`` for every format and check an observer also needs.
"""

from ledger.errors import InvalidRequest, LedgerError, LogCorrupted, LogMismatch, NotFound
from ledger.log import MAX_ENTRY_SIZE, Log, StoredCheckpoint

__all__ = [
    "MAX_ENTRY_SIZE",
    "InvalidRequest",
    "LedgerError",
    "Log",
    "LogCorrupted",
    "LogMismatch",
    "NotFound",
    "StoredCheckpoint",
]
