"""A witness (C2SP tlog-witness): it cosigns a log's checkpoint only when the
checkpoint extends the last one it cosigned for that log (docs/spec/witness.md §3).

:meth:`Witness.add_checkpoint` is the protocol without HTTP: the request body
in, the cosignature lines out, or a :class:`WitnessRefusal` whose ``status``
is the specification's answer. In order, as the specification and its
reference implementations check:

1. the body is ``old N``, at most 63 proof lines, a blank line, then a signed
   checkpoint note, else **400**;
2. the checkpoint's origin is a log the witness follows, else **404**;
3. the note carries a valid signature by that log's key, and no invalid one
   by it, else **403**;
4. ``old`` is at most the checkpoint's size, else **400**;
5. ``old`` is the size the witness last cosigned for the log (0 before the
   first), else **409** with the stored size;
6. a size-0 checkpoint has the empty tree's root; from old size 0 the proof
   is empty; from a larger one the consistency proof leads from the stored
   root to the new one (at equal sizes: no proof and the same root), else
   **422**;
7. the new checkpoint is stored by a compare-and-swap on the old size and
   root, durably, before the cosignature is returned (a race lost is a
   409); the cosignature's time is the witness's clock, never earlier than
   the last time it gave for that log.

So a witness never cosigns two roots for one size, nor a checkpoint that does
not extend what it stored, whatever order requests arrive in and wherever the
process is killed: nothing is cosigned that is not stored first.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from urne.verifier.errors import FormatError, ProofError, SignatureError, UrneError
from urne.verifier.tlog.checkpoint import Checkpoint
from urne.verifier.tlog.cosignature import MAX_TIMESTAMP, CosignatureSigner
from urne.verifier.tlog.note import (
    MAX_SIGNATURES,
    Ed25519Verifier,
    Note,
    format_note,
    open_note,
    parse_note,
)
from urne.verifier.tlog.proof import verify_consistency

__all__ = [
    "EMPTY_ROOT",
    "MAX_BODY",
    "MAX_PROOF",
    "LogSignatureRefused",
    "LogState",
    "MalformedRequest",
    "NotAnExtension",
    "RequestTooLarge",
    "StaleOldSize",
    "Store",
    "UnknownLog",
    "Witness",
    "WitnessRefusal",
    "origin_hash",
    "parse_request",
]

#: The root of the empty tree: SHA-256 of nothing (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: Proof lines a request may carry (tlog-witness: clients MUST NOT send more).
MAX_PROOF = 63
#: The largest request body read, in bytes: 63 proof lines and a checkpoint
#: with 100 signature lines fit well under it.
MAX_BODY = 16 << 10
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


class WitnessRefusal(UrneError):
    """What the witness answers instead of a cosignature; each subclass's
    ``status`` is the HTTP status the specification names. ``stored_size``:
    the size the witness holds, for a 409."""

    code = "witness_refused"
    status = 400

    def __init__(
        self, message: str, *, code: str | None = None, stored_size: int | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.stored_size = stored_size


class MalformedRequest(WitnessRefusal):
    code = "bad_request"
    status = 400


class RequestTooLarge(WitnessRefusal):
    code = "too_large"
    status = 413


class UnknownLog(WitnessRefusal):
    code = "unknown_log"
    status = 404


class LogSignatureRefused(WitnessRefusal):
    code = "bad_log_signature"
    status = 403


class StaleOldSize(WitnessRefusal):
    code = "stale_old_size"
    status = 409


class NotAnExtension(WitnessRefusal):
    """The checkpoint does not extend the stored one (``bad_consistency_proof``,
    ``root_mismatch``, ``bad_empty_root``)."""

    code = "bad_consistency_proof"
    status = 422


@dataclass(frozen=True)
class LogState:
    """What the witness keeps of one log: the last checkpoint it cosigned."""

    size: int
    root: bytes | None
    #: the checkpoint with the log's signatures and the witness's cosignature
    note: str | None
    #: the time of that cosignature (0 before the first)
    timestamp: int


class Store(Protocol):
    """Where the witness keeps each log's state (``urne.verifier.witness.state``)."""

    def get(self, origin: str) -> LogState: ...

    def compare_and_swap(self, origin: str, old: LogState, new: LogState) -> bool:
        """Replace ``old`` by ``new`` durably, only if ``old`` is still stored."""
        ...


def origin_hash(origin: str) -> str:
    """The lower-case hex SHA-256 of an origin: its path on the monitoring endpoint."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def _bad(message: str) -> WitnessRefusal:
    return MalformedRequest(message, code="bad_request")


def parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """``(old size, proof, signed note)`` of an add-checkpoint body, or a 400."""
    if len(body) > MAX_BODY:
        raise RequestTooLarge(f"a request is at most {MAX_BODY} bytes", code="too_large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad("the request is not UTF-8") from exc
    header, sep, note = text.partition("\n\n")
    if not sep:
        raise _bad("expected the old size and proof, a blank line, then the checkpoint")
    lines = header.split("\n")
    first = lines[0]
    if not first.startswith("old ") or _DECIMAL.fullmatch(first[4:]) is None:
        raise _bad(f"expected a first line 'old <decimal size>', found {first[:40]!r}")
    old = int(first[4:])
    if old > MAX_TIMESTAMP:
        raise _bad("the old size is above 2**63-1")
    if len(lines) - 1 > MAX_PROOF:
        raise _bad(f"a proof has at most {MAX_PROOF} hashes, found {len(lines) - 1}")
    proof = []
    for i, line in enumerate(lines[1:]):
        try:
            h = base64.b64decode(line, validate=True)
        except ValueError as exc:
            raise _bad(f"proof line {i + 1} is not base64") from exc
        if len(h) != 32 or base64.b64encode(h).decode("ascii") != line:
            raise _bad(f"proof line {i + 1} is not the canonical base64 of 32 bytes")
        proof.append(h)
    return old, proof, note


class Witness:
    """A witness with key ``signer`` following ``logs`` (origin: its log keys)."""

    def __init__(
        self,
        signer: CosignatureSigner,
        logs: Mapping[str, Sequence[Ed25519Verifier]],
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.logs = {origin: tuple(keys) for origin, keys in logs.items()}
        self.store = store
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line for the checkpoint ``body`` submits (with its
        final newline), once stored; a :class:`WitnessRefusal` otherwise."""
        old, proof, signed = parse_request(body)
        try:
            note = parse_note(signed)
        except FormatError as exc:
            raise _bad(f"the checkpoint is not a signed note: {exc}") from exc
        if len(note.signatures) >= MAX_SIGNATURES:  # no room for the cosignature
            raise _bad(f"a checkpoint carries at most {MAX_SIGNATURES - 1} signatures here")
        origin = note.text.split("\n", 1)[0]
        keys = self.logs.get(origin)
        if keys is None:
            raise UnknownLog(f"this witness does not follow the log {origin!r}", code="unknown_log")
        try:
            open_note(signed, keys)
        except SignatureError as exc:
            raise LogSignatureRefused(
                f"the checkpoint is not signed by the log's key: {exc}", code="bad_log_signature"
            ) from exc
        try:
            checkpoint = Checkpoint.parse(note.text)
        except FormatError as exc:
            raise _bad(f"the note is not a checkpoint: {exc}") from exc
        if old > checkpoint.size:
            raise _bad(f"the old size {old} is larger than the checkpoint's {checkpoint.size}")
        stored = self.store.get(origin)
        self._check_extends(stored, old, proof, checkpoint)
        timestamp = max(int(self.clock()), stored.timestamp, 1)
        cosignature = self.signer.cosign(note.text, timestamp)
        kept = format_note(
            Note(
                note.text,
                (*(s for s in note.signatures if s.key_id != cosignature.key_id), cosignature),
            )
        )
        new = LogState(checkpoint.size, checkpoint.root, kept, timestamp)
        if not self.store.compare_and_swap(origin, stored, new):
            now = self.store.get(origin)
            raise StaleOldSize(
                f"another checkpoint of this log was cosigned meanwhile (size {now.size})",
                code="stale_old_size",
                stored_size=now.size,
            )
        return cosignature.line()

    @staticmethod
    def _check_extends(stored: LogState, old: int, proof: list[bytes], cp: Checkpoint) -> None:
        if old != stored.size:
            raise StaleOldSize(
                f"the old size is {old}, the last checkpoint this witness cosigned has size "
                f"{stored.size}",
                code="stale_old_size",
                stored_size=stored.size,
            )
        if cp.size == 0 and cp.root != EMPTY_ROOT:
            raise NotAnExtension(
                "a checkpoint of size 0 must have the empty tree's root", code="bad_empty_root"
            )
        if old == 0:
            if proof:
                raise NotAnExtension(
                    "from size 0 the consistency proof is empty", code="bad_consistency_proof"
                )
            return
        assert stored.root is not None
        try:
            verify_consistency(old, cp.size, proof, stored.root, cp.root)
        except (ProofError, FormatError) as exc:
            same = old == cp.size
            if same and not proof:
                raise NotAnExtension(
                    "the checkpoint has the size of the last one cosigned but another root",
                    code="root_mismatch",
                ) from exc
            raise NotAnExtension(
                f"the consistency proof from size {old} does not verify: {exc}",
                code="bad_consistency_proof",
            ) from exc
