"""The log's Ed25519 signing key on disk.

The key lives in ``<key_dir>/log.key`` as a signed-note private key string
(``PRIVATE+KEY+<name>+<hex8>+<base64>``, as golang.org/x/mod/sumdb/note writes
it). The directory is created ``0700`` and the file ``0600``; an existing key
readable by anyone else is refused rather than used.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from urne.ledger.errors import LogMismatch
from urne.verifier.tlog.note import Ed25519Signer

__all__ = ["KEY_FILE", "load_or_create_log_key"]

KEY_FILE = "log.key"


class UnsafeKeyFile(LogMismatch):
    code = "unsafe_key_file"


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UnsafeKeyFile(
            f"{path} is accessible by group or others (mode {stat.filemode(mode)}); "
            f"run: chmod 600 {path}"
        )


def load_or_create_log_key(key_dir: Path, origin: str) -> Ed25519Signer:
    """Load the log key, or create it on first run; its name must be ``origin``."""
    key_dir = Path(key_dir)
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = key_dir / KEY_FILE
    if path.exists():
        _check_private(path)
        signer = Ed25519Signer.from_skey(path.read_text(encoding="utf-8").strip())
        if signer.name != origin:
            raise LogMismatch(
                f"the key in {path} is for log {signer.name!r}, not for origin {origin!r}"
            )
        return signer
    signer = Ed25519Signer.generate(origin)
    # Write a private temporary file, then link it into place: the link fails if
    # another process won the race, and nobody ever reads a half-written key.
    tmp = key_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(signer.skey + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return load_or_create_log_key(key_dir, origin)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(key_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return signer
