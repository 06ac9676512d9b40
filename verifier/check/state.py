"""What ``urne-verify audit --state DIR`` keeps between runs, so that the next
run reads only what is new (docs/spec/verification.md, "The auditor's state").

Two files in the directory, both readable by their owner only:

``state.json``
    a versioned JSON object: the last checkpoint verified, the right border of
    the tree at that size, every accepted entry that is not a ballot (as the
    log's bytes), every accepted ballot as the count needs it, and the findings
    so far. The process registry is rebuilt from it on load: replaying the
    entries through :class:`Registry` keeps the stored state independent of the
    registry's classes, which may change between versions.
``leaves.bin``
    the log's leaf hashes, 32 bytes each, in log order, for the inclusion
    proofs that evidence needs and for re-reading a partial entry bundle.
    ``state.json`` says how many of them count (``size``) and what their
    SHA-256 is; bytes past ``size * 32`` are what a save cut short.

A save is crash-safe: ``leaves.bin`` is cut back to the saved size before the
new hashes are written (so what a save killed after writing them left behind
cannot shift the next ones), and ``state.json`` is replaced atomically, only
once ``leaves.bin`` is on disk.
Whatever instant a save is stopped at, the directory holds either the old
state or the new one, and the next run audits on from it.

A state this module cannot use -- another format or version, a damaged file,
another log -- is a :class:`FormatError` with code ``bad_state``: a problem of
the auditor's own files, never a finding against the log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

from urne.verifier.civic.entries import Ballot, decode_entry
from urne.verifier.civic.process import RecordedBallot, Registry
from urne.verifier.errors import FormatError, VerificationError
from urne.verifier.tlog.checkpoint import open_checkpoint
from urne.verifier.tlog.merkle import CompactRange
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.tlog.rfc9162 import HASH_SIZE, hash_leaf

__all__ = [
    "FORMAT",
    "LEAVES_FILE",
    "OLD_STATE_FILE",
    "SAVE_STEPS",
    "STATE_FILE",
    "VERSION",
    "AuditState",
    "load_state",
    "read_leaves",
    "save_state",
]

FORMAT = "urne-audit-state"
VERSION = 1
STATE_FILE = "state.json"
LEAVES_FILE = "leaves.bin"
#: The unversioned state of earlier auditors: never read (it cannot be checked,
#: and unpickling runs code), only recognised to say what to do.
OLD_STATE_FILE = "state.pickle"

_TMP_FILE = STATE_FILE + ".tmp"
_FIELDS = (
    "format",
    "version",
    "origin",
    "checkpoint",
    "size",
    "border",
    "leaves_sha256",
    "entries",
    "ballots",
    "findings",
)
_FINDING_FIELDS = {"step", "code", "message", "index", "evidence"}
_READ_CHUNK = 1 << 20

#: The points where :func:`save_state` calls its ``interrupt`` hook, between
#: two of its writes. Stopping the process at any of them must leave a
#: directory the next run audits on from without accusing an honest log.
SAVE_STEPS: dict[int, str] = {
    1: "the directory exists, nothing else is written",
    2: "leaves.bin is cut back to the saved size",
    3: "half of the new leaf hashes are appended (a torn write)",
    4: "all new leaf hashes are appended and synced",
    5: "half of state.json.tmp is written (a torn write)",
    6: "state.json.tmp is written and synced",
    7: "state.json is replaced, the directory is not yet synced",
}


@dataclass
class AuditState:
    """What one auditor has verified of one log."""

    #: the log's origin (its key's name)
    origin: str
    #: the log's public key: the operator's, which registrations and reservations answer to
    operator: bytes
    #: the signed text of the last checkpoint verified; None before the first save
    checkpoint: str | None = None
    #: the size of that checkpoint: leaves ``[0, size)`` were verified
    size: int = 0
    #: the compact range of ``[0, size)``, to extend the tree without reading it again
    border: list[bytes] = field(default_factory=list)
    #: ``(index, entry bytes)`` of every accepted entry that is not a ballot
    entries: list[tuple[int, bytes]] = field(default_factory=list)
    #: every finding so far, as in the JSON report
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: every institution and process, rebuilt from ``entries`` and the stored ballots
    registry: Registry = field(init=False)

    def __post_init__(self) -> None:
        # credentials and secret ballots' proofs are checked in batches, in workers
        self.registry = Registry(credential_check=None, operator=self.operator, ballot_proofs=False)

    @classmethod
    def fresh(cls, log_key: Ed25519Verifier) -> AuditState:
        """The state of an auditor who has verified nothing of this log yet."""
        return cls(origin=log_key.name, operator=log_key.public_key)


# -- loading ---------------------------------------------------------------------------


def load_state(directory: Path, log_key: Ed25519Verifier) -> AuditState:
    """The state kept in ``directory`` for the log of ``log_key``; a fresh one
    when the directory holds none. Raises :class:`FormatError` (``bad_state``)
    for anything it cannot use, naming the file and what is wrong."""
    if (directory / OLD_STATE_FILE).exists():
        raise FormatError(
            f"{directory} holds {OLD_STATE_FILE}, an audit state of an earlier version of "
            "urne-verify that is not read: remove the directory to rebuild the state by "
            "auditing the log from scratch",
            code="bad_state",
        )
    path = directory / STATE_FILE
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return AuditState.fresh(log_key)
    except OSError as exc:
        raise _bad(path, f"cannot read it ({exc.strerror})") from exc
    try:
        return _decode(path, text, log_key)
    except _Damaged as exc:
        raise _bad(path, str(exc)) from exc


def _bad(path: Path, reason: str) -> FormatError:
    reason = " ".join(reason.split())  # one line, whatever the cause's message
    return FormatError(
        f"the audit state {path} cannot be used: {reason}; remove {path.parent} to audit "
        "the log from scratch",
        code="bad_state",
    )


class _Damaged(Exception):
    """What is wrong with a state file, before it is worded as a FormatError."""


def _decode(path: Path, text: bytes, log_key: Ed25519Verifier) -> AuditState:
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, duplicate keys
        raise _Damaged(f"not JSON ({exc})") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise _Damaged(f"not an object with format {FORMAT!r}")
    version = obj.get("version")
    if type(version) is not int or version != VERSION:  # not True, which equals 1
        raise _Damaged(f"version {version!r} of the format; this auditor reads version {VERSION}")
    if set(obj) != set(_FIELDS):
        raise _Damaged(f"expected the fields {list(_FIELDS)}, found {sorted(obj)}")

    origin = _str(obj["origin"], "origin")
    if origin != log_key.name:
        raise _Damaged(f"it is the state of log {origin!r}, not of {log_key.name!r}")
    checkpoint = _str(obj["checkpoint"], "checkpoint")
    try:
        verified = open_checkpoint(checkpoint, log_key).checkpoint
    except VerificationError as exc:
        raise _Damaged(f"its checkpoint does not verify under the log's key ({exc})") from exc
    size = _int(obj["size"], "size")
    if size != verified.size:
        raise _Damaged(f"size {size}, but its checkpoint is of size {verified.size}")
    border = [
        _b64(h, f"border[{k}]", HASH_SIZE) for k, h in enumerate(_list(obj["border"], "border"))
    ]
    try:
        tree = CompactRange(size, border)
    except ValueError as exc:
        raise _Damaged(f"border: {exc}") from exc
    if tree.root() != verified.root:
        raise _Damaged("its border does not give its checkpoint's root")

    _check_leaves(path.parent, size, _b64(obj["leaves_sha256"], "leaves_sha256", 32))

    state = AuditState(
        origin=origin,
        operator=log_key.public_key,
        checkpoint=checkpoint,
        size=size,
        border=border,
    )
    _rebuild(state, path.parent, obj["entries"], obj["ballots"])
    for k, f in enumerate(_list(obj["findings"], "findings")):
        if not isinstance(f, dict) or set(f) != _FINDING_FIELDS:
            raise _Damaged(
                f"findings[{k}]: expected an object with fields {sorted(_FINDING_FIELDS)}"
            )
        state.findings.append(f)
    return state


def _check_leaves(directory: Path, size: int, want: bytes) -> None:
    """``leaves.bin`` holds at least ``size`` hashes, and the first ``size`` are
    the ones saved: evidence built from them would be wrong otherwise."""
    path = directory / LEAVES_FILE
    try:
        length = path.stat().st_size if size else 0
        got = _leaves_digest(path, size)
    except OSError as exc:
        raise _Damaged(f"cannot read {LEAVES_FILE} ({exc.strerror})") from exc
    if length < size * HASH_SIZE:
        raise _Damaged(
            f"{LEAVES_FILE} holds {length} bytes, less than the {size * HASH_SIZE} of the "
            f"{size} leaf hashes it must hold"
        )
    if got != want:
        raise _Damaged(f"the first {size} leaf hashes in {LEAVES_FILE} are not the ones saved")


def _leaves_digest(path: Path, size: int) -> bytes:
    h = hashlib.sha256()
    left = size * HASH_SIZE
    if left:
        with open(path, "rb") as fh:
            while left:
                chunk = fh.read(min(left, _READ_CHUNK))
                if not chunk:
                    break
                h.update(chunk)
                left -= len(chunk)
    return h.digest()


def _rebuild(state: AuditState, directory: Path, entries: object, ballots: object) -> None:
    """Replay the stored entries and ballots through a new registry, in log
    order: the registry's own rules refuse a state that could not have come from
    an audit, so a damaged one cannot skew a count. Each stored entry must also
    be the leaf saved at its index."""
    stored: list[tuple[int, bytes | RecordedBallot]] = []
    for k, item in enumerate(_list(entries, "entries")):
        what = f"entries[{k}]"
        pair = _list(item, what)
        if len(pair) != 2:
            raise _Damaged(f"{what}: expected [index, entry]")
        index, data = _int(pair[0], what), _b64(pair[1], what)
        state.entries.append((index, data))
        stored.append((index, data))
    for k, item in enumerate(_list(ballots, "ballots")):
        what = f"ballots[{k}]"
        row = _list(item, what)
        if len(row) not in (5, 6):
            raise _Damaged(
                f"{what}: expected [process, pseudonym, index, seq, choice(, ciphertexts)]"
            )
        process, pseudonym, index, seq, choice = row[:5]
        cts = row[5] if len(row) == 6 else None
        recorded = RecordedBallot(
            _str(process, what),
            _b64(pseudonym, what, 32),
            _int(index, what),
            _int(seq, what),
            None if choice is None else tuple(_str(c, what) for c in _list(choice, what)),
            # a secret ballot's ciphertexts, 64 bytes each (its proofs were checked)
            None if cts is None else tuple(_b64(c, what, 64) for c in _list(cts, what)),
        )
        stored.append((recorded.index, recorded))
    state.entries.sort(key=lambda item: item[0])
    stored.sort(key=lambda item: item[0])
    indices = [index for index, _ in stored]
    for a, b in pairwise(indices):
        if a == b:
            raise _Damaged(f"two stored entries at index {a}")
    if indices and indices[-1] >= state.size:
        raise _Damaged(f"an entry at index {indices[-1]}, past the size {state.size}")
    registry = state.registry
    for index, item in stored:
        try:
            if isinstance(item, RecordedBallot):
                registry.restore_ballot(item)
                continue
            if read_leaves(directory, index, index + 1) != [hash_leaf(item)]:
                raise _Damaged(f"the entry kept for index {index} is not the leaf saved there")
            entry = decode_entry(item)
            if isinstance(entry.body, Ballot):
                raise _Damaged(f"the entry at index {index} is a ballot, kept with the entries")
            registry.check(entry, index)
            registry.apply(entry, index)
        except VerificationError as exc:
            raise _Damaged(f"the entry at index {index} does not replay: {exc}") from exc


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("a key appears twice in an object")
    return out


def _str(v: object, what: str) -> str:
    if not isinstance(v, str):
        raise _Damaged(f"{what}: expected a string")
    return v


def _int(v: object, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise _Damaged(f"{what}: expected a non-negative integer")
    return v


def _list(v: object, what: str) -> list[Any]:
    if not isinstance(v, list):
        raise _Damaged(f"{what}: expected an array")
    return v


def _b64(v: object, what: str, size: int | None = None) -> bytes:
    try:
        data = base64.b64decode(_str(v, what), validate=True)
    except binascii.Error as exc:
        raise _Damaged(f"{what}: not base64") from exc
    if size is not None and len(data) != size:
        raise _Damaged(f"{what}: expected {size} bytes, found {len(data)}")
    return data


def read_leaves(directory: Path, begin: int, end: int) -> list[bytes]:
    """Leaf hashes ``[begin, end)`` saved in ``directory`` by earlier runs
    (:func:`load_state` checked that they are there and are the saved ones)."""
    if begin >= end:
        return []
    with open(directory / LEAVES_FILE, "rb") as fh:
        fh.seek(begin * HASH_SIZE)
        data = fh.read((end - begin) * HASH_SIZE)
    return [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]


# -- saving ----------------------------------------------------------------------------


def save_state(
    directory: Path,
    state: AuditState,
    new_leaves: Sequence[bytes],
    *,
    interrupt: Callable[[int], None] | None = None,
) -> None:
    """Save ``state``, whose ``size`` now includes ``new_leaves`` (the leaf
    hashes verified since the state was loaded), so that a crash at any point
    leaves the old state or the new one, never a mix.

    ``interrupt`` is a test hook: it is called with each step number of
    :data:`SAVE_STEPS` between two writes, so a test can stop the process there.
    """
    if state.checkpoint is None:
        raise ValueError("a state is saved once a checkpoint has been verified")
    start = state.size - len(new_leaves)
    if start < 0:
        raise ValueError(f"{len(new_leaves)} new leaves for a state of size {state.size}")
    step = interrupt if interrupt is not None else _no_interrupt

    _private_directory(directory)
    step(1)
    leaves_path = directory / LEAVES_FILE
    with open(_private_file(leaves_path, os.O_RDWR), "r+b") as fh:
        have = os.fstat(fh.fileno()).st_size
        if have < start * HASH_SIZE:
            raise _bad(
                leaves_path,
                f"it holds {have} bytes, less than the {start * HASH_SIZE} already saved",
            )
        # Whatever follows the saved hashes was left by a save cut short:
        # appending after it would shift every new hash.
        fh.truncate(start * HASH_SIZE)
        step(2)
        # Streamed in chunks: the new hashes may be many more than fit in memory.
        fh.seek(start * HASH_SIZE)
        half = len(new_leaves) // 2
        _write_leaves(fh, new_leaves, 0, half)
        fh.flush()
        step(3)
        _write_leaves(fh, new_leaves, half, len(new_leaves))
        fh.flush()
        os.fsync(fh.fileno())
    _sync_directory(directory)  # leaves.bin exists on disk before a state refers to it
    step(4)

    text = _encode(state, _leaves_digest(leaves_path, state.size))
    tmp = directory / _TMP_FILE
    with open(_private_file(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as fh:
        fh.write(text[: len(text) // 2])
        fh.flush()
        step(5)
        fh.write(text[len(text) // 2 :])
        fh.flush()
        os.fsync(fh.fileno())
    step(6)
    os.replace(tmp, directory / STATE_FILE)
    step(7)
    _sync_directory(directory)


def _no_interrupt(step: int) -> None:
    pass


_WRITE_CHUNK = 1 << 16  # leaf hashes per write: 2 MiB


def _write_leaves(fh: BinaryIO, leaves: Sequence[bytes], begin: int, end: int) -> None:
    for lo in range(begin, end, _WRITE_CHUNK):
        fh.write(b"".join(leaves[lo : min(lo + _WRITE_CHUNK, end)]))


def _encode(state: AuditState, leaves_sha256: bytes) -> bytes:
    b64 = _b64encode
    obj: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "origin": state.origin,
        "checkpoint": state.checkpoint,
        "size": state.size,
        "border": [b64(h) for h in state.border],
        "leaves_sha256": b64(leaves_sha256),
        "entries": [[index, b64(data)] for index, data in state.entries],
        "ballots": [
            [
                b.process,
                b64(b.pseudonym),
                b.index,
                b.seq,
                None if b.choice is None else list(b.choice),
            ]
            + ([] if b.ciphertexts is None else [[b64(c) for c in b.ciphertexts]])
            for b in state.registry.ballots()
        ],
        "findings": state.findings,
    }
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _b64encode(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _private_directory(directory: Path) -> None:
    """Create ``directory`` readable by its owner only (an existing one is left
    as its owner set it): what an auditor verified is nobody else's to change."""
    if directory.is_dir():
        return
    directory.mkdir(mode=0o700, parents=True)
    os.chmod(directory, 0o700)  # whatever the umask
    _sync_directory(directory.parent)


def _private_file(path: Path, flags: int) -> int:
    """A descriptor of ``path``, created if need be, readable by its owner only."""
    fd = os.open(path, flags | os.O_CREAT, 0o600)
    if hasattr(os, "fchmod"):
        try:
            os.fchmod(fd, 0o600)  # also a file an earlier run left with other modes
        except BaseException:
            os.close(fd)
            raise
    return fd


def _sync_directory(directory: Path) -> None:
    """Make the directory's entries durable (a rename is not, until then);
    where directories cannot be opened (Windows), the rename is all there is."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
