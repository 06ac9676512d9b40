"""The citizen's wallet in the browser: ``/p/{id}/take-part`` (docs/guides/wallet.md).

The page is a form and a script. Everything secret happens in the citizen's
browser (``static/wallet/``): the pseudonym's Ed25519 key, blinding the
credential message, unblinding and checking the issuer's answer, signing the
ballot, checking the receipt. The server serves the page and answers the same
API calls ``urne-wallet`` makes: ``POST /issuance/{id}`` (the code and a blinded
point) and ``POST /entries`` (the signed entry). It never sees the pseudonym's
key, and the code is sent only to the issuance endpoint (a link carries it in
the URL's fragment, which browsers do not send).

A secret vote's or budget's page (docs/secret-ballot.md) also encrypts and
proves the ballot in the browser (``static/wallet/secret.js``). It reads the manifest and
the election key from their entries in the log, each checked against the
log's key with its inclusion proof (the indices are below, in the page's
data), computes the manifest's fingerprint from the manifest's bytes itself,
and seals each ballot before the citizen chooses to cast it or to check it
(Benaloh's cast-or-audit: a checked ballot reveals its randomness and is
never cast).

A vote with delegation (docs/spec/delegation.md) lists its delegates (their
names and keys, as the log holds them when the page is served): the citizen
may delegate to one, revoke, or stand as a delegate under a name, each entry
signed in the browser under the pseudonym and posted as a ballot is.

The cryptography is @noble/curves and @noble/hashes, vendored unmodified in
``static/vendor`` and loaded through the import map below; the map is inline,
so the page's Content-Security-Policy admits exactly it, by its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from urne.api import i18n, web
from urne.api.deps import CivicDep, LogDep
from urne.verifier.civic.entries import VoteRule, b64encode, decode_entry
from urne.verifier.civic.process import EntryRefused

__all__ = ["IMPORT_MAP", "install", "page_csp", "router"]

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


def page_csp(issuer: dict[str, Any]) -> str:
    """The page's policy: for a key the offices made with no dealer, the
    wallet also asks each office the manifest names, at its own origin
    (docs/spec/issuer-ceremony.md §5), and nothing else. The manifest's
    addresses were checked on the log (``bad_url``): scheme, host and port
    only reach the policy."""
    origins = []
    for office in issuer.get("offices", ()):
        u = urlsplit(str(office["url"]))
        origin = f"{u.scheme}://{u.netloc}"
        if origin not in origins:
            origins.append(origin)
    if not origins:
        return CSP
    return CSP.replace("connect-src 'self'", "connect-src 'self' " + " ".join(origins))


@router.get("/p/{process_id}/take-part", response_class=HTMLResponse)
def take_part(request: Request, process_id: str, civic: CivicDep, log: LogDep) -> HTMLResponse:
    """The wallet page of one process, in the reader's language."""
    langs = web.reader_languages(request)
    log.catch_up()
    try:
        st = civic.process(process_id)
    except EntryRefused:
        return web.render_page(
            request, "error.html", status_code=404, error="no_process", process_id=process_id
        )
    p = st.process
    manifest = decode_entry(log.entry(st.index)).obj
    status = web.process_status(st, civic.clock())
    proposals = [
        {"id": q.id, "title": web.text_in(q.title, langs), "cost": q.cost} for q in p.proposals
    ]
    # a majority judgment's scale, best first, in the reader's language
    scale = (
        [{"id": g.id, "label": web.text_in(g.label, langs)} for g in p.rule.grades]
        if isinstance(p.rule, VoteRule)
        else []
    )
    data: dict[str, Any] = {
        "process": p.id,
        "type": p.type,
        "title": web.text_in(p.title, langs),
        "status": status,
        "opens": p.opens,
        "closes": p.closes,
        "issuer": manifest["issuer"],
        "rule": manifest["rule"],
        "proposals": proposals,
        "scale": scale,
        # where the page reads the manifest's bytes in the log: a majority
        # judgment's grades go in the order of its proposals there
        "manifest_index": st.index,
        "log_key": log.verifier.vkey,
        "origin": log.origin,
        "secret": None,
    }
    # a vote with delegation (docs/spec/delegation.md): the delegates standing
    # now, by name, whom the citizen may delegate to
    delegates = None
    if isinstance(p.rule, VoteRule) and p.rule.delegation:
        standing = dict(st.delegates)  # a copy: the sequencer goes on adding
        delegates = sorted(
            ({"key": b64encode(ps), "name": name} for ps, (_, name) in standing.items()),
            key=lambda d: (d["name"].casefold(), d["name"], d["key"]),
        )
    data["delegates"] = delegates
    sec = st.secret
    if sec is not None:
        data["secret"] = {
            # where the page reads the manifest's bytes and the election key, in the log
            "manifest_index": st.index,
            "key_index": sec.key_at,
        }
    return web.render_page(
        request,
        "take_part.html",
        csp=page_csp(manifest["issuer"]),
        strings=i18n.receipt_strings,  # receipt.js, which checks the receipt in the page
        p=p,
        title=data["title"],
        text=web.plain_text(web.text_in(p.text, langs)),
        status=status,
        proposals=proposals,
        scale=scale,
        rule=manifest["rule"],
        secret=sec is not None,
        delegates=delegates,
        key_ready=sec is not None and sec.key_at is not None,
        data=data,
        import_map=IMPORT_MAP,
    )
