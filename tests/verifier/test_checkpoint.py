"""C2SP tlog-checkpoint: parsing, the spec's example, signing and opening."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import urne.verifier.tlog.checkpoint as checkpoint_module
from tests.support.paths import load_vector
from urne.verifier.errors import FormatError, SignatureError, VerificationError
from urne.verifier.tlog.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    SignedCheckpoint,
    open_checkpoint,
)
from urne.verifier.tlog.note import Ed25519Signer, parse_note, sign_note
from urne.verifier.tlog.rfc9162 import empty_root, hash_children, hash_leaf

ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


@pytest.fixture(scope="module")
def vectors(vectors_dir: object) -> dict[str, Any]:
    data: dict[str, Any] = load_vector("signed-note/signed_note_vectors.json")
    return data


@pytest.fixture(scope="module")
def log_signer(vectors: dict[str, Any]) -> Ed25519Signer:
    """transparency-dev/formats' test log key (``Log+2271c621``)."""
    pair = next(p for p in vectors["keypairs_for_key_id_and_derivation"] if p["name"] == "log")
    return Ed25519Signer.from_skey(pair["skey"])


@pytest.fixture(scope="module")
def witness(vectors: dict[str, Any]) -> Ed25519Signer:
    pair = next(p for p in vectors["keypairs_for_key_id_and_derivation"] if p["name"] == "known1")
    return Ed25519Signer.from_skey(pair["skey"])


def test_spec_example_checkpoint(vectors: dict[str, Any]) -> None:
    signed = next(
        e["signed_note"]
        for e in vectors["unverifiable_examples_no_key_published"]
        if "tlog-checkpoint" in e["source"]
    )
    note = parse_note(signed)
    assert note.text == SPEC_TEXT
    cp = Checkpoint.parse(note.text)
    assert cp == Checkpoint("example.com/behind-the-sofa", 20852163, ROOT)
    assert cp.to_text() == SPEC_TEXT
    assert note.signatures[0].name == cp.origin


def test_to_text_layout() -> None:
    cp = Checkpoint("urne.example/petitions", 0, empty_root(), ("ext one", "ext-2"))
    root64 = base64.b64encode(empty_root()).decode()
    assert cp.to_text() == f"urne.example/petitions\n0\n{root64}\next one\next-2\n"
    assert Checkpoint.parse(cp.to_text()) == cp


def test_largest_size_is_accepted() -> None:
    text = f"o\n{MAX_TREE_SIZE}\n{base64.b64encode(ROOT).decode()}\n"
    assert Checkpoint.parse(text).size == 2**63 - 1


R = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(f"o\n1\n{R}", id="no-final-newline"),
        pytest.param("o\n1\n", id="two-lines"),
        pytest.param("o\n", id="one-line"),
        pytest.param(f"\n1\n{R}\n", id="empty-origin"),
        pytest.param(f"o\n\n{R}\n", id="empty-size"),
        pytest.param("o\n1\n\n", id="empty-root"),
        pytest.param(f"o\n01\n{R}\n", id="leading-zero"),
        pytest.param(f"o\n00\n{R}\n", id="double-zero"),
        pytest.param(f"o\n+1\n{R}\n", id="plus-sign"),
        pytest.param(f"o\n-1\n{R}\n", id="negative"),
        pytest.param(f"o\n1.0\n{R}\n", id="decimal-point"),
        pytest.param(f"o\n1_000\n{R}\n", id="underscore"),
        pytest.param(f"o\n 1\n{R}\n", id="space"),
        pytest.param(f"o\n0x10\n{R}\n", id="hex"),
        pytest.param(f"o\n\u0661\n{R}\n", id="arabic-digit"),
        pytest.param(f"o\n\uff11\n{R}\n", id="fullwidth-digit"),
        pytest.param(f"o\n{2**63}\n{R}\n", id="size-2^63"),
        pytest.param(f"o\n{'9' * 5000}\n{R}\n", id="size-5000-digits"),
        pytest.param(f"o\n1\n{R[:-1]}\n", id="root-unpadded"),
        pytest.param(f"o\n1\n{R}=\n", id="root-overpadded"),
        pytest.param(f"o\n1\n{R[:-2]}J=\n", id="root-noncanonical-bits"),
        pytest.param(f"o\n1\n{R.replace('/', '_')}\n", id="root-urlsafe"),
        pytest.param(f"o\n1\n {R}\n", id="root-space"),
        pytest.param(f"o\n1\n{R}\n\n", id="empty-extension"),
        pytest.param(f"o\n1\n{R}\next\n\n", id="empty-extension-after-one"),
        pytest.param(f"o\r\n1\n{R}\n", id="cr-in-origin"),
        pytest.param(f"o\t\n1\n{R}\n", id="tab-in-origin"),
        pytest.param(f"o\n1\n{R}\nx\x00\n", id="nul-in-extension"),
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(FormatError) as exc:
        Checkpoint.parse(text)
    assert exc.value.code == "malformed_checkpoint"


@pytest.mark.parametrize("size", [1, 31, 33, 64])
def test_root_must_be_32_bytes(size: int) -> None:
    text = f"o\n1\n{base64.b64encode(bytes(size)).decode()}\n"
    with pytest.raises(FormatError) as exc:
        Checkpoint.parse(text)
    assert exc.value.code == "bad_hash_length"
    assert f"{size} bytes, want 32" in str(exc.value)


def test_constructor_validates() -> None:
    with pytest.raises(FormatError):
        Checkpoint("", 1, ROOT)
    with pytest.raises(FormatError):
        Checkpoint("a\nb", 1, ROOT)
    with pytest.raises(FormatError):
        Checkpoint("o", -1, ROOT)
    with pytest.raises(FormatError):
        Checkpoint("o", 2**63, ROOT)
    with pytest.raises(FormatError):
        Checkpoint("o", 1, ROOT[:31])
    with pytest.raises(FormatError):
        Checkpoint("o", 1, ROOT, ("",))
    with pytest.raises(FormatError):
        Checkpoint("o", 1, ROOT, ("a\nb",))


def test_origin_may_be_any_text_without_control_characters() -> None:
    # tlog-checkpoint: clients MUST NOT assume the origin is a URL
    cp = Checkpoint("Mon journal + ses espaces \u00e9", 5, ROOT)
    assert Checkpoint.parse(cp.to_text()) == cp


# -- signed checkpoints ----------------------------------------------------------------


def _cp(signer: Ed25519Signer, size: int = 3) -> Checkpoint:
    return Checkpoint(signer.name, size, hash_leaf(b"leaf %d" % size))


def test_open_checkpoint(log_signer: Ed25519Signer) -> None:
    cp = _cp(log_signer)
    signed = sign_note(cp.to_text(), log_signer)
    opened = open_checkpoint(signed, log_signer.verifier)
    assert isinstance(opened, SignedCheckpoint)
    assert opened.checkpoint == cp
    assert opened.signed == signed
    assert opened.note.text == cp.to_text()
    assert opened.note.signatures[0].key_id == log_signer.key_id
    assert open_checkpoint(signed.encode("utf-8"), log_signer.verifier) == opened


def test_cosigned_checkpoint_opens_and_keeps_the_cosignature(
    log_signer: Ed25519Signer, witness: Ed25519Signer
) -> None:
    cp = _cp(log_signer)
    signed = sign_note(cp.to_text(), log_signer, witness)
    opened = open_checkpoint(signed, log_signer.verifier)
    assert opened.checkpoint == cp
    assert [s.name for s in opened.note.signatures] == ["Log", "Known"]
    # The witness's own key does not open it as a log checkpoint: wrong origin.
    with pytest.raises(SignatureError) as exc:
        open_checkpoint(signed, witness.verifier)
    assert exc.value.code == "origin_mismatch"


def test_origin_defaults_to_key_name(log_signer: Ed25519Signer) -> None:
    cp = Checkpoint("some.other/log", 3, ROOT)
    signed = sign_note(cp.to_text(), log_signer)
    with pytest.raises(SignatureError) as exc:
        open_checkpoint(signed, log_signer.verifier)
    assert exc.value.code == "origin_mismatch"
    assert "'some.other/log'" in str(exc.value) and "'Log'" in str(exc.value)
    # A log whose key name differs from its origin (allowed: a SHOULD only)
    assert open_checkpoint(signed, log_signer.verifier, origin="some.other/log").checkpoint == cp


def test_explicit_origin_is_enforced(log_signer: Ed25519Signer) -> None:
    signed = sign_note(_cp(log_signer).to_text(), log_signer)
    with pytest.raises(SignatureError) as exc:
        open_checkpoint(signed, log_signer.verifier, origin="Log2")
    assert exc.value.code == "origin_mismatch"


def test_wrong_key_is_refused(log_signer: Ed25519Signer, witness: Ed25519Signer) -> None:
    signed = sign_note(_cp(log_signer).to_text(), witness)
    with pytest.raises(SignatureError) as exc:
        open_checkpoint(signed, log_signer.verifier)
    assert exc.value.code == "unknown_key"


def test_tampered_size_is_refused(log_signer: Ed25519Signer) -> None:
    signed = sign_note(_cp(log_signer, 3).to_text(), log_signer)
    tampered = signed.replace("\n3\n", "\n4\n", 1)
    assert tampered != signed
    with pytest.raises(SignatureError) as exc:
        open_checkpoint(tampered, log_signer.verifier)
    assert exc.value.code == "bad_signature"


def test_signature_is_checked_before_the_body_is_parsed(
    log_signer: Ed25519Signer, witness: Ed25519Signer
) -> None:
    bad_body = "Log\n01\nnot base64\n"
    # unsigned by the trusted key: the text is never looked at
    with pytest.raises(SignatureError):
        open_checkpoint(sign_note(bad_body, witness), log_signer.verifier)
    # signed by it: now the body is parsed, and refused
    with pytest.raises(FormatError) as exc:
        open_checkpoint(sign_note(bad_body, log_signer), log_signer.verifier)
    assert exc.value.code == "malformed_checkpoint"


def test_every_single_character_change_is_refused(log_signer: Ed25519Signer) -> None:
    signed = sign_note(_cp(log_signer, 1234).to_text(), log_signer)
    for i, c in enumerate(signed):
        with pytest.raises(VerificationError):
            open_checkpoint(signed[:i] + chr(ord(c) ^ 1) + signed[i + 1 :], log_signer.verifier)


def test_all_is_the_public_api() -> None:
    assert set(checkpoint_module.__all__) == {
        "MAX_TREE_SIZE",
        "Checkpoint",
        "SignedCheckpoint",
        "open_checkpoint",
    }


_line = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40
)
_checkpoints = st.builds(
    Checkpoint,
    origin=_line,
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_line, max_size=3).map(tuple),
)


@given(_checkpoints)
def test_checkpoint_round_trip(cp: Checkpoint) -> None:
    text = cp.to_text()
    assert Checkpoint.parse(text) == cp
    assert Checkpoint.parse(text).to_text() == text


@given(_checkpoints)
def test_signed_checkpoint_round_trip(cp: Checkpoint) -> None:
    signer = Ed25519Signer.from_seed("urne.example/log", bytes(range(32)))
    signed = sign_note(cp.to_text(), signer)
    assert open_checkpoint(signed, signer.verifier, origin=cp.origin).checkpoint == cp


@given(st.text(max_size=200))
def test_parse_arbitrary_text_only_raises_format_error(text: str) -> None:
    try:
        cp = Checkpoint.parse(text)
    except FormatError:
        return
    assert cp.to_text() == text


def test_worked_example_in_docs() -> None:
    """docs/spec/checkpoints-and-tiles.md §2.2, byte for byte (Ed25519 is deterministic)."""
    signer = Ed25519Signer.from_seed("urne.example/log", bytes(32))
    assert signer.verifier.vkey == (
        "urne.example/log+7b9d7ce3+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
    )
    assert signer.skey == (
        "PRIVATE+KEY+urne.example/log+7b9d7ce3+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    )
    root = hash_children(hash_leaf(b"a"), hash_leaf(b"b"))
    signed = sign_note(Checkpoint("urne.example/log", 2, root).to_text(), signer)
    assert signed == (
        "urne.example/log\n2\nsTeYX/SE+2ANuTEHx3sDZcgNePW0Kd7Q/Zc2HQd5mes=\n\n"
        "— urne.example/log e51844yzyqVJlvCTakuuSeUuNj03kGbpbdkzBoMZQY1iV6/gRQplxWk1rwrQ"
        "/KW0IkvQjMpNlpBkiQJ/N6m/gSegKgk=\n"
    )
    assert open_checkpoint(signed, signer.verifier).checkpoint.root == root
