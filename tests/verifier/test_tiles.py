"""C2SP tlog-tiles: path encoding, canonical parsing, tile widths, entry bundles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import urne.verifier.tlog.tiles as tiles_module
from urne.verifier.errors import FormatError
from urne.verifier.tlog.tiles import (
    MAX_ENTRY_SIZE,
    MAX_LEVEL,
    TILE_HEIGHT,
    TILE_WIDTH,
    TileRef,
    decode_entry_bundle,
    encode_entry_bundle,
    encode_index,
    entries_path,
    parse_tile_path,
    tile_path,
    tile_width,
)

U64 = 2**64 - 1


def test_constants() -> None:
    assert (TILE_HEIGHT, TILE_WIDTH, MAX_LEVEL, MAX_ENTRY_SIZE) == (8, 256, 63, 65535)


# -- known answers from the spec ---------------------------------------------------


@pytest.mark.parametrize(
    ("n", "want"),
    [
        (1234067, "x001/x234/067"),  # tlog-tiles' own example
        (0, "000"),
        (1, "001"),
        (999, "999"),
        (1000, "x001/000"),
        (1001, "x001/001"),
        (999999, "x999/999"),
        (1000000, "x001/x000/000"),
        (U64, "x018/x446/x744/x073/x709/x551/615"),
    ],
)
def test_encode_index(n: int, want: str) -> None:
    assert encode_index(n) == want


def test_tile_paths() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(0, 1234067, 8) == "tile/0/x001/x234/067.p/8"
    assert tile_path(0, 1234067, 256) == "tile/0/x001/x234/067"
    assert tile_path(63, 0, 1) == "tile/63/000.p/1"
    assert tile_path(1, 1, 255) == "tile/1/001.p/255"
    assert entries_path(1234067) == "tile/entries/x001/x234/067"
    assert entries_path(1234067, 8) == "tile/entries/x001/x234/067.p/8"
    assert entries_path(0, 1) == "tile/entries/000.p/1"


@pytest.mark.parametrize(
    ("path", "ref"),
    [
        ("tile/0/x001/x234/067", TileRef(0, 1234067)),
        ("tile/0/x001/x234/067.p/8", TileRef(0, 1234067, 8)),
        ("tile/1/000", TileRef(1, 0)),
        ("tile/63/000.p/1", TileRef(63, 0, 1)),
        ("tile/10/x001/000.p/255", TileRef(10, 1000, 255)),
        ("tile/entries/x001/x234/067", TileRef(0, 1234067, entries=True)),
        ("tile/entries/000.p/5", TileRef(0, 0, 5, entries=True)),
        ("tile/0/x018/x446/x744/x073/x709/x551/615", TileRef(0, U64)),
    ],
)
def test_parse_tile_path_known_answers(path: str, ref: TileRef) -> None:
    got = parse_tile_path(path)
    assert got == ref
    assert got.path == path
    assert got.partial is (ref.width < 256)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "tile",
        "tile/",
        "tile/0",
        "tile/0/",
        "/tile/0/000",  # no leading slash: paths are relative to the prefix
        "https://log.example/tile/0/000",
        "tiles/0/000",
        "tile/0/000/",
        "tile/0/1",  # groups are 3 digits
        "tile/0/01",
        "tile/0/0001",
        "tile/0/x1/000",
        "tile/0/x0001/000",
        "tile/0/x000/001",  # leading zero group: 1 is "001"
        "tile/0/x000/x001/000",
        "tile/0/001/234",  # inner groups need the x
        "tile/0/x001/x234",  # the last group has none
        "tile/0/X001/000",
        "tile/0/x001/x234/067/",
        "tile/0/-01",
        "tile/0/+01",
        "tile/0/ 001",
        "tile/0/\u0660\u0660\u0661",  # Arabic-Indic digits
        "tile/00/000",  # level without leading zeroes
        "tile/01/000",
        "tile/64/000",  # level 0..63
        "tile/100/000",
        "tile/-1/000",
        "tile/+1/000",
        "tile/x/000",
        "tile/data/000",
        "tile/0/entries/000",
        "tile/entries/0/000",
        "tile/0/000.p",
        "tile/0/000.p/",
        "tile/0/000.p/0",  # widths 1..255
        "tile/0/000.p/256",
        "tile/0/000.p/300",
        "tile/0/000.p/08",
        "tile/0/000.p/+8",
        "tile/0/000.p/8/",
        "tile/0/000.p/8.p/9",
        "tile/0/000.P/8",
        "tile/0/000.q/8",
        "tile/0/x001.p/8",
        "tile/entries/000.p/256",
        "tile/0/x018/x446/x744/x073/x709/x551/616",  # 2**64
        "tile/0/x001/x000/x000/x000/x000/x000/x000/000",  # 8 groups
        # golang.org/x/mod sumdb/tlog paths carry a height: not tlog-tiles paths
        "tile/8/0/001",
        "tile/8/0/001.p/5",
        "tile/3/5/x123/x456/078",
        "tile/1/data/x003/x057/500",
    ],
)
def test_non_canonical_tile_paths_are_refused(path: str) -> None:
    with pytest.raises(FormatError) as exc:
        parse_tile_path(path)
    assert exc.value.code == "bad_tile_path"


_refs = st.builds(
    TileRef,
    level=st.integers(0, MAX_LEVEL),
    index=st.integers(0, U64),
    width=st.integers(1, TILE_WIDTH),
) | st.builds(
    TileRef,
    level=st.just(0),
    index=st.integers(0, U64),
    width=st.integers(1, TILE_WIDTH),
    entries=st.just(True),
)


@given(_refs)
def test_tile_path_round_trip(ref: TileRef) -> None:
    path = ref.path
    assert parse_tile_path(path) == ref
    if ref.entries:
        assert path == entries_path(ref.index, ref.width)
    else:
        assert path == tile_path(ref.level, ref.index, ref.width)


@given(st.integers(0, U64))
def test_encode_index_is_decimal_in_groups(n: int) -> None:
    enc = encode_index(n)
    assert int(enc.replace("x", "").replace("/", "")) == n
    groups = enc.split("/")
    assert all(g.startswith("x") and len(g) == 4 for g in groups[:-1])
    assert len(groups[-1]) == 3
    assert len(groups) == 1 or groups[0] != "x000"


@given(st.text(alphabet="tile/entrsx0123456789.p", max_size=40))
def test_parse_accepts_only_canonical_paths(path: str) -> None:
    try:
        ref = parse_tile_path(path)
    except FormatError:
        return
    assert ref.path == path


@given(st.text(max_size=60))
def test_parse_arbitrary_text_only_raises_format_error(path: str) -> None:
    try:
        ref = parse_tile_path(path)
    except FormatError:
        return
    assert ref.path == path


def test_path_arguments_are_checked() -> None:
    for bad in (
        lambda: encode_index(-1),
        lambda: encode_index(2**64),
        lambda: tile_path(64, 0),
        lambda: tile_path(-1, 0),
        lambda: tile_path(0, 0, 0),
        lambda: tile_path(0, 0, 257),
        lambda: entries_path(0, 0),
        lambda: TileRef(1, 0, entries=True),
        lambda: TileRef(0, -1),
    ):
        with pytest.raises(FormatError):
            bad()


# -- tile widths ---------------------------------------------------------------------


def _reference_width(level: int, index: int, size: int) -> int:
    """tlog-tiles, literally: hash i of tile (L, N) is the MTH of entries
    [(N*256 + i) * 256**L, (N*256 + i + 1) * 256**L); it exists once the tree
    holds all of them."""
    return sum(1 for i in range(256) if (index * 256 + i + 1) * 256**level <= size)


def test_spec_example_tree_of_70000() -> None:
    s = 70_000
    level0 = [tile_width(0, n, s) for n in range(300)]
    assert level0[:273] == [256] * 273  # 273 full level 0 tiles
    assert level0[273] == 112  # one partial of width 112
    assert set(level0[274:]) == {0}
    assert [tile_width(1, n, s) for n in range(3)] == [256, 17, 0]
    assert [tile_width(2, n, s) for n in range(2)] == [1, 0]
    assert tile_width(3, 0, s) == 0
    assert tile_path(0, 273, tile_width(0, 273, s)) == "tile/0/273.p/112"
    assert tile_path(1, 1, tile_width(1, 1, s)) == "tile/1/001.p/17"


def test_spec_example_tree_of_256() -> None:
    assert tile_width(0, 0, 256) == 256
    assert tile_width(0, 1, 256) == 0
    assert tile_width(1, 0, 256) == 1  # "a partial level 1 tile of width 1"
    assert tile_width(2, 0, 256) == 0


def test_small_trees() -> None:
    assert tile_width(0, 0, 0) == 0
    assert tile_width(0, 0, 1) == 1
    assert tile_width(0, 0, 255) == 255
    assert tile_width(1, 0, 255) == 0
    assert tile_width(1, 0, 65536) == 256
    assert tile_width(2, 0, 65536) == 1
    assert tile_width(63, 0, 2**63 - 1) == 0


@given(st.integers(0, 4), st.integers(0, 300), st.integers(0, 2**40))
def test_tile_width_matches_the_definition(level: int, index: int, size: int) -> None:
    assert tile_width(level, index, size) == _reference_width(level, index, size)


def test_tile_width_arguments_are_checked() -> None:
    with pytest.raises(FormatError):
        tile_width(64, 0, 1)
    with pytest.raises(FormatError):
        tile_width(0, -1, 1)
    with pytest.raises(FormatError):
        tile_width(0, 0, -1)


# -- entry bundles -------------------------------------------------------------------


def test_entry_bundle_known_answer() -> None:
    bundle = encode_entry_bundle([b"a", b"", b"bc"])
    assert bundle == b"\x00\x01a\x00\x00\x00\x02bc"
    assert decode_entry_bundle(bundle) == [b"a", b"", b"bc"]
    assert decode_entry_bundle(bundle, width=3) == [b"a", b"", b"bc"]
    big = b"\xab" * MAX_ENTRY_SIZE
    assert encode_entry_bundle([big])[:2] == b"\xff\xff"
    assert decode_entry_bundle(encode_entry_bundle([big])) == [big]


def test_entry_too_large_is_refused() -> None:
    with pytest.raises(FormatError) as exc:
        encode_entry_bundle([b"ok", bytes(MAX_ENTRY_SIZE + 1)])
    assert exc.value.code == "entry_too_large"
    assert "entry 1 is 65536 bytes" in str(exc.value)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x00", id="truncated-length"),
        pytest.param(b"\x00\x01a\x00", id="trailing-byte"),
        pytest.param(b"\x00\x05abc", id="truncated-entry"),
        pytest.param(b"\xff\xff" + bytes(100), id="huge-claim"),
        pytest.param(b"\x00\x00" * 257, id="257-entries"),
    ],
)
def test_malformed_bundles_are_refused(data: bytes) -> None:
    with pytest.raises(FormatError) as exc:
        decode_entry_bundle(data)
    assert exc.value.code == "bad_entry_bundle"


def test_bundle_width_is_checked() -> None:
    bundle = encode_entry_bundle([b"x"] * 5)
    assert len(decode_entry_bundle(bundle, width=5)) == 5
    with pytest.raises(FormatError):
        decode_entry_bundle(bundle, width=4)
    with pytest.raises(FormatError):
        decode_entry_bundle(bundle, width=256)
    assert decode_entry_bundle(b"\x00\x00" * 256, width=256) == [b""] * 256
    with pytest.raises(FormatError):
        encode_entry_bundle([b""] * 257)


@given(st.lists(st.binary(max_size=300), max_size=TILE_WIDTH))
def test_entry_bundle_round_trip(entries: list[bytes]) -> None:
    data = encode_entry_bundle(entries)
    assert len(data) == sum(2 + len(e) for e in entries)
    assert decode_entry_bundle(data, width=len(entries)) == entries


@given(st.binary(max_size=600))
def test_decode_arbitrary_bytes_only_raises_format_error(data: bytes) -> None:
    try:
        entries = decode_entry_bundle(data)
    except FormatError:
        return
    assert encode_entry_bundle(entries) == data


def test_all_is_the_public_api() -> None:
    public = {n for n in dir(tiles_module) if not n.startswith("_")}
    assert set(tiles_module.__all__) <= public
    assert {"tile_path", "parse_tile_path", "tile_width"} <= set(tiles_module.__all__)
