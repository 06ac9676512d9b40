"""The citizen's wallet (``urne.verifier.citizen.wallet``) against a served
Urne: nothing is lost when an answer is -- a credential's, an entry's -- nor
when the wallet is killed while it writes; its files are private; and what it
stores reads back exactly."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.service import Served, served_app
from urne.ledger.issuance.roll import issued_count
from urne.ledger.log import Log
from urne.verifier.citizen import wallet as wallet_module
from urne.verifier.citizen.service import CitizenClient, ServiceRefused
from urne.verifier.citizen.wallet import Joined, Wallet, WalletError, describe
from urne.verifier.errors import FetchError


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with served_app(tmp_path) as s:
        yield s


def _lose_answers_to(monkeypatch: pytest.MonkeyPatch, prefix: str) -> list[str]:
    """The next request whose path starts with ``prefix`` reaches the service
    and is answered, but the answer is lost on its way back."""
    real = CitizenClient.post_json
    lost: list[str] = []

    def post_json(self: CitizenClient, path: str, body: bytes) -> Any:
        answer = real(self, path, body)
        if path.startswith(prefix) and not lost:
            lost.append(path)
            raise FetchError(f"POST {path}: the connection was cut")
        return answer

    monkeypatch.setattr(CitizenClient, "post_json", post_json)
    return lost


def test_a_lost_credential_answer_is_asked_again_and_spends_nothing_more(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = served.open("pet", "petition")
    w = Wallet(tmp_path / "wallet")
    lost = _lose_answers_to(monkeypatch, "/issuance/")
    with pytest.raises(FetchError):
        w.join(served.url, "pet", codes[0])
    assert lost == ["/issuance/pet"]
    state = w.load("pet")
    assert state is not None and state.credential is None and state.blinding is not None
    assert issued_count(served.log.engine, "pet") == 1  # the code is spent on the roll
    blinded = state.blinding["blinded"]
    with pytest.raises(WalletError) as elsewhere:  # finishing it at another service
        w.join("http://127.0.0.1:9", "pet", codes[0])
    assert elsewhere.value.code == "another_service"

    joined, new = w.join(served.url, "pet", codes[0])  # the same B, answered again
    assert new and joined.credential is not None and joined.blinding is None
    assert issued_count(served.log.engine, "pet") == 1
    # another wallet with the same code (another B) is refused: one credential per code
    with pytest.raises(ServiceRefused) as refused:
        Wallet(tmp_path / "other").join(served.url, "pet", codes[0])
    assert (refused.value.code, refused.value.http_status) == ("already_issued", 409)
    receipt, own = w.cast("pet", None)
    assert own and describe(receipt.entry) == "your signature on pet"
    assert blinded not in receipt.entry  # B is never shown


def test_a_lost_acknowledgement_finds_the_entry_in_the_log(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = served.open("vote", "vote")
    w = Wallet(tmp_path / "wallet")
    w.join(served.url, "vote", codes[0])
    lost = _lose_answers_to(monkeypatch, "/entries")
    with pytest.raises(FetchError):
        w.cast("vote", ["a"])
    assert lost == ["/entries"]
    state = w.joined("vote")
    assert state.pending is not None and state.seq == 1 and state.receipts == []
    # cast again: the same bytes, refused as a copy, found with their receipt
    receipt, own = w.cast("vote", ["b"])
    assert not own and receipt.entry == state.pending
    assert describe(receipt.entry) == "your ballot in vote: a"
    state = w.joined("vote")
    assert state.pending is None and len(state.receipts) == 1
    assert served.civic.tally("vote")["counts"] == {"a": 1, "b": 0, "c": 0}  # counted once
    # and now the revote is cast, with the next seq
    receipt, own = w.cast("vote", ["b"])
    assert own and json.loads(receipt.entry)["seq"] == 1
    assert served.civic.tally("vote")["counts"] == {"a": 0, "b": 1, "c": 0}
    assert [ok is None for _, ok in w.recheck(w.joined("vote"))] == [True, True]


def test_an_entry_refused_for_good_is_not_kept_pending(served: Served, tmp_path: Path) -> None:
    codes = served.open("vote", "vote")
    w = Wallet(tmp_path / "wallet")
    w.join(served.url, "vote", codes[0])
    with pytest.raises(ServiceRefused) as refused:
        w.cast("vote", ["nowhere"])
    assert refused.value.code == "unknown_proposal"
    assert w.joined("vote").pending is None
    receipt, own = w.cast("vote", ["c"])
    assert own and describe(receipt.entry) == "your ballot in vote: c"


def test_the_wallet_is_private_and_survives_a_killed_write(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = served.open("pet", "petition")
    w = Wallet(tmp_path / "wallet")
    w.join(served.url, "pet", codes[1], log_key=served.log.verifier.vkey)
    path = w.path("pet")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    before = path.read_bytes()
    state = w.joined("pet")
    assert state.log_key_given and Joined.from_json(json.loads(before), "x") == state

    def killed(src: object, dst: object) -> None:
        raise KeyboardInterrupt  # the process dies between writing and renaming

    monkeypatch.setattr(wallet_module.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        w.cast("pet", None)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old state, whole
    assert [p.name for p in path.parent.iterdir()] == ["pet.json"]  # no temporary left
    os.chmod(path, 0o644)
    with pytest.raises(Exception) as unsafe:
        w.load("pet")
    assert getattr(unsafe.value, "code", None) == "unsafe_key_file"


def test_a_wallet_of_a_log_started_afresh_says_so(served: Served, tmp_path: Path) -> None:
    codes = served.open("pet", "petition")
    w = Wallet(tmp_path / "wallet")
    state, _ = w.join(served.url, "pet", codes[0])
    assert w.join(served.url, "pet", codes[0]) == (state, False)  # the same log: nothing to do
    other = Log.open(f"sqlite:///{tmp_path / 'other.db'}", key_dir=tmp_path / "k2", origin="o/log")
    state.log_key = other.verifier.vkey  # as if the service's log had been replaced since
    other.close()
    w.save(state)
    with pytest.raises(WalletError) as e:
        w.join(served.url, "pet", codes[0])
    assert e.value.code == "another_log" and str(w.path("pet")) in str(e.value)


def test_refusals_of_the_wallet_itself(served: Served, tmp_path: Path) -> None:
    w = Wallet(tmp_path / "wallet")
    with pytest.raises(WalletError) as e:
        w.cast("pet", None)
    assert e.value.code == "not_joined"
    with pytest.raises(WalletError) as e:
        w.path("../escape")
    assert e.value.code == "bad_process_id"
    with pytest.raises(ValueError):
        CitizenClient("ftp://example.org")
    (tmp_path / "wallet").mkdir(mode=0o700)
    (tmp_path / "wallet" / "bad.json").write_text("{}")
    os.chmod(tmp_path / "wallet" / "bad.json", 0o600)
    with pytest.raises(WalletError) as e:
        w.load("bad")
    assert e.value.code == "bad_wallet"
    with pytest.raises(ServiceRefused) as refused:
        w.join(served.url, "nowhere", "ABCD-EFGH-JKMN")
    assert (refused.value.code, refused.value.http_status) == ("unknown_process", 404)


def test_receipts_are_upgraded_to_the_witnessed_ones_and_saved_one_per_file(
    tmp_path: Path,
) -> None:
    """With witnesses, the receipt given at casting time is not cosigned yet:
    re-checking fetches the service's current one, cosigned, and keeps it; and
    ``urne-wallet receipts --save DIR`` writes files ``urne-verify receipt`` reads."""
    from typer.testing import CliRunner

    from urne.verifier.check.receipt import Receipt
    from urne.verifier.citizen.cli import app as wallet_cli
    from urne.verifier.cli.main import app as verify_cli
    from urne.verifier.tlog.note import parse_note

    with served_app(tmp_path / "svc", witnesses=2) as s:
        codes = s.open("pet", "petition")
        wallet_dir = tmp_path / "w"
        w = Wallet(wallet_dir)
        w.join(s.url, "pet", codes[0])
        receipt, _ = w.cast("pet", None)
        assert len(parse_note(receipt.checkpoint).signatures) == 1  # the log's alone
        deadline = time.monotonic() + 20  # the witnesses cosign within moments
        while True:
            [(again, problem)] = w.recheck(w.joined("pet"))
            if len(parse_note(again.checkpoint).signatures) == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert problem is None and len(parse_note(again.checkpoint).signatures) == 3
        kept = Receipt.from_json(w.joined("pet").receipts[0])
        assert kept == again and kept.entry == receipt.entry  # saved, for next time
        runner = CliRunner()
        out = runner.invoke(wallet_cli, ["--wallet", str(wallet_dir), "receipts",
                                         "--save", str(tmp_path / "saved")])  # fmt: skip
        assert out.exit_code == 0, out.output
        [saved] = sorted((tmp_path / "saved").iterdir())
        assert saved.name == f"pet-{receipt.index}.json"
        check = runner.invoke(verify_cli, ["receipt", str(saved), "--log-key",
                                           s.log.verifier.vkey])  # fmt: skip
        assert check.exit_code == 0 and "VALID receipt" in check.output
