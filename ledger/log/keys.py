"""The log's Ed25519 signing key on disk.

The key lives in ``<key_dir>/log.key`` as a signed-note private key string
(``PRIVATE+KEY+<name>+<hex8>+<base64>``, as golang.org/x/mod/sumdb/note writes
it), written and read as every key file is (``urne.verifier.citizen.keyfile``):
the directory ``0700``, the file ``0600``, an existing key readable by anyone
else refused rather than used.
"""

from __future__ import annotations

from pathlib import Path

from urne.ledger.errors import LogMismatch
from urne.verifier.citizen.keyfile import (
    UnsafeKeyFile,
    private_dir,
    read_private,
    write_new,
)
from urne.verifier.tlog.note import Ed25519Signer

__all__ = ["KEY_FILE", "UnsafeKeyFile", "load_or_create_log_key"]

KEY_FILE = "log.key"


def load_or_create_log_key(key_dir: Path, origin: str) -> Ed25519Signer:
    """Load the log key, or create it on first run; its name must be ``origin``."""
    path = private_dir(key_dir) / KEY_FILE
    if path.exists():
        signer = Ed25519Signer.from_skey(read_private(path).strip())
        if signer.name != origin:
            raise LogMismatch(
                f"the key in {path} is for log {signer.name!r}, not for origin {origin!r}"
            )
        return signer
    signer = Ed25519Signer.generate(origin)
    try:
        write_new(path, signer.skey)
    except FileExistsError:  # another process won the race: use its key
        return load_or_create_log_key(key_dir, origin)
    return signer
