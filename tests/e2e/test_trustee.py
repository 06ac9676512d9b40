"""``urne-trustee`` as its trustees run it, against the service on a loopback
port: three trustees make their keys, the institution opens a secret vote with
their public objects, the three run the ceremony at the same time, the
institution publishes the election key, citizens cast encrypted ballots, the
institution closes, two trustees decrypt (the third is away), and the result
the institution publishes has the totals of the choices cast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.civic import proposal
from tests.support.service import Served, served_app
from urne.verifier.check.audit import HttpSource, audit
from urne.verifier.citizen import authoring
from urne.verifier.citizen.service import CitizenClient, ServiceRefused
from urne.verifier.civic.process import Registry
from urne.verifier.civic.secret import SecretState
from urne.verifier.secret import dkg
from urne.verifier.secret.ballot import ballot_context, encrypt_ballot
from urne.verifier.secret.group import ristretto255
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.trustee.ledger import HttpLedger

pytestmark = pytest.mark.slow

TRUSTEE = [sys.executable, "-m", "urne.verifier.trustee.cli"]
PID = "secret-2026"
PROPOSALS = [proposal(x, f"Option {x}") for x in ("north", "south", "east", "west")]
RULE = {"method": "approval", "min": 1, "max": 2, "revoting": True}
NAMES = ["Ada Lovelace", "Grace Hopper", "Edsger Dijkstra"]
G = ristretto255()


def trustee(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TRUSTEE, *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def read_log(served: Served) -> Registry:
    """The log as an institution's own machine reads it: every entry replayed."""
    key = Ed25519Verifier.from_vkey(CitizenClient(served.url).get_json("/log")["verifier_key"])
    return HttpLedger(served.url, key).refresh()


def secret_of(reg: Registry) -> SecretState:
    sec = reg.state(PID).secret
    assert sec is not None
    return sec


def post(served: Served, leaf: bytes) -> int:
    index: int = CitizenClient(served.url).post_json("/entries", leaf)["index"]
    return index


def test_three_trustees_a_secret_vote_and_two_decryptions(tmp_path: Path) -> None:
    secrets = [tmp_path / f"trustee-{i}.secret" for i in (1, 2, 3)]
    publics: list[dict[str, Any]] = []
    for name, path in zip(NAMES, secrets, strict=True):
        r = trustee("keygen", "--process", PID, "--name", name, "--out", path)
        assert r.returncode == 0, r.stderr
        assert path.stat().st_mode & 0o777 == 0o600
        publics.append(json.loads(r.stdout))

    with served_app(tmp_path / "service") as served:
        served.open(
            PID,
            "vote",
            people=0,
            proposals=PROPOSALS,
            rule=RULE,
            secret={"group": "ristretto255", "threshold": 2, "trustees": publics},
        )
        service = ["--service", served.url]

        # the ceremony, the three at once
        ceremony = ["ceremony", *service, "--wait", "60", "--poll", "0.1"]
        runs = [
            subprocess.Popen(
                [*TRUSTEE, *ceremony, "--secret", str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for path in secrets
        ]
        outs = [p.communicate(timeout=180) for p in runs]
        for p, (out, err) in zip(runs, outs, strict=True):
            assert p.returncode == 0, out + err
            assert "Your deal is on the log" in out and "Your check is on the log" in out
            assert "trusting the log key the service gave" in err  # kept in the file from now on
        sec = secret_of(read_log(served))
        assert sorted(sec.deals) == sorted(sec.checks) == [1, 2, 3] and not sec.disqualified

        # run again: nothing new on the log
        size = CitizenClient(served.url).get_json("/log")["size"]
        again = trustee("ceremony", *service, "--secret", secrets[0], "--wait", "0")
        assert again.returncode == 0, again.stderr
        assert "trusting" not in again.stderr
        assert CitizenClient(served.url).get_json("/log")["size"] == size

        # the institution ends the ceremony
        qualified = sec.qualified_now()
        key = dkg.joint_key(G, [sec.deals[i][1].commitments[0] for i in qualified])
        post(served, authoring.election_key(PID, served.inst.key, key, qualified))
        shown = trustee("status", *service, "--secret", secrets[1])
        assert shown.returncode == 0, shown.stderr
        assert "matches your verification key" in shown.stdout
        assert "Next: wait for the close, then run urne-trustee decrypt." in shown.stdout

        early = trustee("decrypt", *service, "--secret", secrets[0])
        assert early.returncode == 1 and "process_not_closed" in early.stderr

        # citizens vote, some twice: the last ballot of each counts
        fingerprint = sec.fingerprint
        citizens = [served.enrol(PID) for _ in range(5)]
        cast = [[0], [0, 1], [2], [1, 3], [0], [3], [1]]
        last: dict[int, list[int]] = {}
        for k, selected in enumerate(cast):
            c = citizens[k % len(citizens)]
            ctx = ballot_context(G, fingerprint, key, c.pseudonym.public_key)
            ballot, _ = encrypt_ballot(ctx, key, len(PROPOSALS), selected, (1, 2))
            leaf = authoring.secret_ballot(
                PID, c.pseudonym, c.credential, ballot.to_json(), seq=c.seq
            )
            c.seq += 1
            post(served, leaf)
            last[k % len(citizens)] = selected
        closed = post(served, served.inst.close(PID))

        # trustee 2 is away; 1 and 3 decrypt
        for path in (secrets[0], secrets[2]):
            r = trustee("decrypt", *service, "--secret", path)
            assert r.returncode == 0, r.stdout + r.stderr
            assert "5 ballot(s) count" in r.stdout and "Your decryption is on the log" in r.stdout
        twice = trustee("decrypt", *service, "--secret", secrets[0])
        assert twice.returncode == 0 and "on the log already" in twice.stdout

        reg = read_log(served)
        tally = reg.tally(PID, closed)
        want = {p["id"]: sum(k in s for s in last.values()) for k, p in enumerate(PROPOSALS)}
        assert tally["counts"] == want
        post(served, served.inst.result(PID, closed, tally))  # the service accepts it
        with pytest.raises(ServiceRefused) as e:  # and only one
            post(served, served.inst.result(PID, closed, tally))
        assert e.value.code == "result_exists"

        report = audit(HttpSource(served.url), served.log.verifier)  # an observer's audit
        assert report.ok, report.findings
        assert report.tallies[PID]["counts"] == want

        late = trustee("decrypt", *service, "--secret", secrets[1])  # back, too late
        assert late.returncode == 0 and "your decryption is not needed" in late.stdout
        done = trustee("status", *service, "--secret", secrets[0])
        assert done.returncode == 0, done.stderr
        assert "2 decryption(s) on the log, by trustee 1 (Ada Lovelace), trustee 3" in done.stdout
        assert done.stdout.endswith("Next: nothing: your part is done.\n")


def test_a_file_pinned_to_one_log_refuses_another(tmp_path: Path) -> None:
    path = tmp_path / "t.secret"
    assert trustee("keygen", "--process", PID, "--name", "Ada", "--out", path).returncode == 0
    public = json.loads(trustee("public", "--secret", path).stdout)
    with served_app(tmp_path / "one") as one:
        one.open(
            PID,
            "vote",
            people=0,
            proposals=PROPOSALS,
            rule=RULE,
            secret={"group": "ristretto255", "threshold": 1, "trustees": [public]},
        )
        r = trustee("ceremony", "--service", one.url, "--secret", path, "--wait", "0")
        assert r.returncode == 0, r.stderr
    with served_app(tmp_path / "two") as two:
        r = trustee("status", "--service", two.url, "--secret", path)
        assert r.returncode == 1
        assert "not_the_log" in r.stderr and "is this the log you took part in" in r.stderr
    r = trustee("status", "--service", "http://127.0.0.1:9", "--secret", path)
    assert r.returncode == 2 and "nothing is lost" in r.stderr
