"""The log over HTTP.

- C2SP tlog-tiles: ``GET /checkpoint``, ``GET /tile/<L>/<N>[.p/<W>]``,
  ``GET /tile/entries/<N>[.p/<W>]``. Tiles are immutable (a partial tile of
  width W never changes either) and are served with a year-long cache lifetime,
  so any static host or CDN can take the read load.
- JSON for light clients: ``/log/proof/inclusion``, ``/log/proof/consistency``,
  ``/log/entries/<index>``, ``/log/checkpoints/<size>``. Hashes are base64.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from urne.api.deps import LogDep, WitnessingDep
from urne.api.errors import INVALID_PARAMETER, BadRequest, Missing, error_responses
from urne.verifier.tlog.tiles import parse_tile_path

__all__ = ["router"]

router = APIRouter(tags=["log"])

MAX_INDEX = 2**63 - 1
IMMUTABLE = "public, max-age=31536000, immutable"
Size = Annotated[int, Query(ge=0, le=MAX_INDEX)]


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


class InclusionProof(BaseModel):
    index: int
    size: int
    leaf_hash: str
    root: str
    proof: list[str]


class ConsistencyProof(BaseModel):
    size1: int
    size2: int
    root1: str
    root2: str
    proof: list[str]


class Entry(BaseModel):
    index: int
    data: str
    leaf_hash: str


class LogInfo(BaseModel):
    origin: str
    verifier_key: str
    size: int
    root: str


@router.get(
    "/checkpoint",
    response_class=Response,
    summary="Latest signed checkpoint",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def get_checkpoint(log: LogDep, witnessing: WitnessingDep) -> Response:
    """The latest checkpoint, with the witnesses' cosignatures it has so far."""
    cp = log.checkpoint()
    text = cp.text if witnessing is None else witnessing.cosigned(cp)
    return Response(
        text, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )


@router.get(
    "/checkpoint/cosigned",
    response_class=Response,
    summary="The latest checkpoint with the quorum of witnesses' cosignatures",
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **error_responses(
            {
                404: "no_witnesses: this log has no witnesses; not_cosigned_yet: no "
                "checkpoint has the quorum yet"
            }
        ),
    },
)
def get_cosigned_checkpoint(log: LogDep, witnessing: WitnessingDep) -> Response:
    """What a reader with a witness policy audits (docs/spec/witness.md §4)."""
    if witnessing is None:
        raise Missing("no_witnesses", "this log is not configured with witnesses")
    cp = witnessing.latest_cosigned()
    if cp is None:
        raise Missing("not_cosigned_yet", "no checkpoint of this log has the quorum yet")
    return Response(
        witnessing.cosigned(cp),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


class CosignedPage(BaseModel):
    checkpoints: list[str]
    next: int | None


@router.get(
    "/log/cosigned",
    summary="The quorum-cosigned checkpoints, smallest first (a page of at most 1,000)",
    responses=error_responses({400: INVALID_PARAMETER, 404: "no_witnesses"}),
)
def get_cosigned(
    witnessing: WitnessingDep, after: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0
) -> CosignedPage:
    """What dates entries: each checkpoint, with its witnesses' times, is a
    moment by which every entry it holds existed (docs/spec/witness.md §8).
    ``next``: the ``after`` of the next page, null after the last."""
    if witnessing is None:
        raise Missing("no_witnesses", "this log is not configured with witnesses")
    notes, more = witnessing.cosigned_page(after)
    return CosignedPage(checkpoints=notes, next=more)


@router.get(
    "/tile/{path:path}",
    response_class=Response,
    summary="C2SP tlog-tiles tile",
    responses={
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        },
        **error_responses(
            {
                400: "bad_tile_path: not a tile path of C2SP tlog-tiles",
                404: "no_tile: the log is not that large yet",
            }
        ),
    },
)
def get_tile(log: LogDep, path: str, request: Request) -> Response:
    # The route's pattern ends in ``$``, which also matches before a final
    # newline: ``/tile/0/000%0A`` would serve tile 0/000, immutable, under a
    # path that is not the tile's.
    if not request.scope["path"].endswith("/tile/" + path):
        raise BadRequest("bad_tile_path", f"not a tlog-tiles path: {request.scope['path']!r}")
    ref = parse_tile_path("tile/" + path)
    if ref.entries:
        body = log.entry_bundle(ref.index, ref.width)
    else:
        body = log.tile(ref.level, ref.index, ref.width)
    return Response(
        body, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE}
    )


@router.get("/log", summary="The log's origin, verifier key and latest size")
def get_info(log: LogDep) -> LogInfo:
    cp = log.checkpoint()
    return LogInfo(
        origin=log.origin, verifier_key=log.verifier.vkey, size=cp.size, root=b64(cp.root)
    )


@router.get(
    "/log/checkpoints/{size}",
    response_class=Response,
    summary="The signed checkpoint of exactly this size",
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **error_responses(
            {400: INVALID_PARAMETER, 404: "no_checkpoint: none was signed at this size"}
        ),
    },
)
def get_checkpoint_at(
    log: LogDep, witnessing: WitnessingDep, size: Annotated[int, Path(ge=0, le=MAX_INDEX)]
) -> Response:
    """With witnesses, with the cosignatures it has (more may come: not immutable)."""
    cp = log.checkpoint_at(size)
    if witnessing is None:
        return Response(
            cp.text, media_type="text/plain; charset=utf-8", headers={"Cache-Control": IMMUTABLE}
        )
    return Response(
        witnessing.cosigned(cp),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-cache"},
    )


@router.get(
    "/log/entries/{index}",
    summary="One entry and its leaf hash",
    responses=error_responses(
        {400: f"{INVALID_PARAMETER}; size_beyond_log: the index is not below the log's size"}
    ),
)
def get_entry(log: LogDep, index: Annotated[int, Path(ge=0, le=MAX_INDEX)]) -> Entry:
    data = log.entry(index)
    return Entry(index=index, data=b64(data), leaf_hash=b64(log.leaf_hash(index)))


@router.get(
    "/log/proof/inclusion",
    summary="RFC 9162 inclusion proof",
    responses=error_responses(
        {
            400: f"{INVALID_PARAMETER}; bad_index: index not below size; "
            "size_beyond_log: size beyond the log"
        }
    ),
)
def get_inclusion_proof(
    log: LogDep,
    index: Size,
    size: Annotated[int | None, Query(ge=1, le=MAX_INDEX)] = None,
) -> InclusionProof:
    if size is None:
        size = log.checkpoint().size
    proof = log.inclusion_proof(index, size)
    return InclusionProof(
        index=index,
        size=size,
        leaf_hash=b64(log.leaf_hash(index)),
        root=b64(log.root(size)),
        proof=[b64(h) for h in proof],
    )


@router.get(
    "/log/proof/consistency",
    summary="RFC 9162 consistency proof",
    responses=error_responses(
        {
            400: f"{INVALID_PARAMETER}; bad_size: size1 above size2, or 0; "
            "size_beyond_log: size2 beyond the log"
        }
    ),
)
def get_consistency_proof(
    log: LogDep,
    size1: Annotated[int, Query(ge=0, le=MAX_INDEX)],  # 0: refused below, as bad_size
    size2: Annotated[int | None, Query(ge=1, le=MAX_INDEX)] = None,
) -> ConsistencyProof:
    if size2 is None:
        size2 = log.checkpoint().size
    proof = log.consistency_proof(size1, size2)
    return ConsistencyProof(
        size1=size1,
        size2=size2,
        root1=b64(log.root(size1)),
        root2=b64(log.root(size2)),
        proof=[b64(h) for h in proof],
    )
