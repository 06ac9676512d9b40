"""The ASCII fast path of ``urne.verifier.civic.canonical`` writes what ``rfc8785`` writes."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from urne.verifier.civic.canonical import (
    MAX_SAFE_INTEGER,
    ascii_canonical,
    canonical,
    parse_canonical,
)
from urne.verifier.errors import FormatError

_ascii = st.text(st.characters(max_codepoint=0x7F))
_any_text = st.text()  # every code point, lone surrogates included
_ints = st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)


def _values(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    leaves = st.none() | st.booleans() | _ints | text
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5),
        max_leaves=30,
    )


@settings(max_examples=500)
@given(_values(_ascii))
def test_ascii_values_take_the_fast_path_and_equal_rfc8785(obj: Any) -> None:
    fast = ascii_canonical(obj)
    assert fast is not None
    assert fast == rfc8785.dumps(obj)
    assert canonical(obj) == fast


@settings(max_examples=500)
@given(_values(_any_text))
def test_any_values_equal_rfc8785_or_are_refused_alike(obj: Any) -> None:
    fast = ascii_canonical(obj)
    try:
        want = rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, ValueError):
        assert fast is None  # lone surrogates: never ASCII
        with pytest.raises(FormatError):
            canonical(obj)
        return
    assert fast is None or fast == want
    assert canonical(obj) == want


def test_every_control_character_and_delete_escape_as_in_rfc8785() -> None:
    s = "".join(chr(c) for c in range(0x80)) + '"\\/'
    assert ascii_canonical({"k": s, s: [s]}) == rfc8785.dumps({"k": s, s: [s]})


def test_non_canonical_ascii_bytes_are_still_refused() -> None:
    for data in (b'{"b":1,"a":2}', b'{"a": 1}', b'{"a":"\\u0041"}', b'{"a":-0}', b'{"a":1E2}'):
        with pytest.raises(FormatError):
            parse_canonical(data)
    assert parse_canonical(b'{"a":1,"b":"\\u001f"}') == {"a": 1, "b": "\x1f"}
