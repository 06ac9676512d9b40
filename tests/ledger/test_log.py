"""The log on SQLite: appends, proofs reproduced from stored nodes, checkpoints,
tiles, refusals. The same behaviour on PostgreSQL is in test_postgres.py."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import reference as R
from tests.support.checks import assert_go_literals
from tests.support.paths import load_vector
from urne.ledger.errors import InvalidRequest, LogMismatch, NotFound
from urne.ledger.log import Log
from urne.ledger.log.keys import UnsafeKeyFile
from urne.verifier.tlog.checkpoint import open_checkpoint
from urne.verifier.tlog.proof import verify_consistency, verify_inclusion
from urne.verifier.tlog.rfc9162 import hash_leaf
from urne.verifier.tlog.tiles import decode_entry_bundle


def test_empty_log_has_a_signed_checkpoint_of_size_zero(log: Log) -> None:
    cp = log.checkpoint()
    assert cp.size == 0
    signed = open_checkpoint(cp.text, log.verifier)
    assert signed.checkpoint.size == 0
    assert signed.checkpoint.root == R.mth([])
    assert signed.checkpoint.origin == "test.example/log"


def test_go_literals_reproduced_by_the_ledger(log: Log) -> None:
    """Roots, subtree hashes and proofs of transparency-dev/merkle's tables are
    *generated* by the ledger from its stored nodes, not only verified."""
    v = load_vector("rfc9162/rfc6962_go_test_literals.json")
    leaves = [bytes.fromhex(x) for x in v["leaves"]]
    for i, leaf in enumerate(leaves):  # one transaction and checkpoint per entry
        assert log.append(leaf) == i
    for size, root in v["roots_by_tree_size"].items():
        assert log.checkpoint_at(int(size)).root.hex() == root
    assert_go_literals(log, v)


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Log, list[bytes]]:
    tmp = tmp_path_factory.mktemp("big")
    lg = Log.open(f"sqlite:///{tmp / 'log.db'}", key_dir=tmp / "keys", origin="big.example/log")
    entries = [f"entry {i}".encode() for i in range(1000)]
    # Uneven batches, so checkpoints land at many sizes.
    i = 0
    for step in (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233):
        lg.append_many(entries[i : i + step])
        i += step
    lg.append_many(entries[i:])
    return lg, entries


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_proofs_equal_reference_for_random_sizes(
    big_log: tuple[Log, list[bytes]], data: st.DataObject
) -> None:
    lg, entries = big_log
    size = data.draw(st.integers(min_value=1, max_value=len(entries)), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    size1 = data.draw(st.integers(min_value=1, max_value=size), label="size1")
    root = lg.root(size)
    assert root == R.mth(entries[:size])
    proof = lg.inclusion_proof(index, size)
    assert proof == R.path(index, entries[:size])
    verify_inclusion(hash_leaf(entries[index]), index, size, proof, root)
    cproof = lg.consistency_proof(size1, size)
    assert cproof == R.proof(size1, entries[:size])
    verify_consistency(size1, size, cproof, lg.root(size1), root)


def test_checkpoints_are_signed_and_consistent(big_log: tuple[Log, list[bytes]]) -> None:
    lg, entries = big_log
    cp = open_checkpoint(lg.checkpoint().text, lg.verifier).checkpoint
    assert cp.size == len(entries) and cp.root == R.mth(entries)
    for size in (1, 3, 6, 11, 19):
        old = open_checkpoint(lg.checkpoint_at(size).text, lg.verifier).checkpoint
        verify_consistency(
            old.size, cp.size, lg.consistency_proof(old.size, cp.size), old.root, cp.root
        )
    with pytest.raises(NotFound):
        lg.checkpoint_at(4)  # sizes between two batches were never signed


def test_entries_and_tiles(big_log: tuple[Log, list[bytes]]) -> None:
    lg, entries = big_log
    assert lg.entry(0) == entries[0] and lg.entry(999) == entries[999]
    assert lg.entries(10, 20) == entries[10:20]
    full = lg.tile(0, 1, 256)
    assert full == b"".join(hash_leaf(e) for e in entries[256:512])
    assert lg.tile(0, 3, 232) == b"".join(hash_leaf(e) for e in entries[768:1000])
    level1 = lg.tile(1, 0, 3)  # level-8 nodes: hashes of leaves [0,256), [256,512), ...
    assert level1 == b"".join(R.mth(entries[i * 256 : (i + 1) * 256]) for i in range(3))
    assert decode_entry_bundle(lg.entry_bundle(2, 256)) == entries[512:768]
    assert decode_entry_bundle(lg.entry_bundle(3, 232)) == entries[768:1000]
    with pytest.raises(NotFound):
        lg.tile(0, 3, 233)
    with pytest.raises(NotFound):
        lg.tile(1, 0, 4)
    with pytest.raises(NotFound):
        lg.entry_bundle(4, 1)


def test_reads_beyond_the_log_are_refused(log: Log) -> None:
    log.append_many([b"a", b"b", b"c"])
    with pytest.raises(InvalidRequest, match="beyond the log's latest checkpoint") as e:
        log.inclusion_proof(0, 4)
    assert e.value.code == "size_beyond_log"
    with pytest.raises(InvalidRequest, match="index 3 is not below size 3"):
        log.inclusion_proof(3, 3)
    with pytest.raises(InvalidRequest, match="from size 0"):
        log.consistency_proof(0, 3)
    with pytest.raises(InvalidRequest):
        log.root(2**70)
    with pytest.raises(InvalidRequest):
        log.entry(3)


def test_entry_size_limit(log: Log) -> None:
    log.append(b"x" * 0xFFFF)
    with pytest.raises(InvalidRequest, match="65536 bytes") as e:
        log.append(b"x" * 0x10000)
    assert e.value.code == "entry_too_large"
    with pytest.raises(InvalidRequest, match="bytes, got str"):
        log.append("text")  # type: ignore[arg-type]
    assert log.size == 1


def test_concurrent_submitters_get_gapless_distinct_indices(log: Log) -> None:
    got: list[int] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        for i in range(50):
            idx = log.append(f"{w}/{i}".encode())
            with lock:
                got.append(idx)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(400))
    # Every entry sits at the index it was acknowledged with.
    data = log.entries(0, 400)
    assert len(set(data)) == 400
    assert log.root(400) == R.mth(data)


def test_reopen_keeps_the_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    with Log.open(url, key_dir=tmp_path / "keys", origin="o.example/log") as a:
        a.append_many([b"1", b"2"])
        vkey = a.verifier.vkey
    with Log.open(url, key_dir=tmp_path / "keys", origin="o.example/log") as b:
        assert b.verifier.vkey == vkey
        assert b.append(b"3") == 2
        assert b.root(3) == R.mth([b"1", b"2", b"3"])


def test_database_refuses_another_key_or_origin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    Log.open(url, key_dir=tmp_path / "k1", origin="o.example/log").close()
    with pytest.raises(LogMismatch, match="vkey"):
        Log.open(url, key_dir=tmp_path / "k2", origin="o.example/log")
    with pytest.raises(LogMismatch, match=r"is for log 'o\.example/log'"):
        Log.open(url, key_dir=tmp_path / "k1", origin="other.example/log")


def test_key_file_is_private_and_refused_when_not(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    Log.open(f"sqlite:///{tmp_path / 'log.db'}", key_dir=keys, origin="o.example/log").close()
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(keys / "log.key").st_mode) == 0o600
    os.chmod(keys / "log.key", 0o644)
    with pytest.raises(UnsafeKeyFile, match="chmod 600"):
        Log.open(f"sqlite:///{tmp_path / 'log.db'}", key_dir=keys, origin="o.example/log")


def test_a_broken_sequencer_fails_loudly_instead_of_hanging() -> None:
    """A bug in the writer thread must reach every caller, not leave them waiting."""
    from urne.ledger.errors import SequencerBroken
    from urne.ledger.log.sequencer import Sequencer

    def broken(items: object) -> tuple[list[range | Exception], None]:
        return [], None  # too few results: the thread's bookkeeping raises

    sequencer = Sequencer(broken)
    fut = sequencer.submit([b"x"])
    with pytest.raises(ValueError):
        fut.result(timeout=10)
    with pytest.raises(SequencerBroken) as info:
        sequencer.submit([b"y"])
    assert (info.value.code, info.value.status) == ("sequencer_broken", 503)


def test_a_failed_flush_fails_its_batch_and_the_next_batch_goes_on() -> None:
    from urne.ledger.log.sequencer import Sequencer

    calls: list[int] = []

    def flaky(items: object) -> tuple[list[range | Exception], None]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")
        return [range(0, 1)], None

    sequencer = Sequencer(flaky)
    with pytest.raises(OSError, match="disk full"):
        sequencer.submit([b"x"]).result(timeout=10)
    assert sequencer.submit([b"y"]).result(timeout=10) == range(0, 1)
    sequencer.stop()


def test_receipts_from_the_sequencer_equal_receipts_read_back(log: Log) -> None:
    """Receipts made from the committed batch (no read) are the receipts the
    stored log gives, and each verifies, whatever the batch boundaries."""
    from concurrent.futures import ThreadPoolExecutor

    from urne.verifier.check.receipt import check_receipt

    log.append_many([b"before %d" % i for i in range(13)])
    entries = [b"entry %d" % i for i in range(300)]
    with ThreadPoolExecutor(16) as pool:
        futures = list(pool.map(log.submit_for_receipt, entries))
    receipts = [f.result(timeout=30) for f in futures]
    assert sorted(r.index for r in receipts) == list(range(13, 313))
    sizes = set()
    for entry, r in zip(entries, receipts, strict=True):
        assert r.entry == entry
        assert r == log.receipt(r.index)
        check_receipt(r, log.verifier)
        sizes.add(open_checkpoint(r.checkpoint, log.verifier).checkpoint.size)
    assert max(sizes) == log.size == 313


def test_a_refused_start_leaves_no_key_behind(tmp_path: Path) -> None:
    """Finding 14 of the security review: a refused start left a new log.key."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    with Log.open(url, key_dir=tmp_path / "keys", origin="o.example/log") as log:
        log.append(b"x")
    other = tmp_path / "other-keys"
    with pytest.raises(LogMismatch):
        Log.open(url, key_dir=other, origin="o.example/log")  # a new key: not this log's
    assert not (other / "log.key").exists()
    assert (tmp_path / "keys" / "log.key").exists()  # a key that was there stays
