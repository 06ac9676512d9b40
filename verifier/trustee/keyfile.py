"""The trustee's secret file: one process, one file, readable by its owner only.

It holds, as JSON (``"format": "urne-trustee/1"``)::

    {"format", "process", "name",
     "group":         "ristretto255" (a trustee of a secret vote) or
                      "bls12-381-g2" (an office of the credential issuers)
     "signing_seed":  b64,  the Ed25519 seed that signs the trustee's entries
     "share_secret":  b64,  e, 32 bytes little-endian: E = g^e receives the shares
     "public":        the object given to the institution for the manifest
     "log_key":       the log's verifier key this trustee trusts (pinned at first use)
     "checkpoint":    the last signed checkpoint it read (the log must extend it)
     "fingerprint":   b64, the manifest's fingerprint F, once read
     "coefficients":  [b64 scalars] of its polynomial, once it has dealt
     "deal":          b64, the deal entry exactly as signed and posted}

Written as every key file is (``urne.verifier.citizen.keyfile``): created
once, ``0600``, never over another file (:func:`create`); afterwards
replaced whole and atomically (:func:`save`: a private temporary file,
fsynced, renamed over the old one, the directory fsynced), so a crash leaves
the old file or the new one, never half of one. The polynomial is saved
before its deal is posted: a crash loses neither, and a retry posts the very
same bytes. :func:`locked` keeps two commands from using one file at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urne.verifier.citizen.keyfile import fsync_dir, read_private, write_new
from urne.verifier.civic.entries import b64decode, b64encode
from urne.verifier.credentials.bls import CURVE_ORDER
from urne.verifier.errors import FormatError, UrneError
from urne.verifier.secret.group import L

__all__ = ["FORMAT", "TrusteeError", "TrusteeFile", "create", "load", "locked", "save"]

FORMAT = "urne-trustee/1"


class TrusteeError(UrneError):
    """What the trustee's command refuses to do, with what to do instead."""

    code = "trustee_refused"
    status = 400


#: The groups a trustee's file may name, and their orders.
GROUPS = {"ristretto255": L, "bls12-381-g2": CURVE_ORDER}


def _scalar(value: object, what: str, order: int = L) -> int:
    k = int.from_bytes(b64decode(value, what, size=32), "little")
    if k >= order:
        raise FormatError(f"{what}: not below the group's order", code="bad_scalar")
    return k


def _scalar_b64(k: int) -> str:
    return b64encode(k.to_bytes(32, "little"))


@dataclass
class TrusteeFile:
    process: str
    name: str
    seed: bytes
    share_secret: int
    public: dict[str, str]
    log_key: str | None = None
    checkpoint: str | None = None
    fingerprint: bytes | None = None
    coefficients: tuple[int, ...] | None = None
    deal: bytes | None = None
    #: ``bls12-381-g2`` for an office of the credential issuers
    group: str = "ristretto255"

    @property
    def office(self) -> bool:
        """An office of the issuers (docs/spec/issuer-ceremony.md), not a trustee."""
        return self.group == "bls12-381-g2"

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "process": self.process,
            "name": self.name,
            "group": self.group,
            "signing_seed": b64encode(self.seed),
            "share_secret": _scalar_b64(self.share_secret),
            "public": dict(self.public),
            "log_key": self.log_key,
            "checkpoint": self.checkpoint,
            "fingerprint": None if self.fingerprint is None else b64encode(self.fingerprint),
            "coefficients": None
            if self.coefficients is None
            else [_scalar_b64(a) for a in self.coefficients],
            "deal": None if self.deal is None else b64encode(self.deal),
        }

    def text(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, obj: Any, where: str) -> TrusteeFile:
        try:
            if obj.get("format") != FORMAT:
                raise ValueError(f"its format is not {FORMAT!r}")
            fp, coeffs, deal = obj["fingerprint"], obj["coefficients"], obj["deal"]
            log_key, checkpoint = obj["log_key"], obj["checkpoint"]
            public = obj["public"]
            group = obj.get("group", "ristretto255")
            if group not in GROUPS:
                raise ValueError(f"group: expected one of {sorted(GROUPS)}")
            order = GROUPS[group]
            if not isinstance(public, dict) or not all(isinstance(v, str) for v in public.values()):
                raise ValueError("public: expected an object of strings")
            return cls(
                process=str(obj["process"]),
                name=str(obj["name"]),
                seed=b64decode(obj["signing_seed"], "signing_seed", size=32),
                share_secret=_scalar(obj["share_secret"], "share_secret", order),
                public=dict(public),
                log_key=None if log_key is None else str(log_key),
                checkpoint=None if checkpoint is None else str(checkpoint),
                fingerprint=None if fp is None else b64decode(fp, "fingerprint", size=32),
                coefficients=None
                if coeffs is None
                else tuple(_scalar(a, f"coefficients[{i}]", order) for i, a in enumerate(coeffs)),
                deal=None if deal is None else b64decode(deal, "deal"),
                group=group,
            )
        except (AttributeError, KeyError, TypeError, ValueError, FormatError) as exc:
            raise TrusteeError(
                f"{where} is not a trustee's file this version reads ({exc})", code="bad_file"
            ) from exc


def create(path: str | os.PathLike[str], secret: TrusteeFile) -> None:
    """Write a new secret file; ``FileExistsError`` if ``path`` exists."""
    write_new(path, secret.text())


def _unreadable(path: str | os.PathLike[str], exc: OSError) -> TrusteeError:
    if isinstance(exc, FileNotFoundError):
        return TrusteeError(f"{path}: no such file (urne-trustee keygen makes it)", code="no_file")
    return TrusteeError(f"{path}: {exc.strerror or exc}", code="no_file")


def load(path: str | os.PathLike[str]) -> TrusteeFile:
    """The secret file at ``path`` (refused if group or others may read it)."""
    try:
        text = read_private(path)
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise TrusteeError(f"{path} is not JSON ({exc})", code="bad_file") from exc
    return TrusteeFile.from_json(obj, str(path))


def save(path: str | os.PathLike[str], secret: TrusteeFile) -> None:
    """Replace the file atomically and durably with ``secret``."""
    p = Path(path)
    tmp = p.parent / f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secret.text())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(p.parent)


@contextmanager
def locked(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on the file at ``path`` (the file itself, as
    renamed into place last: a lock taken on a file since replaced is taken
    again), or refuse at once if another command holds it."""
    while True:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise _unreadable(path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise TrusteeError(
                f"another urne-trustee command is using {path}; let it finish first",
                code="file_in_use",
            ) from exc
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)
