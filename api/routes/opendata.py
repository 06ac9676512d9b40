"""A whole process as open data: its entries as JSON Lines with the checkpoint
that covers them, and its results as CSV (docs/spec/open-data.md).

- ``GET /processes/{id}/entries.jsonl``: the header line (the signed
  checkpoint, the log's key, the number of entries), then every entry of the
  process with its inclusion proof in that checkpoint's tree, streamed tile by
  tile. Media type ``application/x-ndjson`` (newline-delimited JSON: one
  RFC 8785 JSON object per line, each line ending in LF). Check it offline
  with ``urne-verify export`` or ``urne.verifier.check.opendata.check_export``.
- ``GET /processes/{id}/results.csv``: the latest published ``result``, else
  the recount through the process's last entry, as RFC 4180 CSV.

Both are pinned to the log's latest signed checkpoint when the request
arrives. The civic record's lock is held only while the export is opened
(``urne.ledger.civic.opendata.open_export`` counts what the checkpoint covers); the
stream reads the log without it, so ballots keep being accepted meanwhile,
and whatever they add lies beyond the pinned size.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from urne.api.deps import CivicDep
from urne.api.errors import error_responses
from urne.ledger.civic.opendata import entries_jsonl, open_export, results_csv_bytes

__all__ = ["CSV_MEDIA_TYPE", "JSONL_MEDIA_TYPE", "router"]

router = APIRouter(prefix="/processes", tags=["open data"])

#: Newline-delimited JSON; every line is canonical JSON ending in LF.
JSONL_MEDIA_TYPE = "application/x-ndjson"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

#: The answer changes as the log grows: revalidate before reusing it.
_NO_CACHE = "no-cache"

_HEADERS: dict[str, Any] = {
    "Content-Disposition": {
        "description": '``attachment; filename="<process>-..."``',
        "schema": {"type": "string"},
    },
    "Cache-Control": {"schema": {"type": "string"}},
}


def _responses(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": description,
            "content": {media_type: {"schema": {"type": "string"}}},
            "headers": _HEADERS,
        },
        **error_responses({404: "unknown_process: no such process in the log's latest checkpoint"}),
    }


def _attachment(process_id: str, name: str) -> dict[str, str]:
    # Process ids are identifiers (letters, digits, '.', '_', ':', '-';
    # docs/spec/entries.md): nothing in them needs quoting or escaping here.
    return {
        "Content-Disposition": f'attachment; filename="{process_id}-{name}"',
        "Cache-Control": _NO_CACHE,
    }


@router.get(
    "/{process_id}/entries.jsonl",
    response_class=StreamingResponse,
    summary="Every entry of a process with its inclusion proof, as JSON Lines",
    description=(
        "The header line (the signed checkpoint the lines are proven against, the log's "
        "key and origin, the number of entries), then one line per entry of the process "
        "in log order: the entry, its leaf hash, its index and its RFC 9162 inclusion "
        "proof. Byte-exact format in docs/spec/open-data.md; check it with `urne-verify export`."
    ),
    responses=_responses(JSONL_MEDIA_TYPE, "entries.jsonl, streamed"),
)
async def get_entries_jsonl(process_id: str, civic: CivicDep) -> StreamingResponse:
    export = await run_in_threadpool(open_export, civic, process_id)
    chunks = _chunks(entries_jsonl(export))
    # The first chunk (the header and the first tile's lines) is produced
    # before the answer starts, so that a storage failure there is still an
    # error status rather than a cut stream.
    first = await run_in_threadpool(next, chunks, b"")
    return StreamingResponse(
        chain((first,), chunks),
        media_type=JSONL_MEDIA_TYPE,
        headers=_attachment(process_id, "entries.jsonl"),
    )


#: Lines are sent in chunks of about this many bytes (one thread hop each).
_CHUNK = 1 << 16


def _chunks(lines: Iterator[bytes]) -> Iterator[bytes]:
    buf: list[bytes] = []
    n = 0
    for line in lines:
        buf.append(line)
        n += len(line)
        if n >= _CHUNK:
            yield b"".join(buf)
            buf, n = [], 0
    if buf:
        yield b"".join(buf)


@router.get(
    "/{process_id}/results.csv",
    response_class=Response,
    summary="The results of a process as CSV",
    description=(
        "The latest published result of the process, else the recount through its last "
        "entry, pinned to the same kind of checkpoint as entries.jsonl: RFC 4180, UTF-8, "
        "CRLF, one row per proposal (one for a petition). Columns in docs/spec/open-data.md."
    ),
    responses=_responses("text/csv", "results.csv"),
)
def get_results_csv(process_id: str, civic: CivicDep) -> Response:
    export = open_export(civic, process_id)
    return Response(
        results_csv_bytes(export),
        media_type=CSV_MEDIA_TYPE,
        headers=_attachment(process_id, "results.csv"),
    )
