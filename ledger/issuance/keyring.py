"""Per-process issuer keys and roll keys on disk (see ``urne.ledger.issuance``)."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from urne.ledger.issuance.errors import (
    IssuanceNotFound,
    IssuanceRefused,
    IssuerKeyExists,
    KeyFileError,
    RollRefused,
)
from urne.ledger.issuance.issuer_key import IssuerKey, split_key
from urne.verifier.citizen.keyfile import private_dir, read_private, write_new
from urne.verifier.civic.entries import IDENTIFIER
from urne.verifier.errors import FormatError

#: The manifest allows at most 255 shares (``process.issuer.shares``).
MAX_SHARES = 255


_KEY_FORMAT = "urne/v1/issuer-key"


_PUBLIC_FORMAT = "urne/v1/issuer"


_ROLL_KEY_FORMAT = "urne/v1/roll-key"


def check_process_id(process_id: object) -> str:
    if not isinstance(process_id, str) or not IDENTIFIER.fullmatch(process_id):
        raise RollRefused(
            f"process id {process_id!r} is not 1-128 characters of A-Z a-z 0-9 . _ : - "
            "starting with a letter or digit",
            code="bad_process_id",
        )
    return process_id


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, path: Path) -> bytes:
    try:
        if not isinstance(value, str):
            raise ValueError
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise KeyFileError(f"{path}: a key is not valid base64") from exc


def _read_json(path: Path, *, private: bool) -> dict[str, Any]:
    """Parse a key file; a private one readable by group or others is refused."""
    if private:
        text = read_private(path)
    else:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise KeyFileError(f"{path} is not a key file (not JSON)") from exc
    if not isinstance(data, dict):
        raise KeyFileError(f"{path} is not a key file")
    return data


@dataclass(frozen=True, slots=True)
class IssuerRecord:
    """The public side of a process's issuer key: what the manifest announces.

    ``share_public_keys`` (``{i: f(i)*G2}``, empty for a single key) lets a
    citizen check each share holder's answer (``verify_blind_share``).
    """

    process_id: str
    public_key: bytes
    threshold: int
    shares: int
    share_public_keys: dict[int, bytes]

    def manifest_issuer(self) -> dict[str, object]:
        """The ``issuer`` object of the process manifest (docs/spec/entries.md)."""
        return {
            "public_key": _b64(self.public_key),
            "threshold": self.threshold,
            "shares": self.shares,
        }


class IssuerKeyring:
    """Per-process issuer keys and roll keys in ``<key_dir>`` (see the module docstring).

    Directories are created ``0700``, secret files ``0600``; a secret file that
    group or others may access is refused. Every file names the process (and
    share) it belongs to, and a secret must match the public record, so a key
    copied under another process's name is refused rather than used.

    For a t-of-n key, :meth:`create` acts as the dealer: it draws the key,
    splits it (Shamir, :func:`urne.verifier.credentials.credential.split_key`) and writes every
    share into this directory; the whole key is never written. In production,
    each ``<process_id>.<i>.key`` is moved to the office that holds share ``i``
    (with the ``.pub`` record and the roll key, see docs/spec/issuance.md) and the
    dealer's copies are destroyed. A distributed key generation, where no one
    ever holds the whole key, comes later.
    """

    def __init__(self, key_dir: str | Path) -> None:
        self.key_dir = Path(key_dir)
        self.issuers_dir = self.key_dir / "issuers"
        self.roll_dir = self.key_dir / "roll"

    def __repr__(self) -> str:
        return f"IssuerKeyring({str(self.key_dir)!r})"

    def _secret_path(self, process_id: str, share_index: int | None) -> Path:
        if share_index is None:
            return self.issuers_dir / f"{process_id}.key"
        return self.issuers_dir / f"{process_id}.{share_index}.key"

    def _public_path(self, process_id: str) -> Path:
        return self.issuers_dir / f"{process_id}.pub"

    # -- creating ----------------------------------------------------------------

    def create(self, process_id: str, *, threshold: int = 1, shares: int = 1) -> bytes:
        """Draw a fresh issuer key for ``process_id``; returns its public key (96 bytes, G2).

        ``threshold``-of-``shares``: with ``shares == 1``, one secret key file;
        otherwise one share file per index ``1..shares``, any ``threshold`` of
        which can sign together. Refused if the process already has a key: one
        key per process, for life (docs/spec/credentials.md §3.3).
        """
        check_process_id(process_id)
        if not (
            isinstance(threshold, int)
            and isinstance(shares, int)
            and 1 <= threshold <= shares <= MAX_SHARES
        ):
            raise RollRefused(
                f"a {threshold!r}-of-{shares!r} key: need 1 <= threshold <= shares <= {MAX_SHARES}",
                code="bad_threshold",
            )
        private_dir(self.key_dir)
        private_dir(self.issuers_dir)
        public_path = self._public_path(process_id)
        if public_path.exists():
            raise IssuerKeyExists(f"process {process_id!r} already has an issuer key")
        key = IssuerKey.generate()
        parts: dict[int | None, IssuerKey] = {None: key}
        if shares > 1:
            parts = {i: share for i, share in split_key(key, threshold, shares).items()}
        record = {
            "format": _PUBLIC_FORMAT,
            "process_id": process_id,
            "public_key": _b64(key.public_key),
            "threshold": threshold,
            "shares": shares,
            "share_public_keys": {
                str(i): _b64(part.public_key) for i, part in parts.items() if i is not None
            },
        }
        files: list[tuple[Path, str, int]] = [
            (
                self._secret_path(process_id, index),
                json.dumps(
                    {
                        "format": _KEY_FORMAT,
                        "process_id": process_id,
                        "index": index,
                        "secret": _b64(part.to_bytes()),
                    }
                ),
                0o600,
            )
            for index, part in parts.items()
        ]
        # Secrets first, the public record last: a record means its keys exist.
        files.append((public_path, json.dumps(record, indent=1), 0o644))
        written: list[Path] = []
        for path, text, mode in files:
            try:
                write_new(path, text, mode=mode)
            except FileExistsError as exc:
                for done in written:
                    done.unlink(missing_ok=True)
                raise IssuerKeyExists(
                    f"process {process_id!r}: {path} already exists; nothing was written"
                ) from exc
            written.append(path)
        return key.public_key

    def install_share(
        self,
        process_id: str,
        index: int,
        secret: int,
        *,
        public_key: bytes,
        threshold: int,
        shares: int,
        share_public_keys: dict[int, bytes],
    ) -> None:
        """Keep share ``index`` of a key the offices made in their ceremony
        (docs/spec/issuer-ceremony.md §4), with the public record the log
        shows: the issuer key, ``t`` of ``n``, and each qualified office's
        share key. The share must match its key on the record
        (``bad_share``). Installed again with the very same files, nothing
        changes; a different key or record for the process is refused
        (``issuer_key_exists``)."""
        check_process_id(process_id)
        if not (
            2 <= shares <= MAX_SHARES
            and 1 <= threshold <= shares
            and len(share_public_keys) >= threshold
            and set(share_public_keys) <= set(range(1, shares + 1))
        ):
            raise KeyFileError(
                f"a {threshold}-of-{shares} key with the share keys "
                f"{sorted(share_public_keys)} is not one the offices can hold",
                code="bad_share",
            )
        key = IssuerKey(secret)
        if share_public_keys.get(index) != key.public_key:
            raise KeyFileError(
                f"share {index} does not match its public key on the log", code="bad_share"
            )
        record = {
            "format": _PUBLIC_FORMAT,
            "process_id": process_id,
            "public_key": _b64(public_key),
            "threshold": threshold,
            "shares": shares,
            "share_public_keys": {str(i): _b64(k) for i, k in sorted(share_public_keys.items())},
        }
        secret_doc = {
            "format": _KEY_FORMAT,
            "process_id": process_id,
            "index": index,
            "secret": _b64(key.to_bytes()),
        }
        private_dir(self.key_dir)
        private_dir(self.issuers_dir)
        files = [
            (self._secret_path(process_id, index), json.dumps(secret_doc), 0o600, True),
            (self._public_path(process_id), json.dumps(record, indent=1), 0o644, False),
        ]
        for path, text, mode, private in files:
            try:
                write_new(path, text, mode=mode)
            except FileExistsError as exc:
                if _read_json(path, private=private) != json.loads(text):
                    raise IssuerKeyExists(
                        f"process {process_id!r}: {path} exists and holds another key or "
                        "record; nothing more was written"
                    ) from exc
        self.signer(process_id, index)  # reads back what it will sign with

    # -- reading -----------------------------------------------------------------

    def record(self, process_id: str) -> IssuerRecord:
        """The public record of ``process_id``'s key (``unknown_process`` if none)."""
        try:
            check_process_id(process_id)
        except RollRefused as exc:
            raise IssuanceNotFound(str(exc), code="unknown_process") from exc
        path = self._public_path(process_id)
        try:
            data = _read_json(path, private=False)
        except FileNotFoundError as exc:
            raise IssuanceNotFound(
                f"no issuer key for process {process_id!r}", code="unknown_process"
            ) from exc
        try:
            if data.get("format") != _PUBLIC_FORMAT or data.get("process_id") != process_id:
                raise ValueError
            threshold, shares = data["threshold"], data["shares"]
            if not (
                type(threshold) is int
                and type(shares) is int
                and 1 <= threshold <= shares <= MAX_SHARES
            ):
                raise ValueError
            share_keys = {int(i): _unb64(v, path) for i, v in data["share_public_keys"].items()}
            # every share for a key this service dealt; the qualified offices
            # for a key the offices made in their ceremony
            if shares > 1 and not (
                len(share_keys) >= threshold and set(share_keys) <= set(range(1, shares + 1))
            ):
                raise ValueError
            if shares == 1 and share_keys:
                raise ValueError
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KeyFileError(f"{path} is not the issuer record of {process_id!r}") from exc
        return IssuerRecord(
            process_id=process_id,
            public_key=_unb64(data["public_key"], path),
            threshold=threshold,
            shares=shares,
            share_public_keys=share_keys,
        )

    def public_key(self, process_id: str) -> bytes:
        """The process's issuer public key (96 bytes, G2), as its manifest announces it."""
        return self.record(process_id).public_key

    def signer(self, process_id: str, share_index: int | None) -> tuple[IssuerRecord, IssuerKey]:
        record = self.record(process_id)
        if record.shares == 1:
            if share_index is not None:
                raise IssuanceRefused(
                    f"process {process_id!r} has a single issuer key, not shares",
                    code="bad_share_index",
                )
            want = record.public_key
        else:
            if type(share_index) is not int or share_index not in record.share_public_keys:
                raise IssuanceRefused(
                    f"process {process_id!r} has a {record.threshold}-of-{record.shares} "
                    f"key: say which share signs (1..{record.shares}), not {share_index!r}",
                    code="bad_share_index",
                )
            want = record.share_public_keys[share_index]
        path = self._secret_path(process_id, share_index)
        try:
            data = _read_json(path, private=True)
        except FileNotFoundError as exc:
            which = "its key" if share_index is None else f"share {share_index}"
            raise IssuanceNotFound(
                f"this issuer does not hold {which} of process {process_id!r}",
                code="unknown_process",
            ) from exc
        if (
            data.get("format") != _KEY_FORMAT
            or data.get("process_id") != process_id
            or data.get("index") != share_index
        ):
            raise KeyFileError(f"{path} is not the key it is named after")
        try:
            key = IssuerKey.from_bytes(_unb64(data.get("secret"), path))
        except FormatError as exc:
            raise KeyFileError(f"{path} holds no valid issuer key") from exc
        if not hmac.compare_digest(key.public_key, want):
            raise KeyFileError(f"{path} does not match the public record of {process_id!r}")
        return record, key

    def signing_key(self, process_id: str, share_index: int | None = None) -> IssuerKey:
        """The secret key (``share_index=None``) or share ``share_index`` of the process."""
        return self.signer(process_id, share_index)[1]

    def roll_key(self, process_id: str, *, create: bool) -> bytes | None:
        """The roll's HMAC key for the process; drawn on first use if ``create``."""
        path = self.roll_dir / f"{process_id}.key"
        try:
            data = _read_json(path, private=True)
        except FileNotFoundError:
            if not create:
                return None
            private_dir(self.key_dir)
            private_dir(self.roll_dir)
            secret = secrets.token_bytes(32)
            doc = {"format": _ROLL_KEY_FORMAT, "process_id": process_id, "secret": _b64(secret)}
            try:
                write_new(path, json.dumps(doc))
            except FileExistsError:
                return self.roll_key(process_id, create=False)
            return secret
        if data.get("format") != _ROLL_KEY_FORMAT or data.get("process_id") != process_id:
            raise KeyFileError(f"{path} is not the roll key of {process_id!r}")
        secret = _unb64(data.get("secret"), path)
        if len(secret) != 32:
            raise KeyFileError(f"{path}: a roll key is 32 bytes")
        return secret
