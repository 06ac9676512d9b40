"""Refusals of issuance and of the roll (see the tree in ``urne.ledger.issuance``)."""

from __future__ import annotations

from urne.ledger.errors import InvalidRequest, LedgerError
from urne.verifier.errors import FormatError

__all__ = [
    "BadBlindedPoint",
    "IssuanceConflict",
    "IssuanceNotFound",
    "IssuanceRefused",
    "IssuerKeyExists",
    "KeyFileError",
    "RollConflict",
    "RollRefused",
]


class IssuanceRefused(InvalidRequest):
    """A credential request the issuer refuses; ``code`` says why."""

    code = "issuance_refused"


class IssuanceNotFound(IssuanceRefused):
    """No such process key here, or no such code on the roll."""

    status = 404


class IssuanceConflict(IssuanceRefused):
    """The code was already answered, or answered for another blinded point."""

    status = 409


class BadBlindedPoint(InvalidRequest, FormatError):
    """``B`` is not a point of G1's prime-order subgroup other than the identity.

    Both a ledger :class:`~urne.ledger.errors.InvalidRequest` and a verifier
    :class:`~urne.verifier.errors.FormatError`, so either handler reports it as 4xx.
    """

    code = "bad_blinded_point"


class RollRefused(InvalidRequest):
    """An import (or keyring request) that is refused; nothing was stored."""

    code = "roll_refused"


class RollConflict(RollRefused):
    """People already on the roll, or another import running at the same time."""

    status = 409


class IssuerKeyExists(InvalidRequest):
    """A process has one issuer key for life: a second one is refused."""

    code = "issuer_key_exists"
    status = 409


class KeyFileError(LedgerError):
    """A key file is damaged, belongs elsewhere, or is missing where it must exist."""

    code = "bad_key_file"
