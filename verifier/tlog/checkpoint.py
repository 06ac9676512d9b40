"""C2SP transparency log checkpoints (c2sp.org/tlog-checkpoint).

A checkpoint is the text of a signed note (c2sp.org/signed-note)::

    <origin>\\n
    <tree size, decimal>\\n
    <root hash, base64>\\n
    [<extension line>\\n ...]

tlog-checkpoint "Note text": at least three non-empty lines; the origin is
non-empty (any text without control characters -- clients MUST NOT assume it
is a URL); the size has no leading zeroes ("0" for the empty tree); the root is
the base64 of an RFC 6962 / RFC 9162 Merkle tree hash; extension lines, if any,
are non-empty. Urne also requires the size to be below 2**63 (what Go's
``tlog`` and every int64 consumer can represent) and the base64 to be
canonical, so a checkpoint has exactly one text.

Origin and key name: tlog-checkpoint "Signatures" says the log's key name
SHOULD match the origin -- a recommendation to logs, not a guarantee clients may
rely on. So :func:`open_checkpoint` checks the origin against the one the
caller expects, defaulting to the trusted key's name (which is right for Urne's
logs and for logs that follow the SHOULD); pass ``origin=`` for others.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from urne.verifier.errors import FormatError, SignatureError
from urne.verifier.tlog.note import Ed25519Verifier, Note, open_note
from urne.verifier.tlog.rfc9162 import HASH_SIZE

__all__ = ["MAX_TREE_SIZE", "Checkpoint", "SignedCheckpoint", "open_checkpoint"]

#: Tree sizes are below 2**63 (int64, as golang.org/x/mod sumdb/tlog).
MAX_TREE_SIZE = 2**63 - 1

_SIZE = re.compile("0|[1-9][0-9]*")
_CONTROL = re.compile("[\x00-\x1f]")


def _malformed(message: str) -> FormatError:
    return FormatError(f"checkpoint: {message}", code="malformed_checkpoint")


def _check_line(value: str, what: str) -> None:
    if value == "":
        raise _malformed(f"expected a non-empty {what}, found an empty line")
    m = _CONTROL.search(value)
    if m is not None:
        raise _malformed(f"{what}: expected no control characters, found {m.group()!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _malformed(f"{what}: expected valid UTF-8, found a lone surrogate") from exc


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size, root hash, and opaque extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise _malformed(f"tree size must be in 0..2**63-1, found {self.size}")
        if len(self.root) != HASH_SIZE:
            raise FormatError(
                f"checkpoint: root hash is {len(self.root)} bytes, want {HASH_SIZE}",
                code="bad_hash_length",
            )
        for i, ext in enumerate(self.extensions):
            _check_line(ext, f"extension line {i + 1}")

    def to_text(self) -> str:
        """The note text (tlog-checkpoint "Note text"), final newline included."""
        root = base64.b64encode(self.root).decode("ascii")
        lines = [self.origin, str(self.size), root, *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text; inverse of :meth:`to_text`.

        Refuses: no final newline, fewer than three lines, any empty line, a size
        with a sign, leading zero, non-ASCII digit or value >= 2**63, a root that
        is not canonical padded base64 of exactly 32 bytes.
        """
        if not text.endswith("\n"):
            raise _malformed(f"expected text ending in a newline, found {text[-20:]!r}")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise _malformed(
                f"expected at least 3 lines (origin, size, root hash), found {len(lines)}"
            )
        origin, size_text, root_text, *extensions = lines
        _check_line(origin, "origin")
        if _SIZE.fullmatch(size_text) is None:
            raise _malformed(
                f"expected a decimal tree size without sign or leading zeroes, found {size_text!r}"
            )
        # 2**63 has 19 digits; checking the length first keeps int() cheap.
        if len(size_text) > 19 or int(size_text) > MAX_TREE_SIZE:
            raise _malformed(f"expected a tree size below 2**63, found {size_text}")
        if root_text == "":
            raise _malformed("expected a non-empty root hash line, found an empty line")
        try:
            root = base64.b64decode(root_text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _malformed(f"expected a base64 root hash, found {root_text!r}") from exc
        if base64.b64encode(root).decode("ascii") != root_text:
            raise _malformed(f"expected canonical padded base64 root hash, found {root_text!r}")
        if len(root) != HASH_SIZE:
            raise FormatError(
                f"checkpoint: root hash is {len(root)} bytes, want {HASH_SIZE}",
                code="bad_hash_length",
            )
        return cls(origin, int(size_text), root, tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose signature by a trusted log key verified.

    ``note`` keeps every signature line (witness cosignatures included, not
    verified here); ``signed`` is the exact text that was verified.
    """

    checkpoint: Checkpoint
    note: Note
    signed: str


def open_checkpoint(
    signed: str | bytes, verifier: Ed25519Verifier, *, origin: str | None = None
) -> SignedCheckpoint:
    """Verify a signed checkpoint from the log whose key is ``verifier``.

    In order, as the specs require:

    1. The note has a valid signature by ``verifier`` (c2sp.org/signed-note;
       other signatures are ignored). Until then the text is not even parsed:
       signed-note says it "MUST be ignored" unless signed by a trusted key.
    2. The text is a well-formed checkpoint (tlog-checkpoint "Note text").
    3. Its origin is ``origin``, or ``verifier.name`` when not given
       (tlog-checkpoint "Signatures": the key name SHOULD match the origin).
       A mismatch is a :class:`SignatureError` (code ``origin_mismatch``): the
       key is trusted for one log, the checkpoint speaks for another.
    """
    verified = open_note(signed, [verifier])
    checkpoint = Checkpoint.parse(verified.note.text)
    expected = verifier.name if origin is None else origin
    if checkpoint.origin != expected:
        raise SignatureError(
            f"checkpoint origin is {checkpoint.origin!r}, expected {expected!r}",
            code="origin_mismatch",
        )
    text = signed if isinstance(signed, str) else signed.decode("utf-8")
    return SignedCheckpoint(checkpoint, verified.note, text)
