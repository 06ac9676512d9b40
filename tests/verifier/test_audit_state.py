"""The auditor's state on disk (docs/spec/verification.md, "The auditor's state"):
the format read back exactly, every way a state can be unusable refused as
``bad_state``, private file modes, and a save stopped between any two of its
writes leaving the old state or the new one.

The states here are built with the verifier's own tools (a signed checkpoint
over made-up leaves, a real manifest and close); audits of real logs are in
tests/test_audit_state.py."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.bls_points import G2_GENERATOR
from tests.support.civic import authority_for
from urne.verifier.check.state import (
    FORMAT,
    LEAVES_FILE,
    OLD_STATE_FILE,
    SAVE_STEPS,
    STATE_FILE,
    VERSION,
    AuditState,
    load_state,
    read_leaves,
    save_state,
)
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import AuthorKey, OperatorKey, sign_entry
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.civic.process import RecordedBallot, Registry
from urne.verifier.errors import FormatError
from urne.verifier.tlog.checkpoint import Checkpoint
from urne.verifier.tlog.merkle import CompactRange
from urne.verifier.tlog.note import Ed25519Signer, sign_note
from urne.verifier.tlog.rfc9162 import HASH_SIZE, hash_leaf

ORIGIN = "state.example/log"


def _manifest(institution: AuthorKey) -> bytes:
    return sign_entry(
        {
            "v": 1,
            "kind": "process",
            "id": "vote",
            "type": "vote",
            "title": {"en": "A vote"},
            "text": {"en": "What this is about."},
            "institution": b64encode(institution.public_key),
            "opens": "2026-01-01T00:00:00Z",
            "closes": "2026-12-31T23:59:59Z",
            # a valid G2 public key (the state keeps no credential to check under it)
            "issuer": {"public_key": b64encode(G2_GENERATOR), "threshold": 1, "shares": 1},
            "officials": [],
            "proposals": [
                authoring.proposal("a", "Option A", "<p>A</p>"),
                authoring.proposal("b", "Option B", "<p>B</p>"),
            ],
            "rule": {"method": "single", "min": 1, "max": 1, "revoting": True},
        },
        institution,
    )


@dataclass
class Log:
    """A log as an auditor would have verified it: a manifest, ballots (of which
    the state keeps no bytes, so their leaves are made up) and a close."""

    signer: Ed25519Signer
    institution: AuthorKey
    leaves: list[bytes]  # leaf hashes
    entries: list[tuple[int, bytes]]  # the non-ballot entries
    ballots: list[RecordedBallot]

    def state(self, size: int) -> AuditState:
        """The state after verifying the first ``size`` leaves."""
        border = CompactRange()
        for h in self.leaves[:size]:
            border.append(h, lambda level, index, node: None)
        checkpoint = Checkpoint(ORIGIN, size, border.root()).to_text()
        state = AuditState(
            origin=ORIGIN,
            operator=self.signer.verifier.public_key,
            checkpoint=sign_note(checkpoint, self.signer),
            size=size,
            border=border.hashes,
            entries=[(i, e) for i, e in self.entries if i < size],
        )
        replay: list[tuple[int, Any]] = [*state.entries]
        replay += [(b.index, b) for b in self.ballots if b.index < size]
        for index, item in sorted(replay, key=lambda x: x[0]):
            if isinstance(item, RecordedBallot):
                state.registry.restore_ballot(item)
            else:
                state.registry.admit(decode_entry(item), index)
        return state


#: The fixture's log: the institution's registration (0), the reservation of
#: "vote" (1), its manifest (2), six ballots and a revote (3 to 9), the close
#: (10).
MANIFEST, REVOTE, CLOSE, SIZE = 2, 9, 10, 11


@pytest.fixture(scope="module")
def log() -> Log:
    signer = Ed25519Signer.generate(ORIGIN)
    operator = OperatorKey(signer)
    institution = AuthorKey.generate()
    manifest = _manifest(institution)
    voters = [os.urandom(32) for _ in range(6)]
    ballots = [
        RecordedBallot("vote", nym, MANIFEST + 1 + k, 0, ("ab"[k % 2],))
        for k, nym in enumerate(voters)
    ]
    ballots.append(RecordedBallot("vote", voters[0], REVOTE, 1, ("b",)))  # a revote
    close = authoring.close("vote", institution)
    authority = authority_for(manifest, operator, registered=lambda key: False)
    entries = [*enumerate(authority), (MANIFEST, manifest), (CLOSE, close)]
    leaves = [hash_leaf(b"ballot %d" % k) for k in range(SIZE)]
    for index, data in entries:
        leaves[index] = hash_leaf(data)
    return Log(signer, institution, leaves, entries, ballots)


def _saved(log: Log, directory: Path, size: int = SIZE) -> AuditState:
    state = log.state(size)
    save_state(directory, state, log.leaves[:size])
    return state


def _bad_state(directory: Path, log: Log) -> str:
    with pytest.raises(FormatError) as e:
        load_state(directory, log.signer.verifier)
    assert e.value.code == "bad_state"
    message = str(e.value)
    assert "\n" not in message and str(directory) in message
    return message.replace(str(directory), "DIR")


def _edit(directory: Path, **change: Any) -> None:
    obj = json.loads((directory / STATE_FILE).read_text())
    obj.update(change)
    (directory / STATE_FILE).write_text(json.dumps(obj))


# -- the format ----------------------------------------------------------------------


def test_a_saved_state_reads_back_exactly(log: Log, tmp_path: Path) -> None:
    saved = _saved(log, tmp_path / "state")
    loaded = load_state(tmp_path / "state", log.signer.verifier)
    assert (loaded.origin, loaded.checkpoint, loaded.size, loaded.border) == (
        saved.origin,
        saved.checkpoint,
        saved.size,
        saved.border,
    )
    assert loaded.entries == log.entries
    assert loaded.registry.ballots() == log.ballots
    assert loaded.registry.tally("vote", CLOSE) == saved.registry.tally("vote", CLOSE)
    assert loaded.registry.tally("vote", CLOSE)["counts"] == {"a": 2, "b": 4}
    assert loaded.registry.state("vote").closed_at == CLOSE
    assert read_leaves(tmp_path / "state", 0, SIZE) == log.leaves


def test_the_file_is_the_documented_json(log: Log, tmp_path: Path) -> None:
    _saved(log, tmp_path)
    obj = json.loads((tmp_path / STATE_FILE).read_text())
    assert list(obj) == [
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
    ]
    assert (obj["format"], obj["version"], obj["origin"], obj["size"]) == (FORMAT, 1, ORIGIN, SIZE)
    assert obj["entries"] == [[i, base64.b64encode(e).decode()] for i, e in log.entries]
    assert obj["ballots"][0] == [
        "vote",
        base64.b64encode(log.ballots[0].pseudonym).decode(),
        MANIFEST + 1,
        0,
        ["a"],
    ]
    assert [b[2] for b in obj["ballots"]] == list(range(MANIFEST + 1, REVOTE + 1))
    leaves = (tmp_path / LEAVES_FILE).read_bytes()
    assert leaves == b"".join(log.leaves)
    assert base64.b64decode(obj["leaves_sha256"]) == hashlib.sha256(leaves).digest()


def test_a_grown_state_appends_its_leaves(log: Log, tmp_path: Path) -> None:
    _saved(log, tmp_path, 4)
    state = load_state(tmp_path, log.signer.verifier)
    grown = log.state(SIZE)
    grown.findings = state.findings
    save_state(tmp_path, grown, log.leaves[4:SIZE])
    assert (tmp_path / LEAVES_FILE).read_bytes() == b"".join(log.leaves)
    assert load_state(tmp_path, log.signer.verifier).registry.ballots() == log.ballots


def test_hashes_past_the_saved_size_are_ignored_then_cut_back(log: Log, tmp_path: Path) -> None:
    """What a save stopped after appending leaves behind."""
    _saved(log, tmp_path, 4)
    with open(tmp_path / LEAVES_FILE, "ab") as fh:
        fh.write(b"\xff" * 45)  # a hash and a torn one
    assert load_state(tmp_path, log.signer.verifier).size == 4
    save_state(tmp_path, log.state(SIZE), log.leaves[4:SIZE])
    assert (tmp_path / LEAVES_FILE).read_bytes() == b"".join(log.leaves)
    assert load_state(tmp_path, log.signer.verifier).size == SIZE


def test_an_empty_directory_is_a_fresh_state(log: Log, tmp_path: Path) -> None:
    fresh = load_state(tmp_path / "missing", log.signer.verifier)
    assert (fresh.origin, fresh.checkpoint, fresh.size, fresh.entries) == (ORIGIN, None, 0, [])
    assert not (tmp_path / "missing").exists()


# -- states that cannot be used ----------------------------------------------------------


def test_an_unknown_version_is_refused(log: Log, tmp_path: Path) -> None:
    _saved(log, tmp_path)
    _edit(tmp_path, version=VERSION + 1)
    assert f"version {VERSION + 1}" in _bad_state(tmp_path, log)


def test_another_format_is_refused(log: Log, tmp_path: Path) -> None:
    _saved(log, tmp_path)
    _edit(tmp_path, format="something-else")
    assert FORMAT in _bad_state(tmp_path, log)


@pytest.mark.parametrize(
    "damage",
    [
        lambda t: t[: len(t) // 2],  # cut short
        lambda t: t.replace(f'"size":{SIZE}', f'"size":{SIZE},"size":{SIZE}'),  # a key twice
        lambda t: "\xff" + t,
        lambda t: "[]",
        lambda t: t.replace('"findings":[]', '"findings":[],"more":1'),
    ],
    ids=["truncated", "duplicate-key", "not-json", "not-an-object", "unknown-field"],
)
def test_corrupt_json_is_refused(log: Log, tmp_path: Path, damage: Any) -> None:
    _saved(log, tmp_path)
    text = (tmp_path / STATE_FILE).read_text()
    (tmp_path / STATE_FILE).write_text(damage(text))
    _bad_state(tmp_path, log)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"size": 8}, "size 8"),
        ({"border": []}, "border"),
        ({"origin": "other.example/log"}, "other.example/log"),
        ({"leaves_sha256": base64.b64encode(bytes(32)).decode()}, "leaf hashes"),
        ({"entries": []}, "does not replay"),  # ballots for a process never created
        (
            {"ballots": [["vote", base64.b64encode(bytes(32)).decode(), 3, 0, ["z"]]]},
            "unknown proposal",
        ),
        (
            {"ballots": [["vote", base64.b64encode(bytes(32)).decode(), MANIFEST, 0, ["a"]]]},
            f"index {MANIFEST}",
        ),  # the manifest's
        ({"findings": [{"step": 6}]}, "findings[0]"),
    ],
)
def test_a_state_that_does_not_hold_together_is_refused(
    log: Log, tmp_path: Path, change: dict[str, Any], says: str
) -> None:
    _saved(log, tmp_path)
    _edit(tmp_path, **change)
    assert says in _bad_state(tmp_path, log)


def test_a_state_of_another_key_is_refused(log: Log, tmp_path: Path) -> None:
    _saved(log, tmp_path)
    other = Ed25519Signer.generate(ORIGIN)
    with pytest.raises(FormatError) as e:
        load_state(tmp_path, other.verifier)
    assert e.value.code == "bad_state" and "checkpoint does not verify" in str(e.value)


def test_an_entry_that_is_not_its_leaf_is_refused(log: Log, tmp_path: Path) -> None:
    _saved(log, tmp_path)
    other = authoring.result("vote", log.institution, REVOTE, {"process": "vote"})
    kept = [[i, b64encode(e)] for i, e in log.entries if i != CLOSE]
    _edit(tmp_path, entries=[*kept, [CLOSE, b64encode(other)]])
    assert "not the leaf saved" in _bad_state(tmp_path, log)


def test_a_truncated_leaves_file_is_refused(log: Log, tmp_path: Path) -> None:
    _saved(log, tmp_path)
    leaves = tmp_path / LEAVES_FILE
    leaves.write_bytes(leaves.read_bytes()[: 8 * HASH_SIZE + 5])
    assert "less than" in _bad_state(tmp_path, log)
    leaves.unlink()
    _bad_state(tmp_path, log)


def test_a_changed_leaf_hash_is_refused(log: Log, tmp_path: Path) -> None:
    _saved(log, tmp_path)
    leaves = tmp_path / LEAVES_FILE
    data = bytearray(leaves.read_bytes())
    data[3 * HASH_SIZE] ^= 1
    leaves.write_bytes(bytes(data))
    assert "not the ones saved" in _bad_state(tmp_path, log)


def test_an_old_pickled_state_is_not_read(log: Log, tmp_path: Path) -> None:
    (tmp_path / OLD_STATE_FILE).write_bytes(b"\x80\x04not read")
    message = _bad_state(tmp_path, log)
    assert OLD_STATE_FILE in message and "from scratch" in message


# -- modes ---------------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets everyone read: the modes must not depend on it."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_the_state_is_readable_by_its_owner_only(log: Log, tmp_path: Path) -> None:
    directory = tmp_path / "a" / "state"
    _saved(log, directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in (STATE_FILE, LEAVES_FILE):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name
    assert sorted(p.name for p in directory.iterdir()) == [LEAVES_FILE, STATE_FILE]


@pytest.mark.usefixtures("open_umask")
def test_files_left_with_other_modes_become_private(log: Log, tmp_path: Path) -> None:
    _saved(log, tmp_path, 4)
    (tmp_path / LEAVES_FILE).chmod(0o644)
    (tmp_path / (STATE_FILE + ".tmp")).write_bytes(b"{")
    (tmp_path / (STATE_FILE + ".tmp")).chmod(0o666)
    save_state(tmp_path, log.state(SIZE), log.leaves[4:SIZE])
    for name in (STATE_FILE, LEAVES_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


# -- a save stopped between two writes ----------------------------------------------------


class Stopped(Exception):
    pass


@pytest.mark.parametrize("stop", sorted(SAVE_STEPS))
@pytest.mark.parametrize("earlier", [0, 4], ids=["first-save", "later-save"])
def test_a_save_stopped_at_any_step_leaves_the_old_state_or_the_new(
    log: Log, tmp_path: Path, stop: int, earlier: int
) -> None:
    if earlier:
        _saved(log, tmp_path, earlier)
    calls: list[int] = []

    def interrupt(step: int) -> None:
        calls.append(step)
        if step == stop:
            raise Stopped

    with pytest.raises(Stopped):
        save_state(tmp_path, log.state(SIZE), log.leaves[earlier:SIZE], interrupt=interrupt)
    assert calls == list(range(1, stop + 1))
    loaded = load_state(tmp_path, log.signer.verifier)
    done = stop == max(SAVE_STEPS)  # state.json replaced: the new state
    assert loaded.size == (SIZE if done else earlier)
    assert read_leaves(tmp_path, 0, loaded.size) == log.leaves[: loaded.size]
    # The next save goes on from whichever it is.
    save_state(tmp_path, log.state(SIZE), log.leaves[loaded.size : SIZE])
    again = load_state(tmp_path, log.signer.verifier)
    assert again.size == SIZE and again.registry.ballots() == log.ballots
    assert (tmp_path / LEAVES_FILE).read_bytes() == b"".join(log.leaves)


def test_every_step_is_between_two_writes(log: Log, tmp_path: Path) -> None:
    calls: list[int] = []
    save_state(tmp_path, log.state(SIZE), log.leaves, interrupt=calls.append)
    assert calls == sorted(SAVE_STEPS) == list(range(1, len(SAVE_STEPS) + 1))


def test_registry_ballots_restore_in_log_order(log: Log) -> None:
    registry = Registry(credential_check=None, operator=log.signer.verifier.public_key)
    for index, entry in log.entries[: MANIFEST + 1]:
        registry.admit(decode_entry(entry), index)
    for b in log.ballots:
        registry.restore_ballot(b)
    assert registry.ballots() == log.ballots
    assert registry.tally("vote", REVOTE)["counts"] == {"a": 2, "b": 4}
