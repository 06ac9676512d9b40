"""The issuer's side of blind issuance (urne.ledger.issuance), end to end with the
citizen's side (urne.verifier.credentials.credential), on SQLite and on the real PostgreSQL.

What must hold: every eligible person gets exactly one credential, which
verifies for their pseudonym; a code answers once, even under a race; bad
requests are refused with stable 4xx codes and leave the roll untouched; the
roll stores no code in clear and nothing that names a pseudonym, a blinded
point or a credential; key files are owner-only.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from tests.support.bls_points import g1_bad_encodings
from urne.ledger.db.engine import create_engine
from urne.ledger.errors import InvalidRequest, NotFound
from urne.ledger.issuance.codes import CODE_ALPHABET, CODE_LENGTH, normalise_code
from urne.ledger.issuance.errors import (
    BadBlindedPoint,
    IssuanceRefused,
    IssuerKeyExists,
    KeyFileError,
    RollRefused,
)
from urne.ledger.issuance.issue import issue
from urne.ledger.issuance.issuer_key import IssuerKey
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.issuance.roll import (
    has_credential,
    import_roll,
    import_roll_csv,
    issued_count,
    open_roll,
    replace_code,
    roll_size,
)
from urne.ledger.log import Log
from urne.ledger.log.keys import UnsafeKeyFile
from urne.verifier.citizen.blinding import (
    BlindingState,
    Pseudonym,
    blind,
    combine_shares,
    unblind,
    verify_blind_share,
)
from urne.verifier.credentials.credential import (
    CredentialError,
    verify_credential,
    verify_credentials_batch,
)
from urne.verifier.errors import FormatError

PID = "consulta-2026"
BAD_POINTS = g1_bad_encodings()  # a blinded message is a point of G1
ROLL_COLUMNS = {"process_id", "person", "code_hash", "issued", "issued_on", "blinded_hash"}


# --------------------------------------------------------------------------
# Fixtures and the citizen's side
# --------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The roll's database: SQLite in a file, or a fresh schema on the real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'roll.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    eng = open_roll(url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def keyring(tmp_path: Path) -> IssuerKeyring:
    return IssuerKeyring(tmp_path / "keys")


def citizen(process_id: str = PID) -> tuple[Pseudonym, BlindingState, bytes]:
    """A fresh pseudonym and its blinded message B, as a citizen's device makes them."""
    pseudonym = Pseudonym.generate()
    state, blinded = blind(pseudonym.credential_message(process_id))
    return pseudonym, state, blinded


@contextmanager
def refused(code: str) -> Iterator[None]:
    """The block raises :class:`IssuanceRefused` with this code."""
    with pytest.raises(IssuanceRefused) as info:
        yield
    assert info.value.code == code, info.value


def other_code(*codes: str) -> str:
    """A well-formed code that is none of ``codes``."""
    candidate = "0" * CODE_LENGTH
    assert candidate not in {normalise_code(c) for c in codes}
    return candidate


# --------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------


def test_roll_from_csv_then_one_valid_credential_per_person(
    engine: Engine, keyring: IssuerKeyring, tmp_path: Path
) -> None:
    csv_path = tmp_path / "census.csv"
    # As spreadsheets export it: a BOM, the person column not first, other
    # columns (ignored), blanks around values, blank lines at the end.
    csv_path.write_text(
        "\ufeffName,Person,Street\r\n"
        "Ada,  ES-0001 ,Calle Mayor 1\r\n"
        'Bo,ES-0002,"Plaza, 2"\r\n'
        "Cy,ES-0003,\r\n"
        "Di,ES-0004,Rua 4\r\n"
        "Ed,ES-0005,Rue 5\r\n"
        "\r\n\r\n",
        encoding="utf-8",
    )
    public_key = keyring.create(PID)
    assert len(public_key) == 96  # a point of G2 (docs/spec/credentials.md §1)
    assert keyring.record(PID).manifest_issuer()["threshold"] == 1

    imported = import_roll_csv(engine, keyring, PID, csv_path)
    people = [f"ES-000{i}" for i in range(1, 6)]
    assert list(imported.codes) == people
    assert imported.skipped == ()
    for code in imported.codes.values():
        raw = normalise_code(code)
        assert len(raw) == CODE_LENGTH and set(raw) <= set(CODE_ALPHABET)
        assert code == f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
    assert len(set(imported.codes.values())) == len(people)
    assert (roll_size(engine, PID), issued_count(engine, PID)) == (5, 0)

    ballots: list[tuple[str, bytes, bytes]] = []
    for n, (person, code) in enumerate(imported.codes.items(), 1):
        assert has_credential(engine, PID, person) is False
        pseudonym, state, blinded = citizen()
        answer = issue(engine, keyring, PID, code, blinded)
        credential = unblind(state, answer, public_key)  # checks the pairing too
        assert verify_credential(public_key, PID, pseudonym.public_key, credential)
        assert not verify_credential(public_key, PID, Pseudonym.generate().public_key, credential)
        assert not verify_credential(
            public_key, "another-process", pseudonym.public_key, credential
        )
        assert has_credential(engine, PID, person) is True
        assert issued_count(engine, PID) == n
        ballots.append((PID, pseudonym.public_key, credential))
    assert verify_credentials_batch(public_key, ballots)
    assert (roll_size(engine, PID), issued_count(engine, PID)) == (5, 5)
    with pytest.raises(NotFound) as info:
        has_credential(engine, PID, "ES-9999")
    assert info.value.code == "not_on_roll"


def test_a_code_answers_once_however_it_is_typed(engine: Engine, keyring: IssuerKeyring) -> None:
    keyring.create(PID)
    code = import_roll(engine, keyring, PID, [("p1",)]).codes["p1"]
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    _, state, blinded = citizen()
    answer = issue(engine, keyring, PID, typed, blinded)
    unblind(state, answer, keyring.public_key(PID))
    for again in (code, typed, code.replace("-", "")):
        _, _, fresh = citizen()
        with refused("already_issued"):  # another blinded point: a second credential
            issue(engine, keyring, PID, again, fresh)
        # the very same request again (its answer was lost): the same answer,
        # and nothing more recorded
        assert issue(engine, keyring, PID, again, blinded) == answer
    assert issued_count(engine, PID) == 1


def test_unknown_and_malformed_codes(engine: Engine, keyring: IssuerKeyring) -> None:
    keyring.create(PID)
    keyring.create("other")
    codes = import_roll(engine, keyring, PID, [("p1",), ("p2",)]).codes
    other = import_roll(engine, keyring, "other", [("p1",)]).codes["p1"]
    _, _, blinded = citizen()
    with refused("unknown_code"):
        issue(engine, keyring, PID, other_code(*codes.values()), blinded)
    with refused("unknown_code"):  # a code is for its own process only
        issue(engine, keyring, PID, other, blinded)
    for bad in ("", "ABCD-EFGH-JKM", "ABCD-EFGH-JKMNP", "ABCD-EFGH-JKMU", "ÄBCD-EFGH-JKMN", 12):
        with refused("bad_code"):
            issue(engine, keyring, PID, bad, blinded)  # type: ignore[arg-type]
    with refused("bad_code"):
        issue(engine, keyring, PID, "A" * 10_000, blinded)
    assert issued_count(engine, PID) == 0
    assert issubclass(IssuanceRefused, InvalidRequest)  # reported as 400 by the API


def test_bad_blinded_points_are_refused_and_spend_nothing(
    engine: Engine, keyring: IssuerKeyring
) -> None:
    """Wrong length, not on the curve, outside the subgroup, the identity,
    non-canonical encodings (tests/verifier/test_bls.py builds them), not bytes."""
    assert {"short", "long", "not-on-curve", "not-in-subgroup", "infinity"} <= set(BAD_POINTS)
    public_key = keyring.create(PID)
    code = import_roll(engine, keyring, PID, [("p1",)]).codes["p1"]
    for case, bad in [*BAD_POINTS.items(), ("none", None), ("str", "B" * 96)]:
        with pytest.raises(BadBlindedPoint) as info:
            issue(engine, keyring, PID, code, bad)  # type: ignore[arg-type]
        assert info.value.code == "bad_blinded_point", case
        assert isinstance(info.value, InvalidRequest) and isinstance(info.value, FormatError)
    assert issued_count(engine, PID) == 0
    pseudonym, state, blinded = citizen()  # the code still works
    credential = unblind(state, issue(engine, keyring, PID, code, blinded), public_key)
    assert verify_credential(public_key, PID, pseudonym.public_key, credential)


def test_unknown_process_and_one_key_per_process(
    engine: Engine, keyring: IssuerKeyring, tmp_path: Path
) -> None:
    _, _, blinded = citizen()
    for pid in ("never-created", "../keys", "", "a/b", "x\n"):
        with refused("unknown_process"):
            issue(engine, keyring, pid, "ABCD-EFGH-JKMN", blinded)
    keyring.create(PID)
    with pytest.raises(IssuerKeyExists) as exists:
        keyring.create(PID)
    assert exists.value.code == "issuer_key_exists"
    with pytest.raises(IssuerKeyExists):
        keyring.create(PID, threshold=2, shares=3)
    # The key exists but no roll was ever imported here: the operator's problem.
    with pytest.raises(KeyFileError) as missing:
        issue(engine, keyring, PID, "ABCD-EFGH-JKMN", blinded)
    assert missing.value.code == "no_roll_key"
    for bad in ("../x", "", ".hidden", "a b", "x" * 129):
        with pytest.raises(RollRefused) as info:
            keyring.create(bad)
        assert info.value.code == "bad_process_id"
    for t, n in ((0, 1), (3, 2), (1, 256), (2, 1)):
        with pytest.raises(RollRefused) as info:
            keyring.create(f"t{t}n{n}", threshold=t, shares=n)
        assert info.value.code == "bad_threshold"
    assert sorted(p.name for p in keyring.issuers_dir.iterdir()) == [
        f"{PID}.key",
        f"{PID}.pub",
    ]


def test_key_file_names_never_collide_silently(keyring: IssuerKeyring) -> None:
    """Process ids may contain dots: share 2 of process "c" and the key of
    process "c.2" would share a file name. The second is refused, whole."""
    keyring.create("c.2")
    with pytest.raises(IssuerKeyExists, match=r"c\.2\.key"):
        keyring.create("c", threshold=2, shares=3)
    assert sorted(p.name for p in keyring.issuers_dir.iterdir()) == ["c.2.key", "c.2.pub"]
    assert keyring.signing_key("c.2").public_key == keyring.public_key("c.2")
    with refused("unknown_process"):
        keyring.record("c")


# --------------------------------------------------------------------------
# t-of-n
# --------------------------------------------------------------------------


def test_two_of_three_offices_sign_and_the_citizen_combines(engine: Engine, tmp_path: Path) -> None:
    dealer = IssuerKeyring(tmp_path / "dealer")
    group_key = dealer.create(PID, threshold=2, shares=3)
    record = dealer.record(PID)
    assert record.public_key == group_key
    assert (record.threshold, record.shares) == (2, 3)
    manifest = record.manifest_issuer()
    assert base64.b64decode(str(manifest.pop("public_key"))) == group_key
    assert manifest == {"threshold": 2, "shares": 3}
    assert sorted(record.share_public_keys) == [1, 2, 3]
    names = sorted(p.name for p in dealer.issuers_dir.iterdir())
    assert names == [f"{PID}.{i}.key" for i in (1, 2, 3)] + [f"{PID}.pub"]  # no whole key
    codes = import_roll(engine, dealer, PID, [("p1",), ("p2",)]).codes

    # The dealer hands share i (with the public record and the roll key) to
    # office i, and destroys its own copies.
    offices: dict[int, IssuerKeyring] = {}
    for i in (1, 2, 3):
        office = IssuerKeyring(tmp_path / f"office{i}")
        for sub, name in (
            ("issuers", f"{PID}.{i}.key"),
            ("issuers", f"{PID}.pub"),
            ("roll", f"{PID}.key"),
        ):
            (office.key_dir / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copy2(dealer.key_dir / sub / name, office.key_dir / sub / name)
        offices[i] = office
    shutil.rmtree(dealer.key_dir)

    pseudonym, state, blinded = citizen()
    answers = {
        i: issue(engine, offices[i], PID, codes["p1"], blinded, share_index=i) for i in (1, 3)
    }
    assert issued_count(engine, PID) == 1
    for i, answer in answers.items():
        assert verify_blind_share(record.share_public_keys[i], blinded, answer)
    credential = unblind(state, combine_shares(answers), group_key)
    assert verify_credential(group_key, PID, pseudonym.public_key, credential)
    # One share is not enough.
    with pytest.raises(CredentialError):
        unblind(state, answers[1], group_key)

    # Each office answers a person's one B only: the same B again gets the
    # same answer (it was lost), another B is refused.
    assert issue(engine, offices[1], PID, codes["p1"], blinded, share_index=1) == answers[1]
    _, _, other_b = citizen()
    with refused("already_issued"):
        issue(engine, offices[1], PID, codes["p1"], other_b, share_index=1)
    with refused("blinded_mismatch"):
        issue(engine, offices[2], PID, codes["p1"], other_b, share_index=2)
    third = issue(engine, offices[2], PID, codes["p1"], blinded, share_index=2)
    assert combine_shares({1: answers[1], 2: third}) == combine_shares(answers)
    assert issued_count(engine, PID) == 1

    # An office signs only with the share it holds; a shared key needs an index.
    _, _, b2 = citizen()
    with refused("unknown_process"):
        issue(engine, offices[2], PID, codes["p2"], b2, share_index=1)
    for index in (None, 0, 4, True):
        with refused("bad_share_index"):
            issue(engine, offices[2], PID, codes["p2"], b2, share_index=index)  # type: ignore[arg-type]
    assert issued_count(engine, PID) == 1


def test_a_single_key_takes_no_share_index(engine: Engine, keyring: IssuerKeyring) -> None:
    keyring.create(PID)
    code = import_roll(engine, keyring, PID, [("p1",)]).codes["p1"]
    _, _, blinded = citizen()
    with refused("bad_share_index"):
        issue(engine, keyring, PID, code, blinded, share_index=1)


# --------------------------------------------------------------------------
# The roll
# --------------------------------------------------------------------------


def test_counts_are_per_process(engine: Engine, keyring: IssuerKeyring) -> None:
    for pid in ("a", "b"):
        keyring.create(pid)
    a = import_roll(engine, keyring, "a", [(f"p{i}",) for i in range(4)]).codes
    import_roll(engine, keyring, "b", [(f"p{i}",) for i in range(2)])  # same people, own codes
    for code in list(a.values())[:3]:
        issue(engine, keyring, "a", code, citizen("a")[2])
    assert [roll_size(engine, p) for p in ("a", "b", "c")] == [4, 2, 0]
    assert [issued_count(engine, p) for p in ("a", "b", "c")] == [3, 0, 0]
    assert has_credential(engine, "a", "p0") and not has_credential(engine, "b", "p0")


def test_reimport_is_refused_whole_or_skipped_with_a_report(
    engine: Engine, keyring: IssuerKeyring
) -> None:
    first = import_roll(engine, keyring, PID, [("p1", "extra"), ("p2",)])
    with pytest.raises(RollRefused) as info:
        import_roll(engine, keyring, PID, [("p3",), ("p1",)])
    assert info.value.code == "already_on_roll"
    assert "'p1'" in str(info.value)
    assert roll_size(engine, PID) == 2  # p3 was not stored either

    again = import_roll(engine, keyring, PID, [("p3",), ("p1",), ("p2",)], skip_existing=True)
    assert list(again.codes) == ["p3"]
    assert again.skipped == ("p1", "p2")
    assert "p1" not in repr(again) and again.codes["p3"] not in repr(again)
    assert roll_size(engine, PID) == 3
    keyring.create(PID)
    # The people skipped keep their first code.
    issue(engine, keyring, PID, first.codes["p1"], citizen()[2])
    assert issued_count(engine, PID) == 1


@pytest.mark.parametrize(
    ("rows", "code"),
    [
        ([("p1",), (" p1 ",)], "duplicate_person"),
        ([("p1",), ("",)], "bad_person"),
        ([("   ",)], "bad_person"),
        ([("a\tb",)], "bad_person"),
        ([("x" * 257,)], "bad_person"),
        ([()], "bad_person"),
        (["p1"], "bad_person"),  # a string is not a row
        ([(None,)], "bad_person"),
    ],
)
def test_bad_rows_refuse_the_whole_import(
    engine: Engine, keyring: IssuerKeyring, rows: list[tuple[str, ...]], code: str
) -> None:
    with pytest.raises(RollRefused) as info:
        import_roll(engine, keyring, PID, [("ok",), *rows])
    assert info.value.code == code
    assert roll_size(engine, PID) == 0


@pytest.mark.parametrize(
    ("text", "code", "where"),
    [
        ("", "bad_roll_csv", ""),
        ("name,street\nAda,1\n", "bad_roll_csv", ""),
        ("person,Person\n1,1\n", "bad_roll_csv", ""),
        ("name,person\nAda,p1\nBo\n", "bad_roll_csv", "line 3"),
        ("name,person\nAda,p1\nBo,\x07\n", "bad_person", "line 3"),
        ("person\np1\np2\np1\n", "duplicate_person", "line 4"),
    ],
)
def test_bad_csv_files(
    engine: Engine, keyring: IssuerKeyring, tmp_path: Path, text: str, code: str, where: str
) -> None:
    path = tmp_path / "roll.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RollRefused) as info:
        import_roll_csv(engine, keyring, PID, path)
    assert info.value.code == code
    assert where in str(info.value)
    path.write_bytes(b"person\n\xff\xfe\n")
    with pytest.raises(RollRefused) as info:
        import_roll_csv(engine, keyring, PID, path)
    assert info.value.code == "bad_roll_csv"
    assert roll_size(engine, PID) == 0


def test_a_lost_letter_gets_a_new_code_until_issued(engine: Engine, keyring: IssuerKeyring) -> None:
    keyring.create(PID)
    old = import_roll(engine, keyring, PID, [("p1",)]).codes["p1"]
    new = replace_code(engine, keyring, PID, "p1")
    assert new != old
    with refused("unknown_code"):
        issue(engine, keyring, PID, old, citizen()[2])
    issue(engine, keyring, PID, new, citizen()[2])
    with refused("already_issued"):
        replace_code(engine, keyring, PID, "p1")
    with pytest.raises(NotFound):
        replace_code(engine, keyring, PID, "nobody")


def test_a_lost_roll_key_is_never_silently_replaced(engine: Engine, keyring: IssuerKeyring) -> None:
    keyring.create(PID)
    code = import_roll(engine, keyring, PID, [("p1",)]).codes["p1"]
    (keyring.roll_dir / f"{PID}.key").unlink()
    with pytest.raises(KeyFileError) as info:
        import_roll(engine, keyring, PID, [("p2",)])
    assert info.value.code == "no_roll_key"
    with pytest.raises(KeyFileError):
        issue(engine, keyring, PID, code, citizen()[2])
    assert roll_size(engine, PID) == 1


# --------------------------------------------------------------------------
# What is stored, and where
# --------------------------------------------------------------------------


def _all_rows(engine: Engine) -> dict[str, list[dict[str, object]]]:
    meta = sa.MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {
            name: [dict(r._mapping) for r in conn.execute(sa.select(table))]
            for name, table in meta.tables.items()
        }


def test_the_database_holds_no_code_and_nothing_that_names_a_pseudonym(
    log: Log, tmp_path: Path
) -> None:
    """The roll in the log's own database (the least separated set-up): after
    issuing, no table and no byte of the database files holds a code, a
    pseudonym, a blinded point, an answer or a credential, and the log is empty."""
    engine = log.engine
    keyring = IssuerKeyring(tmp_path / "issuer")
    single = keyring.create(PID)
    shared = keyring.create("shared", threshold=2, shares=3)
    codes = import_roll(engine, keyring, PID, [(f"p{i}",) for i in range(3)]).codes
    shared_codes = import_roll(engine, keyring, "shared", [("p0",)]).codes

    secrets_seen: list[bytes] = []
    for code in codes.values():
        pseudonym, state, blinded = citizen()
        answer = issue(engine, keyring, PID, code, blinded)
        credential = unblind(state, answer, single)
        secrets_seen += [pseudonym.public_key, pseudonym.seed, blinded, answer, credential]
    pseudonym, state, blinded = citizen("shared")
    answers = {
        i: issue(engine, keyring, "shared", shared_codes["p0"], blinded, share_index=i)
        for i in (1, 2)
    }
    credential = unblind(state, combine_shares(answers), shared)
    secrets_seen += [pseudonym.public_key, blinded, credential, *answers.values()]

    tables = _all_rows(engine)
    for name in ("log_entry", "log_node"):
        assert tables[name] == []
    assert log.size == 0
    assert set(tables["roll_person"][0]) == ROLL_COLUMNS
    assert set(tables["roll_share"][0]) == {"process_id", "person", "share_index"}
    today = datetime.now(UTC).date()
    for row in tables["roll_person"]:
        assert row["issued"] is True
        assert type(row["issued_on"]) is date and row["issued_on"] == today  # the day only
        assert isinstance(row["code_hash"], bytes) and len(row["code_hash"]) == 32
        # the SHA-256 of the blinded point answered, to answer that very point
        # again; a blinded point is uniform, independent of the pseudonym
        # (docs/spec/credentials.md §3.2), and so is its hash
        assert isinstance(row["blinded_hash"], bytes) and len(row["blinded_hash"]) == 32

    every_code = [*codes.values(), *shared_codes.values()]
    needles = [c.encode() for c in every_code] + [normalise_code(c).encode() for c in every_code]
    dumped = repr(tables).encode()
    raw = b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("log.db") and p.is_file()
    )
    for haystack in (dumped, raw):
        for needle in needles + secrets_seen:
            assert needle not in haystack


def test_models_and_migration_agree(engine: Engine) -> None:
    def ours(obj: object, name: str | None, type_: str, *_: object) -> bool:
        return type_ != "table" or (name or "").startswith("roll_")

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": ours})
        assert compare_metadata(context, SQLModel.metadata) == []
    assert {"roll_person", "roll_share"} <= set(sa.inspect(engine).get_table_names())
    assert set(c["name"] for c in sa.inspect(engine).get_columns("roll_person")) == ROLL_COLUMNS
    assert not sa.inspect(engine).get_foreign_keys("roll_person")  # nothing points at the log
    assert [fk["referred_table"] for fk in sa.inspect(engine).get_foreign_keys("roll_share")] == [
        "roll_person"
    ]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_files_are_owner_only_and_checked(engine: Engine, keyring: IssuerKeyring) -> None:
    keyring.create(PID)
    keyring.create("shared", threshold=2, shares=3)
    code = import_roll(engine, keyring, PID, [("p1",)]).codes["p1"]
    for d in (keyring.key_dir, keyring.issuers_dir, keyring.roll_dir):
        assert _mode(d) == 0o700
    secret_files = [*keyring.issuers_dir.glob("*.key"), *keyring.roll_dir.glob("*.key")]
    assert len(secret_files) == 1 + 3 + 1
    for path in secret_files:
        assert _mode(path) == 0o600
    assert not [p for p in keyring.key_dir.rglob(".*")]  # no temporary file left

    key_file = keyring.issuers_dir / f"{PID}.key"
    roll_key = keyring.roll_dir / f"{PID}.key"
    for path in (key_file, roll_key):
        os.chmod(path, 0o640)
        with pytest.raises(UnsafeKeyFile) as info:
            issue(engine, keyring, PID, code, citizen()[2])
        assert info.value.code == "unsafe_key_file"
        os.chmod(path, 0o600)

    # A secret file under another process's name, or a different key, is refused.
    original = key_file.read_bytes()
    shutil.copy2(keyring.issuers_dir / "shared.1.key", key_file)
    with pytest.raises(KeyFileError):
        keyring.signing_key(PID)
    other_key = json.loads(original) | {
        "secret": base64.b64encode(IssuerKey.generate().to_bytes()).decode()
    }
    key_file.write_text(json.dumps(other_key))
    with pytest.raises(KeyFileError):
        keyring.signing_key(PID)
    key_file.write_bytes(original)
    assert keyring.signing_key(PID).public_key == keyring.public_key(PID)
    assert issued_count(engine, PID) == 0


def test_a_failed_signature_marks_nobody(
    engine: Engine, keyring: IssuerKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    public_key = keyring.create(PID)
    keyring.create("shared", threshold=2, shares=2)
    code = import_roll(engine, keyring, PID, [("p1",)]).codes["p1"]
    shared_code = import_roll(engine, keyring, "shared", [("p1",)]).codes["p1"]

    def broken(self: IssuerKey, blinded: bytes, **_: object) -> bytes:
        raise RuntimeError("the signing device failed")

    with monkeypatch.context() as m:
        m.setattr(IssuerKey, "sign_blinded", broken)
        with pytest.raises(RuntimeError):
            issue(engine, keyring, PID, code, citizen()[2])
        with pytest.raises(RuntimeError):
            issue(engine, keyring, "shared", shared_code, citizen("shared")[2], share_index=1)
    assert issued_count(engine, PID) == issued_count(engine, "shared") == 0
    assert _all_rows(engine)["roll_share"] == []
    pseudonym, state, blinded = citizen()
    credential = unblind(state, issue(engine, keyring, PID, code, blinded), public_key)
    assert verify_credential(public_key, PID, pseudonym.public_key, credential)
    _, _, other = citizen("shared")  # the first B was never fixed
    issue(engine, keyring, "shared", shared_code, other, share_index=2)


# --------------------------------------------------------------------------
# Races
# --------------------------------------------------------------------------


@pytest.fixture
def racing(engine: Engine) -> Iterator[Engine]:
    """The same database through a pool of 8 open connections, so that racing
    threads overlap instead of queueing behind connection set-up."""
    eng = create_engine(engine.url.render_as_string(hide_password=False), pool_size=8)
    conns = [eng.connect() for _ in range(8)]
    for conn in conns:
        conn.exec_driver_sql("SELECT 1")
    for conn in conns:
        conn.close()
    try:
        yield eng
    finally:
        eng.dispose()


def _race(calls: list[tuple[object, ...]], run: object) -> list[bytes | Exception]:
    """Start every call at once (one thread each); returns each outcome."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[bytes | Exception] = [b""] * len(calls)

    def worker(k: int) -> None:
        barrier.wait()
        try:
            outcomes[k] = run(*calls[k])  # type: ignore[operator]
        except Exception as exc:
            outcomes[k] = exc

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def test_eight_racing_requests_with_one_code_get_one_signature(
    engine: Engine, racing: Engine, keyring: IssuerKeyring
) -> None:
    public_key = keyring.create(PID)
    code = import_roll(engine, keyring, PID, [("p1",)]).codes["p1"]
    requests = [citizen() for _ in range(8)]
    outcomes = _race(
        [(b,) for _, _, b in requests],
        lambda b: issue(racing, keyring, PID, code, b),
    )
    won = [k for k, o in enumerate(outcomes) if isinstance(o, bytes)]
    assert len(won) == 1, outcomes
    for k, o in enumerate(outcomes):
        if k != won[0]:
            assert isinstance(o, IssuanceRefused) and o.code == "already_issued", o
    pseudonym, state, _ = requests[won[0]]
    credential = unblind(state, outcomes[won[0]], public_key)  # type: ignore[arg-type]
    assert verify_credential(public_key, PID, pseudonym.public_key, credential)
    assert issued_count(engine, PID) == 1


def test_racing_share_holders_sign_one_blinded_point_once_each(
    engine: Engine, racing: Engine, keyring: IssuerKeyring
) -> None:
    """A 2-of-3 key. Eight requests with one code, each with its own B, spread
    over the three shares: one signature in all. Then eight requests with the
    winning B: every one is answered, each share always alike, and each share
    is recorded once."""
    public_key = keyring.create(PID, threshold=2, shares=3)
    code = import_roll(engine, keyring, PID, [("p1",)]).codes["p1"]

    def request(blinded: bytes, share: int) -> bytes:
        return issue(racing, keyring, PID, code, blinded, share_index=share)

    requests = [citizen() for _ in range(8)]
    first = _race([(b, 1 + k % 3) for k, (_, _, b) in enumerate(requests)], request)
    won = [k for k, o in enumerate(first) if isinstance(o, bytes)]
    assert len(won) == 1, first
    for o in first:
        if not isinstance(o, bytes):
            assert isinstance(o, IssuanceRefused), o
            assert o.code in {"already_issued", "blinded_mismatch"}
    pseudonym, state, blinded = requests[won[0]]
    answers = {1 + won[0] % 3: first[won[0]]}

    second = _race([(blinded, 1 + k % 3) for k in range(8)], request)
    for k, o in enumerate(second):
        # every request with the winning B is answered, and a share answers
        # it always alike: the same B signed again is the same answer
        assert isinstance(o, bytes), o
        assert answers.setdefault(1 + k % 3, o) == o, "a share answered one B two ways"
    assert sorted(answers) == [1, 2, 3]
    with engine.connect() as conn:
        recorded = conn.execute(sa.text("SELECT share_index FROM roll_share")).scalars().all()
    assert sorted(recorded) == [1, 2, 3]  # each share recorded once
    credential = unblind(state, combine_shares(answers), public_key)  # type: ignore[arg-type]
    assert verify_credential(public_key, PID, pseudonym.public_key, credential)
    assert issued_count(engine, PID) == 1


@pytest.mark.parametrize(
    ("body", "line", "why"),
    [
        ("person\r\nES-1\r\n\r\nES-2\r\n", 3, "an empty line"),
        ("name,person\r\nAda,ES-1\r\nBo,\r\nCy,ES-3\r\n", 3, "no person"),
    ],
    ids=["blank line", "empty cell"],
)
def test_an_empty_row_is_refused_with_its_line_and_nothing_is_stored(
    engine: Engine, keyring: IssuerKeyring, tmp_path: Path, body: str, line: int, why: str
) -> None:
    """An empty row in a roll is a broken export, not a choice: refused, and
    the message names the file's line (finding 14 of the security review)."""
    keyring.create(PID)
    csv_path = tmp_path / "census.csv"
    csv_path.write_text(body, encoding="utf-8")
    with pytest.raises(RollRefused) as info:
        import_roll_csv(engine, keyring, PID, csv_path)
    assert info.value.code == "bad_roll_csv"
    assert f"{csv_path}, line {line}: {why}" in str(info.value)
    assert roll_size(engine, PID) == 0
