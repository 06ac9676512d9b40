"""The receipt page checks receipts in the browser, with WebCrypto: valid ones
are accepted, and every tampering is refused with its reason, the same
receipts `urne.verifier.check.receipt` refuses, with the same code. Its RFC 9162
proof code (the algorithm of docs/spec/log.md §3.1) and its signed-note and
checkpoint parsing must agree with `urne.verifier.tlog`, verdict and code, on the
reference tree, the transparency-dev and C2SP test vectors, and malformed
checkpoints."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import reference
from tests.support.paths import VECTORS, load_vector
from tests.support.site import Site
from urne.verifier.check.receipt import Receipt, check_receipt
from urne.verifier.errors import VerificationError
from urne.verifier.tlog.checkpoint import open_checkpoint
from urne.verifier.tlog.note import Ed25519Signer, Ed25519Verifier, key_id
from urne.verifier.tlog.proof import verify_consistency, verify_inclusion

pytestmark = pytest.mark.browser

CCTV = "rfc9162/c2sp-cctv-merkle-rgdd/testdata"
TD = VECTORS / "rfc9162" / "transparency-dev-merkle" / "testdata"


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


@pytest.mark.parametrize("failure", ["no answer", "HTTP 503"])
def test_a_log_that_does_not_answer_is_could_not_check_not_invalid(
    page: Any, site: Site, failure: str
) -> None:
    """Step 5 against a log that does not answer: the receipt is not in
    question, so the verdict is "could not check" (urne-verify's exit 2)."""
    receipt = site.receipt(site.ballots["petition"][1])
    if failure == "no answer":
        page.route("**/checkpoint", lambda route: route.abort())
    else:
        page.route("**/checkpoint", lambda route: route.fulfill(status=503, body="down"))
    page.goto(site.url + "/receipt")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    page.fill("#receipt-text", json.dumps(receipt))
    page.check("#check-current")
    page.click("#check")
    page.wait_for_selector("#verdict[data-result]:not([data-result=''])")
    verdict = page.locator("#verdict")
    assert verdict.get_attribute("data-result") == "unchecked"
    assert verdict.get_attribute("data-code") == "fetch_failed"
    assert "Could not check" in verdict.locator(".title").inner_text()
    # the offline steps passed before the log was asked
    assert page.locator('#checks li.ok[data-step="inclusion"]').count() == 1
    # the browser reports the failed request itself; that is this test's point
    assert all("Failed to load resource" in e for e in page.urne_errors)
    page.urne_errors.clear()


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
    "another index": (_other_index, {"root_mismatch", "bad_proof_length"}),
    "index beyond the tree": (_index_beyond, "bad_index"),
    "proof hash changed": (_proof_hash, "root_mismatch"),
    "proof cut short": (_proof_short, "bad_proof_length"),
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
    # the Python verifier refuses it too, for the same reason
    with pytest.raises(VerificationError) as refused:
        check_receipt(Receipt.parse(text), Ed25519Verifier.from_vkey(vkey))
    result, got = _check(page, site, text, key)
    assert result == "invalid"
    assert got in code if isinstance(code, set) else got == code
    assert got == refused.value.code
    assert page.locator("#verdict .title").inner_text().endswith("Not valid")
    assert page.locator("#entry").is_hidden()
    assert page.locator("#checks li.fail").count() == 1


# -- the proof code: one algorithm, in the page and in urne.verifier.tlog.proof --------------
#
# docs/spec/log.md §3.1 specifies proof verification once, and both implement it
# step for step, so they must not only accept and refuse the same proofs but
# refuse each at the same step: every case compares codes, not just verdicts.

_PROOFS_JS = """async ([incl, cons]) => {
  const U = window.UrneReceipt, d = (s) => U.b64decode(s, "test"), n = BigInt;
  const run = async (f) => {
    try { await f(); return "ok"; } catch (e) { return e.code || String(e); }
  };
  const a = [], b = [];
  for (const [leaf, i, size, proof, root] of incl)
    a.push(await run(() => U.verifyInclusion(d(leaf), n(i), n(size), proof.map(d), d(root))));
  for (const [size1, size2, proof, r1, r2] of cons)
    b.push(await run(() => U.verifyConsistency(n(size1), n(size2), proof.map(d), d(r1), d(r2))));
  return [a, b];
}"""

#: ``[leaf hash, index, size, proof, root]``, hashes in base64
Inclusion = list[Any]
#: ``[size1, size2, proof, root1, root2]``, hashes in base64
Consistency = list[Any]


def _run_proofs(
    page: Any, site: Site, incl: list[Inclusion], cons: list[Consistency]
) -> tuple[list[str], list[str]]:
    """The page's code (or "ok") for each case. Sizes and indices travel as
    decimal text: a JavaScript number is exact only below 2**53, and a
    transparency-dev vector has the index 2**64 - 1."""
    page.goto(site.url + "/receipt")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    wire_incl = [[c[0], str(c[1]), str(c[2]), c[3], c[4]] for c in incl]
    wire_cons = [[str(c[0]), str(c[1]), c[2], c[3], c[4]] for c in cons]
    a, b = page.evaluate(_PROOFS_JS, [wire_incl, wire_cons])
    return a, b


def _python(f: Callable[[], object]) -> str:
    """The code the Python verifier refuses with, or "ok"."""
    try:
        f()
    except VerificationError as exc:
        return exc.code
    return "ok"


def _python_proofs(incl: list[Inclusion], cons: list[Consistency]) -> tuple[list[str], list[str]]:
    """The Python verifier's code (or "ok") for each case."""
    d = base64.b64decode
    a = [
        _python(lambda c=c: verify_inclusion(d(c[0]), c[1], c[2], [d(h) for h in c[3]], d(c[4])))
        for c in incl
    ]
    b = [
        _python(lambda c=c: verify_consistency(c[0], c[1], [d(h) for h in c[2]], d(c[3]), d(c[4])))
        for c in cons
    ]
    return a, b


def test_proofs_agree_with_the_reference_tree(page: Any, site: Site) -> None:
    """Every (index, size) and every (size1, size2) up to 40 leaves; each proof
    with one hash changed, one hash more and one hash fewer; and the refusals
    before any hashing (index beyond the tree, size 0, sizes the wrong way
    round, a hash of the wrong length)."""
    data = [f"leaf {i}".encode() for i in range(40)]
    roots = {n: reference.mth(data[:n]) for n in range(0, 41)}
    incl: list[Inclusion] = []
    cons: list[Consistency] = []
    for n in range(1, 41):
        for i in range(n):
            path = [_b64(h) for h in reference.path(i, data[:n])]
            leaf = _b64(reference.leaf(data[i]))
            incl.append([leaf, i, n, path, _b64(roots[n])])
            incl.append([leaf, i, n, [*path, _b64(roots[n])], _b64(roots[n])])
            if path:
                bad = list(path)
                bad[len(bad) // 2] = _flip(bad[len(bad) // 2])
                incl.append([leaf, i, n, bad, _b64(roots[n])])
                incl.append([leaf, i, n, path[:-1], _b64(roots[n])])
        incl.append([_b64(reference.leaf(data[0])), n, n, [], _b64(roots[n])])
        for m in range(1, n + 1):
            proof = [_b64(h) for h in reference.proof(m, data[:n])]
            cons.append([m, n, proof, _b64(roots[m]), _b64(roots[n])])
            cons.append([m, n, [*proof, _b64(roots[n])], _b64(roots[m]), _b64(roots[n])])
            if proof:
                bad = list(proof)
                bad[-1] = _flip(bad[-1])
                cons.append([m, n, bad, _b64(roots[m]), _b64(roots[n])])
                cons.append([m, n, proof[1:], _b64(roots[m]), _b64(roots[n])])
                cons.append([n, m, proof, _b64(roots[n]), _b64(roots[m])])
        cons.append([0, n, [], _b64(roots[0]), _b64(roots[n])])
    short = _b64(reference.leaf(b"x")[:31])
    incl.append([short, 0, 1, [], _b64(roots[1])])
    incl.append([_b64(roots[1]), 0, 1, [], short])
    incl.append([_b64(reference.leaf(data[0])), 0, 2, [short], _b64(roots[2])])
    cons.append([1, 2, [short], _b64(roots[1]), _b64(roots[2])])
    cons.append([1, 2, [_b64(reference.leaf(data[1]))], short, _b64(roots[2])])
    cons.append([1, 2, [_b64(reference.leaf(data[1]))], _b64(roots[1]), short])
    cons.append([0, 0, [], _b64(roots[0]), _b64(roots[0])])

    a, b = _run_proofs(page, site, incl, cons)
    want_a, want_b = _python_proofs(incl, cons)
    assert a == want_a
    assert b == want_b
    assert a.count("ok") == 820 and b.count("ok") == 820  # the valid ones, and only them
    # every step of the algorithm refused something
    assert set(a) == {"ok", "bad_index", "bad_hash_length", "bad_proof_length", "root_mismatch"}
    assert set(b) == {"ok", "bad_size", "bad_hash_length", "bad_proof_length", "root_mismatch"}


def _td_vectors(kind: str) -> dict[str, dict[str, Any]]:
    files = sorted((TD / kind).rglob("*.json"))
    return {str(p.relative_to(TD)): json.loads(p.read_text()) for p in files}


def test_proofs_agree_on_the_transparency_dev_vectors(
    page: Any, site: Site, vectors_dir: Any
) -> None:
    """Every transparency-dev/merkle probe, valid and invalid: the page gives the
    Python verifier's verdict and code, and the verdict the vector wants."""
    incl_v, cons_v = _td_vectors("inclusion"), _td_vectors("consistency")
    assert len(incl_v) == 98 and len(cons_v) == 98  # a silently empty glob must fail
    incl = [
        [v["leafHash"] or "", v["leafIdx"], v["treeSize"], v["proof"] or [], v["root"] or ""]
        for v in incl_v.values()
    ]
    cons = [
        [v["size1"], v["size2"], v["proof"] or [], v["root1"] or "", v["root2"] or ""]
        for v in cons_v.values()
    ]
    a, b = _run_proofs(page, site, incl, cons)
    want_a, want_b = _python_proofs(incl, cons)
    assert dict(zip(incl_v, a, strict=True)) == dict(zip(incl_v, want_a, strict=True))
    assert dict(zip(cons_v, b, strict=True)) == dict(zip(cons_v, want_b, strict=True))
    assert [x == "ok" for x in a] == [not v["wantErr"] for v in incl_v.values()]
    assert [x == "ok" for x in b] == [not v["wantErr"] for v in cons_v.values()]


def test_proofs_agree_on_the_c2sp_vectors(page: Any, site: Site, vectors_dir: Any) -> None:
    incl: list[Inclusion] = []
    incl_valid = []
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
    cons: list[Consistency] = []
    cons_valid = []
    for valid in (True, False):
        for c in load_vector(f"{CCTV}/consistency-{'valid' if valid else 'invalid'}.json"):
            cons.append(
                [c["old_size"], c["new_size"], c["consistency_path"], c["old_root"], c["new_root"]]
            )
            # as verifier/tlog/proof.py: a proof from size 0 is refused
            cons_valid.append(valid and c["old_size"] > 0)
    a, b = _run_proofs(page, site, incl, cons)
    want_a, want_b = _python_proofs(incl, cons)
    assert a == want_a
    assert b == want_b
    assert [x == "ok" for x in a] == incl_valid
    assert [x == "ok" for x in b] == cons_valid


# -- keys and checkpoints: the page refuses what urne.verifier.tlog refuses ----------------

ORIGIN = "urne.example/log"
LOG_KEY = Ed25519Signer.from_seed(ORIGIN, bytes(32))
WITNESS = Ed25519Signer.from_seed("witness.example/w", bytes(range(32)))
ROOT = _b64(reference.mth([b"a", b"b"]))
TEXT = f"{ORIGIN}\n2\n{ROOT}\n"


def _sig(signer: Ed25519Signer, text: str) -> str:
    """``signer``'s signature line for ``text`` (signed as given: a text the
    parsers refuse is never verified, so its signature need not be sound)."""
    return signer.sign(text.encode("utf-8", "surrogatepass")).line()


def _raw_line(name: str, raw: bytes) -> str:
    return f"\u2014 {name} {_b64(raw)}\n"


def _signed(text: str) -> str:
    return f"{text}\n{_sig(LOG_KEY, text)}"


def _sig_b64(note: str) -> str:
    """The base64 of the log key's (first) signature line."""
    return note.split(f"\u2014 {ORIGIN} ", 1)[1].split("\n", 1)[0]


def _noncanonical(b64: str) -> str:
    """The same bytes with a non-zero unused bit (RFC 4648 §3.5)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    assert b64.endswith("=") and not b64.endswith("==")
    last = alphabet.index(b64[-2])
    return b64[:-2] + alphabet[last | 1] + "="


def _flipped_sig(note: str, at: int) -> str:
    b64 = _sig_b64(note)
    return note.replace(b64, _flip(b64, at))


VALID = _signed(TEXT)
_KID = LOG_KEY.verifier.key_id
_SIGNATURE = LOG_KEY.sign(TEXT.encode()).signature

#: signed checkpoints, each opened by both with the log key for ORIGIN
CHECKPOINTS: dict[str, str] = {
    # accepted
    "valid": VALID,
    "extension lines": _signed(f"{TEXT}ext one\next-2\n"),
    "DEL in an extension line": _signed(f"{TEXT}e\x7fx\n"),
    "non-ASCII extension": _signed(f"{TEXT}\u00e9t\u00e9 \U0001f5f3\n"),
    "largest size": _signed(f"{ORIGIN}\n{2**63 - 1}\n{ROOT}\n"),
    "size 0": _signed(f"{ORIGIN}\n0\n{ROOT}\n"),
    "a cosignature first": f"{TEXT}\n{_sig(WITNESS, TEXT)}{_sig(LOG_KEY, TEXT)}",
    "100 signature lines": VALID + _sig(WITNESS, TEXT) * 99,
    "the log key twice": VALID + _sig(LOG_KEY, TEXT),
    "an unknown key's 1-byte signature": VALID + _raw_line("other.example/k", bytes(5)),
    # the note's layout
    "101 signature lines": VALID + _sig(WITNESS, TEXT) * 100,
    "101 lines of the log key": VALID + _sig(LOG_KEY, TEXT) * 100,
    "no blank line": VALID.replace("\n\n", "\n"),
    "trailing garbage": VALID + "garbage",
    "trailing garbage line": VALID + "garbage\n",
    "trailing blank line": VALID + "\n",
    "no final newline": VALID[:-1],
    "CRLF": VALID.replace("\n", "\r\n"),
    "NUL in the text": VALID.replace("urne", "ur\x00ne", 1),
    "TAB in the text": VALID.replace("urne", "ur\tne", 1),
    "a lone surrogate in the text": _signed(f"{TEXT}\ud800\n"),
    "a lone surrogate in a name": VALID + _raw_line("k\udc00", bytes(5)),
    "ASCII dash": VALID.replace("\u2014 ", "-- "),
    "two spaces after the dash": VALID.replace("\u2014 ", "\u2014  "),
    "no space after the dash": VALID.replace("\u2014 ", "\u2014"),
    "base64 unpadded": VALID.replace("=\n", "\n"),
    "base64 overpadded": VALID.replace("=\n", "==\n"),
    "base64 URL-safe": VALID.replace(_sig_b64(VALID), "_" + _sig_b64(VALID)[1:]),
    "base64 bad character": VALID.replace(_sig_b64(VALID), "*" + _sig_b64(VALID)[1:]),
    "base64 with a space": VALID.replace(_sig_b64(VALID), "AAAA " + _sig_b64(VALID)[4:]),
    "base64 non-canonical": VALID.replace(_sig_b64(VALID), _noncanonical(_sig_b64(VALID))),
    "signature of 4 bytes": f"{TEXT}\n{_raw_line(ORIGIN, _KID)}",
    "signature empty": f"{TEXT}\n\u2014 {ORIGIN} \n",
    "signature missing": f"{TEXT}\n\u2014 {ORIGIN}\n",
    "a bad line after the signature": VALID + f"\u2014 {ORIGIN}\n",
    "+ in the name": VALID.replace(f"\u2014 {ORIGIN}", "\u2014 urne+log"),
    "empty name": VALID.replace(f"\u2014 {ORIGIN}", "\u2014 "),
    "no-break space in the name": VALID + _raw_line("a\u00a0b", bytes(5)),
    "NEL in the name": VALID + _raw_line("a\x85b", bytes(5)),
    "ideographic space in the name": VALID + _raw_line("a\u3000b", bytes(5)),
    # the signature
    "signature changed": _flipped_sig(VALID, 30),
    "text changed": VALID.replace("\n2\n", "\n3\n"),
    "first line by the log key bad, second good": _flipped_sig(VALID, 40) + _sig(LOG_KEY, TEXT),
    "signature of 63 bytes": f"{TEXT}\n{_raw_line(ORIGIN, _KID + bytes(63))}",
    "signature of 65 bytes": f"{TEXT}\n{_raw_line(ORIGIN, _KID + _SIGNATURE + b'x')}",
    "only a cosignature": f"{TEXT}\n{_sig(WITNESS, TEXT)}",
    "key ID changed": f"{TEXT}\n{_raw_line(ORIGIN, bytes([_KID[0] ^ 1, *_KID[1:]]) + _SIGNATURE)}",
    "another key name": VALID.replace(f"\u2014 {ORIGIN}", "\u2014 CarmenSandiego"),
    # the checkpoint text (signed by the log key)
    "another origin": _signed(f"elsewhere.example/log\n2\n{ROOT}\n"),
    "two lines": _signed(f"{ORIGIN}\n2\n"),
    "one line": _signed(f"{ORIGIN}\n"),
    "empty origin": _signed(f"\n2\n{ROOT}\n"),
    "empty size": _signed(f"{ORIGIN}\n\n{ROOT}\n"),
    "empty root": _signed(f"{ORIGIN}\n2\n\n"),
    "text without final newline": _signed(f"{ORIGIN}\n2\n{ROOT}"),
    "size with a leading zero": _signed(f"{ORIGIN}\n02\n{ROOT}\n"),
    "size 00": _signed(f"{ORIGIN}\n00\n{ROOT}\n"),
    "size with a plus sign": _signed(f"{ORIGIN}\n+2\n{ROOT}\n"),
    "negative size": _signed(f"{ORIGIN}\n-2\n{ROOT}\n"),
    "size with a decimal point": _signed(f"{ORIGIN}\n2.0\n{ROOT}\n"),
    "size with an underscore": _signed(f"{ORIGIN}\n2_000\n{ROOT}\n"),
    "size with a space": _signed(f"{ORIGIN}\n 2\n{ROOT}\n"),
    "size in hex": _signed(f"{ORIGIN}\n0x10\n{ROOT}\n"),
    "size in Arabic-Indic digits": _signed(f"{ORIGIN}\n\u0662\n{ROOT}\n"),
    "size in full-width digits": _signed(f"{ORIGIN}\n\uff12\n{ROOT}\n"),
    "size 2**63": _signed(f"{ORIGIN}\n{2**63}\n{ROOT}\n"),
    "size of 5000 digits": _signed(f"{ORIGIN}\n{'9' * 5000}\n{ROOT}\n"),
    "root unpadded": _signed(f"{ORIGIN}\n2\n{ROOT[:-1]}\n"),
    "root overpadded": _signed(f"{ORIGIN}\n2\n{ROOT}=\n"),
    "root non-canonical": _signed(f"{ORIGIN}\n2\n{_noncanonical(ROOT)}\n"),
    "root URL-safe": _signed(f"{ORIGIN}\n2\n-{ROOT[1:]}\n"),
    "root with a space": _signed(f"{ORIGIN}\n2\n {ROOT}\n"),
    "root of 31 bytes": _signed(f"{ORIGIN}\n2\n{_b64(bytes(31))}\n"),
    "root of 33 bytes": _signed(f"{ORIGIN}\n2\n{_b64(bytes(33))}\n"),
    "root of 0 bytes": _signed(f"{ORIGIN}\n2\n=\n"),
    "empty extension line": _signed(f"{TEXT}\n"),
    "empty extension line after one": _signed(f"{TEXT}ext\n\n"),
    "CR in the origin": _signed(f"{ORIGIN}\r\n2\n{ROOT}\n"),
    "TAB in the origin": _signed(f"{ORIGIN}\t\n2\n{ROOT}\n"),
    "NUL in an extension line": _signed(f"{TEXT}x\x00\n"),
}

_CHECKPOINTS_JS = """async ([vkey, origin, notes]) => {
  const U = window.UrneReceipt;
  const trusted = await U.parseVerifierKey(vkey);
  const out = [];
  for (const n of notes) {
    try { await U.openCheckpoint(JSON.parse(n), trusted, origin); out.push("ok"); }
    catch (e) { out.push(e.code || String(e)); }
  }
  return out;
}"""


def _python_checkpoint(note: str) -> str:
    return _python(lambda: open_checkpoint(note, LOG_KEY.verifier, origin=ORIGIN))


def test_checkpoints_are_refused_as_the_python_verifier_refuses_them(page: Any, site: Site) -> None:
    """Signed notes and checkpoint texts, well-formed and not: the page opens a
    checkpoint exactly when urne.verifier.tlog.checkpoint.open_checkpoint does,
    and refuses it with the same code."""
    page.goto(site.url + "/receipt")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    # as JSON text: a lone surrogate survives the trip only as a JSON escape
    wire = [json.dumps(n) for n in CHECKPOINTS.values()]
    got = page.evaluate(_CHECKPOINTS_JS, [LOG_KEY.verifier.vkey, ORIGIN, wire])
    want = {case: _python_checkpoint(note) for case, note in CHECKPOINTS.items()}
    assert dict(zip(CHECKPOINTS, got, strict=True)) == want
    accepted = [case for case, code in want.items() if code == "ok"]
    assert accepted == list(CHECKPOINTS)[:10]
    assert set(want.values()) == {
        "ok",
        "malformed_note",
        "bad_key_name",
        "bad_signature",
        "unknown_key",
        "origin_mismatch",
        "malformed_checkpoint",
        "bad_hash_length",
    }


def _vkey(name: str, key: bytes, kid: str | None = None) -> str:
    kid = kid if kid is not None else key_id(name, key[0], key[1:]).hex() if key else "00000000"
    return f"{name}+{kid}+{_b64(key)}"


_PUBLIC = b"\x01" + LOG_KEY.verifier.public_key
_HEX = LOG_KEY.verifier.key_id.hex()

VKEYS: dict[str, str] = {
    "valid": LOG_KEY.verifier.vkey,
    "key ID in upper case": _vkey(ORIGIN, _PUBLIC, _HEX.upper()),
    "empty": "",
    "name only": ORIGIN,
    "no key data": f"{ORIGIN}+{_HEX}",
    "empty name": _vkey("", _PUBLIC),
    "a space in the name": _vkey("urne example", _PUBLIC),
    "key ID of 7 digits": _vkey(ORIGIN, _PUBLIC, _HEX[:7]),
    "key ID not hex": _vkey(ORIGIN, _PUBLIC, "7b9d7cez"),
    "key data not base64": f"{ORIGIN}+{_HEX}+not*base64",
    "key data non-canonical": f"{ORIGIN}+{_HEX}+{_noncanonical(_b64(_PUBLIC[:-1]))}",
    "key data empty": f"{ORIGIN}+{_HEX}+",
    "key ID mistyped": _vkey(ORIGIN, _PUBLIC, f"{int.from_bytes(_KID, 'big') ^ 1:08x}"),
    "another algorithm": _vkey(ORIGIN, b"\x02" + _PUBLIC[1:]),
    "an Ed25519 key of 31 bytes": _vkey(ORIGIN, _PUBLIC[:-1]),
    "an Ed25519 key of 33 bytes": _vkey(ORIGIN, _PUBLIC + b"\x00"),
}

_VKEYS_JS = """async (keys) => {
  const out = [];
  for (const k of keys) {
    try { await window.UrneReceipt.parseVerifierKey(k); out.push("ok"); }
    catch (e) { out.push(e.code || String(e)); }
  }
  return out;
}"""


def test_verifier_keys_are_refused_as_the_python_verifier_refuses_them(
    page: Any, site: Site
) -> None:
    page.goto(site.url + "/receipt")
    page.wait_for_selector("#receipt-form[data-ready=yes]")
    got = page.evaluate(_VKEYS_JS, list(VKEYS.values()))
    want = {case: _python(lambda k=k: Ed25519Verifier.from_vkey(k)) for case, k in VKEYS.items()}
    assert dict(zip(VKEYS, got, strict=True)) == want
    accepted = [case for case, code in want.items() if code == "ok"]
    assert accepted == ["valid", "key ID in upper case"]


# -- the same, through the page: a receipt whose checkpoint is malformed ------------------


def _cp_text(r: dict[str, Any]) -> str:
    return str(r["checkpoint"]).rsplit("\n\n", 1)[0] + "\n"


def _resigned(site: Site, text: str) -> str:
    return f"{text}\n{_sig(site.log.signer, text)}"


def _too_many_signatures(r: dict[str, Any], site: Site) -> str:
    return str(r["checkpoint"]) + _sig(WITNESS, _cp_text(r)) * 100


def _cosigned(r: dict[str, Any], site: Site) -> str:
    return str(r["checkpoint"]) + _sig(WITNESS, _cp_text(r))


def _leading_zero(r: dict[str, Any], site: Site) -> str:
    origin, size, rest = _cp_text(r).split("\n", 2)
    return _resigned(site, f"{origin}\n0{size}\n{rest}")


def _extension(r: dict[str, Any], site: Site) -> str:
    return _resigned(site, _cp_text(r) + "an extension\n")


def _empty_extension(r: dict[str, Any], site: Site) -> str:
    return _resigned(site, _cp_text(r) + "\n")


def _bad_line_after(r: dict[str, Any], site: Site) -> str:
    return str(r["checkpoint"]) + "\u2014 witness.example/w AAAA\n"


CHECKPOINT_CHANGES: dict[str, Callable[[dict[str, Any], Site], str]] = {
    "cosigned by a witness": _cosigned,
    "an extension line, re-signed": _extension,
    "too many signatures": _too_many_signatures,
    "a bad line after the signature": _bad_line_after,
    "size with a leading zero, re-signed": _leading_zero,
    "an empty extension line, re-signed": _empty_extension,
}


@pytest.mark.parametrize("case", list(CHECKPOINT_CHANGES))
def test_a_receipt_with_another_checkpoint_is_judged_as_python_judges_it(
    page: Any, site: Site, case: str
) -> None:
    receipt = site.receipt(site.ballots["vote"][3])
    receipt["checkpoint"] = CHECKPOINT_CHANGES[case](receipt, site)
    text = json.dumps(receipt)
    key = Ed25519Verifier.from_vkey(site.log.verifier.vkey)
    want = _python(lambda: check_receipt(Receipt.parse(text), key))
    result, got = _check(page, site, text)
    assert (result, got or "ok") == ("valid" if want == "ok" else "invalid", want)
    if case in ("cosigned by a witness", "an extension line, re-signed"):
        assert want == "ok"
    else:
        assert want in ("malformed_note", "malformed_checkpoint")
