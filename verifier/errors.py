"""Urne's one error model: every refusal is an :class:`UrneError` with a stable
``code`` and the HTTP ``status`` the service answers it with.

The tree, so callers can catch as broadly or as narrowly as they need::

    UrneError                    code (stable, machine-readable), status (HTTP)
    ├── VerificationError        checked, and found wrong                     400
    │   ├── FormatError          malformed input: bad base64, wrong hash       400
    │   │                        length, a note or checkpoint that does not
    │   │                        parse, a bad path
    │   ├── ProofError           a well-formed proof that does not prove the   400
    │   │                        claim (wrong root, wrong length for the
    │   │                        sizes, size 0, ...)
    │   ├── SignatureError       no valid signature by a trusted key           403
    │   └── EntryRefused         (urne.verifier.civic.process) a well-formed   422
    │       │                    entry that breaks a rule of its process
    │       ├── EntryConflict    it conflicts with the state of the process    409
    │       │                    (already signed, closed, ...)
    │       └── UnknownProcess   no such process                               404
    └── FetchError               could not check: the log did not answer, a    502
                                 file could not be read. Not a verdict.

The server side adds its own branches under ``UrneError``
(``urne.ledger.errors``: storage and requests; ``urne.api.errors``: refusals
of the HTTP layer), each class with its status, so the service maps any
refusal to its answer with one handler and no table of codes.

``urne-verify`` exits 0 for "valid", 1 for a :class:`VerificationError`
("invalid") and 2 for a :class:`FetchError` or a usage error ("could not
check"): the two lead a citizen to different actions, so they never share a
class. The message is for people and says what was expected and what was
found. Parse errors from libraries are converted at the boundary
(``raise FormatError(...) from exc``) so nothing else leaks out.
"""

from __future__ import annotations

__all__ = [
    "FetchError",
    "FormatError",
    "ProofError",
    "SignatureError",
    "UrneError",
    "VerificationError",
]


class UrneError(Exception):
    """Base of every refusal: a stable ``code`` and the HTTP ``status``.

    Subclasses declare their default ``code`` and their ``status``; an
    instance may narrow the code (``code="already_voted"``), never the status.
    """

    code: str = "error"
    status: int = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class VerificationError(UrneError):
    """Checked, and found wrong."""

    code = "verification_failed"
    status = 400


class FormatError(VerificationError):
    """The input is not well-formed (it cannot even be checked)."""

    code = "malformed"


class ProofError(VerificationError):
    """A Merkle proof does not prove what it claims."""

    code = "bad_proof"


class SignatureError(VerificationError):
    """A signed object lacks a valid signature by a trusted key."""

    code = "bad_signature"
    status = 403


class FetchError(UrneError):
    """What was to be checked could not be obtained: a network failure, an
    HTTP error, an unreadable file. Says nothing about the log's honesty."""

    code = "fetch_failed"
    status = 502
