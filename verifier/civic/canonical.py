"""Canonical JSON (RFC 8785, JCS) for entries, and Decidim proposal fingerprints.

Every log entry is the JCS serialisation of one JSON object; an entry whose bytes
are not exactly ``JCS(parse(bytes))`` is refused, so one entry has one encoding
and its leaf hash cannot be varied. Urne's entries hold only strings, integers,
booleans, null, arrays and objects: floats are refused (their decimal rendering
is where JSON implementations disagree), and so are duplicate keys, which JCS
cannot represent.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from urne.verifier.errors import FormatError

__all__ = ["MAX_SAFE_INTEGER", "canonical", "fingerprint", "parse_canonical"]

#: RFC 8785 §3.2.2.3 / I-JSON: integers beyond ±(2**53 - 1) do not survive a
#: round trip through IEEE 754 doubles, so entries never carry them.
MAX_SAFE_INTEGER = 2**53 - 1


def canonical(obj: Any) -> bytes:
    """RFC 8785 canonical JSON of ``obj``."""
    if not _values_ok(obj):
        _check_values(obj, "$")  # raises, naming where
    ascii_form = ascii_canonical(obj)
    if ascii_form is not None:
        return ascii_form
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise FormatError(f"not representable as canonical JSON: {exc}") from exc


def ascii_canonical(obj: Any) -> bytes | None:
    r"""The JCS of ``obj`` when it is all ASCII, else None (then ``rfc8785`` decides).

    For the values entries hold (strings, integers within ±(2**53-1), booleans,
    null, arrays, objects with string keys: checked before), Python's
    ``json.dumps`` with sorted keys, no white space and ``ensure_ascii=False``
    writes what RFC 8785 writes whenever its output is ASCII: the same
    literals, integers in plain decimal (§3.2.2.3), the same escapes (``\"``,
    ``\\``, ``\b \f \n \r \t``, other controls as ``\u00xx`` in lower-case hex,
    everything else as itself, §3.2.2.2), and for ASCII keys, sorting by code
    point is sorting by UTF-16 code unit (§3.2.3). Output with any non-ASCII
    character (which includes every lone surrogate) is left to ``rfc8785``.
    Ballots are ASCII, and this is their hot path; tests/verifier compare the
    two on generated values.
    """
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("ascii") if text.isascii() else None


def _values_ok(obj: Any) -> bool:
    """:func:`_check_values` without building paths (the common case: all fine)."""
    if obj is None or isinstance(obj, str | bool):
        return True
    if isinstance(obj, int):
        return -MAX_SAFE_INTEGER <= obj <= MAX_SAFE_INTEGER
    if isinstance(obj, list):
        return all(_values_ok(v) for v in obj)
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _values_ok(v) for k, v in obj.items())
    return False


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise FormatError(f"duplicate key {k!r} in JSON object", code="not_canonical")
        out[k] = v
    return out


def _refuse_float(text: str) -> Any:
    raise FormatError(f"floating-point number {text} in an entry", code="not_canonical")


def _refuse_constant(text: str) -> Any:
    raise FormatError(f"{text} is not JSON", code="malformed_json")


def _check_values(obj: Any, path: str) -> None:
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return
    if isinstance(obj, int):
        if abs(obj) > MAX_SAFE_INTEGER:
            raise FormatError(f"{path}: integer {obj} is beyond ±(2**53-1)", code="not_canonical")
        return
    if isinstance(obj, float):
        raise FormatError(f"{path}: floating-point number in an entry", code="not_canonical")
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_values(v, f"{path}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise FormatError(f"{path}: object key {k!r} is not a string")
            _check_values(v, f"{path}.{k}")
        return
    raise FormatError(f"{path}: {type(obj).__name__} is not a JSON value")


def parse_canonical(data: bytes) -> dict[str, Any]:
    """Parse an entry and check it is exactly its own RFC 8785 serialisation."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"entry is not UTF-8 (byte {exc.start})", code="malformed_json") from exc
    try:
        obj = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_refuse_float,
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as exc:
        raise FormatError(f"entry is not JSON: {exc}", code="malformed_json") from exc
    except RecursionError as exc:
        raise FormatError("entry is nested too deeply", code="malformed_json") from exc
    except ValueError as exc:  # an integer literal beyond sys.get_int_max_str_digits()
        raise FormatError(
            f"entry has an integer beyond ±(2**53-1): {exc}", code="not_canonical"
        ) from exc
    if not isinstance(obj, dict):
        raise FormatError(
            f"an entry is a JSON object, found {type(obj).__name__}", code="malformed_json"
        )
    if canonical(obj) != data:
        raise FormatError(
            "entry is not in RFC 8785 canonical form (key order, white space or escapes)",
            code="not_canonical",
        )
    return obj


def fingerprint(fields: dict[str, Any]) -> str:
    """Lower-case hex SHA-256 of the JCS of a proposal's fingerprinted fields.

    For ``{"title": ..., "body": ...}`` (translation objects as they are) this
    equals Decidim's proposal fingerprint (decidim-core FingerprintCalculator:
    keys sorted at every level, Ruby ``JSON.generate``, SHA-256 hex): neither
    serialisation escapes non-ASCII characters, ``/`` or HTML, and both escape
    quotes, backslashes and newlines alike (tested on vectors/decidim). They can
    differ only where Decidim's data never goes: object keys outside the Basic
    Multilingual Plane (sort order) and the hex case of escaped control
    characters other than newline and tab.
    """
    if not isinstance(fields, dict):
        raise FormatError(f"fingerprinted fields are a JSON object, found {type(fields).__name__}")
    return hashlib.sha256(canonical(fields)).hexdigest()
