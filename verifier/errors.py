"""Every failed check in ``verifier`` raises a :class:`VerificationError`.

The tree, so callers can catch as broadly or as narrowly as they need::

    VerificationError            anything the verifier refuses
    ├── FormatError              malformed input: bad base64, wrong hash length,
    │                            a note or checkpoint that does not parse, a bad path
    ├── ProofError               a well-formed proof that does not prove the claim
    │                            (wrong root, wrong length for the sizes, size 0, ...)
    └── SignatureError           no valid signature by a trusted key, or a signature
                                 by a trusted key that does not verify

Each class carries a stable machine-readable ``code`` that the HTTP service and
``urne-verify --json`` report; the message is for people and says what was
expected and what was found. Parse errors from libraries are converted at the
boundary (``raise FormatError(...) from exc``) so nothing else leaks out.
"""

from __future__ import annotations

__all__ = ["FormatError", "ProofError", "SignatureError", "VerificationError"]


class VerificationError(Exception):
    """Base of everything the verifier refuses."""

    code: str = "verification_failed"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class FormatError(VerificationError):
    """The input is not well-formed (it cannot even be checked)."""

    code = "malformed"


class ProofError(VerificationError):
    """A Merkle proof does not prove what it claims."""

    code = "bad_proof"


class SignatureError(VerificationError):
    """A signed object lacks a valid signature by a trusted key."""

    code = "bad_signature"
