"""Secret key files, one way for every key Urne keeps on disk: the log's key,
the issuers' keys and roll keys, an institution's request key, a citizen's.

- A key file is created once, never overwritten: it is written to a private
  temporary file (``0600``), flushed and fsynced, then linked into place, so
  nobody ever reads half a key and of two racing writers exactly one wins
  (the other gets ``FileExistsError``). The directory is then fsynced, so the
  new name survives a crash.
- Directories holding keys are created ``0700``.
- A key file that group or others may read or write is refused, with the
  command that fixes it: a key someone else could have read is not a secret.

It lives with the author's code (``urne.verifier.citizen``) because people
keep keys on their own machines too; the server side uses the same functions.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from urne.verifier.errors import UrneError

__all__ = ["UnsafeKeyFile", "fsync_dir", "private_dir", "read_private", "write_new"]


class UnsafeKeyFile(UrneError):
    """A key file that group or others may access; it is refused, not used."""

    code = "unsafe_key_file"
    status = 503  # on a server, the service's own keys are in trouble


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) owner-only; an existing one is
    left as it is."""
    p = Path(path)
    p.mkdir(mode=0o700, parents=True, exist_ok=True)
    return p


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make the names in a directory durable (a new or renamed file in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: str | os.PathLike[str], text: str, *, mode: int = 0o600) -> None:
    """Create the file ``path`` with ``text`` (and a final newline), readable
    by its owner only unless ``mode`` says otherwise (a public record);
    ``FileExistsError`` if it already exists."""
    p = Path(path)
    tmp = p.parent / f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(p.parent)


def read_private(path: str | os.PathLike[str]) -> str:
    """The text of the key file ``path``, refused if group or others may
    access it (:class:`UnsafeKeyFile`)."""
    with open(path, encoding="utf-8") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UnsafeKeyFile(
                f"{path} is accessible by group or others (mode {stat.filemode(mode)}); "
                f"run: chmod 600 {path}"
            )
        return fh.read()
