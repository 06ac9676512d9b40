"""Publish the log's tiles, entry bundles and checkpoint to S3-compatible
object storage (docs/spec/log.md §8), for readers served by a bucket behind a
CDN rather than by the service.

The bucket holds exactly the paths the service answers (``checkpoint``,
``tile/<L>/<N>[.p/<W>]``, ``tile/entries/<N>[.p/<W>]``) under a prefix, so
``urne-verify audit --log https://<bucket URL>/<prefix>`` reads it as it reads
the service. Each round:

1. reads the bucket's checkpoint, which must be one this log signed (its key
   verifies it; ``bucket_other_log``), no larger than the log
   (``bucket_ahead``), and of the log's own tree at that size: its root is
   the log's root there (``bucket_forked``: a database that lost
   transactions, or was restored from a backup, and went on with other
   entries, would otherwise publish a second history);
2. writes every tile and bundle the log's latest checkpoint covers beyond the
   bucket's, each with ``If-None-Match: *``: an object is created once and
   never overwritten. Where one exists already (a round killed before its
   checkpoint), it is read back and must hold the very same bytes
   (``tile_conflict`` otherwise, and the round stops before the checkpoint);
   ``Cache-Control: public, max-age=31536000, immutable``, as the service
   serves them: a tile at a given width never changes;
3. writes the checkpoint last, with ``If-Match`` on the one read in step 1
   (``If-None-Match: *`` for the first): a reader who finds a checkpoint
   finds every tile it covers, and two publishers racing cannot take the
   bucket back to a smaller tree (``checkpoint_raced``: the next round reads
   again). ``Cache-Control: no-cache``.

With the log's witnesses (``URNE_WITNESSES``), a round also publishes
``checkpoint/cosigned``, the latest checkpoint a quorum of them cosigned,
with their cosignatures, after the partial tiles of its size: readers who
require the witnesses audit the bucket too.

An object store writes an object whole or not at all, so a publisher killed
at any moment leaves no torn tile: the next round finds the bucket's old
checkpoint, writes again what it had written (the same bytes), and goes on.

The client is boto3 (the AWS SDK), which speaks to any S3-compatible store;
credentials come from its usual places (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, a profile, an instance role).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from urne.ledger.log.store import Log
from urne.ledger.log.witnessing import Witnessing
from urne.verifier.errors import FormatError, UrneError
from urne.verifier.tlog.checkpoint import Checkpoint, open_checkpoint
from urne.verifier.tlog.tiles import TILE_HEIGHT, TILE_WIDTH, entries_path, tile_path, tile_width

__all__ = [
    "BucketError",
    "Published",
    "Publisher",
    "TileBucket",
    "follow",
    "publish",
    "publish_cosigned",
    "tile_paths",
]

IMMUTABLE = "public, max-age=31536000, immutable"
CHECKPOINT_CACHE = "no-cache"


class BucketError(UrneError):
    """The bucket refuses, or holds what this log never wrote."""

    code = "bucket_error"
    status = 409


@dataclass(frozen=True, slots=True)
class Published:
    """One round: the size now in the bucket, the objects written, and those
    found already there with the same bytes."""

    size: int
    written: int
    found: int


def tile_paths(log: Log, since: int, size: int) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """Every entry bundle and hash tile of a tree of ``size`` that a tree of
    ``since`` does not have, bundles first, each with how to read it."""
    first = since // TILE_WIDTH
    for index in range(first, -(-size // TILE_WIDTH)):
        width = tile_width(0, index, size)
        if index * TILE_WIDTH + width <= since:
            continue  # the same bundle at the same width is in the bucket
        yield entries_path(index, width), _reader(log.entry_bundle, index, width)
    level = 0
    while size >> (level * TILE_HEIGHT):
        hashes, before = size >> (level * TILE_HEIGHT), since >> (level * TILE_HEIGHT)
        for index in range(before // TILE_WIDTH, -(-hashes // TILE_WIDTH)):
            width = tile_width(level, index, size)
            if index * TILE_WIDTH + width <= before:
                continue
            yield tile_path(level, index, width), _reader(log.tile, level, index, width)
        level += 1


def _reader(read: Callable[..., bytes], *args: int) -> Callable[[], bytes]:
    return lambda: read(*args)


class TileBucket:
    """A bucket and a prefix at an S3 endpoint: ``s3://<bucket>[/<prefix>]``."""

    def __init__(self, url: str, *, endpoint: str | None = None, client: Any = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise FormatError(
                f"a tiles bucket is s3://<bucket>[/<prefix>], not {url!r}", code="bad_bucket"
            )
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.endpoint = endpoint
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                config=Config(
                    s3={"addressing_style": "path"},
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=30,
                ),
            )
        self.client = client

    def __repr__(self) -> str:
        return f"TileBucket('s3://{self.bucket}/{self.prefix}')"

    def key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _code(self, exc: Exception) -> str:
        response = getattr(exc, "response", None) or {}
        return str(response.get("Error", {}).get("Code", ""))

    def get(self, path: str) -> tuple[bytes, str] | None:
        """The object's bytes and ETag, or None if there is none."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(path))
            return answer["Body"].read(), str(answer["ETag"])
        except Exception as exc:
            if self._code(exc) in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise BucketError(f"s3://{self.bucket}/{self.key(path)}: {exc}") from exc

    def create(self, path: str, data: bytes) -> bool:
        """Create ``path`` with ``data`` unless it exists (``If-None-Match: *``):
        True if written, False if it held these very bytes already;
        ``tile_conflict`` if it holds other bytes."""
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key(path),
                Body=data,
                IfNoneMatch="*",
                CacheControl=IMMUTABLE,
                ContentType="application/octet-stream",
            )
            return True
        except Exception as exc:
            if self._code(exc) not in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                raise BucketError(f"s3://{self.bucket}/{self.key(path)}: {exc}") from exc
        there = self.get(path)
        if there is None:  # another writer's upload of this key, not finished
            raise BucketError(
                f"s3://{self.bucket}/{self.key(path)}: another upload of it is under way; "
                "the next round tries again"
            )
        if there[0] != data:
            raise BucketError(
                f"s3://{self.bucket}/{self.key(path)} exists and holds other bytes than this "
                "log's: it is never overwritten; nothing more is published",
                code="tile_conflict",
            )
        return False

    def put_checkpoint(self, text: bytes, etag: str | None, path: str = "checkpoint") -> None:
        """The checkpoint (or ``checkpoint/cosigned``), replacing exactly the
        one read (``If-Match``), or created if there was none (``If-None-Match: *``)."""
        condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key(path),
                Body=text,
                CacheControl=CHECKPOINT_CACHE,
                ContentType="text/plain; charset=utf-8",
                **condition,
            )
        except Exception as exc:
            if self._code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                raise BucketError(
                    f"the bucket's {path} changed during this round (another publisher): "
                    "read it again",
                    code="checkpoint_raced",
                ) from exc
            raise BucketError(f"s3://{self.bucket}/{self.key(path)}: {exc}") from exc


def _opened(log: Log, text: bytes, what: str) -> Checkpoint:
    """The bucket's ``what``, which must be one this log's key signed."""
    try:
        return open_checkpoint(text, log.verifier, origin=log.origin).checkpoint
    except UrneError as exc:
        raise BucketError(
            f"the bucket's {what} is not one this log signed ({exc}): it belongs to "
            "another log; publish this one under another prefix",
            code="bucket_other_log",
        ) from exc


def publish(
    log: Log,
    bucket: TileBucket,
    witnessing: Witnessing | None = None,
    *,
    stop: Callable[[], bool] = lambda: False,
) -> Published:
    """One round (see the module docstring); with ``witnessing``, also the
    latest checkpoint a quorum of the log's witnesses cosigned, as
    ``checkpoint/cosigned`` (:func:`publish_cosigned`). ``stop``, asked
    between objects: a round stopped early writes no checkpoint (the next
    one finds what it wrote)."""
    done = _publish(log, bucket, stop)
    if witnessing is not None and not stop():
        extra = publish_cosigned(log, bucket, witnessing, done.size, stop)
        done = Published(done.size, done.written + extra.written, done.found + extra.found)
    return done


class _Stopped(Exception):
    """Asked to stop between two objects."""


def _create_all(
    bucket: TileBucket, paths: Iterator[tuple[str, Callable[[], bytes]]], stop: Callable[[], bool]
) -> tuple[int, int]:
    """Create each object; ``(written, found)``."""
    written = found = 0
    for path, read in paths:
        if stop():
            raise _Stopped
        if bucket.create(path, read()):
            written += 1
        else:
            found += 1
    return written, found


def publish_cosigned(
    log: Log,
    bucket: TileBucket,
    witnessing: Witnessing,
    published: int,
    stop: Callable[[], bool] = lambda: False,
) -> Published:
    """``checkpoint/cosigned``: the latest checkpoint with the quorum of
    cosignatures, with them, as the service serves it, so that a reader who
    requires the witnesses reads the bucket too. The tiles of its size are
    written first (each once, as every tile): below ``published`` (the
    bucket's tree) only its partial tiles are missing; above it (the log grew
    and was cosigned during the round), every tile the bucket lacks. Never
    taken back to a smaller tree; ``(size, written, found)``, size 0 if none
    is cosigned yet."""
    cos = witnessing.latest_cosigned()
    if cos is None:
        return Published(0, 0, 0)
    text = witnessing.cosigned(cos).encode()
    there = bucket.get("checkpoint/cosigned")
    etag = None
    if there is not None:
        old, etag = there
        if old == text or _opened(log, old, "checkpoint/cosigned").size > cos.size:
            return Published(cos.size, 0, 0)
    if cos.size > published:
        paths = tile_paths(log, published, cos.size)
    else:
        paths = ((p, r) for p, r in tile_paths(log, 0, cos.size) if ".p/" in p)
    try:
        written, found = _create_all(bucket, paths, stop)
    except _Stopped:
        return Published(cos.size, 0, 0)
    bucket.put_checkpoint(text, etag, "checkpoint/cosigned")
    return Published(cos.size, written + 1, found)


def _publish(log: Log, bucket: TileBucket, stop: Callable[[], bool]) -> Published:
    # the bucket first: it only ever holds checkpoints of this database, so the
    # log's latest read after it is at least as large, whoever else publishes
    there = bucket.get("checkpoint")
    cp = log.checkpoint()
    since, etag = 0, None
    if there is not None:
        text, etag = there
        theirs = _opened(log, text, "checkpoint")
        since = theirs.size
        if since > cp.size:
            raise BucketError(
                f"the bucket holds a tree of {since} entries and this log {cp.size}: a "
                "database restored from an older backup? nothing is published",
                code="bucket_ahead",
            )
        if since and theirs.root != log.root(since):
            raise BucketError(
                f"the bucket's tree of {since} entries is not this log's first {since} "
                "entries: this database holds another history (a standby that lost "
                "transactions, a restored backup); nothing is published",
                code="bucket_forked",
            )
        if text == cp.text.encode():
            return Published(cp.size, 0, 0)
    try:
        written, found = _create_all(bucket, tile_paths(log, since, cp.size), stop)
    except _Stopped:
        return Published(since, 0, 0)
    bucket.put_checkpoint(cp.text.encode(), etag)
    return Published(cp.size, written + 1, found)


def follow(
    log: Log,
    bucket: TileBucket,
    *,
    witnessing: Witnessing | None = None,
    interval: float,
    say: Callable[[str], None],
    rounds: int | None = None,
    sleep: Callable[[float], object] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Publish every ``interval`` seconds what the log has sequenced since;
    a round that fails for a passing reason (a race, the store unreachable)
    is said and tried again at the next one. ``tile_conflict`` and the
    bucket's being another log's or ahead stop it."""
    done = 0
    while not stop() and (rounds is None or done < rounds):
        try:
            log.catch_up()
            r = publish(log, bucket, witnessing, stop=stop)
            if r.written:
                say(f"published: {r.size} entries ({r.written} objects written, {r.found} found)")
        except BucketError as exc:
            if exc.code in {"tile_conflict", "bucket_other_log", "bucket_ahead", "bucket_forked"}:
                raise
            say(f"not published this round: {exc} ({exc.code})")
        except Exception as exc:  # the database or the store for a moment: next round
            say(f"not published this round: {type(exc).__name__}: {exc}")
        done += 1
        if rounds is None or done < rounds:
            sleep(interval)


class Publisher:
    """:func:`follow` in a thread of the service (``urne serve --tiles-bucket``):
    started with the app, stopped with it. A refusal that no later round can
    mend (``tile_conflict``, ``bucket_other_log``, ``bucket_ahead``,
    ``bucket_forked``) stops it and is logged; the service goes on serving."""

    def __init__(
        self,
        log: Log,
        bucket: TileBucket,
        *,
        interval: float = 1.0,
        witnessing: Witnessing | None = None,
    ) -> None:
        self.log, self.bucket, self.interval, self.witnessing = log, bucket, interval, witnessing
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="urne-tiles", daemon=True)
        #: the refusal that stopped it, if one did
        self.failed: BucketError | None = None

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        logger = logging.getLogger("urne")
        try:
            follow(
                self.log,
                self.bucket,
                interval=self.interval,
                say=logger.info,
                witnessing=self.witnessing,
                sleep=self._stop.wait,
                stop=self._stop.is_set,
            )
        except BucketError as exc:
            self.failed = exc
            logger.error("tiles are no longer published to %r: %s (%s)", self.bucket, exc, exc.code)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
