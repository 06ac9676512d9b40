"""Errors of the service's storage, sequencing and requests: the server side's
branches of the one error model (``urne.verifier.errors``).

::

    UrneError                    code (stable), status (HTTP)
    └── LedgerError              the service's own storage or keys are in     503
        │                        trouble
        ├── NotFound             no entry / checkpoint / tile / code there    404
        ├── InvalidRequest       the request itself is wrong (size beyond     400
        │   │                    the log, index beyond size, ...)
        │   ├── Conflict         it conflicts with stored state (a code       409
        │   │                    already answered, another blinded point, ...)
        │   └── TooLarge         an entry or a value over its limit           413
        ├── LogMismatch          database and key or origin do not belong     503
        │                        together
        ├── LogCorrupted         stored tree disagrees with its signed        503
        │                        checkpoint; nothing further is signed
        └── SequencerBroken      the writer stopped on an unexpected error;   503
                                 the log must be reopened
"""

from __future__ import annotations

from urne.verifier.errors import UrneError

__all__ = [
    "Conflict",
    "InvalidRequest",
    "LedgerError",
    "LogCorrupted",
    "LogMismatch",
    "NotFound",
    "SequencerBroken",
    "TooLarge",
]


class LedgerError(UrneError):
    code = "ledger_error"
    status = 503


class NotFound(LedgerError):
    code = "not_found"
    status = 404


class InvalidRequest(LedgerError):
    code = "invalid_request"
    status = 400


class Conflict(InvalidRequest):
    code = "conflict"
    status = 409


class TooLarge(InvalidRequest):
    code = "too_large"
    status = 413


class LogMismatch(LedgerError):
    code = "log_mismatch"


class LogCorrupted(LedgerError):
    code = "log_corrupted"


class SequencerBroken(LedgerError):
    """The writer thread died on an unexpected error; the log must be reopened."""

    code = "sequencer_broken"
