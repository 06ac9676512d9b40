"""Requests an institution signs with its Ed25519 key (docs/spec/api.md §6): the
operations that are not log entries.

- ``POST /institution/processes/{process_id}/issuer-key``: create the
  process's issuer key (once; the institution that does owns the process here);
- ``POST /institution/processes/{process_id}/roll``: put people on the
  process's roll and get their one-time codes, once (only the owner);
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
from urne.api.deps import KeyringDep, RollDep, parse_model
from urne.api.errors import Forbidden
from urne.ledger.institutions.registry import create_issuer_key, process_owner
from urne.ledger.issuance.keyring import MAX_SHARES
from urne.ledger.issuance.roll import import_roll
from urne.verifier.civic.entries import b64encode

__all__ = ["MAX_ROLL_BODY", "router"]

router = APIRouter(prefix="/institution", tags=["institutions"])

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


class IssuerKeyAnswer(BaseModel):
    process_id: str
    issuer: dict[str, Any] = Field(description="the manifest's issuer object")
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


class WhoAmI(BaseModel):
    name: str


@router.post(
    "/processes/{process_id}/issuer-key",
    status_code=201,
    summary="Create a process's issuer key (signed by a registered institution)",
    responses={**_AUTH_ERRORS, 409: {"description": "issuer_key_exists, replayed_request"}},
)
async def create_key(
    process_id: str, req: Signed, roll: RollDep, keyring: KeyringDep, response: Response
) -> IssuerKeyAnswer:
    ask = parse_model(IssuerKeyRequest, req.body or b"{}")
    record = await run_in_threadpool(
        create_issuer_key,
        roll,
        keyring,
        req.institution,
        process_id,
        threshold=ask.threshold,
        shares=ask.shares,
    )
    response.headers.update(NO_STORE)
    return IssuerKeyAnswer(
        process_id=process_id,
        issuer=record.manifest_issuer(),
        share_public_keys={str(i): b64encode(k) for i, k in record.share_public_keys.items()},
    )


def _import(
    roll: Any, keyring: Any, institution: str, process_id: str, ask: RollRequest
) -> RollAnswer:
    owner = process_owner(roll, process_id)
    if owner is None:
        keyring.record(process_id)  # unknown_process (404) if there is no key at all
        owner = ""  # a key made outside the API: no institution owns it
    if owner != institution:
        raise Forbidden(
            "not_your_process",
            f"the issuer key of {process_id!r} was not created by {institution!r}",
        )
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
        409: {"description": "already_on_roll, replayed_request"},
    },
)
async def import_people(
    process_id: str, req: SignedRoll, roll: RollDep, keyring: KeyringDep, response: Response
) -> RollAnswer:
    ask = parse_model(RollRequest, req.body or b"{}")
    answer = await run_in_threadpool(_import, roll, keyring, req.institution, process_id, ask)
    response.headers.update(NO_STORE)
    return answer


@router.get("/whoami", summary="The institution that signed this request", responses=_AUTH_ERRORS)
async def whoami(req: Signed, response: Response) -> WhoAmI:
    response.headers.update(NO_STORE)
    return WhoAmI(name=req.institution)
