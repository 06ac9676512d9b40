"""Errors of the log's storage and sequencing.

::

    LedgerError                  base; ``code`` is stable and reported by the API
    ├── NotFound                 no entry / checkpoint / tile at that index or size
    ├── InvalidRequest           the request itself is wrong (size beyond the log,
    │                            index beyond size, entry too large, ...)
    ├── LogMismatch              database and key or origin do not belong together
    └── LogCorrupted             stored tree disagrees with its signed checkpoint;
                                 the sequencer refuses to sign anything further
"""

from __future__ import annotations

__all__ = ["InvalidRequest", "LedgerError", "LogCorrupted", "LogMismatch", "NotFound"]


class LedgerError(Exception):
    code = "ledger_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFound(LedgerError):
    code = "not_found"


class InvalidRequest(LedgerError):
    code = "invalid_request"


class LogMismatch(LedgerError):
    code = "log_mismatch"


class LogCorrupted(LedgerError):
    code = "log_corrupted"
