"""The log's tiles on S3-compatible object storage (docs/spec/log.md §8),
against a real store (SeaweedFS): every tile, bundle and checkpoint published
with the service's cache headers; ``urne-verify audit`` reading the bucket
directly; rounds that add only what is new; an object never overwritten with
other bytes; a bucket of another log, or ahead of this one, refused; two
publishers racing; and a publisher killed mid-round, after which no object is
torn and the next round completes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.civic import IN_2026, Citizen, Institution, open_in
from tests.support.deployment import console_script
from tests.support.objectstore import ObjectStore, object_store
from tests.support.witnessing import witness_servers
from tests.support.world import World, build_world
from urne.ledger.civic.record import CivicRecord
from urne.ledger.log import Log
from urne.ledger.log.bucket import (
    BucketError,
    TileBucket,
    follow,
    publish,
    publish_cosigned,
    tile_paths,
)
from urne.ledger.log.witnessing import Witnessing
from urne.verifier.check.audit import HttpSource, audit
from urne.verifier.cli.main import app as urne_verify
from urne.verifier.tlog.checkpoint import Checkpoint
from urne.verifier.tlog.note import Ed25519Signer, sign_note

ORIGIN = "bucket.example/log"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    with object_store(tmp_path_factory.mktemp("s3")) as s:
        yield s


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("log")
    log = Log.open(f"sqlite:///{tmp / 'log.db'}", key_dir=tmp / "keys", origin=ORIGIN)
    try:
        yield build_world(log, fillers=300)
    finally:
        log.close()


def _bucket(store: ObjectStore, prefix: str) -> TileBucket:
    return TileBucket(f"s3://{store.bucket}/{prefix}", client=store.client())


def _get(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read(), r.headers.get("Cache-Control", "")


def _expected(log: Log) -> dict[str, bytes]:
    size = log.checkpoint().size
    return {path: read() for path, read in tile_paths(log, 0, size)}


def test_published_tiles_are_the_logs_and_the_audit_reads_the_bucket(
    store: ObjectStore, world: World
) -> None:
    log, bucket = world.log, _bucket(store, "city/log")
    r = publish(log, bucket)
    want = _expected(log)
    size = log.checkpoint().size
    assert r.size == size and r.written == len(want) + 1 and r.found == 0
    assert any(p.startswith("tile/1/") for p in want)  # more than one level
    base = store.public_url("city/log")
    for path, data in want.items():
        got, cache = _get(f"{base}/{path}")  # anonymous, as a CDN reads it
        assert got == data, path
        assert cache == "public, max-age=31536000, immutable", path
    text, cache = _get(f"{base}/checkpoint")
    assert text == log.checkpoint().text.encode() and cache == "no-cache"
    report = audit(HttpSource(base), log.verifier)
    assert report.ok, [(f.step, f.code, f.message) for f in report.findings]
    assert report.size == size
    # the observer's command, on the bucket's address
    r_cli = CliRunner().invoke(
        urne_verify, ["audit", "--log", base, "--log-key", log.verifier.vkey]
    )
    assert r_cli.exit_code == 0 and "PASSED" in r_cli.output, r_cli.output
    # nothing new: nothing written
    assert publish(log, bucket) == type(r)(size, 0, 0)


def test_a_later_round_adds_only_what_is_new(store: ObjectStore, world: World) -> None:
    log, bucket = world.log, _bucket(store, "town/log")
    publish(log, bucket)
    before = log.checkpoint().size
    world.filler(140)  # 280 entries: a new full bundle, new partials
    world.settle()
    after = log.checkpoint().size
    new = dict(tile_paths(log, before, after))
    old = {path for path, _ in tile_paths(log, 0, before)}
    # exactly the objects a tree of `before` lacks: full tiles it had stay as they are
    assert set(new) == {path for path, _ in tile_paths(log, 0, after)} - old
    assert "tile/entries/000" in old and "tile/entries/000" not in new
    r = publish(log, bucket)
    assert (r.size, r.written, r.found) == (after, len(new) + 1, 0)
    base = store.public_url("town/log")
    report = audit(HttpSource(base), log.verifier)
    assert report.ok and report.size == after


def test_an_object_is_never_overwritten(store: ObjectStore, world: World) -> None:
    log = world.log
    want = _expected(log)
    paths = sorted(want)
    client = store.client()
    # the same bytes there already (a round killed before its checkpoint): fine
    same = _bucket(store, "same/log")
    client.put_object(Bucket=store.bucket, Key=f"same/log/{paths[0]}", Body=want[paths[0]])  # type: ignore[attr-defined]
    r = publish(log, same)
    assert r.found == 1 and r.written == len(want)
    # other bytes: refused, and no checkpoint is published over them
    other = _bucket(store, "other/log")
    client.put_object(Bucket=store.bucket, Key=f"other/log/{paths[1]}", Body=b"not this log")  # type: ignore[attr-defined]
    with pytest.raises(BucketError) as e:
        publish(log, other)
    assert e.value.code == "tile_conflict"
    assert other.get("checkpoint") is None
    assert other.get(paths[1]) == (b"not this log", other.get(paths[1])[1])  # type: ignore[index]


def test_a_bucket_of_another_log_or_ahead_is_refused(
    store: ObjectStore, world: World, tmp_path: Path
) -> None:
    log = world.log
    stranger = Ed25519Signer.generate(ORIGIN)
    cp = log.checkpoint()
    foreign = _bucket(store, "foreign/log")
    foreign.put_checkpoint(sign_note(cp.text.split("\n\n")[0] + "\n", stranger).encode(), None)
    with pytest.raises(BucketError) as e:
        publish(log, foreign)
    assert e.value.code == "bucket_other_log"
    # this log's own key, a larger tree: the database went back (a restored backup)
    ahead = _bucket(store, "ahead/log")
    later = Checkpoint(origin=log.origin, size=cp.size + 10, root=bytes(32))
    ahead.put_checkpoint(sign_note(later.to_text(), log.signer).encode(), None)
    with pytest.raises(BucketError) as e:
        publish(log, ahead)
    assert e.value.code == "bucket_ahead"


def test_another_history_under_the_same_key_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    """A database that went on with other entries under the same key (a
    standby that lost transactions, a restored backup) would publish a
    second history over the first: refused once it is as large as the bucket's."""
    keys = tmp_path / "keys"
    first = Log.open(f"sqlite:///{tmp_path / 'a.db'}", key_dir=keys, origin="fork.example/log")
    second = Log.open(f"sqlite:///{tmp_path / 'b.db'}", key_dir=keys, origin="fork.example/log")
    try:
        first.append_many([b'{"a":%d}' % i for i in range(300)])
        second.append_many([b'{"b":%d}' % i for i in range(400)])
        bucket = _bucket(store, "fork/log")
        publish(first, bucket)
        with pytest.raises(BucketError) as e:
            publish(second, bucket)
        assert e.value.code == "bucket_forked"
        assert bucket.get("checkpoint")[0] == first.checkpoint().text.encode()  # type: ignore[index]
    finally:
        first.close()
        second.close()


def test_two_publishers_racing_never_take_the_checkpoint_back(
    store: ObjectStore, world: World
) -> None:
    bucket = _bucket(store, "race/log")
    publish(world.log, bucket)
    older, etag = bucket.get("checkpoint")  # type: ignore[misc]
    world.filler(2)
    world.settle()
    publish(world.log, bucket)  # another publisher, a larger tree, first
    newer = world.log.checkpoint().text.encode()
    with pytest.raises(BucketError) as e:
        bucket.put_checkpoint(older, etag)  # this one read the bucket before it
    assert e.value.code == "checkpoint_raced"
    assert bucket.get("checkpoint")[0] == newer  # type: ignore[index]


def test_a_publisher_killed_mid_round_tears_nothing_and_the_next_round_completes(
    store: ObjectStore, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    log = Log.open(url, key_dir=tmp_path / "keys", origin="big.example/log")
    try:
        for start in range(0, 80_000, 20_000):
            log.append_many([b'{"n":%d}' % i for i in range(start, start + 20_000)])
        want = _expected(log)
        assert len(want) > 600
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("URNE_", "AWS_"))},
            **store.environment(),
            "URNE_DATABASE_URL": url,
            "URNE_KEY_DIR": str(tmp_path / "keys"),
            "URNE_ORIGIN": "big.example/log",
        }
        cmd = [console_script("urne"), "publish", "--bucket", f"s3://{store.bucket}/big/log",
               "--endpoint", store.endpoint]  # fmt: skip
        out = tmp_path / "publish.out"
        with open(out, "wb") as sink:
            proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT)
            bucket = _bucket(store, "big/log")
            deadline = time.monotonic() + 60
            while _count(store, "big/log/") < 100:
                assert proc.poll() is None, out.read_text()
                assert time.monotonic() < deadline
                time.sleep(0.05)
            proc.send_signal(signal.SIGSTOP)  # frozen where it stands, then killed
            there = _count(store, "big/log/")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert there == _count(store, "big/log/")
        assert 100 <= there < len(want)
        assert bucket.get("checkpoint") is None  # written last: never before its tiles
        for key in _keys(store, "big/log/"):
            got = bucket.get(key.removeprefix("big/log/"))
            assert got is not None and got[0] == want[key.removeprefix("big/log/")], key
        r = publish(log, bucket)  # the next round: the same bytes found, the rest written
        assert r.found >= there - 1 and r.found + r.written == len(want) + 1
        assert set(_keys(store, "big/log/")) == {f"big/log/{p}" for p in want} | {
            "big/log/checkpoint"
        }
        # the command, run again: nothing left to do, said in one line
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        size = log.checkpoint().size
        assert done.stdout == (
            f"published {size} entries to s3://{store.bucket}/big/log: "
            "0 objects written, 0 there already\n"
        )
        bad = subprocess.run(
            [*cmd[:2], "--bucket", "https://not-a-bucket"], env=env, capture_output=True, text=True
        )
        assert bad.returncode == 2 and "(bad_bucket)" in bad.stderr
        assert bad.stderr.count("\n") == 1
    finally:
        log.close()


def _keys(store: ObjectStore, prefix: str) -> list[str]:
    client = store.client()
    out: list[str] = []
    token = None
    while True:
        kwargs = {"Bucket": store.bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        page = client.list_objects_v2(**kwargs)  # type: ignore[attr-defined]
        out += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return out
        token = page["NextContinuationToken"]


def _count(store: ObjectStore, prefix: str) -> int:
    return len(_keys(store, prefix))


def test_readers_who_require_the_witnesses_audit_the_bucket(
    store: ObjectStore, tmp_path: Path
) -> None:
    """``checkpoint/cosigned`` (the latest checkpoint a quorum of witnesses
    cosigned, with the partial tiles of its size) beside ``checkpoint``:
    a reader with a witness policy audits the bucket, at the cosigned size,
    even once the log has grown past it."""
    with ExitStack() as stack:
        log = Log.open(
            f"sqlite:///{tmp_path / 'w.db'}", key_dir=tmp_path / "keys", origin="w.example/log"
        )
        stack.callback(log.close)
        endpoints = witness_servers(stack, tmp_path, log, 2)
        witnessing = Witnessing(log, endpoints, interval=0.05)
        witnessing.start()
        civic = CivicRecord(log, clock=lambda: IN_2026)
        inst = Institution()
        open_in(civic, inst.process("pet", "petition"))
        early = _bucket(store, "early/log")
        publish(log, early)  # a bucket left behind: 3 entries
        for _ in range(260):  # past a full tile
            civic.append(Citizen.enrol(inst, "pet").ballot())
        cosigned = log.checkpoint().size
        deadline = time.monotonic() + 30
        while True:
            latest = witnessing.latest_cosigned()
            if latest is not None and latest.size >= cosigned:
                break
            assert time.monotonic() < deadline, witnessing.last_error
            time.sleep(0.05)
        witnessing.close()  # the witnesses fall behind: the log grows past them
        for _ in range(5):
            civic.append(Citizen.enrol(inst, "pet").ballot())
        size = log.checkpoint().size
        bucket = _bucket(store, "witnessed/log")
        publish(log, bucket, witnessing)
        base = store.public_url("witnessed/log")
        text, cache = _get(f"{base}/checkpoint/cosigned")
        # the log's signature and the two witnesses' cosignatures
        assert cache == "no-cache" and text.count("\n\u2014 ".encode()) == 3
        plain = audit(HttpSource(base), log.verifier)
        assert plain.ok and plain.size == size
        with_quorum = audit(HttpSource(base), log.verifier, policy=witnessing.policy)
        assert with_quorum.ok, [(f.step, f.code, f.message) for f in with_quorum.findings]
        assert with_quorum.size == cosigned < size
        # another round: nothing new for the witnesses' checkpoint either
        again = publish(log, bucket, witnessing)
        assert (again.written, again.found) == (0, 0)
        # a cosigned checkpoint larger than the bucket's tree (the log grew and
        # was cosigned during the round): every tile it needs is written first
        publish_cosigned(log, early, witnessing, 3)
        behind = audit(
            HttpSource(store.public_url("early/log")), log.verifier, policy=witnessing.policy
        )
        assert behind.ok, [(f.step, f.code, f.message) for f in behind.findings]
        assert behind.size == cosigned


def test_the_service_publishes_as_it_sequences(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``urne serve --tiles-bucket`` (``URNE_TILES_BUCKET``): the publisher runs
    in the service, from its start to its stop."""
    from fastapi.testclient import TestClient

    from urne.api.main import create_app
    from urne.ledger.db.settings import Settings

    for k, v in store.environment().items():
        monkeypatch.setenv(k, v)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'log.db'}",
        issuance_database_url=f"sqlite:///{tmp_path / 'roll.db'}",
        key_dir=tmp_path / "keys",
        origin="served.example/log",
        tiles_bucket=f"s3://{store.bucket}/served/log",
        tiles_endpoint=store.endpoint,
        credential_processes=0,
    )
    app = create_app(None, settings, rate_limit=None)
    bucket = _bucket(store, "served/log")
    with TestClient(app):
        civic, log = app.state.civic, app.state.log
        inst = Institution()
        open_in(civic, inst.process("pet", "petition"))
        for _ in range(3):
            civic.append(Citizen.enrol(inst, "pet").ballot())
        size = log.checkpoint().size
        deadline = time.monotonic() + 20
        while (bucket.get("checkpoint") or (b"", ""))[0] != log.checkpoint().text.encode():
            assert time.monotonic() < deadline, app.state.publisher.failed
            time.sleep(0.1)
        publisher = app.state.publisher
        assert publisher.running
    assert not publisher.running  # stopped with the service
    report = audit(HttpSource(store.public_url("served/log")), log.verifier)
    assert report.ok and report.size == size


def test_a_passing_failure_is_said_and_the_next_round_publishes(
    store: ObjectStore, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, bucket = world.log, _bucket(store, "follow/log")
    real, calls = log.catch_up, []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database restarted")
        real()

    monkeypatch.setattr(log, "catch_up", flaky)
    said: list[str] = []
    follow(log, bucket, interval=0, say=said.append, rounds=2, sleep=lambda s: None)
    assert said[0] == "not published this round: RuntimeError: the database restarted"
    assert bucket.get("checkpoint")[0] == log.checkpoint().text.encode()  # type: ignore[index]


def test_a_round_asked_to_stop_writes_no_checkpoint(store: ObjectStore, world: World) -> None:
    bucket, asked = _bucket(store, "stopped/log"), []

    def stop() -> bool:  # after three objects
        asked.append(1)
        return len(asked) > 3

    r = publish(world.log, bucket, stop=stop)
    assert (r.size, r.written) == (0, 0)
    assert bucket.get("checkpoint") is None
    assert len(_keys(store, "stopped/log/")) == 3  # the next round finds them
    assert publish(world.log, bucket).found == 3
