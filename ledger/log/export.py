"""Export a log as a static directory of C2SP tlog-tiles.

The directory has exactly the paths the service answers (``checkpoint``,
``tile/<L>/<N>[.p/<W>]``, ``tile/entries/<N>[.p/<W>]``), so any static web host
can serve it and ``urne-verify audit --log DIR`` reads it offline. Exporting
again later adds what is new; full tiles already written are left as they are
(they never change).
"""

from __future__ import annotations

import os
from pathlib import Path

from urne.ledger.log.store import Log
from urne.verifier.tlog.tiles import TILE_HEIGHT, TILE_WIDTH, entries_path, tile_path, tile_width

__all__ = ["export_tiles"]


def _write(root: Path, rel: str, data: bytes, *, immutable: bool) -> None:
    path = root / rel
    if immutable and path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def export_tiles(log: Log, directory: str | os.PathLike[str]) -> int:
    """Write the latest checkpoint and every tile and entry bundle it covers.
    Returns the exported size."""
    root = Path(directory)
    cp = log.checkpoint()
    size = cp.size
    for index in range(-(-size // TILE_WIDTH)):
        width = tile_width(0, index, size)
        _write(root, entries_path(index, width), log.entry_bundle(index, width), immutable=True)
    level = 0
    while size >> (level * TILE_HEIGHT):
        for index in range(-(-(size >> (level * TILE_HEIGHT)) // TILE_WIDTH)):
            width = tile_width(level, index, size)
            _write(
                root, tile_path(level, index, width), log.tile(level, index, width), immutable=True
            )
        level += 1
    # The checkpoint last: a reader who sees it finds every tile it covers.
    _write(root, "checkpoint", cp.text.encode(), immutable=False)
    return size
