"""Signing entries: what an author's own machine does (an institution, an
official, a citizen's pseudonym). The bytes signed and their check are the
log's format (``urne.verifier.civic.entries``: ``signing_bytes``,
``verify_entry_signature``); the keys and the act of signing live here, out
of what an observer runs to check the log.
"""

from __future__ import annotations

from typing import Any, Protocol

import nacl.signing

from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import b64encode, decode_entry, signing_bytes
from urne.verifier.errors import FormatError
from urne.verifier.tlog.note import Ed25519Signer

__all__ = ["AuthorKey", "EntrySigner", "OperatorKey", "sign_entry"]


class EntrySigner(Protocol):
    """Anything that makes Ed25519 signatures: an :class:`AuthorKey`, a
    ``urne.verifier.citizen.blinding.Pseudonym``."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


class AuthorKey:
    """An Ed25519 key of an institution or an official (PyNaCl)."""

    __slots__ = ("_key",)

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise FormatError(f"an Ed25519 seed is 32 bytes, found {len(seed)}", code="bad_seed")
        self._key = nacl.signing.SigningKey(bytes(seed))

    @classmethod
    def generate(cls) -> AuthorKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def seed(self) -> bytes:
        return bytes(self._key)

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.verify_key)

    def sign(self, message: bytes) -> bytes:
        return bytes(self._key.sign(message).signature)

    def __repr__(self) -> str:
        return f"AuthorKey(public_key={self.public_key.hex()})"


class OperatorKey:
    """A log's signing key (a signed-note key) as the author of the entries
    the operator signs: registrations and reservations (docs/spec/entries.md
    §8, §9). The two uses cannot be confused (§8 there)."""

    __slots__ = ("_signer",)

    def __init__(self, signer: Ed25519Signer) -> None:
        self._signer = signer

    @property
    def public_key(self) -> bytes:
        return self._signer.verifier.public_key

    def sign(self, message: bytes) -> bytes:
        return self._signer.sign(message).signature


def sign_entry(obj: dict[str, Any], key: EntrySigner) -> bytes:
    """Sign an entry object (``v`` and ``kind`` included) and return its leaf bytes."""
    body = {k: v for k, v in obj.items() if k != "sig"}
    sig = key.sign(signing_bytes(body))
    leaf = canonical({**body, "sig": b64encode(sig)})
    decode_entry(leaf)  # never hand out an entry the log would refuse
    return leaf
