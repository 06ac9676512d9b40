"""Receipts: what a citizen keeps, and checks on their own machine.

A receipt is a JSON object (docs/spec/verification.md §1)::

    {"v": 1, "origin": ..., "log_key": "<name>+<hex8>+<base64>", "index": i,
     "entry": base64, "checkpoint": "<signed checkpoint text>",
     "inclusion_proof": [base64, ...]}

Offline, it proves that the entry is leaf ``index`` of the tree the log signed.
Later, a consistency proof from the receipt's checkpoint to a newer one proves
the entry is still there: the log cannot have dropped or changed it
(:func:`check_against_log` asks the log for both, §1 step 3).

``log_key`` inside the receipt is a convenience; the check uses the key the
citizen trusts (given separately), never the one the receipt carries.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from urne.verifier.errors import FetchError, FormatError, ProofError
from urne.verifier.tlog.checkpoint import SignedCheckpoint, open_checkpoint
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.tlog.proof import verify_consistency, verify_inclusion
from urne.verifier.tlog.rfc9162 import hash_leaf

__all__ = ["Receipt", "check_against_log", "check_receipt", "check_still_included"]


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise FormatError(f"receipt.{what}: expected base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(f"receipt.{what}: not valid base64", code="bad_base64") from exc


@dataclass(frozen=True)
class Receipt:
    origin: str
    log_key: str
    index: int
    entry: bytes
    checkpoint: str
    inclusion_proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "origin": self.origin,
            "log_key": self.log_key,
            "index": self.index,
            "entry": base64.b64encode(self.entry).decode(),
            "checkpoint": self.checkpoint,
            "inclusion_proof": [base64.b64encode(h).decode() for h in self.inclusion_proof],
        }

    @classmethod
    def from_json(cls, obj: object) -> Receipt:
        if not isinstance(obj, dict):
            raise FormatError("a receipt is a JSON object")
        want = {"v", "origin", "log_key", "index", "entry", "checkpoint", "inclusion_proof"}
        if set(obj) != want:
            raise FormatError(
                f"receipt fields: expected {sorted(want)}, found {sorted(obj)}",
                code="bad_receipt",
            )
        if obj["v"] != 1:
            raise FormatError(f"receipt version: expected 1, found {obj['v']!r}")
        index, proof = obj["index"], obj["inclusion_proof"]
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise FormatError("receipt.index: expected an integer >= 0")
        if not isinstance(proof, list):
            raise FormatError("receipt.inclusion_proof: expected a list")
        for k in ("origin", "log_key", "checkpoint"):
            if not isinstance(obj[k], str):
                raise FormatError(f"receipt.{k}: expected text")
        return cls(
            origin=obj["origin"],
            log_key=obj["log_key"],
            index=index,
            entry=_b64(obj["entry"], "entry"),
            checkpoint=obj["checkpoint"],
            inclusion_proof=tuple(_b64(h, f"inclusion_proof[{i}]") for i, h in enumerate(proof)),
        )

    @classmethod
    def parse(cls, data: bytes | str) -> Receipt:
        try:
            return cls.from_json(json.loads(data))
        except json.JSONDecodeError as exc:
            raise FormatError(f"a receipt is JSON: {exc}", code="bad_receipt") from exc


def check_receipt(receipt: Receipt, log_key: Ed25519Verifier) -> SignedCheckpoint:
    """1. the checkpoint is signed by the log's key, for the receipt's origin;
    2. the entry is leaf ``index`` of that tree (RFC 9162 inclusion proof)."""
    signed = open_checkpoint(receipt.checkpoint, log_key, origin=receipt.origin)
    cp = signed.checkpoint
    verify_inclusion(
        hash_leaf(receipt.entry), receipt.index, cp.size, receipt.inclusion_proof, cp.root
    )
    return signed


def check_still_included(
    receipt: Receipt,
    log_key: Ed25519Verifier,
    latest: str | bytes,
    consistency_proof: Sequence[bytes],
) -> SignedCheckpoint:
    """The receipt, and that the log's ``latest`` checkpoint extends the
    receipt's (RFC 9162 consistency proof): the entry is still in the log."""
    then = check_receipt(receipt, log_key).checkpoint
    now_signed = open_checkpoint(latest, log_key, origin=receipt.origin)
    now = now_signed.checkpoint
    if now.size < then.size:
        raise ProofError(
            f"the log's latest checkpoint (size {now.size}) is smaller than the receipt's "
            f"({then.size}): the log went back",
            code="log_shrank",
        )
    verify_consistency(then.size, now.size, consistency_proof, then.root, now.root)
    return now_signed


def check_against_log(
    receipt: Receipt, log_key: Ed25519Verifier, get: Callable[[str], bytes]
) -> SignedCheckpoint:
    """The receipt, and that the log still holds its entry (docs/spec/verification.md
    §1 step 3): ``get`` reads a path of the log -- ``checkpoint``, then the
    consistency proof from the receipt's size to the latest -- and raises
    :class:`FetchError` when the log does not answer (in time, or within the
    bytes the answer may hold: :mod:`urne.verifier.check.fetch`).

    "Could not check" and "invalid" stay apart: an answer that is not a
    consistency proof at all proves nothing either way (``FetchError``, code
    ``bad_answer``); a latest checkpoint the log's key did not sign, a smaller
    tree, or a proof that does not hold is a ``VerificationError``."""
    then = check_receipt(receipt, log_key).checkpoint
    latest = get("checkpoint")
    now = open_checkpoint(latest, log_key, origin=receipt.origin).checkpoint
    proof: list[bytes] = []
    if now.size > then.size:
        query = f"log/proof/consistency?size1={then.size}&size2={now.size}"
        proof = _proof_answer(get(query), query)
    return check_still_included(receipt, log_key, latest, proof)


def _proof_answer(data: bytes, query: str) -> list[bytes]:
    """The ``proof`` of a proof answer (docs/spec/log.md §6): a list of base64
    hashes. Its other fields are conveniences, never trusted (docs/design.md §2.1)."""
    try:
        answer = json.loads(data)
        hashes = answer["proof"]
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise ValueError("'proof' is not a list of base64 strings")
        return [base64.b64decode(h, validate=True) for h in hashes]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise FetchError(
            f"the log's answer to {query} is not a consistency proof: {reason}",
            code="bad_answer",
        ) from exc
