"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures (type 0x01).

A signed note is a UTF-8 text ending in a newline, a blank line, then one or
more signature lines ``— <key name> base64(key ID || signature)``. The text is
the signed message (final newline included, separating blank line excluded).

Parsing follows golang.org/x/mod ``sumdb/note`` (``Open``), the reference
implementation, refusal for refusal (see ``docs/spec/checkpoints-and-tiles.md``):

* the whole note must be valid UTF-8 with no control character below U+0020
  other than newline (signed-note, "Format");
* the text ends at the *last* ``\\n\\n``; everything after it is signature lines,
  and the note must end in a newline;
* each signature line is ``U+2014 U+0020 name U+0020 base64``; the name is
  non-empty without Unicode white space or ``+``; the base64 is standard and
  padded (RFC 4648 §4) and decodes to at least 5 bytes (4-byte key ID + 1);
* at most 100 signature lines (Go's limit; the spec requires at least 16).

One deliberate difference from Go: base64 must be *canonical* (unused trailing
bits zero, RFC 4648 §3.5), so a note has exactly one byte encoding and
``format_note(parse_note(x)) == x`` always holds.

Verification follows signed-note "Signatures" and Go's ``Open``: the pair (key
name, key ID) only *selects* a trusted key -- the signature decides. Signatures
by unknown keys are kept but ignored; a signature by a known key that does not
verify rejects the whole note; a note with no verified signature by a known key
is rejected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import nacl.exceptions
import nacl.signing

from urne.verifier.errors import FormatError, SignatureError

__all__ = [
    "ED25519",
    "MAX_SIGNATURES",
    "Ed25519Signer",
    "Ed25519Verifier",
    "Note",
    "NoteSignature",
    "VerifiedNote",
    "decode_skey",
    "decode_vkey",
    "format_note",
    "is_valid_key_name",
    "key_id",
    "open_note",
    "parse_note",
    "sign_note",
]

#: Signature type identifier byte for Ed25519 (signed-note, "Signature types").
ED25519 = 0x01
#: Most signature lines a note may carry (golang.org/x/mod sumdb/note ``Open``).
MAX_SIGNATURES = 100

_KEY_ID_SIZE = 4
_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
_SIG_PREFIX = "\u2014 "  # em dash, space
_PRIVATE_PREFIX = "PRIVATE+KEY+"

# Unicode White_Space (what Go's unicode.IsSpace tests, which signed-note means
# by "Unicode spaces"), spelled out so the rule does not depend on the Python
# version's Unicode database.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile("[0-9a-fA-F]{8}")


# -- helpers -------------------------------------------------------------------


def is_valid_key_name(name: str) -> bool:
    """signed-note "Format": non-empty, no Unicode white space, no ``+``."""
    return (
        name != ""
        and "+" not in name
        and not any(c in _WHITE_SPACE for c in name)
        and _CONTROL.search(name) is None
        and _utf8_ok(name)
    )


def _utf8_ok(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _check_name(name: str, what: str) -> None:
    if not is_valid_key_name(name):
        raise FormatError(
            f"{what}: expected a non-empty key name without white space or '+', found {name!r}",
            code="bad_key_name",
        )


def _b64decode(value: str, what: str, code: str, *, secret: bool = False) -> bytes:
    """Standard, padded, canonical base64 (RFC 4648 §4 and §3.5)."""
    found = "<secret>" if secret else repr(value[:100])
    want = f"{what}: expected standard, padded, canonical base64, found {found}"
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(want, code=code) from exc
    if base64.b64encode(raw).decode("ascii") != value:
        raise FormatError(want, code=code)
    return raw


def _check_text(text: str) -> None:
    """The note text: non-empty, ends in newline, UTF-8, no other control chars."""
    if not text.endswith("\n"):
        raise FormatError(
            f"note text must be non-empty and end in a newline, found {text[-20:]!r}",
            code="malformed_note",
        )
    _check_chars(text, "note text")


def _check_chars(s: str, what: str) -> None:
    m = _CONTROL.search(s)
    if m is not None:
        raise FormatError(
            f"{what}: expected no control characters other than newline, "
            f"found {m.group()!r} at offset {m.start()}",
            code="malformed_note",
        )
    if not _utf8_ok(s):
        raise FormatError(
            f"{what}: expected valid UTF-8, found a lone surrogate", code="malformed_note"
        )


def key_id(name: str, alg: int, public_key: bytes) -> bytes:
    """``SHA-256(key name || 0x0A || signature type || public key)[:4]``.

    The key ID recommended by signed-note "Signatures" (required for Ed25519).
    """
    if not 0 <= alg <= 0xFF:
        raise FormatError(f"signature type must be one byte, found {alg}", code="bad_key")
    h = hashlib.sha256()
    h.update(name.encode("utf-8"))
    h.update(b"\n")
    h.update(bytes([alg]))
    h.update(public_key)
    return h.digest()[:_KEY_ID_SIZE]


def _key_label(name: str, kid: bytes) -> str:
    return f"{name}+{kid.hex()}"


def decode_vkey(vkey: str) -> tuple[str, int, bytes]:
    """``<name>+<hex key ID>+<base64(type || key)>`` as ``(name, type, key)``,
    the key ID checked against name, type and key (signed-note "Verifier
    keys"). Splits at the first two ``+``: base64 may hold more."""
    name, _, rest = vkey.partition("+")
    hex8, _, key64 = rest.partition("+")
    _check_name(name, "verifier key")
    if _HEX8.fullmatch(hex8) is None:
        raise FormatError(
            f"verifier key {name!r}: expected an 8-digit hex key ID, found {hex8!r}",
            code="bad_vkey",
        )
    key = _b64decode(key64, f"verifier key {name!r}", "bad_vkey")
    if not key:
        raise FormatError(f"verifier key {name!r}: key data is empty", code="bad_vkey")
    want = key_id(name, key[0], key[1:])
    if bytes.fromhex(hex8) != want:
        raise FormatError(
            f"verifier key {name!r}: key ID in the string is {hex8.lower()}, "
            f"but the key hashes to {want.hex()}",
            code="key_id_mismatch",
        )
    return name, key[0], key[1:]


def decode_skey(skey: str, alg: int) -> tuple[str, bytes]:
    """``PRIVATE+KEY+<name>+<hex key ID>+<base64(type || 32-byte seed)>`` as
    ``(name, seed)``, refused unless its type is ``alg`` and its key ID is
    that of the derived public key (golang.org/x/mod sumdb/note
    ``NewSigner``). Error messages never include the secret."""
    if not skey.startswith(_PRIVATE_PREFIX):
        raise FormatError("signer key: expected it to start with 'PRIVATE+KEY+'", code="bad_skey")
    name, _, rest = skey[len(_PRIVATE_PREFIX) :].partition("+")
    hex8, _, key64 = rest.partition("+")
    _check_name(name, "signer key")
    if _HEX8.fullmatch(hex8) is None:
        raise FormatError(
            f"signer key {name!r}: expected an 8-digit hex key ID, found {hex8!r}",
            code="bad_skey",
        )
    key = _b64decode(key64, f"signer key {name!r}", "bad_skey", secret=True)
    if not key:
        raise FormatError(f"signer key {name!r}: key data is empty", code="bad_skey")
    if len(key) != 1 + _ED25519_KEY_SIZE:
        raise FormatError(
            f"signer key {name!r}: seed is {len(key) - 1} bytes, want {_ED25519_KEY_SIZE}",
            code="bad_skey",
        )
    if key[0] != alg:
        raise FormatError(
            f"signer key {name!r}: expected signature type {alg:#04x}, found {key[0]:#04x}",
            code="unsupported_algorithm",
        )
    public = bytes(nacl.signing.SigningKey(key[1:]).verify_key)
    if key_id(name, alg, public) != bytes.fromhex(hex8):
        raise FormatError(
            f"signer key {name!r}: key ID in the string is {hex8.lower()}, "
            f"but the derived public key hashes to {key_id(name, alg, public).hex()}",
            code="key_id_mismatch",
        )
    return name, key[1:]


# -- the note --------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID, and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_name(self.name, "signature line")
        if len(self.key_id) != _KEY_ID_SIZE:
            raise FormatError(
                f"key ID is {len(self.key_id)} bytes, want {_KEY_ID_SIZE}", code="malformed_note"
            )
        if len(self.signature) < 1:
            raise FormatError("signature is empty, want at least 1 byte", code="malformed_note")

    def line(self) -> str:
        """The signature line, newline included."""
        b64 = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{_SIG_PREFIX}{self.name} {b64}\n"


@dataclass(frozen=True)
class Note:
    """A note text and its signature lines, in order, none verified yet."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        _check_text(self.text)
        n = len(self.signatures)
        if not 1 <= n <= MAX_SIGNATURES:
            raise FormatError(
                f"a note carries 1 to {MAX_SIGNATURES} signatures, found {n}", code="malformed_note"
            )
        for s in self.signatures:
            if not isinstance(s, NoteSignature):
                raise FormatError(f"expected NoteSignature, found {type(s).__name__}")


def _decode_note(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"note must be valid UTF-8, found byte {data[exc.start]:#04x} at offset {exc.start}",
            code="malformed_note",
        ) from exc


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into text and signature lines (signed-note "Format").

    Checks syntax only; use :func:`open_note` to verify signatures.
    """
    msg = _decode_note(data)
    _check_chars(msg, "note")
    split = msg.rfind("\n\n")
    if split < 0:
        raise FormatError(
            "note: expected a blank line between text and signatures, found none",
            code="malformed_note",
        )
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block.endswith("\n"):
        raise FormatError(
            "note: expected signature lines each ending in a newline after the blank line, "
            f"found {block[-40:]!r}",
            code="malformed_note",
        )
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise FormatError(
            f"note: expected at most {MAX_SIGNATURES} signatures, found {len(lines)}",
            code="malformed_note",
        )
    sigs = []
    for i, line in enumerate(lines):
        what = f"signature line {i + 1}"
        if not line.startswith(_SIG_PREFIX):
            raise FormatError(
                f"{what}: expected it to start with an em dash and a space, found {line[:40]!r}",
                code="malformed_note",
            )
        name, _, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        _check_name(name, what)
        raw = _b64decode(b64, what, "malformed_note")
        if len(raw) < _KEY_ID_SIZE + 1:
            raise FormatError(
                f"{what}: expected at least {_KEY_ID_SIZE + 1} bytes (key ID and signature), "
                f"found {len(raw)}",
                code="malformed_note",
            )
        sigs.append(NoteSignature(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:]))
    return Note(text, tuple(sigs))


def format_note(note: Note) -> str:
    """The signed note: text, blank line, signature lines. Inverse of :func:`parse_note`."""
    return note.text + "\n" + "".join(s.line() for s in note.signatures)


# -- Ed25519 keys -----------------------------------------------------------------


@dataclass(frozen=True)
class Ed25519Verifier:
    """A trusted Ed25519 note key: its name and 32-byte public key.

    The key ID is derived (signed-note "Ed25519 signatures"), never trusted.
    """

    name: str
    public_key: bytes
    key_id: bytes = field(init=False)
    _key: nacl.signing.VerifyKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name, "verifier key")
        if len(self.public_key) != _ED25519_KEY_SIZE:
            raise FormatError(
                f"Ed25519 public key is {len(self.public_key)} bytes, want {_ED25519_KEY_SIZE}",
                code="bad_vkey",
            )
        object.__setattr__(self, "key_id", key_id(self.name, ED25519, self.public_key))
        object.__setattr__(self, "_key", nacl.signing.VerifyKey(bytes(self.public_key)))

    @classmethod
    def from_vkey(cls, vkey: str) -> Ed25519Verifier:
        """Parse ``<name>+<hex key ID>+<base64(0x01 || public key)>``.

        As golang.org/x/mod sumdb/note ``NewVerifier``: the hex key ID (8 digits,
        either case) must equal the ID computed from name and key.
        """
        name, alg, key = decode_vkey(vkey)
        if alg != ED25519:
            raise FormatError(
                f"verifier key {name!r}: expected signature type {ED25519:#04x} (Ed25519), "
                f"found {alg:#04x}",
                code="unsupported_algorithm",
            )
        return cls(name, key)

    @property
    def vkey(self) -> str:
        """The verifier key string, ``<name>+<hex8>+<base64(0x01 || public key)>``."""
        b64 = base64.b64encode(bytes([ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{b64}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is a valid Ed25519 signature of ``message``.

        Returns False (never raises) for any bad signature, including one of the
        wrong length. libsodium is stricter than RFC 8032's minimum (it refuses
        non-canonical and small-order encodings), which only ever turns an
        adversarial signature from "valid" into "invalid".
        """
        if len(signature) != _ED25519_SIG_SIZE:
            return False
        try:
            self._key.verify(bytes(message), bytes(signature))
        except (nacl.exceptions.CryptoError, ValueError):
            return False
        return True


class Ed25519Signer:
    """An Ed25519 note signing key. Its ``repr`` never shows the secret."""

    __slots__ = ("_key", "name", "verifier")

    def __init__(self, name: str, seed: bytes) -> None:
        _check_name(name, "signer key")
        if len(seed) != _ED25519_KEY_SIZE:
            raise FormatError(
                f"Ed25519 seed is {len(seed)} bytes, want {_ED25519_KEY_SIZE}", code="bad_skey"
            )
        self.name: str = name
        self._key = nacl.signing.SigningKey(bytes(seed))
        self.verifier: Ed25519Verifier = Ed25519Verifier(name, self._key.verify_key.encode())

    @classmethod
    def generate(cls, name: str) -> Ed25519Signer:
        """A fresh key from the operating system's CSPRNG."""
        return cls(name, nacl.signing.SigningKey.generate().encode())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Ed25519Signer:
        """The key with this 32-byte RFC 8032 seed."""
        return cls(name, seed)

    @classmethod
    def from_skey(cls, skey: str) -> Ed25519Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``.

        As golang.org/x/mod sumdb/note ``NewSigner``: the key ID must be that of
        the derived public key. Error messages never include the secret.
        """
        return cls(*decode_skey(skey, ED25519))

    @property
    def key_id(self) -> bytes:
        return self.verifier.key_id

    @property
    def skey(self) -> str:
        """The secret signer key string. Keep it secret."""
        b64 = base64.b64encode(bytes([ED25519]) + self._key.encode()).decode("ascii")
        return f"{_PRIVATE_PREFIX}{self.name}+{self.key_id.hex()}+{b64}"

    def sign(self, message: bytes) -> NoteSignature:
        """Sign ``message`` (RFC 8032, deterministic)."""
        sig = self._key.sign(bytes(message)).signature
        return NoteSignature(self.name, self.key_id, sig)

    def __repr__(self) -> str:
        return f"Ed25519Signer({_key_label(self.name, self.key_id)!r})"


# -- signing and opening ----------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedNote:
    """A note, with the trusted verifiers whose signatures on it verified (at least one)."""

    note: Note
    verifiers: tuple[Ed25519Verifier, ...]

    @property
    def text(self) -> str:
        return self.note.text


def sign_note(text: str, *signers: Ed25519Signer) -> str:
    """The signed note for ``text``, one signature line per signer, in order."""
    _check_text(text)
    if not signers:
        raise FormatError("sign_note needs at least one signer", code="malformed_note")
    message = text.encode("utf-8")
    return format_note(Note(text, tuple(s.sign(message) for s in signers)))


def open_note(data: str | bytes, verifiers: Sequence[Ed25519Verifier]) -> VerifiedNote:
    """Parse a signed note and verify it against the trusted ``verifiers``.

    signed-note "Signatures" and golang.org/x/mod sumdb/note ``Open``:

    1. A signature line whose (name, key ID) matches no trusted key is ignored
       (kept in ``note.signatures``, never verified).
    2. A signature line matching a trusted key must verify, else
       :class:`SignatureError`. Repeated lines for the same key are ignored
       after the first, as in Go.
    3. At least one trusted key must have verified, else :class:`SignatureError`
       with code ``unknown_key``.

    Two different trusted keys sharing name and key ID are refused (code
    ``ambiguous_key``) when a signature names them.
    """
    note = parse_note(data)
    known: dict[tuple[str, bytes], Ed25519Verifier] = {}
    ambiguous: set[tuple[str, bytes]] = set()
    for v in verifiers:
        k = (v.name, v.key_id)
        if k in known and known[k] != v:
            ambiguous.add(k)
        known.setdefault(k, v)

    message = note.text.encode("utf-8")
    seen: set[tuple[str, bytes]] = set()
    verified: list[Ed25519Verifier] = []
    for sig in note.signatures:
        k = (sig.name, sig.key_id)
        if k in ambiguous:
            raise SignatureError(
                f"two different trusted keys are named {_key_label(*k)}", code="ambiguous_key"
            )
        match = known.get(k)
        if match is None or k in seen:
            continue
        seen.add(k)
        if not match.verify(message, sig.signature):
            raise SignatureError(
                f"signature by trusted key {_key_label(*k)} does not verify over the note text"
            )
        verified.append(match)
    if not verified:
        want = ", ".join(_key_label(*k) for k in known) or "none"
        found = ", ".join(_key_label(s.name, s.key_id) for s in note.signatures)
        raise SignatureError(
            f"expected a signature by a trusted key ({want}), found only {found}",
            code="unknown_key",
        )
    return VerifiedNote(note, tuple(verified))
