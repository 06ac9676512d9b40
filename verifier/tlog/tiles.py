"""C2SP tiled transparency logs (c2sp.org/tlog-tiles): paths, widths, bundles.

Paths (tlog-tiles "Merkle Tree" and "Log entries")::

    tile/<L>/<N>[.p/<W>]        Merkle tree tile: level L, index N
    tile/entries/<N>[.p/<W>]    entry bundle N

``<L>`` is 0..63 in decimal without leading zeroes; ``<N>`` is split into
3-digit groups, every group but the last prefixed with ``x`` (1234067 is
``x001/x234/067``); ``.p/<W>`` marks a partial tile of width 1..255 in decimal
without leading zeroes. A full tile has no suffix and 256 hashes. Tiles are 8
levels of the tree high: the hashes in tile (L, N) are the roots of the
subtrees ``[(N*256 + i) * 256**L, (N*256 + i + 1) * 256**L)``, ``i`` in 0..255.

:func:`parse_tile_path` accepts exactly the paths :func:`tile_path` and
:func:`entries_path` produce and nothing else (one path per tile). Indexes are
below 2**64 (as in transparency-dev's Go code); any tile of a tree smaller than
2**63 has a far smaller index.

Entry bundles are the entries of one level-0 tile, each prefixed with its
length as a big-endian uint16 (so an entry is at most 65535 bytes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from urne.verifier.errors import FormatError

__all__ = [
    "MAX_ENTRY_SIZE",
    "MAX_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileRef",
    "decode_entry_bundle",
    "encode_entry_bundle",
    "encode_index",
    "entries_path",
    "parse_tile_path",
    "tile_path",
    "tile_width",
]

#: Levels of the Merkle tree one tile spans.
TILE_HEIGHT = 8
#: Hashes in a full tile (2**TILE_HEIGHT), entries in a full bundle.
TILE_WIDTH = 1 << TILE_HEIGHT
#: Highest tile level a path may name (tlog-tiles: "between 0 and 63").
MAX_LEVEL = 63
#: Largest entry an entry bundle can hold (uint16 length prefix).
MAX_ENTRY_SIZE = 0xFFFF

_MAX_INDEX = 2**64 - 1
_LEVEL = re.compile("0|[1-9][0-9]?")  # range-checked after
_WIDTH = re.compile("[1-9][0-9]{0,2}")  # range-checked after
_GROUP = re.compile("[0-9]{3}")


def _bad_path(message: str) -> FormatError:
    return FormatError(message, code="bad_tile_path")


def _check_index(index: int) -> None:
    if not 0 <= index <= _MAX_INDEX:
        raise _bad_path(f"tile index must be in 0..2**64-1, found {index}")


def _check_level(level: int) -> None:
    if not 0 <= level <= MAX_LEVEL:
        raise _bad_path(f"tile level must be in 0..{MAX_LEVEL}, found {level}")


def _check_width(width: int) -> None:
    if not 1 <= width <= TILE_WIDTH:
        raise _bad_path(f"tile width must be in 1..{TILE_WIDTH}, found {width}")


def encode_index(n: int) -> str:
    """``<N>`` of a tile path: 3-digit groups, all but the last prefixed ``x``."""
    _check_index(n)
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n > 0:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def _suffix(width: int) -> str:
    _check_width(width)
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``; width 256 is a full tile (no suffix)."""
    _check_level(level)
    return f"tile/{level}/{encode_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]``; width 256 is a full bundle (no suffix)."""
    return f"tile/entries/{encode_index(index)}{_suffix(width)}"


@dataclass(frozen=True)
class TileRef:
    """A tile or entry bundle named by a path. ``level`` is 0 for entry bundles."""

    level: int
    index: int
    width: int = TILE_WIDTH
    entries: bool = False

    def __post_init__(self) -> None:
        _check_level(self.level)
        _check_index(self.index)
        _check_width(self.width)
        if self.entries and self.level != 0:
            raise _bad_path(f"entry bundles are at level 0, found level {self.level}")

    @property
    def partial(self) -> bool:
        return self.width < TILE_WIDTH

    @property
    def path(self) -> str:
        if self.entries:
            return entries_path(self.index, self.width)
        return tile_path(self.level, self.index, self.width)


def parse_tile_path(path: str) -> TileRef:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (tlog-tiles).

    Only canonical paths: no leading slash or prefix, no leading zeroes in L or
    W, no all-zero leading ``x000`` group, W in 1..255, L in 0..63.
    """
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise _bad_path(f"expected 'tile/<L>/<N>[.p/<W>]', found {path!r}")
    entries = parts[1] == "entries"
    if entries:
        level = 0
    elif _LEVEL.fullmatch(parts[1]) is not None and int(parts[1]) <= MAX_LEVEL:
        level = int(parts[1])
    else:
        raise _bad_path(f"expected a tile level 0..{MAX_LEVEL} or 'entries', found {parts[1]!r}")

    groups = parts[2:]
    width = TILE_WIDTH
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        w = groups[-1]
        if _WIDTH.fullmatch(w) is None or int(w) >= TILE_WIDTH:
            raise _bad_path(
                f"expected a partial width 1..{TILE_WIDTH - 1}, found {w!r} in {path!r}"
            )
        width = int(w)
        groups = [*groups[:-2], groups[-2][:-2]]

    if len(groups) > 7:  # 2**64 has 20 digits
        raise _bad_path(f"tile index has too many groups in {path!r}")
    digits = []
    for i, g in enumerate(groups):
        last = i == len(groups) - 1
        if not last:
            if not g.startswith("x"):
                raise _bad_path(f"expected index group 'xNNN', found {g!r} in {path!r}")
            g = g[1:]
        if _GROUP.fullmatch(g) is None:
            raise _bad_path(f"expected a 3-digit index group, found {g!r} in {path!r}")
        digits.append(g)
    if len(digits) > 1 and digits[0] == "000":
        raise _bad_path(f"tile index has a leading zero group in {path!r}")
    index = int("".join(digits))
    if index > _MAX_INDEX:
        raise _bad_path(f"tile index must be below 2**64, found {index}")
    return TileRef(level, index, width, entries)


def tile_width(level: int, index: int, tree_size: int) -> int:
    """How many hashes tile (``level``, ``index``) holds in a tree of ``tree_size``.

    tlog-tiles "Partial Tiles": level L has ``floor(size / 256**L)`` hashes, so
    tile N holds the ones from ``N*256``, at most 256. 0 when the tile does not
    exist yet (empty tiles are never served). For entry bundles use level 0.
    """
    _check_level(level)
    if index < 0:
        raise _bad_path(f"tile index must not be negative, found {index}")
    if tree_size < 0:
        raise FormatError(f"tree size must not be negative, found {tree_size}", code="bad_size")
    hashes = tree_size >> (TILE_HEIGHT * level)
    return max(0, min(TILE_WIDTH, hashes - index * TILE_WIDTH))


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry as uint16 big-endian length || entry (tlog-tiles).

    Refuses entries over 65535 bytes and more than 256 entries (one level-0 tile).
    """
    if len(entries) > TILE_WIDTH:
        raise FormatError(
            f"an entry bundle holds at most {TILE_WIDTH} entries, found {len(entries)}",
            code="bad_entry_bundle",
        )
    out = bytearray()
    for i, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_SIZE:
            raise FormatError(
                f"entry {i} is {len(entry)} bytes, an entry bundle allows at most {MAX_ENTRY_SIZE}",
                code="entry_too_large",
            )
        out += len(entry).to_bytes(2, "big")
        out += entry
    return bytes(out)


def decode_entry_bundle(data: bytes, *, width: int | None = None) -> list[bytes]:
    """The entries of a bundle; inverse of :func:`encode_entry_bundle`.

    Refuses a truncated length prefix or entry, more than 256 entries and, when
    ``width`` is given (from the bundle's path), any other count.
    """
    entries: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        if len(entries) == TILE_WIDTH:
            raise FormatError(
                f"entry bundle has {end - pos} bytes after its {TILE_WIDTH}th entry",
                code="bad_entry_bundle",
            )
        if end - pos < 2:
            raise FormatError(
                f"entry bundle ends inside the length of entry {len(entries)} (offset {pos})",
                code="bad_entry_bundle",
            )
        size = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if end - pos < size:
            raise FormatError(
                f"entry {len(entries)} claims {size} bytes, only {end - pos} remain",
                code="bad_entry_bundle",
            )
        entries.append(bytes(data[pos : pos + size]))
        pos += size
    if width is not None and len(entries) != width:
        raise FormatError(
            f"entry bundle has {len(entries)} entries, want {width}", code="bad_entry_bundle"
        )
    return entries
