"""Requests an institution signs with its Ed25519 key (docs/spec/api.md §6): the
operations that are not log entries.

- ``POST /institution/processes/{process_id}/issuer-key``: reserve the
  process id on the log for the signing institution (registered there with
  the ``open`` role) and create the process's issuer key; the ``reservation``
  entry, signed by the log's key, binds the id, the institution and the
  issuer key, and only that institution's manifest with that key may use the
  id. Asked again by the same institution (a retry of an interrupted
  opening), it answers the same key and reservation;
- ``POST /institution/processes/{process_id}/roll``: put people on the
  process's roll and get their one-time codes, once (only the institution it
  is reserved for, and only while the process has not closed);
- ``GET /institution/whoami``: which registered institution signed.

Every request is signed (``urne.api.auth``); answers are ``Cache-Control: no-store``.
The body is read by the signature check once the signature (which covers
its digest) has verified, and never beyond the route's limit and one chunk
(``urne.api.deps.read_body``).
The codes in a roll answer are never logged or stored: the roll keeps their
HMAC (``urne.ledger.issuance``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from urne.api.auth import SignedRequest, signed
from urne.api.deps import CivicDep, KeyringDep, RateLimited, RollDep, parse_model
from urne.api.errors import Conflict, Forbidden, Missing
from urne.ledger.civic.authority import reserve_process
from urne.ledger.civic.record import CivicRecord
from urne.ledger.institutions.registry import create_issuer_key, process_owner
from urne.ledger.issuance.keyring import MAX_SHARES
from urne.ledger.issuance.roll import codes_replaced, import_roll, replace_code
from urne.verifier.civic.entries import b64encode, decode_entry

__all__ = ["MAX_ROLL_BODY", "router"]

#: Rate-limited as the other writing routes, before anything of the request is
#: checked: a stranger's unsigned or unknown requests cost a look-up each.
router = APIRouter(prefix="/institution", tags=["institutions"], dependencies=[RateLimited])

#: The body limit of a roll import (about 300,000 people a request).
MAX_ROLL_BODY = 16 * 1024 * 1024
#: People in one roll import at most.
MAX_ROLL_PEOPLE = 1_000_000

Signed = Annotated[SignedRequest, Depends(signed())]
SignedRoll = Annotated[SignedRequest, Depends(signed(MAX_ROLL_BODY))]
NO_STORE = {"Cache-Control": "no-store"}
_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad_content_digest, invalid_parameter, ..."},
    401: {
        "description": "unsigned_request, unknown_institution, stale_request, "
        "wrong_authority, bad_request_signature"
    },
    409: {"description": "replayed_request, ..."},
    413: {"description": "body_too_large"},
}


class IssuerKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: int = Field(default=1, ge=1, le=MAX_SHARES)
    shares: int = Field(default=1, ge=1, le=MAX_SHARES)
    offices: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=32,
        description="offices that make the key in their ceremony, with no dealer "
        "(docs/spec/issuer-ceremony.md): each office's public object from "
        "`urne-trustee keygen --office`; no key is made here, and `shares` is their number",
    )


class IssuerKeyAnswer(BaseModel):
    process_id: str
    issuer: dict[str, Any] = Field(description="the manifest's issuer object")
    reservation_index: int = Field(
        description="the log index of the reservation of the id for this institution"
    )
    share_public_keys: dict[str, str] = Field(
        description="t-of-n: each share's public key (base64); empty for a single key"
    )


class RollRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    people: list[Any] = Field(
        max_length=MAX_ROLL_PEOPLE,
        description="the institution's identifiers of the eligible people (strings)",
    )
    skip_existing: bool = False


class RollAnswer(BaseModel):
    process_id: str
    imported: int
    skipped: list[str]
    codes: dict[str, str] = Field(description="person -> one-time code: shown this once only")


class ReplaceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person: str = Field(max_length=256, description="the person whose letter was lost")


class ReplaceAnswer(BaseModel):
    process_id: str
    person: str
    code: str = Field(description="the new one-time code: shown this once only")
    codes_replaced: int = Field(description="codes replaced in this process so far (public)")


class WhoAmI(BaseModel):
    name: str


def _reserve(
    civic: CivicRecord,
    roll: Any,
    keyring: Any,
    req: SignedRequest,
    process_id: str,
    ask: IssuerKeyRequest,
) -> tuple[IssuerKeyAnswer, bool]:
    """Reserve the id and make its key, or answer the ones made before for
    the same institution: ``(answer, created)``."""
    civic.may_open(req.key)  # 403 unregistered_institution
    if ask.offices is not None:
        return _reserve_for_offices(civic, req, process_id, ask)
    reserved = civic.reservation(process_id)
    if reserved is not None and reserved[1].institution != req.key:
        raise Conflict(
            "process_reserved",
            f"process id {process_id!r} is reserved for another institution "
            f"(at index {reserved[0]})",
        )
    if reserved is not None and process_owner(roll, process_id) != req.institution:
        # reserved for this institution, but not through this route: its
        # issuer key was not made here, and none is made now
        raise Conflict(
            "process_reserved",
            f"process id {process_id!r} was reserved (at index {reserved[0]}) with an issuer "
            "key this service did not make for this request",
        )
    record, created = create_issuer_key(
        roll, keyring, req.institution, process_id, threshold=ask.threshold, shares=ask.shares
    )
    issuer = record.manifest_issuer()
    index = reserve_process(civic, process_id, req.key, issuer) if reserved is None else reserved[0]
    answer = IssuerKeyAnswer(
        process_id=process_id,
        issuer=issuer,
        reservation_index=index,
        share_public_keys={str(i): b64encode(k) for i, k in record.share_public_keys.items()},
    )
    return answer, created


def _reserve_for_offices(
    civic: CivicRecord, req: SignedRequest, process_id: str, ask: IssuerKeyRequest
) -> tuple[IssuerKeyAnswer, bool]:
    """Reserve the id with the offices that will make its key; the same
    request again answers the same reservation."""
    assert ask.offices is not None
    issuer = {"threshold": ask.threshold, "offices": ask.offices}
    reserved = civic.reservation(process_id)
    created = reserved is None
    if reserved is None:
        index = reserve_process(civic, process_id, req.key, issuer)
    else:
        index, r = reserved
        same = r.institution == req.key and r.offices is not None
        if same:
            same = decode_entry(civic.log.entry(index)).obj.get("issuer") == issuer
        if not same:
            raise Conflict(
                "process_reserved",
                f"process id {process_id!r} is reserved already (at index {index}), "
                "not with these offices for this institution",
            )
    return (
        IssuerKeyAnswer(
            process_id=process_id, issuer=issuer, reservation_index=index, share_public_keys={}
        ),
        created,
    )


@router.post(
    "/processes/{process_id}/issuer-key",
    status_code=201,
    summary="Reserve a process id and create its issuer key (signed by a registered institution)",
    responses={
        **_AUTH_ERRORS,
        200: {"description": "the key and reservation made before for this institution"},
        403: {"description": "unregistered_institution"},
        409: {"description": "issuer_key_exists, process_reserved, replayed_request"},
    },
)
async def create_key(
    process_id: str,
    req: Signed,
    roll: RollDep,
    keyring: KeyringDep,
    civic: CivicDep,
    response: Response,
) -> IssuerKeyAnswer:
    ask = parse_model(IssuerKeyRequest, req.body or b"{}")
    answer, created = await run_in_threadpool(_reserve, civic, roll, keyring, req, process_id, ask)
    response.headers.update(NO_STORE)
    if not created:
        response.status_code = 200
    return answer


def _import(
    civic: CivicRecord,
    roll: Any,
    keyring: Any,
    req: SignedRequest,
    process_id: str,
    ask: RollRequest,
) -> RollAnswer:
    _owned(civic, req, process_id)
    result = import_roll(
        roll, keyring, process_id, [(p,) for p in ask.people], skip_existing=ask.skip_existing
    )
    return RollAnswer(
        process_id=process_id,
        imported=len(result.codes),
        skipped=list(result.skipped),
        codes=result.codes,
    )


@router.post(
    "/processes/{process_id}/roll",
    status_code=201,
    summary="Import people to a process's roll; their one-time codes, once",
    responses={
        **_AUTH_ERRORS,
        400: {"description": "bad_person, duplicate_person, invalid_parameter, ..."},
        403: {"description": "not_your_process"},
        404: {"description": "unknown_process"},
        409: {"description": "already_on_roll, process_closed, replayed_request"},
    },
)
async def import_people(
    process_id: str,
    req: SignedRoll,
    roll: RollDep,
    keyring: KeyringDep,
    civic: CivicDep,
    response: Response,
) -> RollAnswer:
    ask = parse_model(RollRequest, req.body or b"{}")
    answer = await run_in_threadpool(_import, civic, roll, keyring, req, process_id, ask)
    response.headers.update(NO_STORE)
    return answer


def _owned(civic: CivicRecord, req: SignedRequest, process_id: str) -> None:
    """The id is reserved for the signing institution, and the process has
    not ended (404 ``unknown_process``, 403 ``not_your_process``, 409)."""
    reserved = civic.reservation(process_id)
    if reserved is None:
        raise Missing("unknown_process", f"process id {process_id!r} is not reserved on this log")
    if reserved[1].institution != req.key:
        raise Forbidden(
            "not_your_process",
            f"process id {process_id!r} is reserved for another institution than "
            f"{req.institution!r}",
        )
    civic.check_not_closed(process_id)


def _replace(
    civic: CivicRecord,
    roll: Any,
    keyring: Any,
    req: SignedRequest,
    process_id: str,
    ask: ReplaceRequest,
) -> ReplaceAnswer:
    _owned(civic, req, process_id)
    reserved = civic.reservation(process_id)
    if reserved is not None and reserved[1].offices is not None:
        # the offices hold the roll and answer the codes; a new code drawn here
        # would reach none of them, and the old one would still be answered
        raise Conflict(
            "offices_hold_the_roll",
            f"the codes of {process_id!r} are checked by its issuers' offices, each with its "
            "own copy of the roll: a code is replaced on each office's copy, not here "
            "(urne office replace, docs/spec/issuer-ceremony.md §4)",
        )
    code = replace_code(roll, keyring, process_id, ask.person)
    return ReplaceAnswer(
        process_id=process_id,
        person=ask.person,
        code=code,
        codes_replaced=codes_replaced(roll, process_id),
    )


@router.post(
    "/processes/{process_id}/roll/replace",
    status_code=201,
    summary="The help desk: a new code for a person not yet answered; the old one stops",
    responses={
        **_AUTH_ERRORS,
        403: {"description": "not_your_process"},
        404: {"description": "unknown_process, not_on_roll"},
        409: {"description": "already_issued, process_closed, process_ended, replayed_request"},
    },
)
async def replace_person_code(
    process_id: str,
    req: Signed,
    roll: RollDep,
    keyring: KeyringDep,
    civic: CivicDep,
    response: Response,
) -> ReplaceAnswer:
    ask = parse_model(ReplaceRequest, req.body or b"{}")
    answer = await run_in_threadpool(_replace, civic, roll, keyring, req, process_id, ask)
    response.headers.update(NO_STORE)
    return answer


@router.get("/whoami", summary="The institution that signed this request", responses=_AUTH_ERRORS)
async def whoami(req: Signed, response: Response) -> WhoAmI:
    response.headers.update(NO_STORE)
    return WhoAmI(name=req.institution)
