"""The civic record's state at a checkpoint, so that a restarted service
catches up from there instead of replaying the whole log.

The state is not pickled objects but what rebuilds them through the same rules:
every accepted entry that is not a ballot (as the log's bytes, replayed with
their signatures checked) and every accepted ballot as the count needs it (its
index, process, pseudonym, seq, choice, a secret ballot's ciphertexts:
``Registry.restore_ballot``), as ``urne-verify audit --state`` keeps them.

A snapshot is taken at a signed checkpoint's size ``S``; its bytes are::

    tag (32 bytes) || zlib(JSON)

with ``tag = HMAC-SHA256(k, "urne/v1/civic-snapshot\\n" || origin || "\\n" ||
u64(S) || root(S) || SHA-256(zlib(JSON)))`` and ``k`` derived from the log's
signing key: a snapshot the service did not write (a damaged row, another
log's, one edited in the database) is refused, as is one whose root is not the
log's root at ``S``. Whatever is refused is rebuilt from the log, never
trusted (:class:`SnapshotUnusable`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from urne.verifier.tlog.note import Ed25519Signer

__all__ = ["BallotRow", "Contents", "SnapshotUnusable", "decode", "encode"]

FORMAT = "urne-civic-snapshot"
VERSION = 1
_TAG = b"urne/v1/civic-snapshot\n"
_MAC_SIZE = 32

#: An accepted ballot: process, pseudonym, index, seq, choice (None: a petition
#: signature or a secret ballot), a secret ballot's ciphertexts (base64, as its
#: entry carries them).
BallotRow = tuple[str, bytes, int, int, tuple[str, ...] | None, tuple[str, ...] | None]


class SnapshotUnusable(Exception):
    """Why a snapshot cannot be used; the record is then rebuilt from the log."""


@dataclass(frozen=True, slots=True)
class Contents:
    size: int
    root: bytes
    #: ``(index, entry bytes)`` of every accepted entry that is not a ballot
    entries: list[tuple[int, bytes]]
    ballots: list[BallotRow]


def _key(signer: Ed25519Signer) -> bytes:
    return hashlib.sha256(_TAG + signer.skey.encode("ascii")).digest()


def _tag(signer: Ed25519Signer, size: int, root: bytes, packed: bytes) -> bytes:
    message = (
        _TAG
        + signer.name.encode("utf-8")
        + b"\n"
        + size.to_bytes(8, "big")
        + root
        + hashlib.sha256(packed).digest()
    )
    return hmac.new(_key(signer), message, hashlib.sha256).digest()


def encode(
    signer: Ed25519Signer,
    size: int,
    root: bytes,
    entries: Sequence[tuple[int, bytes]],
    ballots: Sequence[BallotRow],
) -> bytes:
    """The snapshot of the state at size ``size`` (root ``root``)."""
    processes: dict[str, int] = {}
    choices: dict[tuple[str, ...], int] = {}
    rows: list[list[Any]] = []
    nyms = bytearray()
    for process, pseudonym, index, seq, choice, cts in ballots:
        p = processes.setdefault(process, len(processes))
        c = -1 if choice is None else choices.setdefault(choice, len(choices))
        nyms += pseudonym
        rows.append([index, p, seq, c] if cts is None else [index, p, seq, c, list(cts)])
    obj = {
        "format": FORMAT,
        "version": VERSION,
        "origin": signer.name,
        "size": size,
        "root": base64.b64encode(root).decode("ascii"),
        "entries": [[i, base64.b64encode(e).decode("ascii")] for i, e in entries],
        "processes": list(processes),
        "choices": [list(c) for c in choices],
        "pseudonyms": base64.b64encode(bytes(nyms)).decode("ascii"),
        "ballots": rows,
    }
    packed = zlib.compress(json.dumps(obj, separators=(",", ":")).encode("utf-8"), 1)
    return _tag(signer, size, root, packed) + packed


def decode(signer: Ed25519Signer, size: int, root: bytes, data: bytes) -> Contents:
    """What a snapshot kept at ``size`` holds, if it is this log's at that size
    (``root``: the log's root there); raises :class:`SnapshotUnusable`."""
    tag, packed = data[:_MAC_SIZE], data[_MAC_SIZE:]
    if len(tag) != _MAC_SIZE or not hmac.compare_digest(tag, _tag(signer, size, root, packed)):
        raise SnapshotUnusable(
            f"the snapshot at size {size} is not this log's state there: its tag does not "
            "match (damaged, written for another log or another root, or edited)"
        )
    try:
        obj = json.loads(zlib.decompress(packed))
        if obj["format"] != FORMAT or obj["version"] != VERSION:
            raise SnapshotUnusable(f"format {obj['format']!r} version {obj['version']!r}")
        if obj["size"] != size or base64.b64decode(obj["root"]) != root:
            raise SnapshotUnusable("its size or root is not the one it is kept under")
        processes, choices = obj["processes"], [tuple(c) for c in obj["choices"]]
        nyms = base64.b64decode(obj["pseudonyms"])
        entries = [(int(i), base64.b64decode(e)) for i, e in obj["entries"]]
        ballots: list[BallotRow] = []
        for k, row in enumerate(obj["ballots"]):
            cts = tuple(row[4]) if len(row) == 5 else None
            c = row[3]
            ballots.append(
                (
                    processes[row[1]],
                    nyms[32 * k : 32 * k + 32],
                    row[0],
                    row[2],
                    None if c == -1 else choices[c],
                    cts,
                )
            )
        if len(nyms) != 32 * len(ballots):
            raise SnapshotUnusable("one 32-byte pseudonym per ballot")
    except SnapshotUnusable:
        raise
    except (ValueError, KeyError, IndexError, TypeError, zlib.error) as exc:
        raise SnapshotUnusable(f"the snapshot does not read ({exc})") from exc
    return Contents(size, root, entries, ballots)
