"""The browser's secret ballot (/static/wallet/secret.js), in Chromium, against
``urne.verifier.secret``: it reproduces every byte of
docs/spec/secret-vectors.json from the same randomness and nonces, decides
every case as the verifier does, and each side accepts the other's ballots and
challenge files (made with real randomness) and refuses them tampered with;
so for secret budgets, whose capped ballots prove their cost within the budget
and above its floor."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.support import secret_vectors
from tests.support.site import Site
from urne.verifier.errors import FormatError, ProofError
from urne.verifier.secret.ballot import (
    EncryptedBallot,
    Opening,
    Spend,
    ballot_context,
    encrypt_ballot,
    open_challenge,
)
from urne.verifier.secret.challenge import check_challenge, read_challenge
from urne.verifier.secret.group import L, Ristretto255, random_scalar, ristretto255
from urne.verifier.secret.proofs import encrypt

pytestmark = pytest.mark.browser

VECTORS: dict[str, Any] = json.loads(secret_vectors.PATH.read_text(encoding="ascii"))

#: Runs in the page: every value of the vectors, computed by /static/wallet/secret.js,
#: those of the secret votes (part "votes") or of the secret budgets ("budgets").
COMPUTE = (Path(__file__).parent / "secret_vectors.js").read_text(encoding="utf-8")

#: Runs in the page: ballots of secret.js with the CSPRNG's randomness.
ENCRYPT = """async (a) => {
  const c = await import("/static/wallet/core.js");
  const s = await import("/static/wallet/secret.js");
  return a.ballots.map((b) => {
    const out = s.encryptBallot({
      fingerprint: c.fromHex(a.fingerprint), key: c.fromHex(a.key),
      pseudonym: c.fromHex(a.pseudonym), ...b,
    });
    return { encrypted: out.encrypted, randomness: out.randomness.map(String) };
  });
}"""

#: Runs in the page: secret.js's verdict on ballots (``accepted`` or the code).
VERIFY = """async (a) => {
  const c = await import("/static/wallet/core.js");
  const s = await import("/static/wallet/secret.js");
  return a.ballots.map((b) => {
    try {
      s.verifyBallot({
        fingerprint: c.fromHex(a.fingerprint), key: c.fromHex(a.key),
        pseudonym: c.fromHex(b.pseudonym), options: b.options, min: b.min, max: b.max,
        spend: b.spend, encrypted: b.encrypted,
      });
      return "accepted";
    } catch (e) {
      return e.code || String(e);
    }
  });
}"""

#: Runs in the page: a ballot and its challenge file, made by secret.js.
CHALLENGE = """async (a) => {
  const c = await import("/static/wallet/core.js");
  const s = await import("/static/wallet/secret.js");
  const context = {
    fingerprint: c.fromHex(a.fingerprint), key: c.fromHex(a.key), pseudonym: c.fromHex(a.pseudonym),
  };
  const out = s.encryptBallot({
    ...context, ...a.rule, options: a.proposals.length, selected: a.selected,
  });
  const file = s.challengeFile({
    ...context, process: a.process, encrypted: out.encrypted, proposals: a.proposals,
    selected: a.selected, randomness: out.randomness,
  });
  return JSON.stringify(file);
}"""

#: Runs in the page: secret.js's reading of challenge files for a process's proposals.
OPEN = """async (a) => {
  const s = await import("/static/wallet/secret.js");
  return a.files.map((text) => {
    try {
      const c = s.readChallenge(JSON.parse(text), a.proposals);
      s.verifyBallot({ ...c, options: a.proposals.length, ...a.rule });
      s.openChallenge(c);
      return "opened";
    } catch (e) {
      return e.code || String(e);
    }
  });
}"""


@pytest.fixture
def wallet(page: Any, site: Site) -> Any:
    """The wallet page of a vote, where /static/wallet/*.js and the vendored
    libraries load through the page's import map."""
    page.goto(f"{site.url}/p/vote/take-part")
    return page


#: The fixed values a vector's ballot draws, in the order the file states: the
#: ballot's, then a budget's spending bounds'.
DRAWS = (
    "randomness",
    "nonces",
    "ceiling_randomness",
    "ceiling_nonces",
    "floor_randomness",
    "floor_nonces",
)


def _computed(wallet: Any, part: str) -> dict[str, Any]:
    """What secret.js computes of the vectors' ``part`` (``votes`` or ``budgets``)."""
    got: dict[str, Any] = wallet.evaluate(COMPUTE, {"vectors": VECTORS, "part": part})
    return got


def _election() -> tuple[int, dict[str, str]]:
    g = ristretto255()
    x = random_scalar(g)
    return x, {
        "fingerprint": secrets.token_bytes(32).hex(),
        "key": g.base(x).hex(),
        "pseudonym": secrets.token_bytes(32).hex(),
    }


def _context(election: dict[str, str], pseudonym: str | None = None) -> Any:
    g = ristretto255()
    return ballot_context(
        g,
        bytes.fromhex(election["fingerprint"]),
        bytes.fromhex(election["key"]),
        bytes.fromhex(pseudonym or election["pseudonym"]),
    )


def _decrypt(x: int, ballot: EncryptedBallot) -> list[int]:
    """The 0s and 1s of a ballot, under the key's secret."""
    g = ristretto255()
    plain = [g.sub(ct.beta, g.mul(x, ct.alpha)) for ct in ballot.ciphertexts]
    assert all(p in (g.identity, g.generator) for p in plain)
    return [int(p == g.generator) for p in plain]


def _assert_as_the_vectors(wants: list[dict[str, Any]], made: list[dict[str, Any]]) -> None:
    """Each ballot secret.js made from a vector's fixed values is the vector's
    to the byte, and secret.js accepts it."""
    for want, computed in zip(wants, made, strict=True):
        assert computed["encrypted"] == want["encrypted"], want["name"]
        assert computed["randomness"] == want["randomness"], want["name"]
        # every fixed value drawn, none more: the draw order is the file's
        given = sum(len(want.get(field, [])) for field in DRAWS)
        assert computed["drawn"] == computed["draws"] == given, want["name"]
        assert computed["verdict"] == "accepted", want["name"]


def test_the_browser_computes_the_verifier_s_bytes(wallet: Any) -> None:
    got = _computed(wallet, "votes")
    assert got["order"] == VECTORS["order"] == str(L)
    assert got["hashes"] == [h["scalar"] for h in VECTORS["hash_to_scalar"]]
    assert len(got["ballots"]) == len(VECTORS["ballots"]) == 9
    _assert_as_the_vectors(VECTORS["ballots"], got["ballots"])


def test_the_browser_refuses_what_the_verifier_refuses(wallet: Any) -> None:
    got = _computed(wallet, "votes")
    want = {case["name"]: case["code"] for case in VECTORS["refused"]}
    assert len(want) == 5
    assert got["refused"] == want


def test_a_ballot_made_in_the_browser_verifies_in_python(wallet: Any) -> None:
    g = ristretto255()
    x, election = _election()
    rules = [
        {"options": 4, "min": 1, "max": 1, "selected": [2]},
        {"options": 4, "min": 1, "max": 1, "selected": [2]},
        {"options": 3, "min": 0, "max": 3, "selected": [0, 2]},
    ]
    made = wallet.evaluate(ENCRYPT, {**election, "ballots": rules})
    assert len(made) == 3
    for rule, ballot in zip(rules, made, strict=True):
        bounds = (rule["min"], rule["max"])
        decoded = EncryptedBallot.decode(g, ballot["encrypted"], rule["options"], bounds)
        decoded.verify(_context(election), bytes.fromhex(election["key"]), bounds)
        assert _decrypt(x, decoded) == [int(k in rule["selected"]) for k in range(rule["options"])]
        # the randomness returned is the ciphertexts'
        randomness = [int(r) for r in ballot["randomness"]]
        assert all(0 < r < L for r in randomness)
        for k, (ct, r) in enumerate(zip(decoded.ciphertexts, randomness, strict=True)):
            assert ct == encrypt(g, bytes.fromhex(election["key"]), int(k in rule["selected"]), r)
        # and it holds only for its pseudonym
        other = _context(election, secrets.token_bytes(32).hex())
        with pytest.raises(ProofError) as err:
            decoded.verify(other, bytes.fromhex(election["key"]), bounds)
        assert err.value.code == "bad_ballot_proof"
    # the same choice twice: fresh randomness, other bytes
    assert made[0]["randomness"] != made[1]["randomness"]
    assert made[0]["encrypted"]["ciphertexts"] != made[1]["encrypted"]["ciphertexts"]


def test_a_ballot_made_in_python_verifies_in_the_browser(wallet: Any) -> None:
    _, election = _election()
    key = bytes.fromhex(election["key"])
    ballots = []
    for options, bounds, selected in ((4, (1, 1), [3]), (5, (2, 2), [0, 4]), (3, (0, 3), [])):
        ballot, _ = encrypt_ballot(_context(election), key, options, selected, bounds)
        shape = {"options": options, "min": bounds[0], "max": bounds[1]}
        encrypted = ballot.to_json()
        ballots.append({**shape, "pseudonym": election["pseudonym"], "encrypted": encrypted})
        # copied under another pseudonym
        other = secrets.token_bytes(32).hex()
        ballots.append({**shape, "pseudonym": other, "encrypted": encrypted})
        # the count proof for other bounds
        if bounds == (1, 1):
            ballots.append(
                {
                    **shape,
                    "min": 0,
                    "max": 0,
                    "encrypted": encrypted,
                    "pseudonym": election["pseudonym"],
                }
            )
    verdicts = wallet.evaluate(VERIFY, {**election, "ballots": ballots})
    assert verdicts == [
        "accepted",
        "bad_ballot_proof",
        "bad_ballot_proof",
        "accepted",
        "bad_ballot_proof",
        "accepted",
        "bad_ballot_proof",
    ]


def _open_in_python(
    file: dict[str, Any],
    proposals: list[str],
    bounds: tuple[int, int],
    spend: Spend | None = None,
) -> None:
    """What ``urne-verify challenge`` does with a file: the ballot's proofs in
    its context, then each ciphertext re-encrypted with the randomness shown."""
    g = ristretto255()
    assert file["format"] == "urne-challenge/1"
    key = g.decode(base64.b64decode(file["key"], validate=True), "key")
    ballot = EncryptedBallot.decode(g, file["encrypted"], len(proposals), bounds, spend)
    ctx = ballot_context(
        g,
        base64.b64decode(file["fingerprint"], validate=True),
        key,
        base64.b64decode(file["pseudonym"], validate=True),
    )
    ballot.verify(ctx, key, bounds, spend)
    randomness = tuple(
        Ristretto255.decode_scalar(base64.b64decode(r, validate=True), "randomness")
        for r in file["randomness"]
    )
    selected = tuple(proposals.index(p) for p in file["choice"])
    open_challenge(g, key, ballot, Opening(selected, randomness))


def _challenge_from_browser(
    wallet: Any,
    election: dict[str, str],
    process: str,
    proposals: list[str],
    rule: dict[str, Any],
    selected: list[int],
) -> str:
    """The challenge file secret.js makes for a ballot of ``selected`` among
    ``proposals``, under ``rule``'s bounds, as the page offers it."""
    text: str = wallet.evaluate(
        CHALLENGE,
        {
            **election,
            "process": process,
            "proposals": proposals,
            "rule": rule,
            "selected": selected,
        },
    )
    return text


def _opened_in_browser(
    wallet: Any, proposals: list[str], rule: dict[str, Any], *files: str
) -> list[str]:
    """secret.js's reading of each challenge file: ``opened`` or the code."""
    verdicts: list[str] = wallet.evaluate(
        OPEN, {"proposals": proposals, "rule": rule, "files": list(files)}
    )
    return verdicts


def test_a_challenge_file_made_in_the_browser_opens_in_python(wallet: Any) -> None:
    _, election = _election()
    proposals = ["river", "park", "bikes", "bench"]
    rule = {"min": 1, "max": 1}
    text = _challenge_from_browser(wallet, election, "secret-vote", proposals, rule, [1])
    file = json.loads(text)
    assert list(file) == [
        "format",
        "process",
        "pseudonym",
        "fingerprint",
        "key",
        "encrypted",
        "choice",
        "randomness",
    ]
    assert file["process"] == "secret-vote" and file["choice"] == ["park"]
    assert base64.b64decode(file["key"]).hex() == election["key"]
    assert base64.b64decode(file["fingerprint"]).hex() == election["fingerprint"]
    assert base64.b64decode(file["pseudonym"]).hex() == election["pseudonym"]
    assert set(file["encrypted"]) == {"ciphertexts", "proofs", "count"}
    assert [len(base64.b64decode(r)) for r in file["randomness"]] == [32] * 4
    _open_in_python(file, proposals, (1, 1))

    # another choice shown: refused by both
    tampered = {**file, "choice": ["bikes"]}
    with pytest.raises(ProofError) as err:
        _open_in_python(tampered, proposals, (1, 1))
    assert err.value.code == "challenge_mismatch"
    # another randomness shown: refused by both
    swapped = {
        **file,
        "randomness": [file["randomness"][1], file["randomness"][0], *file["randomness"][2:]],
    }
    with pytest.raises(ProofError) as err:
        _open_in_python(swapped, proposals, (1, 1))
    assert err.value.code == "challenge_mismatch"

    verdicts = _opened_in_browser(
        wallet, proposals, rule, text, json.dumps(tampered), json.dumps(swapped)
    )
    assert verdicts == ["opened", "challenge_mismatch", "challenge_mismatch"]


# -- secret budgets -------------------------------------------------------------------------

#: A capped budget of 1,000 with a floor of 40%, one without, one uncapped
#: (at most 2 projects): the costs, then the rule's shape and bounds.
COSTS = [600, 300, 200, 150, 410, 100]
BUDGET_RULES: dict[str, dict[str, Any]] = {
    "floor": {"min": 1, "max": 6, "spend": {"costs": COSTS, "ceiling": 1000, "floor": 400}},
    "capped": {"min": 0, "max": 6, "spend": {"costs": COSTS, "ceiling": 1000, "floor": 0}},
    "uncapped": {"min": 1, "max": 2, "spend": None},
}


def test_the_browser_computes_the_verifier_s_budget_bytes(wallet: Any) -> None:
    got = _computed(wallet, "budgets")
    assert len(got["ballots"]) == len(VECTORS["budget_ballots"]) == 7
    _assert_as_the_vectors(VECTORS["budget_ballots"], got["ballots"])
    for want, computed in zip(VECTORS["budget_ballots"], got["ballots"], strict=True):
        # the shape of the ballot, from the manifest's rule and projects
        shape = {"min": want["min"], "max": want["max"], "spend": want["spend"]}
        assert computed["shape"] == shape, want["name"]


def test_the_browser_refuses_budgets_as_the_verifier_does(wallet: Any) -> None:
    got = _computed(wallet, "budgets")
    want = {case["name"]: case["code"] for case in VECTORS["budget_refused"]}
    assert len(want) == 12
    assert got["refused"] == want
    # the ballots over the budget or under the floor hold for the bounds they were proven for
    assert list(got["proven"].values()) == ["accepted", "accepted"]


def _spend(rule: dict[str, Any]) -> Spend | None:
    s = rule["spend"]
    return None if s is None else Spend(tuple(s["costs"]), s["ceiling"], s["floor"])


def _python_verdict(election: dict[str, str], ballot: dict[str, Any]) -> str:
    """The verifier's verdict on a ballot of the shape ``ballot`` gives."""
    g = ristretto255()
    bounds = (ballot["min"], ballot["max"])
    spend = _spend(ballot)
    key = bytes.fromhex(election["key"])
    try:
        EncryptedBallot.decode(g, ballot["encrypted"], ballot["options"], bounds, spend).verify(
            _context(election, ballot["pseudonym"]), key, bounds, spend
        )
    except (FormatError, ProofError) as exc:
        return exc.code
    return "accepted"


def _flipped(
    encrypted: dict[str, Any], bound: str, field: str, index: int | None
) -> dict[str, Any]:
    """``encrypted`` with the lowest bit of a value of its spend's ``bound`` flipped."""
    out: dict[str, Any] = json.loads(json.dumps(encrypted))
    where = out["spend"][bound]
    value = where[field] if index is None else where[field][index]
    raw = bytearray(base64.b64decode(value))
    raw[0] ^= 1
    if index is None:
        where[field] = base64.b64encode(bytes(raw)).decode()
    else:
        where[field][index] = base64.b64encode(bytes(raw)).decode()
    return out


def test_a_budget_ballot_made_in_the_browser_verifies_in_python(wallet: Any) -> None:
    g = ristretto255()
    x, election = _election()
    choices = {"floor": [1, 2, 3], "capped": [0, 5], "uncapped": [0, 4]}  # 650, 700, 1010
    ballots = [
        {**BUDGET_RULES[name], "options": len(COSTS), "selected": selected}
        for name, selected in choices.items()
    ]
    made = wallet.evaluate(ENCRYPT, {**election, "ballots": ballots})
    assert len(made) == 3
    key = bytes.fromhex(election["key"])
    tampered = []
    for ballot, out in zip(ballots, made, strict=True):
        bounds, spend = (ballot["min"], ballot["max"]), _spend(ballot)
        encrypted = out["encrypted"]
        assert ("spend" in encrypted) == (spend is not None)
        decoded = EncryptedBallot.decode(g, encrypted, len(COSTS), bounds, spend)
        decoded.verify(_context(election), key, bounds, spend)
        assert _decrypt(x, decoded) == [int(k in ballot["selected"]) for k in range(len(COSTS))]
        if spend is not None:
            assert set(encrypted["spend"]) == ({"ceiling", "floor"} if spend.floor else {"ceiling"})
            assert len(encrypted["spend"]["ceiling"]["bits"]) == spend.bits == 10
            shape = {k: ballot[k] for k in ("options", "min", "max", "spend")}
            tampered += [
                {**shape, "encrypted": _flipped(encrypted, "ceiling", "sum", None)},
                {**shape, "encrypted": _flipped(encrypted, "ceiling", "proofs", 4)},
                {**shape, "encrypted": {k: v for k, v in encrypted.items() if k != "spend"}},
            ]
        # and it holds only for its pseudonym
        other = _context(election, secrets.token_bytes(32).hex())
        with pytest.raises(ProofError) as err:
            decoded.verify(other, key, bounds, spend)
        assert err.value.code == "bad_ballot_proof"
    # tampered with: refused by both, with the same code
    tampered = [{**t, "pseudonym": election["pseudonym"]} for t in tampered]
    want = ["bad_ballot_proof", "bad_ballot_proof", "bad_encrypted_ballot"] * 2
    assert [_python_verdict(election, t) for t in tampered] == want
    assert wallet.evaluate(VERIFY, {**election, "ballots": tampered}) == want


def test_a_budget_ballot_made_in_python_verifies_in_the_browser(wallet: Any) -> None:
    _, election = _election()
    key = bytes.fromhex(election["key"])
    ballots: list[dict[str, Any]] = []
    for name, selected in (("floor", [0, 1, 5]), ("capped", []), ("uncapped", [2, 3])):
        rule = BUDGET_RULES[name]
        bounds, spend = (rule["min"], rule["max"]), _spend(rule)
        ballot, _ = encrypt_ballot(
            _context(election), key, len(COSTS), selected, bounds, spend=spend
        )
        shape = {"options": len(COSTS), **rule, "pseudonym": election["pseudonym"]}
        encrypted = ballot.to_json()
        ballots.append({**shape, "encrypted": encrypted})
        # copied under another pseudonym
        ballots.append(
            {**shape, "pseudonym": secrets.token_bytes(32).hex(), "encrypted": encrypted}
        )
        if spend is None:
            # a capped budget's spend where it has no place, and no spend where it must be
            ballots.append(
                {**shape, "encrypted": {**encrypted, "spend": ballots[0]["encrypted"]["spend"]}}
            )
            ballots.append(
                {**shape, "spend": BUDGET_RULES["capped"]["spend"], "encrypted": encrypted}
            )
            continue
        # a bit of the floor's (else the ceiling's) sum flipped
        bound = "floor" if spend.floor else "ceiling"
        ballots.append({**shape, "encrypted": _flipped(encrypted, bound, "sum", None)})
        # checked against a budget of 999 (this ballot spends 1,000), or of 0
        # (whose slack has 1 bit, not 10)
        tighter = {**rule["spend"], "ceiling": 999 if spend.floor else 0}
        ballots.append({**shape, "spend": tighter, "encrypted": encrypted})
    want = [
        "accepted", "bad_ballot_proof", "bad_ballot_proof", "bad_ballot_proof",
        "accepted", "bad_ballot_proof", "bad_ballot_proof", "bad_encrypted_ballot",
        "accepted", "bad_ballot_proof", "bad_encrypted_ballot", "bad_encrypted_ballot",
    ]  # fmt: skip
    assert [_python_verdict(election, b) for b in ballots] == want
    assert wallet.evaluate(VERIFY, {**election, "ballots": ballots}) == want


def test_a_budget_challenge_file_made_in_the_browser_opens_in_python(wallet: Any) -> None:
    _, election = _election()
    proposals = ["park", "bikes", "bench", "trees", "lights", "fountain"]
    rule = BUDGET_RULES["floor"]
    text = _challenge_from_browser(wallet, election, "secret-budget", proposals, rule, [1, 3])
    file = json.loads(text)
    assert file["choice"] == ["bikes", "trees"]
    assert set(file["encrypted"]) == {"ciphertexts", "proofs", "count", "spend"}
    spend = _spend(rule)
    _open_in_python(file, proposals, (1, 6), spend)
    # as urne-verify challenge reads and checks it
    read = read_challenge(text.encode())
    assert check_challenge(read, proposals, (1, 6), spend) == (1, 3)
    # another choice shown, or the spend dropped: refused by both
    tampered = {**file, "choice": ["bikes", "bench"]}
    with pytest.raises(ProofError) as err:
        _open_in_python(tampered, proposals, (1, 6), spend)
    assert err.value.code == "challenge_mismatch"
    bare = {
        **file,
        "encrypted": {k: v for k, v in file["encrypted"].items() if k != "spend"},
    }
    with pytest.raises(FormatError) as bad:
        _open_in_python(bare, proposals, (1, 6), spend)
    assert bad.value.code == "bad_encrypted_ballot"
    verdicts = _opened_in_browser(
        wallet, proposals, rule, text, json.dumps(tampered), json.dumps(bare)
    )
    assert verdicts == ["opened", "challenge_mismatch", "bad_encrypted_ballot"]
