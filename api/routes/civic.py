"""The civic record over HTTP: processes, their tallies, and the one door for entries.

- ``GET /processes``, ``GET /processes/{id}``, ``GET /processes/{id}/tally``:
  what is on the log, recounted live (``urne.ledger.civic.record.CivicRecord.tally``:
  once per new entry of the process, outside the lock admission needs, so a
  long count never holds up ``POST /entries``; docs/spec/counting.md §4).
- ``POST /entries``: every kind of entry (``process``, ``ballot``, ``paper``,
  ``close``, ``result``), as the exact bytes its author signed
  (docs/spec/entries.md). The body is never parsed and re-serialised here: the
  author signature covers the canonical bytes, so the bytes received are the
  bytes stored, and anything not canonical is refused (``not_canonical``).
  Entries carry their own authentication: a manifest, close or result is
  signed by the institution's key, a paper batch by an official's, a ballot
  by its pseudonym with the issuer's credential. Whoever sends the request
  does not matter, and nothing about them (address, headers, time) is stored.
- ``GET /entries/{index}/receipt``: a receipt again, for whoever lost theirs.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from urne.api.deps import (
    CivicDep,
    LogDep,
    RateLimited,
    RollDep,
    WitnessingDep,
    rate_limited,
    read_body,
)
from urne.api.errors import (
    INVALID_PARAMETER,
    Missing,
    PayloadTooLarge,
    UnsupportedMediaType,
    error_responses,
)
from urne.ledger.civic.record import CivicRecord
from urne.ledger.issuance.oidc import subjects_count
from urne.ledger.issuance.roll import codes_replaced, issued_count, roll_size
from urne.ledger.log import MAX_ENTRY_SIZE
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.civic.process import ProcessState

__all__ = ["EntriesFastPath", "entries", "router"]

router = APIRouter(prefix="/processes", tags=["processes"])
entries = APIRouter(prefix="/entries", tags=["entries"])

MAX_INDEX = 2**63 - 1
NO_STORE = {"Cache-Control": "no-store"}
Text = str | dict[str, str]


class ProcessSummary(BaseModel):
    id: str
    type: str
    title: Text
    opens: str
    closes: str
    closed: bool
    #: log index of the ``close`` entry, if any
    closed_at: int | None
    #: log index of the manifest
    index: int


class ResultRef(BaseModel):
    index: int
    through: int


class Authority(BaseModel):
    """Who opened the process, as the log says (docs/spec/entries.md §8, §9)."""

    institution_name: str = Field(description="the name the institution is registered under")
    registered_at: int = Field(description="the log index of its registration")
    reserved_at: int = Field(description="the log index of the reservation of the id")


class ProcessDetail(ProcessSummary):
    text: Text
    institution: str
    authority: Authority
    issuer: dict[str, Any]
    officials: list[dict[str, Any]]
    proposals: list[dict[str, Any]]
    rule: dict[str, Any]
    results: list[ResultRef]
    tally: dict[str, Any]
    credentials_issued: int
    roll_size: int
    subjects: int = Field(
        default=0,
        description="distinct people an identity provider vouched for, each answered once",
    )
    codes_replaced: int = Field(description="codes the help desk replaced (letters lost)")
    eligibility: dict[str, Any] | None = Field(
        default=None,
        description="the manifest's identity provider and rule (docs/spec/eligibility.md)",
    )
    secret: dict[str, Any] | None = Field(
        default=None,
        description=(
            "a secret vote's trustees (the manifest's `secret`) with the manifest's "
            "fingerprint, the election key and its log index once the ceremony ended, "
            "the qualified trustees and those who decrypted (docs/secret-ballot.md)"
        ),
    )


class ReceiptOut(BaseModel):
    """docs/spec/verification.md §1; check it with ``urne-verify receipt``."""

    v: int = Field(examples=[1])
    origin: str
    log_key: str
    index: int
    entry: str = Field(description="the entry's bytes, base64")
    checkpoint: str = Field(description="the signed checkpoint that committed the entry")
    inclusion_proof: list[str]


def _summary(st: ProcessState) -> ProcessSummary:
    p = st.process
    return ProcessSummary(
        id=p.id,
        type=p.type,
        title=p.title,
        opens=p.opens,
        closes=p.closes,
        closed=st.closed_at is not None,
        closed_at=st.closed_at,
        index=st.index,
    )


def authority_of(civic: CivicRecord, st: ProcessState) -> Authority:
    """The registration of the process's institution and its id's reservation."""
    found = civic.registered(st.process.institution)
    assert found is not None  # a manifest is admitted only for a registered institution
    return Authority(
        institution_name=found.name, registered_at=found.index, reserved_at=st.reserved_at
    )


def _state(civic: CivicRecord, process_id: str) -> ProcessState:
    civic.log.catch_up()  # another service process may have published it
    return civic.process(process_id)


@router.get("", summary="Every process on the log, in log order")
def list_processes(civic: CivicDep) -> list[ProcessSummary]:
    return [_summary(civic.process(pid)) for pid in civic.process_ids()]


_UNKNOWN_PROCESS = error_responses({404: "unknown_process: no such process on the log"})


@router.get(
    "/{process_id}",
    summary="A process: its manifest, live tally and credential counts",
    responses=_UNKNOWN_PROCESS,
)
def get_process(process_id: str, civic: CivicDep, log: LogDep, roll: RollDep) -> ProcessDetail:
    st = _state(civic, process_id)
    manifest = decode_entry(log.entry(st.index)).obj  # exactly the fields the institution signed
    return ProcessDetail(
        **_summary(st).model_dump(),
        text=manifest["text"],
        institution=manifest["institution"],
        authority=authority_of(civic, st),
        issuer=manifest["issuer"],
        officials=manifest["officials"],
        proposals=manifest["proposals"],
        rule=manifest["rule"],
        results=[ResultRef(index=i, through=r.through) for i, r in list(st.results)],
        tally=civic.tally(process_id),
        credentials_issued=issued_count(roll, process_id),
        roll_size=roll_size(roll, process_id),
        subjects=subjects_count(roll, process_id),
        codes_replaced=codes_replaced(roll, process_id),
        eligibility=manifest.get("eligibility"),
        secret=_secret_of(st, manifest),
    )


def _secret_of(st: ProcessState, manifest: dict[str, Any]) -> dict[str, Any] | None:
    sec = st.secret
    if sec is None:
        return None
    return {
        **manifest["secret"],
        "fingerprint": b64encode(sec.fingerprint),
        "election_key": None if sec.key is None else b64encode(sec.key),
        "election_key_index": sec.key_at,
        "qualified": list(sec.qualified),
        "dealt": sorted(sec.deals),
        "checked": sorted(sec.checks),
        "disqualified": sorted(sec.disqualified),
        "decrypted": sorted(sec.decryptions),
    }


@router.get(
    "/{process_id}/tally", summary="The recount of a process so far", responses=_UNKNOWN_PROCESS
)
def get_tally(process_id: str, civic: CivicDep) -> dict[str, Any]:
    _state(civic, process_id)
    return civic.tally(process_id)


class WitnessedEntry(BaseModel):
    #: close, result, or threshold (the signature or paper batch that reached it)
    what: str
    index: int
    receipt: ReceiptOut
    #: POSIX seconds by which the quorum of witnesses had seen it; null before
    existed_by: int | None


class WitnessedProcess(BaseModel):
    process: str
    entries: list[WitnessedEntry]


@router.get(
    "/{process_id}/witnessed",
    summary="The witnessed time of a process's close, result and threshold",
    responses=error_responses(
        {404: "unknown_process: no such process; no_witnesses: this log has no witnesses"}
    ),
)
def get_witnessed(process_id: str, civic: CivicDep, witnessing: WitnessingDep) -> WitnessedProcess:
    """Each of these entries with its best receipt: against the first
    checkpoint holding it that the quorum of witnesses cosigned, whose times
    say by when it existed (docs/spec/witness.md §8). ``urne-verify receipt
    --witness ...`` checks each receipt and prints that time."""
    if witnessing is None:
        raise Missing("no_witnesses", "this log is not configured with witnesses")
    st = _state(civic, process_id)
    wanted: list[tuple[str, int]] = []
    if st.closed_at is not None:
        wanted.append(("close", st.closed_at))
    wanted += [("result", i) for i, _ in list(st.results)]
    reached = civic.tally(process_id).get("reached_at")
    if reached is not None:
        wanted.append(("threshold", int(reached)))
    out = []
    for what, index in wanted:
        receipt = witnessing.receipt(index)
        out.append(
            WitnessedEntry(
                what=what,
                index=index,
                receipt=ReceiptOut(**receipt.to_json()),
                existed_by=witnessing.existed_by(receipt),
            )
        )
    return WitnessedProcess(process=process_id, entries=out)


_ENTRY_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            "The entry's exact bytes: RFC 8785 canonical JSON, signed by its author "
            f"(docs/spec/entries.md), at most {MAX_ENTRY_SIZE} bytes."
        ),
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def _is_json(content_type: str) -> bool:
    """``application/json``, with any parameters (RFC 9110 §8.3.1) but a charset
    other than UTF-8, the only one JSON has (RFC 8259 §8.1)."""
    media_type, *params = content_type.split(";")
    if media_type.strip().lower() != "application/json":
        return False
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return False
    return True


async def _read_entry(request: Request) -> bytes:
    """The body, refused unless JSON and at most ``MAX_ENTRY_SIZE`` bytes.

    Never more than ``MAX_ENTRY_SIZE`` + one chunk is held, whatever the
    client announces or sends."""
    if not _is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType(
            "unsupported_media_type",
            "send the entry's bytes with Content-Type: application/json",
        )
    too_large = PayloadTooLarge(
        "entry_too_large", f"an entry is at most {MAX_ENTRY_SIZE} bytes (docs/spec/entries.md)"
    )
    return await read_body(request, MAX_ENTRY_SIZE, too_large)


@entries.post(
    "",
    status_code=201,
    response_model=ReceiptOut,
    summary="Append an entry (any kind); the receipt once it is committed",
    dependencies=[RateLimited],
    openapi_extra=_ENTRY_BODY,
    responses=error_responses(
        {
            400: "malformed entry (not_canonical, malformed_json, bad_base64, ...)",
            403: "the author signature does not verify (bad_entry_signature)",
            404: "unknown_process",
            409: "conflicts with the process's state (already_signed, ...)",
            413: "entry_too_large",
            415: "unsupported_media_type",
            422: "breaks a rule of its process (bad_credential, ...)",
            429: "rate_limited",
        }
    ),
)
async def post_entry(request: Request, civic: CivicDep) -> Response:
    return await _post_entry(request, civic)


async def _post_entry(request: Request, civic: CivicRecord) -> Response:
    leaf = await _read_entry(request)
    # No worker thread is held: the credential is verified in a batch by the
    # verifier threads, and the receipt comes from the sequencer's batch.
    receipt = await civic.submit_async(leaf)
    return Response(
        json.dumps(receipt.to_json(), separators=(",", ":")).encode(),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/entries/{receipt.index}/receipt", **NO_STORE},
    )


@entries.get(
    "/{index}/receipt",
    summary="A receipt for the entry at this index",
    responses=error_responses({400: INVALID_PARAMETER, 404: "no_entry: beyond the log"}),
)
def get_receipt(
    index: Annotated[int, Path(ge=0, le=MAX_INDEX)],
    log: LogDep,
    witnessing: WitnessingDep,
    response: Response,
) -> ReceiptOut:
    """With witnesses, the best receipt: against the first checkpoint holding
    the entry that has the quorum of cosignatures, once one has it."""
    size = log.size
    if index >= size:
        raise Missing("no_entry", f"no entry at index {index}; the log has {size}")
    response.headers.update(NO_STORE)
    receipt = log.receipt(index) if witnessing is None else witnessing.receipt(index)
    return ReceiptOut(**receipt.to_json())


class EntriesFastPath:
    """ASGI middleware: ``POST /entries`` goes straight to the route's own code.

    Casting is the one hot path of the service: every ballot of every citizen.
    Here it skips the framework's route matching and dependency injection,
    which cost as much as the rest of the request together, and runs exactly
    what the route runs: the rate limit (:func:`~urne.api.deps.rate_limited`), the
    body checks, :meth:`~urne.ledger.civic.record.CivicRecord.submit_async`, the same
    201 receipt; a refusal goes to the app's own exception handlers, so its
    status and body are the route's. The route stays in the app for the
    OpenAPI schema, and answers every other method on the path (405).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != scope.get("root_path", "") + "/entries"
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            await rate_limited(request)
            response = await _post_entry(request, scope["app"].state.civic)
        except Exception as exc:
            handler = _handler_for(scope["app"], exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


def _handler_for(app: Any, exc: Exception) -> Any:
    """The app's handler for ``exc``: the most specific class in its MRO, as
    Starlette's own exception middleware chooses."""
    handlers = app.exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None
