"""The receipt page checks receipts in the browser, with WebCrypto: valid ones
are accepted, and every tampering is refused with its reason, the same
receipts `urne.verifier.check.receipt` refuses. Its RFC 9162 proof code is checked against
the reference tree and the C2SP test vectors."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import reference
from tests.support.paths import load_vector
from tests.support.site import Site
from urne.verifier.check.receipt import Receipt, check_receipt
from urne.verifier.errors import VerificationError
from urne.verifier.tlog.note import Ed25519Signer, Ed25519Verifier
from urne.verifier.tlog.proof import verify_consistency, verify_inclusion

pytestmark = pytest.mark.browser

CCTV = "rfc9162/c2sp-cctv-merkle-rgdd/testdata"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _check(page: Any, site: Site, receipt_text: str, key: str | None = None) -> tuple[str, str]:
    """Paste, press the button, wait for the verdict: (valid|invalid, code)."""
    page.goto(site.url + "/receipt")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    page.fill("#receipt-text", receipt_text)
    if key is not None:
        page.fill("#trusted-key", key)
    page.click("#check")
    page.wait_for_selector("#verdict[data-result=valid], #verdict[data-result=invalid]")
    verdict = page.locator("#verdict")
    return str(verdict.get_attribute("data-result")), str(verdict.get_attribute("data-code") or "")


def test_a_valid_receipt_is_accepted_and_its_entry_shown(page: Any, site: Site) -> None:
    index = site.ballots["budget"][1]
    result, _ = _check(page, site, json.dumps(site.receipt(index)))
    assert result == "valid"
    detail = page.locator("#verdict .detail").inner_text()
    assert f"Entry {index} (ballot of budget)" in detail
    steps = page.locator("#checks li.ok").evaluate_all("els => els.map(e => e.dataset.step)")
    assert steps == ["receipt", "key", "signature", "inclusion"]
    shown = json.loads(page.locator("#entry-json").inner_text())
    assert shown == json.loads(site.log.entry(index))
    leaf = page.locator("#leaf-hash").inner_text()
    assert leaf == _b64(site.log.leaf_hash(index))


def test_the_key_is_prefilled_with_a_warning(page: Any, site: Site) -> None:
    page.goto(site.url + "/receipt")
    assert page.input_value("#trusted-key") == site.log.verifier.vkey
    assert "compare it" in page.locator("#key-warning").inner_text()


def test_still_in_todays_log(page: Any, site: Site) -> None:
    index = site.ballots["petition"][0]
    receipt = site.receipt(index)
    site.cast("budget", ["bench"])  # the log grows after the receipt
    page.goto(site.url + "/receipt")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    page.fill("#receipt-text", json.dumps(receipt))
    page.check("#check-current")
    page.click("#check")
    page.wait_for_selector("#verdict[data-result=valid], #verdict[data-result=invalid]")
    assert page.locator("#verdict").get_attribute("data-result") == "valid"
    assert f"Today's log (size {site.log.size})" in page.locator("#verdict .detail").inner_text()
    assert page.locator('#checks li.ok[data-step="consistency"]').count() == 1


def test_a_receipt_loaded_by_index_or_from_a_file(page: Any, site: Site, tmp_path: Any) -> None:
    index = site.ballots["vote"][0]
    page.goto(site.url + f"/receipt?index={index}")
    page.wait_for_function("() => document.querySelector('#receipt-text').value.length > 0")
    assert json.loads(page.input_value("#receipt-text")) == site.receipt(index)
    page.click("#check")
    page.wait_for_selector("#verdict[data-result=valid]")

    f = tmp_path / "receipt.json"
    f.write_text(json.dumps(site.receipt(site.ballots["vote"][1])))
    page.goto(site.url + "/receipt")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    page.set_input_files("#receipt-file", str(f))
    page.wait_for_function("() => document.querySelector('#receipt-text').value.length > 0")
    page.click("#check")
    page.wait_for_selector("#verdict[data-result=valid]")


# -- tampering: refused here, and by the Python verifier ---------------------------------

Tamper = Callable[[dict[str, Any], Site], tuple[str, str | None]]


def _flip(b64: str, at: int = 0) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[at] ^= 0x01
    return _b64(bytes(raw))


def _other_key(r: dict[str, Any], site: Site) -> str:
    return Ed25519Signer.generate(site.log.origin).verifier.vkey


def _entry_changed(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    entry = base64.b64decode(r["entry"]).replace(b'"seq":0', b'"seq":1')
    assert entry != base64.b64decode(r["entry"])
    r["entry"] = _b64(entry)
    return json.dumps(r), None


def _entry_byte(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    r["entry"] = _flip(r["entry"], 10)
    return json.dumps(r), None


def _other_index(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    r["index"] = r["index"] - 1
    return json.dumps(r), None


def _index_beyond(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    r["index"] = 10**6
    return json.dumps(r), None


def _proof_hash(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    r["inclusion_proof"][0] = _flip(r["inclusion_proof"][0])
    return json.dumps(r), None


def _proof_short(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    r["inclusion_proof"] = r["inclusion_proof"][:-1]
    return json.dumps(r), None


def _signature_byte(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    text, sig_line = r["checkpoint"].rsplit("\n\n", 1)
    head, b64 = sig_line.rstrip("\n").rsplit(" ", 1)
    r["checkpoint"] = f"{text}\n\n{head} {_flip(b64, 30)}\n"
    return json.dumps(r), None


def _checkpoint_size(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    origin, size, rest = r["checkpoint"].split("\n", 2)
    r["checkpoint"] = f"{origin}\n{int(size) + 1}\n{rest}"
    return json.dumps(r), None


def _wrong_key(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    return json.dumps(r), _other_key(r, site)


def _mistyped_key(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    name, kid, data = site.log.verifier.vkey.split("+", 2)
    kid = f"{(int(kid, 16) ^ 1):08x}"
    return json.dumps(r), f"{name}+{kid}+{data}"


def _other_origin(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    r["origin"] = "elsewhere.example/log"
    return json.dumps(r), None


def _not_json(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    return json.dumps(r)[:-2], None


def _missing_field(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    del r["inclusion_proof"]
    return json.dumps(r), None


def _bad_base64(r: dict[str, Any], site: Site) -> tuple[str, str | None]:
    r["entry"] = "not*base64"
    return json.dumps(r), None


#: the reason each tampering is refused with (a changed index may change the
#: proof's expected length, or only its result)
TAMPERING: dict[str, tuple[Tamper, str | set[str]]] = {
    "entry changed": (_entry_changed, "root_mismatch"),
    "entry byte flipped": (_entry_byte, "root_mismatch"),
    "another index": (_other_index, {"root_mismatch", "bad_proof"}),
    "index beyond the tree": (_index_beyond, "bad_index"),
    "proof hash changed": (_proof_hash, "root_mismatch"),
    "proof cut short": (_proof_short, "bad_proof"),
    "signature changed": (_signature_byte, "bad_signature"),
    "checkpoint changed": (_checkpoint_size, "bad_signature"),
    "another log's key": (_wrong_key, "unknown_key"),
    "key mistyped": (_mistyped_key, "key_id_mismatch"),
    "another origin": (_other_origin, "origin_mismatch"),
    "not JSON": (_not_json, "bad_receipt"),
    "a field missing": (_missing_field, "bad_receipt"),
    "entry not base64": (_bad_base64, "bad_base64"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_a_tampered_receipt_is_refused_with_its_reason(page: Any, site: Site, case: str) -> None:
    tamper, code = TAMPERING[case]
    receipt = site.receipt(site.ballots["vote"][2])
    text, key = tamper(json.loads(json.dumps(receipt)), site)
    vkey = key or site.log.verifier.vkey
    # the Python verifier refuses it too
    with pytest.raises(VerificationError):
        check_receipt(Receipt.parse(text), Ed25519Verifier.from_vkey(vkey))
    result, got = _check(page, site, text, key)
    assert result == "invalid"
    assert got in code if isinstance(code, set) else got == code
    assert page.locator("#verdict .title").inner_text().endswith("Not valid")
    assert page.locator("#entry").is_hidden()
    assert page.locator("#checks li.fail").count() == 1


# -- the proof code against the reference and the vectors ----------------------------------

_PROOFS_JS = """async ([incl, cons]) => {
  const U = window.UrneReceipt, d = (s) => U.b64decode(s, "test");
  const run = async (f) => {
    try { await f(); return "ok"; } catch (e) { return e.code || String(e); }
  };
  const a = [], b = [];
  for (const [leaf, i, n, proof, root] of incl)
    a.push(await run(() => U.verifyInclusion(d(leaf), i, n, proof.map(d), d(root))));
  for (const [m, n, proof, r1, r2] of cons)
    b.push(await run(() => U.verifyConsistency(m, n, proof.map(d), d(r1), d(r2))));
  return [a, b];
}"""


def _run_proofs(page: Any, site: Site, incl: list[Any], cons: list[Any]) -> tuple[list[str], ...]:
    page.goto(site.url + "/receipt")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    a, b = page.evaluate(_PROOFS_JS, [incl, cons])
    return a, b


def _python(f: Callable[[], None]) -> str:
    try:
        f()
    except VerificationError as exc:
        return exc.code
    return "ok"


def test_proofs_agree_with_the_reference_tree(page: Any, site: Site) -> None:
    """Every (index, size) and every (size1, size2) up to 40 leaves; and each
    proof with one hash changed is refused, as the Python verifier refuses it."""
    data = [f"leaf {i}".encode() for i in range(40)]
    roots = {n: reference.mth(data[:n]) for n in range(1, 41)}
    incl, cons = [], []
    for n in range(1, 41):
        for i in range(n):
            path = reference.path(i, data[:n])
            leaf = reference.leaf(data[i])
            incl.append([_b64(leaf), i, n, [_b64(h) for h in path], _b64(roots[n])])
            if path:
                bad = [_b64(h) for h in path]
                bad[len(bad) // 2] = _flip(bad[len(bad) // 2])
                incl.append([_b64(leaf), i, n, bad, _b64(roots[n])])
        for m in range(1, n + 1):
            proof = reference.proof(m, data[:n])
            cons.append([m, n, [_b64(h) for h in proof], _b64(roots[m]), _b64(roots[n])])
            if proof:
                bad = [_b64(h) for h in proof]
                bad[-1] = _flip(bad[-1])
                cons.append([m, n, bad, _b64(roots[m]), _b64(roots[n])])
    a, b = _run_proofs(page, site, incl, cons)
    want_a = [
        _python(
            lambda c=c: verify_inclusion(  # type: ignore[misc]
                base64.b64decode(c[0]),
                c[1],
                c[2],
                [base64.b64decode(h) for h in c[3]],
                base64.b64decode(c[4]),
            )
        )
        for c in incl
    ]
    want_b = [
        _python(
            lambda c=c: verify_consistency(  # type: ignore[misc]
                c[0],
                c[1],
                [base64.b64decode(h) for h in c[2]],
                base64.b64decode(c[3]),
                base64.b64decode(c[4]),
            )
        )
        for c in cons
    ]
    assert [x == "ok" for x in a] == [x == "ok" for x in want_a]
    assert [x == "ok" for x in b] == [x == "ok" for x in want_b]
    assert a.count("ok") == 820 and b.count("ok") == 820  # the valid ones, and only them


def test_proofs_agree_on_the_c2sp_vectors(page: Any, site: Site, vectors_dir: Any) -> None:
    incl, incl_valid = [], []
    for valid in (True, False):
        for c in load_vector(f"{CCTV}/inclusion-{'valid' if valid else 'invalid'}.json"):
            incl.append(
                [
                    c["leaf_hash"],
                    c["leaf_index"],
                    c["tree_size"],
                    c["inclusion_path"],
                    c["root_hash"],
                ]
            )
            incl_valid.append(valid)
    cons, cons_valid = [], []
    for valid in (True, False):
        for c in load_vector(f"{CCTV}/consistency-{'valid' if valid else 'invalid'}.json"):
            cons.append(
                [c["old_size"], c["new_size"], c["consistency_path"], c["old_root"], c["new_root"]]
            )
            # as verifier/tlog/proof.py: a proof from size 0 is refused
            cons_valid.append(valid and c["old_size"] > 0)
    a, b = _run_proofs(page, site, incl, cons)
    assert [x == "ok" for x in a] == incl_valid
    assert [x == "ok" for x in b] == cons_valid
