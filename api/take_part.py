"""The citizen's wallet in the browser: ``/p/{id}/take-part`` (docs/guides/wallet.md).

The page is a form and a script. Everything secret happens in the citizen's
browser (``static/wallet/``): the pseudonym's Ed25519 key, blinding the
credential message, unblinding and checking the issuer's answer, signing the
ballot, checking the receipt. The server serves the page and answers the same
API calls ``urne-wallet`` makes: ``POST /issuance/{id}`` (the code and a blinded
point) and ``POST /entries`` (the signed entry). It never sees the pseudonym's
key, and the code is sent only to the issuance endpoint (a link carries it in
the URL's fragment, which browsers do not send).

The cryptography is @noble/curves and @noble/hashes, vendored unmodified in
``static/vendor`` and loaded through the import map below; the map is inline,
so the page's Content-Security-Policy admits exactly it, by its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from urne.api import web
from urne.api.deps import CivicDep, LogDep
from urne.verifier.civic.entries import decode_entry
from urne.verifier.civic.process import EntryRefused, ProcessState

__all__ = ["IMPORT_MAP", "install", "router"]

router = APIRouter(include_in_schema=False)

#: Where the vendored libraries' bare imports (``@noble/curves/...``) resolve.
IMPORT_MAP = json.dumps(
    {
        "imports": {
            "@noble/curves/": "/static/vendor/noble-curves/",
            "@noble/hashes/": "/static/vendor/noble-hashes/",
        }
    },
    separators=(",", ":"),
)
_IMPORT_MAP_HASH = base64.b64encode(hashlib.sha256(IMPORT_MAP.encode()).digest()).decode()
#: The pages' policy, plus the import map (by its hash): still no other inline script.
CSP = web.CSP.replace("script-src 'self'", f"script-src 'self' 'sha256-{_IMPORT_MAP_HASH}'")


def install(app: FastAPI) -> None:
    app.include_router(router)


@router.get("/p/{process_id}/take-part", response_class=HTMLResponse)
def take_part(request: Request, process_id: str, civic: CivicDep, log: LogDep) -> HTMLResponse:
    """The wallet page of one process."""
    lang = _language(request)
    log.catch_up()
    try:
        st = civic.process(process_id)
    except EntryRefused:
        return _not_found(request, process_id)
    p = st.process
    manifest = decode_entry(log.entry(st.index)).obj
    status = _status(st, civic.clock())
    proposals = [
        {"id": q.id, "title": web.text_in(q.title, lang), "cost": q.cost} for q in p.proposals
    ]
    data: dict[str, Any] = {
        "process": p.id,
        "type": p.type,
        "title": web.text_in(p.title, lang),
        "status": status,
        "opens": p.opens,
        "closes": p.closes,
        "issuer": manifest["issuer"],
        "rule": manifest["rule"],
        "proposals": proposals,
        "log_key": log.verifier.vkey,
        "origin": log.origin,
    }
    return _page(
        request,
        "take_part.html",
        200,
        lang=lang,
        p=p,
        title=data["title"],
        text=web.plain_text(web.text_in(p.text, lang)),
        status=status,
        proposals=proposals,
        rule=manifest["rule"],
        data=data,
        import_map=IMPORT_MAP,
    )


# Until the pages' module exposes these (language, status, rendering):
def _language(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get("lang")
    if asked:
        return asked.strip().lower()[:16]
    header = request.headers.get("accept-language", "")
    tag = header.split(",")[0].split(";")[0].strip().lower()
    return tag.split("-")[0][:16] if tag and tag != "*" else "en"


def _status(st: ProcessState, now: datetime) -> str:
    p = st.process
    if st.closed_at is not None:
        return "closed"
    if now < datetime.fromisoformat(p.opens.replace("Z", "+00:00")):
        return "upcoming"
    if now >= datetime.fromisoformat(p.closes.replace("Z", "+00:00")):
        return "ended"
    return "open"


def _page(request: Request, name: str, http_status: int, **ctx: Any) -> HTMLResponse:
    env = web.templates.env
    if "gettext" not in env.globals:
        env.add_extension("jinja2.ext.i18n")
        env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    log = getattr(request.app.state, "log", None)
    ctx.setdefault("origin", log.origin if log is not None else "")
    ctx.setdefault("verifier_key", log.verifier.vkey if log is not None else "")
    return web.templates.TemplateResponse(
        request,
        name,
        ctx,
        status_code=http_status,
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _not_found(request: Request, process_id: str) -> HTMLResponse:
    return _page(
        request,
        "error.html",
        404,
        title="No such process",
        message=f"There is no process {process_id!r} on this log.",
    )
