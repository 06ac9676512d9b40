"""One-time codes: what a person is given to ask for their credential, and
what the roll stores instead (an HMAC under the roll key)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from urne.ledger.issuance.errors import IssuanceRefused

#: Crockford's base32: no I, L, O, U, so a code read aloud or typed is unambiguous.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


#: 12 symbols of 5 bits: 60 bits from ``secrets``, printed as ``XXXX-XXXX-XXXX``.
CODE_LENGTH = 12


# How people misread Crockford symbols, mapped to what was printed.
_CODE_READ = str.maketrans({"O": "0", "I": "1", "L": "1"})


_CODE_TAG = b"urne/v1/roll-code\n"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalise_code(code: str) -> str:
    """A code as typed (any case, with or without spaces and dashes, O for 0,
    I or L for 1) in its canonical 12-symbol form; ``bad_code`` if it cannot be one."""
    if isinstance(code, str) and len(code) <= 4 * CODE_LENGTH:
        raw = "".join(code.split()).replace("-", "").upper().translate(_CODE_READ)
        if len(raw) == CODE_LENGTH and all(c in CODE_ALPHABET for c in raw):
            return raw
    raise IssuanceRefused(
        f"a code is {CODE_LENGTH} letters and digits, like 7K3M-Q9XD-2HRT", code="bad_code"
    )


def code_hash(roll_key: bytes, process_id: str, raw: str) -> bytes:
    """HMAC-SHA-256 under the roll key: what the roll stores instead of the code.

    Keyed, not merely salted: whoever copies the database alone cannot test
    guesses offline. With a salt in the database, one pass over the 2**60
    codes would recover every unused code of the process at once.
    """
    msg = _CODE_TAG + process_id.encode("utf-8") + b"\x00" + raw.encode("ascii")
    return hmac.new(roll_key, msg, hashlib.sha256).digest()
