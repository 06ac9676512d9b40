"""Witness cosignatures on checkpoints: C2SP tlog-cosignature, Ed25519
``cosignature/v1`` (docs/spec/witness.md §2).

A cosignature is a note signature line on a checkpoint, by a witness key of
signature type 0x04::

    — <witness name> base64(key ID || timestamp || signature)

with ``key ID = SHA-256(name || "\\n" || 0x04 || public key)[:4]``, the
timestamp the witness's clock as 8 big-endian bytes (POSIX seconds, at most
2**63 - 1), and the Ed25519 signature over::

    "cosignature/v1\\n" || "time " || decimal(timestamp) || "\\n" || checkpoint text

where the checkpoint text is the whole note text (origin, size, root and any
extension lines, with the final newline). It states: "at this time, the
largest checkpoint I have seen of this origin, each consistent with the one
before, has this root". A witness key is not a log key: the same public key
has another key ID under type 0x01, so a cosignature can never pass for the
log's signature, nor the reverse.

Verification follows the specification: a line whose (name, key ID) matches
no trusted witness is ignored; a matching line must be 76 bytes, carry a
timestamp at most 2**63 - 1 and verify, else the whole checkpoint is refused
(as signed-note asks of a bad signature by a known key); a quorum counts
distinct witnesses whose cosignature verified.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import nacl.exceptions
import nacl.signing

from urne.verifier.errors import FormatError, SignatureError
from urne.verifier.tlog.note import (
    Note,
    NoteSignature,
    decode_skey,
    decode_vkey,
    is_valid_key_name,
    key_id,
)

__all__ = [
    "COSIGNATURE_V1",
    "MAX_TIMESTAMP",
    "Cosignature",
    "CosignatureSigner",
    "WitnessKey",
    "WitnessPolicy",
    "cosigned_message",
    "verify_cosignatures",
]

#: Signature type of Ed25519 cosignatures (c2sp.org/tlog-cosignature).
COSIGNATURE_V1 = 0x04
#: The largest timestamp a cosignature may carry.
MAX_TIMESTAMP = 2**63 - 1
_SIZE = 8 + 64  # timestamp and signature, after the key ID
_PRIVATE_PREFIX = "PRIVATE+KEY+"


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """The bytes a ``cosignature/v1`` signs: the header, the time, the checkpoint text."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise FormatError(f"timestamp {timestamp} is outside 0..2**63-1", code="bad_timestamp")
    return f"cosignature/v1\ntime {timestamp}\n".encode("ascii") + checkpoint_text.encode("utf-8")


@dataclass(frozen=True)
class WitnessKey:
    """A trusted witness: its name and 32-byte Ed25519 public key (type 0x04)."""

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)
    _key: nacl.signing.VerifyKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise FormatError(f"witness key name {self.name!r} is not a key name", code="bad_vkey")
        if len(self.public_key) != 32:
            raise FormatError(
                f"witness key is {len(self.public_key)} bytes, want 32", code="bad_vkey"
            )
        object.__setattr__(self, "key_id", key_id(self.name, COSIGNATURE_V1, self.public_key))
        object.__setattr__(self, "_key", nacl.signing.VerifyKey(bytes(self.public_key)))

    @classmethod
    def from_vkey(cls, vkey: str) -> WitnessKey:
        """Parse ``<name>+<hex key ID>+<base64(0x04 || public key)>``."""
        name, alg, key = decode_vkey(vkey.strip())
        if alg != COSIGNATURE_V1:
            raise FormatError(
                f"witness key {name!r}: expected signature type {COSIGNATURE_V1:#04x} "
                f"(cosignature/v1), found {alg:#04x}",
                code="unsupported_algorithm",
            )
        return cls(name, key)

    @property
    def vkey(self) -> str:
        b64 = base64.b64encode(bytes([COSIGNATURE_V1]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{b64}"

    def matches(self, sig: NoteSignature) -> bool:
        return sig.name == self.name and sig.key_id == self.key_id

    def timestamp_of(self, sig: NoteSignature, checkpoint_text: str) -> int:
        """The timestamp of this witness's cosignature line ``sig`` on the
        checkpoint, once checked; :class:`SignatureError` if it does not verify."""
        if len(sig.signature) != _SIZE:
            raise SignatureError(
                f"cosignature by {self.name} is {4 + len(sig.signature)} bytes, want 76",
                code="bad_cosignature",
            )
        (timestamp,) = struct.unpack(">Q", sig.signature[:8])
        if timestamp > MAX_TIMESTAMP:
            raise SignatureError(
                f"cosignature by {self.name}: timestamp {timestamp} above 2**63-1",
                code="bad_cosignature",
            )
        try:
            self._key.verify(cosigned_message(checkpoint_text, timestamp), sig.signature[8:])
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise SignatureError(
                f"cosignature by witness {self.name}+{self.key_id.hex()} does not verify over "
                f"the checkpoint (time {timestamp})",
                code="bad_cosignature",
            ) from exc
        return int(timestamp)


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who, and the time it states."""

    witness: WitnessKey
    timestamp: int


def verify_cosignatures(
    note: Note, witnesses: Sequence[WitnessKey], quorum: int = 0
) -> list[Cosignature]:
    """The cosignatures of trusted ``witnesses`` on ``note`` (a checkpoint),
    one per witness, in the order of ``witnesses``.

    A line of a trusted witness that does not verify refuses the note
    (``bad_cosignature``); fewer than ``quorum`` verified witnesses refuse it
    (``no_quorum``). Lines of other keys are ignored.
    """
    found: dict[int, Cosignature] = {}
    for sig in note.signatures:
        for i, w in enumerate(witnesses):
            if w.matches(sig) and i not in found:
                found[i] = Cosignature(w, w.timestamp_of(sig, note.text))
    if len(found) < quorum:
        names = ", ".join(c.witness.name for _, c in sorted(found.items())) or "none"
        raise SignatureError(
            f"the checkpoint is cosigned by {len(found)} of the {len(witnesses)} trusted "
            f"witnesses ({names}), the policy needs {quorum}",
            code="no_quorum",
        )
    return [c for _, c in sorted(found.items())]


class CosignatureSigner:
    """A witness's signing key (type 0x04). Its ``repr`` never shows the secret."""

    __slots__ = ("_key", "witness")

    def __init__(self, name: str, seed: bytes) -> None:
        if len(seed) != 32:
            raise FormatError(f"Ed25519 seed is {len(seed)} bytes, want 32", code="bad_skey")
        self._key = nacl.signing.SigningKey(bytes(seed))
        self.witness = WitnessKey(name, bytes(self._key.verify_key))

    @classmethod
    def generate(cls, name: str) -> CosignatureSigner:
        return cls(name, bytes(nacl.signing.SigningKey.generate()))

    @classmethod
    def from_skey(cls, skey: str) -> CosignatureSigner:
        """Parse ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 || seed)>``."""
        return cls(*decode_skey(skey.strip(), COSIGNATURE_V1))

    @property
    def skey(self) -> str:
        b64 = base64.b64encode(bytes([COSIGNATURE_V1]) + bytes(self._key)).decode("ascii")
        return f"{_PRIVATE_PREFIX}{self.witness.name}+{self.witness.key_id.hex()}+{b64}"

    def cosign(self, checkpoint_text: str, timestamp: int) -> NoteSignature:
        """The cosignature (a :class:`NoteSignature`) of ``checkpoint_text`` at ``timestamp``."""
        sig = self._key.sign(cosigned_message(checkpoint_text, timestamp)).signature
        return NoteSignature(
            self.witness.name, self.witness.key_id, struct.pack(">Q", timestamp) + sig
        )

    def __repr__(self) -> str:
        return f"CosignatureSigner({self.witness.name}+{self.witness.key_id.hex()})"


@dataclass(frozen=True)
class WitnessPolicy:
    """Which witnesses a reader trusts and how many of them must have cosigned
    a checkpoint before it is believed (``quorum``; all of them unless said)."""

    witnesses: tuple[WitnessKey, ...] = ()
    quorum: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.quorum <= len(self.witnesses):
            raise FormatError(
                f"a quorum of {self.quorum} of {len(self.witnesses)} witnesses cannot be met",
                code="bad_policy",
            )
        names = [(w.name, w.key_id) for w in self.witnesses]
        if len(set(names)) != len(names):
            raise FormatError("a witness is listed twice", code="bad_policy")

    @classmethod
    def of(cls, vkeys: Sequence[str], quorum: int | None = None) -> WitnessPolicy:
        witnesses = tuple(WitnessKey.from_vkey(v) for v in vkeys)
        return cls(witnesses, len(witnesses) if quorum is None else quorum)

    def check(self, note: Note) -> list[Cosignature]:
        """The cosignatures on ``note``, refused without the quorum (``no_quorum``)."""
        return verify_cosignatures(note, self.witnesses, self.quorum)

    def existed_by(self, found: Sequence[Cosignature]) -> int | None:
        """The witnessed time of a checkpoint: by then, ``quorum`` of the
        trusted witnesses (by their clocks) had seen it, so everything it holds
        existed. The quorum-th earliest of their times; None below the quorum
        or without a policy."""
        if self.quorum == 0 or len(found) < self.quorum:
            return None
        return sorted(c.timestamp for c in found)[self.quorum - 1]

    def describe(self, found: Sequence[Cosignature]) -> str:
        """ "seen by 2 of 3 independent witnesses (a, b)", for people."""
        names = ", ".join(c.witness.name for c in found)
        return f"seen by {len(found)} of {len(self.witnesses)} witnesses" + (
            f" ({names})" if names else ""
        )
