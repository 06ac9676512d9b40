"""``urne-verify audit`` and ``receipt --log`` against a hostile server, replayed
on 127.0.0.1 (docs/spec/verification.md §2c): an endless body, a slow drip, a
validly signed checkpoint claiming 2**40 entries. Each ends as a finding or as
"could not check" (exit 2) in one line, never a traceback, with bounded memory.

Also: evidence costs O(log n) per finding however many entries are refused
(§3), and the report says which steps did not run instead of calling them ok
(§2)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import urne.verifier.check.audit as audit_module
from tests.support.civic import Citizen, Institution, authority_for
from tests.support.exported import exported_log
from urne.ledger.log import Log
from urne.verifier.check.audit import DirectorySource, HttpSource, audit
from urne.verifier.check.fetch import Limits
from urne.verifier.citizen.signing import OperatorKey
from urne.verifier.cli.main import app as urne_verify
from urne.verifier.errors import FetchError
from urne.verifier.tlog import merkle
from urne.verifier.tlog.checkpoint import Checkpoint, open_checkpoint
from urne.verifier.tlog.note import Ed25519Signer, Ed25519Verifier, sign_note
from urne.verifier.tlog.proof import verify_inclusion
from urne.verifier.tlog.rfc9162 import hash_leaf
from urne.verifier.tlog.tiles import entries_path, tile_path

pytestmark = pytest.mark.slow  # real servers misbehaving, subprocesses: the full run

runner = CliRunner()
ORIGIN = "hostile.example/log"
#: The deadline per request in these tests, in seconds: a drip of one byte
#: every :data:`DRIP` seconds would take minutes to send what it announces.
DEADLINE = "1"
DRIP = 0.2


# -- a log, and a server that serves it badly ------------------------------------------


@dataclass
class Exported:
    signer: Ed25519Signer
    leaves: list[bytes]
    tiles: Path

    @property
    def vkey(self) -> str:
        return self.signer.verifier.vkey


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """The registration of an institution, the reservation of its petition,
    the petition with three signatures and its close: seven entries."""
    tmp = tmp_path_factory.mktemp("small")
    signer = Ed25519Signer.generate(ORIGIN)
    inst = Institution()
    manifest = inst.process("pet", "petition")
    leaves = [*authority_for(manifest, OperatorKey(signer), registered=lambda key: False), manifest]
    leaves += [Citizen.enrol(inst, "pet").ballot() for _ in range(3)]
    leaves.append(inst.close("pet"))
    assert len(leaves) == 7
    return Exported(signer, leaves, exported_log(tmp, "small", signer, leaves, per_append=50))


Behaviour = Callable[[BaseHTTPRequestHandler, threading.Event], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Hostile

    def do_GET(self) -> None:
        path = self.path.lstrip("/")
        for prefix, behaviour in self.server.routes.items():
            if path == prefix or (prefix.endswith("*") and path.startswith(prefix[:-1])):
                behaviour(self, self.server.stop)
                return
        file = self.server.files / path.split("?")[0] if self.server.files else None
        if file is not None and file.is_file():
            _send(self, file.read_bytes())
        else:
            _send(self, b"not here", status=404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Hostile(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: Path | None, routes: dict[str, Behaviour]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files, self.routes = files, routes
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def hostile() -> Iterator[Callable[..., str]]:
    """``hostile(files, {path: behaviour})``: a server on 127.0.0.1 serving the
    files of an exported log, except for the paths given (a trailing ``*``
    matches a prefix). Stopped, with every handler, after the test."""
    servers: list[_Hostile] = []

    def start(files: Path | None = None, routes: dict[str, Behaviour] | None = None) -> str:
        server = _Hostile(files, routes or {})
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server.url

    yield start
    for server in servers:
        server.stop.set()
        server.shutdown()
        server.server_close()


def _send(h: BaseHTTPRequestHandler, body: bytes, status: int = 200) -> None:
    h.send_response(status)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def serve(body: bytes) -> Behaviour:
    def behaviour(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        _send(h, body)

    return behaviour


def endless(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """200, no length, and bytes until the client hangs up."""
    h.send_response(200)
    h.send_header("Connection", "close")
    h.end_headers()
    h.close_connection = True
    chunk = b"\n" * 65536
    try:
        while not stop.is_set():
            h.wfile.write(chunk)
    except OSError:
        pass


def drip(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """200 announcing a small body, then one byte of it every DRIP seconds:
    never silent long enough for a socket timeout."""
    h.send_response(200)
    h.send_header("Content-Length", "100")
    h.end_headers()
    try:
        while not stop.wait(DRIP):
            h.wfile.write(b"x")
    except OSError:
        pass


def drip_headers(h: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    """A status line, then a header one byte at a time: the body never starts."""
    try:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while not stop.wait(DRIP):
            h.wfile.write(b"a")
    except OSError:
        pass
    h.close_connection = True


def _invoke(*args: str) -> Result:
    return runner.invoke(urne_verify, list(args))


def _one_line_could_not_check(r: Result, code: str) -> str:
    """Exit 2 and one line, ``COULD NOT CHECK (code): ...``, and nothing else."""
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit), r.exception  # not a traceback
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert lines[0].startswith(f"COULD NOT CHECK ({code}): "), r.output
    return lines[0]


def _audit_cli(url: str, ex: Exported, *more: str) -> Result:
    return _invoke("audit", "--log", url, "--log-key", ex.vkey, "--timeout", DEADLINE, *more)


def _partial(width: int) -> tuple[str, str]:
    return tile_path(0, 0, width), entries_path(0, width)


# -- finding 6: bounded in bytes and time ---------------------------------------------------


def test_an_endless_checkpoint_is_cut_at_its_limit(
    small: Exported, hostile: Callable[..., str]
) -> None:
    url = hostile(small.tiles, {"checkpoint": endless})
    tracemalloc.start()
    try:
        r = _audit_cli(url, small)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    line = _one_line_could_not_check(r, "answer_too_large")
    assert "more than 65,536 bytes, the most a checkpoint can hold" in line
    assert peak < 8 << 20, peak  # bounded by the limit, not by what the server sends


def test_an_endless_tile_or_bundle_is_a_finding(
    small: Exported, hostile: Callable[..., str]
) -> None:
    """A tile or bundle larger than its width allows is served wrong: step 3
    fails with the path as evidence, and the steps after it do not run."""
    tile, bundle = _partial(len(small.leaves))
    for path, code, most in [(tile, "bad_tile", "224 bytes"), (bundle, "bad_entry_bundle", "")]:
        url = hostile(small.tiles, {path: endless})
        r = _audit_cli(url, small)
        assert r.exit_code == 1, r.output
        assert "Traceback" not in r.output
        assert f"step 3 {code}: GET {url}/{path}: more than {most}" in r.output
        assert "3. entries and tiles reproduce the checkpoint's root: FAILED" in r.output
        for n in (4, 5, 6, 7):
            assert f"{n}. {audit_module.STEPS[n]}: not run" in r.output
        assert r.output.rstrip().endswith("steps 4-7 not run")


def test_an_oversized_file_in_an_exported_directory(small: Exported, tmp_path: Path) -> None:
    """The same bounds apply to a log read from files."""
    tile, _ = _partial(len(small.leaves))
    copy = tmp_path / "copy"
    shutil.copytree(small.tiles, copy)
    (copy / tile).write_bytes(bytes(32 * len(small.leaves) + 1))
    r = audit(DirectorySource(copy), small.signer.verifier)
    assert [(f.step, f.code) for f in r.findings] == [(3, "bad_tile")]
    assert "more than 224 bytes, the most a tile of 7 hashes can hold" in r.findings[0].message
    with pytest.raises(FetchError) as e:
        audit(DirectorySource(copy, limits=Limits(checkpoint=10)), small.signer.verifier)
    assert e.value.code == "answer_too_large"


@pytest.mark.parametrize("where", ["checkpoint", "tile", "bundle"])
def test_a_slow_drip_ends_at_the_deadline(
    small: Exported, hostile: Callable[..., str], where: str
) -> None:
    """One byte every DRIP seconds keeps every socket operation short: only a
    deadline on the whole request ends it. The outcome is "could not check"."""
    tile, bundle = _partial(len(small.leaves))
    path = {"checkpoint": "checkpoint", "tile": tile, "bundle": bundle}[where]
    url = hostile(small.tiles, {path: drip})
    line = _one_line_could_not_check(_audit_cli(url, small), "deadline_exceeded")
    assert f"GET {url}/{path}: no complete answer within 1 s" in line


def test_headers_dripped_one_byte_at_a_time_end_at_the_deadline(
    small: Exported, hostile: Callable[..., str]
) -> None:
    url = hostile(small.tiles, {"checkpoint": drip_headers})
    line = _one_line_could_not_check(_audit_cli(url, small), "deadline_exceeded")
    assert "no complete answer within 1 s" in line


def _huge_checkpoint(signer: Ed25519Signer) -> bytes:
    """A checkpoint the log's key really signed, claiming 2**40 entries."""
    return sign_note(Checkpoint(ORIGIN, 2**40, bytes(32)).to_text(), signer).encode()


def test_a_signed_checkpoint_claiming_2_40_entries(
    small: Exported, hostile: Callable[..., str]
) -> None:
    """Checked against the auditor's bound before anything is read or sized on
    it; allowed, nothing is sized on it either: the first bundle the log does
    not serve stops the audit. Never a MemoryError."""
    url = hostile(small.tiles, {"checkpoint": serve(_huge_checkpoint(small.signer))})
    line = _one_line_could_not_check(_audit_cli(url, small), "too_many_entries")
    assert "claims 1,099,511,627,776 entries" in line
    tracemalloc.start()
    try:
        r = _audit_cli(url, small, "--max-new-entries", str(2**41))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    line = _one_line_could_not_check(r, "not_served")
    assert f"GET {url}/tile/entries/000: HTTP 404" in line
    assert peak < 8 << 20, peak


def test_urne_verify_as_a_command(small: Exported, hostile: Callable[..., str]) -> None:
    """The installed command, output to pipes: one line on stdout, nothing on
    stderr (no traceback), exit 2."""
    command = Path(sys.executable).with_name("urne-verify")
    if not command.exists():
        pytest.skip(f"no urne-verify next to {sys.executable}")
    url = hostile(small.tiles, {"checkpoint": serve(_huge_checkpoint(small.signer))})
    r = subprocess.run(
        [str(command), "audit", "--log", url, "--log-key", small.vkey, "--timeout", DEADLINE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr == ""
    (line,) = r.stdout.splitlines()
    assert line.startswith("COULD NOT CHECK (too_many_entries): the audit could not run: ")
    url = hostile(small.tiles, {"checkpoint": endless})
    r = subprocess.run(
        [str(command), "audit", "--log", url, "--log-key", small.vkey, "--timeout", DEADLINE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (r.returncode, r.stderr) == (2, ""), (r.stdout, r.stderr)
    assert r.stdout.startswith("COULD NOT CHECK (answer_too_large)") and r.stdout.count("\n") == 1


def test_the_bounds_in_the_library() -> None:
    """Each kind of answer is bounded by what its format can hold (§2c)."""
    limits = Limits()
    assert limits.for_path("checkpoint")[0] == 65_536
    assert limits.for_path("tile/0/000")[0] == 256 * 32
    assert limits.for_path("tile/3/x001/234.p/7")[0] == 7 * 32
    assert limits.for_path("tile/entries/000")[0] == 256 * (2 + 65_535)
    assert limits.for_path("tile/entries/000.p/3")[0] == 3 * (2 + 65_535)
    assert limits.for_path("log/proof/consistency?size1=1&size2=2")[0] == 16_384


# -- receipt --log ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, bytes]:
    """A receipt of entry 1 in a log of size 2, the log's key, and the log's
    latest checkpoint after it grew to size 4."""
    tmp = tmp_path_factory.mktemp("receipt")
    with Log.open(f"sqlite:///{tmp / 'l.db'}", key_dir=tmp / "k", origin=ORIGIN) as log:
        log.append_many([b"a", b"b"])
        receipt = log.receipt(1).to_json()
        log.append_many([b"c", b"d"])
        latest, key = log.checkpoint().text.encode(), log.verifier.vkey
    f = tmp / "receipt.json"
    f.write_text(json.dumps(receipt))
    return f, key, ORIGIN, latest


@pytest.mark.parametrize(
    ("routes", "code", "says"),
    [
        ({"checkpoint": endless}, "answer_too_large", "the most a checkpoint can hold"),
        ({"checkpoint": drip}, "deadline_exceeded", "no complete answer within 1 s"),
        ({"log/proof/*": endless}, "answer_too_large", "the most a proof answer can hold"),
        ({"log/proof/*": drip}, "deadline_exceeded", "no complete answer within 1 s"),
        ({"log/proof/*": serve(b"<html>busy</html>")}, "bad_answer", "not a consistency proof"),
        ({"log/proof/*": serve(b'{"proof": ["%%"]}')}, "bad_answer", "not a consistency proof"),
    ],
    ids=["endless-checkpoint", "drip-checkpoint", "endless-proof", "drip-proof", "html", "b64"],
)
def test_receipt_against_a_hostile_log_could_not_check(
    grown: tuple[Path, str, str, bytes],
    hostile: Callable[..., str],
    routes: dict[str, Behaviour],
    code: str,
    says: str,
) -> None:
    f, key, _, latest = grown
    url = hostile(None, {"checkpoint": serve(latest), **routes})
    r = _invoke("receipt", str(f), "--log-key", key, "--log", url, "--timeout", DEADLINE)
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit)
    lines = r.output.strip().splitlines()
    assert lines[:2] == [
        f"1. checkpoint signed by {ORIGIN} (size 2): ok",
        "2. entry 1 is in that tree (inclusion proof): ok",
    ]
    assert len(lines) == 3 and lines[2].startswith(f"COULD NOT CHECK ({code}): ")
    assert says in lines[2] and "INVALID" not in r.output


def test_receipt_against_a_log_that_is_down_or_not_a_url(
    grown: tuple[Path, str, str, bytes],
) -> None:
    f, key, _, _ = grown
    for log in ("http://127.0.0.1:9", "127.0.0.1:9"):  # nothing listens; no scheme
        r = _invoke("receipt", str(f), "--log-key", key, "--log", log, "--timeout", DEADLINE)
        assert r.exit_code == 2, r.output
        assert r.output.strip().splitlines()[-1].startswith("COULD NOT CHECK (fetch_failed): ")
        assert "INVALID" not in r.output


def test_receipt_against_an_honest_log_through_the_bounded_reader(
    grown: tuple[Path, str, str, bytes], hostile: Callable[..., str], tmp_path: Path
) -> None:
    f, key, _, latest = grown
    assert open_checkpoint(latest, _vk(key)).checkpoint.size == 4
    proof = _consistency()
    url = hostile(
        None,
        {"checkpoint": serve(latest), "log/proof/*": serve(json.dumps(proof).encode())},
    )
    r = _invoke("receipt", str(f), "--log-key", key, "--log", url)
    assert r.exit_code == 0, r.output
    assert "3. the log's latest checkpoint (size 4) extends it" in r.output


def _vk(vkey: str) -> Ed25519Verifier:
    return Ed25519Verifier.from_vkey(vkey)


def _consistency() -> dict[str, Any]:
    """The consistency proof from size 2 to size 4 of the leaves a, b, c, d."""
    leaves = [hash_leaf(x) for x in (b"a", b"b", b"c", b"d")]
    nodes = merkle.appended_nodes(merkle.CompactRange(), leaves)
    ranges = merkle.consistency_ranges(2, 4)
    proof = [merkle.fold_range([nodes[n] for n in merkle.range_nodes(b, e)]) for b, e in ranges]
    return {"size1": 2, "size2": 4, "proof": [base64.b64encode(h).decode() for h in proof]}


# -- finding 9: evidence in O(log n) per finding ------------------------------------------------


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """A petition whose log holds 1,500 paper batches and, spread among them,
    150 copies of one signature: each copy is refused (``already_signed``)."""
    tmp = tmp_path_factory.mktemp("refusing")
    signer = Ed25519Signer.generate(ORIGIN)
    inst = Institution()
    manifest = inst.process("pet", "petition")
    signature = Citizen.enrol(inst, "pet").ballot()
    authority = authority_for(manifest, OperatorKey(signer), registered=lambda key: False)
    leaves = [*authority, manifest, signature]
    for i in range(1500):
        leaves.append(inst.paper("pet", f"batch-{i}", signatures=1))
        if i % 10 == 3:
            leaves.append(signature)
    return Exported(signer, leaves, tmp)


def _check_proofs(ex: Exported, findings: list[audit_module.Finding]) -> None:
    for f in findings:
        ev = f.evidence
        assert f.index is not None and base64.b64decode(ev["entry"]) == ex.leaves[f.index]
        cp = open_checkpoint(ev["checkpoint"], ex.signer.verifier).checkpoint
        verify_inclusion(
            hash_leaf(ex.leaves[f.index]),
            f.index,
            cp.size,
            [base64.b64decode(h) for h in ev["inclusion_proof"]],
            cp.root,
        )


class _Counted:
    """Counts node hashes computed, subtree hashes read and leaves read back
    from the auditor's state while an audit runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashes = self.nodes = self.leaves = 0
        hash_children, node = merkle.hash_children, audit_module.Subtrees.node
        read_leaves = audit_module.read_leaves

        def counted_hash(left: bytes, right: bytes) -> bytes:
            self.hashes += 1
            return hash_children(left, right)

        def counted_node(subtrees: audit_module.Subtrees, level: int, index: int) -> bytes:
            self.nodes += 1
            return node(subtrees, level, index)

        def counted_leaves(directory: Path, begin: int, end: int) -> list[bytes]:
            got = read_leaves(directory, begin, end)
            self.leaves += len(got)
            return got

        monkeypatch.setattr(merkle, "hash_children", counted_hash)
        monkeypatch.setattr(audit_module.Subtrees, "node", counted_node)
        monkeypatch.setattr(audit_module, "read_leaves", counted_leaves)


def test_evidence_holds_and_costs_log_n_per_finding(
    refusing: Exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Findings spread over a log with many refused entries, audited in two
    runs (the second from the state the first saved): every inclusion proof
    verifies against the signed checkpoint, and the work per finding -- node
    hashes computed, subtree hashes read -- is bounded by log2 of the size,
    where rebuilding each proof from all leaves cost O(n) per finding."""
    ex, state = refusing, tmp_path / "state"
    first = 700
    counted = _Counted(monkeypatch)
    early = exported_log(tmp_path, "early", ex.signer, ex.leaves[:first], per_append=50)
    r1 = audit(DirectorySource(early), ex.signer.verifier, state_dir=state)
    assert {f.code for f in r1.findings} == {"already_signed"} and len(r1.findings) > 50
    _check_proofs(ex, r1.findings)

    n = len(ex.leaves)
    full = exported_log(tmp_path, "full", ex.signer, ex.leaves, per_append=50)
    counted.hashes = counted.nodes = counted.leaves = 0
    r2 = audit(DirectorySource(full), ex.signer.verifier, state_dir=state)
    found = len(r2.findings)
    assert {f.code for f in r2.findings} == {"already_signed"} and found > 80
    assert min(f.index or 0 for f in r2.findings) >= first
    _check_proofs(ex, r2.findings)

    depth = n.bit_length()
    # building the tree: one hash per new node (fewer than the new entries,
    # plus the border's), two roots; then each proof folds at most `depth`
    assert counted.hashes <= (n - first) + 2 * depth + found * depth, counted.hashes
    assert counted.nodes <= found * 2 * depth, counted.nodes
    # leaves read back from the state: the rest of one partial bundle at most
    assert counted.leaves < 256


def test_a_finding_on_an_entry_that_does_not_decode_has_its_proof(
    small: Exported, tmp_path: Path
) -> None:
    """Reported with the rest, once the tree is known to match, in log order."""
    at = 4  # after the registration, the reservation, the manifest and a signature
    leaves = [*small.leaves[:at], b"not json", *small.leaves[at:]]
    d = exported_log(tmp_path, "odd", small.signer, leaves, per_append=50)
    r = audit(DirectorySource(d), small.signer.verifier)
    assert [(f.step, f.index) for f in r.findings] == [(4, at)]
    _check_proofs(Exported(small.signer, leaves, d), r.findings)


# -- finding 15: what is printed --------------------------------------------------------------


def test_a_failed_step_1_runs_nothing_after_it(small: Exported, tmp_path: Path) -> None:
    """Wrong key, or not a checkpoint at all: step 1 fails with its reason, and
    steps 2 to 7 are "not run", never "ok"; no entry count is printed."""
    other = Ed25519Signer.generate(ORIGIN).verifier.vkey
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    (garbled / "checkpoint").write_text("<html>maintenance</html>\n")
    for log, key, code in [
        (small.tiles, other, "unknown_key"),
        (garbled, small.vkey, "malformed_note"),
    ]:
        r = _invoke("audit", "--log", str(log), "--log-key", key)
        assert r.exit_code == 1, r.output
        lines = r.output.splitlines()
        assert lines[0] == f"log {ORIGIN} at {log}: no checkpoint signed by its key"
        assert lines[1] == f"1. {audit_module.STEPS[1]}: FAILED"
        assert lines[2:8] == [f"{n}. {audit_module.STEPS[n]}: not run" for n in range(2, 8)]
        assert f"  step 1 {code}: the checkpoint is not signed by the log's key" in lines[8]
        assert lines[-1].endswith("steps 2-7 not run") and ": ok" not in r.output
        assert "entries checked" not in r.output
        report = audit(DirectorySource(log), _vk(key))
        assert report.steps == {1: False, 2: None, 3: None, 4: None, 5: None, 6: None, 7: None}
        outcomes = [s["outcome"] for s in report.to_json()["steps"]]
        assert outcomes == ["failed"] + ["not run"] * 6


def test_a_root_mismatch_runs_nothing_after_step_3(small: Exported, tmp_path: Path) -> None:
    d = exported_log(tmp_path, "d", small.signer, small.leaves, per_append=50)
    n = len(small.leaves)
    bundle = d / entries_path(0, n)
    other = exported_log(
        tmp_path, "other", Ed25519Signer.generate(ORIGIN), [b"x"] * n, per_append=50
    )
    bundle.write_bytes((other / entries_path(0, n)).read_bytes())
    r = audit(DirectorySource(d), small.signer.verifier)
    assert [(f.step, f.code) for f in r.findings] == [(3, "root_mismatch")]
    assert r.steps == {1: True, 2: True, 3: False, 4: None, 5: None, 6: None, 7: None}


def test_no_stray_output_when_not_a_terminal(
    small: Exported, hostile: Callable[..., str], tmp_path: Path
) -> None:
    """The progress bar is for a terminal: a pipe gets the report alone, its
    first line the log's, its last PASSED."""
    url = hostile(small.tiles)
    r = _invoke("audit", "--log", url, "--log-key", small.vkey, "--state", str(tmp_path / "s"))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith(f"log {ORIGIN} at {url}/: size 7, root ")
    # the export serves no issuer's counts: said, and not taken for a pass
    counted = [x for x in lines[1:] if x.startswith("credentials of ")]
    assert counted and all("the issuer's count not checked (not served" in x for x in counted)
    steps = lines[1 + len(counted) :]
    assert steps[:7] == [f"{n}. {audit_module.STEPS[n]}: ok" for n in range(1, 8)]
    assert steps[7:] == ["entries checked: 7, credentials: 3, results compared: 0", "PASSED"]
    command = Path(sys.executable).with_name("urne-verify")
    if command.exists():
        state = str(tmp_path / "s2")
        p = subprocess.run(
            [str(command), "audit", "--log", url, "--log-key", small.vkey, "--state", state],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert p.returncode == 0 and p.stderr == "", (p.stdout, p.stderr)
        assert p.stdout.splitlines() == lines


def test_a_deadline_does_not_cut_an_honest_answer(
    small: Exported, hostile: Callable[..., str]
) -> None:
    """Bounds leave an honest log alone: a full audit over HTTP with the
    tests' short deadline passes."""
    url = hostile(small.tiles)
    r = audit(HttpSource(url, deadline=float(DEADLINE)), small.signer.verifier)
    assert r.ok, [f.message for f in r.findings]
    assert r.entries_checked == 7 and all(r.steps.values())
