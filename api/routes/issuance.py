"""Blind issuance over HTTP (docs/spec/issuance.md §3), apart from casting.

- ``POST /issuance/{process_id}``: a one-time code and a blinded point ``B``
  in, the blind signature ``sk·B`` (or a share's ``f(i)·B``) out.
- ``GET /issuance/{process_id}``: the public numbers and the issuer's key.

These routes are a router of their own so that an operator can serve them on
another host than ``/entries`` (``create_app(casting=False)`` there,
``create_app(issuance=False)`` on the casting host): the issuer sees who asks,
and should see nothing of how they vote, not even the timing on one machine.
Nothing of the request beyond the roll's own mark is stored; answers are
``Cache-Control: no-store``.

``POST`` reads its body itself (``urne.api.deps.read_json``), after the rate
limit and never beyond :data:`MAX_CREDENTIAL_BODY` and one chunk: as a body
parameter, FastAPI would read any size whole before the rate limit ran.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from urne.api.deps import KeyringDep, RateLimited, RollDep, read_json
from urne.api.errors import INVALID_PARAMETER, error_responses
from urne.ledger.issuance.issue import check_blinded, issue
from urne.ledger.issuance.keyring import MAX_SHARES, IssuerKeyring
from urne.ledger.issuance.oidc import (
    IdentityRefused,
    Providers,
    ProvidersFile,
    ProviderUnavailable,
    eligibility_of,
    issue_oidc,
    subjects_count,
)
from urne.ledger.issuance.roll import codes_replaced, issued_count, roll_size
from urne.verifier.civic.entries import Process, b64decode, b64encode
from urne.verifier.credentials.credential import CREDENTIAL_SIZE

__all__ = ["MAX_CREDENTIAL_BODY", "MAX_OIDC_BODY", "IssuanceCors", "router"]

router = APIRouter(prefix="/issuance", tags=["issuance"])


class IssuanceCors:
    """``/issuance/*`` answers any origin, and no other path does: the wallet
    page of the log's service asks each office of an issuer with no dealer at
    its own address (docs/spec/issuer-ceremony.md §5). Nothing rides on
    ambient authority here (no cookies, no credentials mode: the one-time
    code in the body is the authority), so another origin's page learns
    nothing it could not ask itself. Preflights are answered for POST with a
    JSON body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "POST"],
            allow_headers=["content-type"],
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/issuance/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


#: The body limit of a credential request: its fields take under 400 bytes.
MAX_CREDENTIAL_BODY = 4096


class CredentialRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        max_length=64, description="the one-time code from the letter", examples=["7K3M-Q9XD-2HRT"]
    )
    blinded: str = Field(
        max_length=256,
        description=f"B = r·H(m): {CREDENTIAL_SIZE} bytes (compressed G1), canonical base64",
    )
    share: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SHARES,
        description="for a t-of-n issuer key: which share this office holds; omit otherwise",
    )


_CREDENTIAL_BODY = {
    "requestBody": {
        "required": True,
        "description": f"at most {MAX_CREDENTIAL_BODY} bytes",
        "content": {"application/json": {"schema": CredentialRequest.model_json_schema()}},
    }
}


class BlindSignature(BaseModel):
    blind_signature: str = Field(description="sk·B (or f(i)·B), base64; unblind it on the device")


class IssuanceInfo(BaseModel):
    process_id: str
    credentials_issued: int
    roll_size: int
    subjects: int = Field(
        description=(
            "distinct people an identity provider vouched for, each answered once "
            "(docs/spec/eligibility.md); counted in credentials_issued"
        )
    )
    codes_replaced: int = Field(description="codes the help desk replaced (letters lost)")
    issuer: dict[str, Any] = Field(description="the manifest's issuer object")
    share_public_keys: dict[str, str] = Field(
        description="t-of-n: each share's public key (base64), to check each office's answer"
    )


@router.post(
    "/{process_id}",
    summary="Ask for a blind credential with a one-time code",
    dependencies=[RateLimited],
    openapi_extra=_CREDENTIAL_BODY,
    responses=error_responses(
        {
            400: f"{INVALID_PARAMETER}; bad_code, bad_base64, bad_blinded_point, bad_share_index",
            404: "unknown_code, unknown_process",
            409: "already_issued, blinded_mismatch, process_closed, process_ended",
            413: "body_too_large",
            429: "rate_limited",
        }
    ),
)
async def request_credential(
    process_id: str,
    request: Request,
    roll: RollDep,
    keyring: KeyringDep,
    response: Response,
) -> BlindSignature:
    ask = await read_json(request, CredentialRequest, MAX_CREDENTIAL_BODY)
    blinded = b64decode(ask.blinded, "blinded")
    civic = request.app.state.civic
    if civic is not None:  # on a host that also keeps the log: nothing issued once it ended
        await run_in_threadpool(civic.check_not_closed, process_id)
    answer = await run_in_threadpool(
        issue, roll, keyring, process_id, ask.code, blinded, share_index=ask.share
    )
    response.headers["Cache-Control"] = "no-store"
    return BlindSignature(blind_signature=b64encode(answer))


@router.get(
    "/{process_id}",
    summary="How many credentials were issued, and the issuer's key",
    responses=error_responses({404: "unknown_process: no issuer key for this process here"}),
)
def get_issuance(process_id: str, roll: RollDep, keyring: KeyringDep) -> IssuanceInfo:
    record = keyring.record(process_id)
    return IssuanceInfo(
        process_id=process_id,
        credentials_issued=issued_count(roll, process_id),
        roll_size=roll_size(roll, process_id),
        subjects=subjects_count(roll, process_id),
        codes_replaced=codes_replaced(roll, process_id),
        issuer=record.manifest_issuer(),
        share_public_keys={str(i): b64encode(k) for i, k in record.share_public_keys.items()},
    )


# -- through an identity provider (docs/spec/eligibility.md) -------------------------------

#: The body limit of the identity provider's requests: an authorization code
#: and the PKCE verifier take under 3 KiB.
MAX_OIDC_BODY = 8192

_STATE = r"^[A-Za-z0-9._~\-]{22,128}$"


class AuthorizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    redirect_uri: str = Field(
        max_length=512,
        description=(
            "the wallet's callback: a registered redirect URI, or the base under which the "
            "provider's own is registered (a loopback one with the wallet's port)"
        ),
    )
    state: str = Field(pattern=_STATE, description="the wallet's own random state")
    nonce: str = Field(
        pattern=r"^[A-Za-z0-9_\-]{43}$",
        description="base64url(SHA-256('urne/v1/oidc-nonce\\n' || process || '\\n' || B))",
    )
    code_challenge: str = Field(
        pattern=r"^[A-Za-z0-9_\-]{43}$", description="RFC 7636 S256 of the wallet's verifier"
    )


class AuthorizeAnswer(BaseModel):
    url: str = Field(description="the provider's authorization request: send the citizen there")
    provider: str = Field(description="the provider's name, as the manifest gives it")
    redirect_uri: str = Field(
        description=(
            "the provider's own callback the browser will come back to: expect it there, "
            "and send it with the code"
        )
    )


class IdentityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=2048, description="the authorization code the provider returned")
    code_verifier: str = Field(max_length=128, description="the PKCE verifier (RFC 7636)")
    redirect_uri: str = Field(max_length=512, description="the redirect_uri of the request")
    blinded: str = Field(
        max_length=256,
        description=f"B = r·H(m): {CREDENTIAL_SIZE} bytes (compressed G1), canonical base64",
    )


class IdentityAnswer(BlindSignature):
    provider: str
    logout: str | None = Field(
        default=None, description="the provider's end-session endpoint, to log out there"
    )
    id_token_hint: str | None = Field(
        default=None, description="the ID token, as the end-session endpoint's hint"
    )


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": f"at most {MAX_OIDC_BODY} bytes",
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


#: At most this many credential requests wait on identity providers at once:
#: each may take the provider's token endpoint and userinfo (10 s each at
#: most), and a slow provider must not take every thread of the service, whose
#: casting shares them. One more is refused at once (``provider_busy``).
MAX_AT_PROVIDER = 16
_PROVIDER_SLOTS = asyncio.Semaphore(MAX_AT_PROVIDER)


def _providers(request: Request, keyring: IssuerKeyring) -> Providers:
    """The issuer's registrations (``<key_dir>/oidc-providers.json``), read
    again whenever the file changes."""
    state = request.app.state
    found = getattr(state, "providers", None)
    if found is None or found.path.parent != keyring.key_dir:
        found = state.providers = ProvidersFile(keyring)
    providers: Providers = found.current()
    return providers


def _process(request: Request, process_id: str) -> Process:
    """The process's manifest: from the log this host keeps, or, on an
    issuance host apart, read from the log's service and proven
    (``URNE_LOG_URL``, ``URNE_LOG_KEY``); refused once the process ended."""
    state = request.app.state
    civic = state.civic
    if civic is None:
        manifests = getattr(state, "manifests", None)
        if manifests is None:
            raise ProviderUnavailable(
                "this issuance host keeps no log and reads none, so it cannot read the "
                "process's eligibility rule: set URNE_LOG_URL and URNE_LOG_KEY",
                code="no_manifest",
            )
        apart: Process = manifests.process(process_id)
        return apart
    civic.check_not_closed(process_id)
    found: Process = civic.process(process_id).process
    return found


@router.post(
    "/{process_id}/authorize",
    summary="The identity provider's authorization request for a credential",
    dependencies=[RateLimited],
    openapi_extra=_body(AuthorizeRequest),
    responses=error_responses(
        {
            400: f"{INVALID_PARAMETER}; bad_redirect_uri, not_an_identity_process",
            404: "unknown_process",
            409: "process_closed, process_ended",
            413: "body_too_large",
            429: "rate_limited",
            503: "provider_unavailable, provider_not_configured, no_manifest",
        }
    ),
)
async def authorize(process_id: str, request: Request, keyring: KeyringDep) -> AuthorizeAnswer:
    ask = await read_json(request, AuthorizeRequest, MAX_OIDC_BODY)
    process = await run_in_threadpool(_process, request, process_id)
    eligibility = eligibility_of(process)
    client = _providers(request, keyring).client(eligibility)
    redirect_uri = client.config.resolve_redirect(ask.redirect_uri)
    if redirect_uri is None:
        raise IdentityRefused(
            f"redirect_uri {ask.redirect_uri!r}: no callback this issuer registered at "
            f"{eligibility.name} is there or under it",
            code="bad_redirect_uri",
        )
    url = await run_in_threadpool(
        lambda: client.authorization_url(
            redirect_uri=redirect_uri,
            state=ask.state,
            nonce=ask.nonce,
            code_challenge=ask.code_challenge,
            acr_values=eligibility.acr,
        )
    )
    return AuthorizeAnswer(url=url, provider=eligibility.name, redirect_uri=redirect_uri)


@router.post(
    "/{process_id}/identity",
    summary="Ask for a blind credential with an identity provider's authorization code",
    dependencies=[RateLimited],
    openapi_extra=_body(IdentityRequest),
    responses=error_responses(
        {
            400: (
                f"{INVALID_PARAMETER}; bad_base64, bad_blinded_point, bad_redirect_uri, "
                "bad_code_verifier, code_refused, id_token_signature, id_token_alg, "
                "id_token_issuer, id_token_audience, id_token_expired, id_token_nonce, "
                "id_token_invalid, userinfo_mismatch, not_an_identity_process"
            ),
            403: "ineligible, claim_missing, acr_too_low",
            404: "unknown_process",
            409: "already_issued, process_closed, process_ended",
            413: "body_too_large",
            429: "rate_limited",
            503: (
                "provider_unavailable, provider_not_configured, provider_busy, no_manifest, "
                "log_unavailable, manifest_unproven"
            ),
        }
    ),
)
async def request_credential_identity(
    process_id: str,
    request: Request,
    roll: RollDep,
    keyring: KeyringDep,
    response: Response,
) -> IdentityAnswer:
    ask = await read_json(request, IdentityRequest, MAX_OIDC_BODY)
    blinded = check_blinded(b64decode(ask.blinded, "blinded"))
    process = await run_in_threadpool(_process, request, process_id)
    if _PROVIDER_SLOTS.locked():
        raise ProviderUnavailable(
            f"{MAX_AT_PROVIDER} requests are waiting on identity providers already; "
            "try again in a moment (nothing was spent)",
            code="provider_busy",
        )
    async with _PROVIDER_SLOTS:
        answer, info = await run_in_threadpool(
            lambda: issue_oidc(
                roll,
                keyring,
                _providers(request, keyring),
                process,
                code=ask.code,
                code_verifier=ask.code_verifier,
                redirect_uri=ask.redirect_uri,
                blinded=blinded,
            )
        )
    response.headers["Cache-Control"] = "no-store"
    return IdentityAnswer(blind_signature=b64encode(answer), **info)
