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

A process whose manifest names an identity provider (docs/spec/eligibility.md)
offers "Take part with <provider>" beside the one-time code: the page keeps
the pseudonym and the sealed request, then sends the citizen to the
provider's login (``static/wallet/identity.js``). The provider sends them back
to ``/oidc/callback`` with an authorization code in the query; that page is
the same for every process, and the server never reads its query: the script
takes the code out of the address bar, checks the ``state`` it drew, and
sends the code with the sealed request to ``POST /issuance/{id}/identity``
itself. The language switch of that page leaves the query out, and the
access log writes its path alone.

The cryptography is @noble/curves and @noble/hashes, vendored unmodified in
``static/vendor`` and loaded through the import map below; the map is inline,
so the page's Content-Security-Policy admits exactly it, by its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from urne.api import i18n, web
from urne.api.deps import CivicDep, LogDep
from urne.verifier.civic.entries import VoteRule, b64encode, decode_entry
from urne.verifier.civic.process import EntryRefused

__all__ = ["CALLBACK_PATH", "IMPORT_MAP", "identity_strings", "install", "page_csp", "router"]

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


#: Where an identity provider sends the citizen back (registered at the provider).
CALLBACK_PATH = "/oidc/callback"


class _HideCallbackQuery(logging.Filter):
    """Write the callback's path without its query in uvicorn's access log
    (``'%s - "%s %s HTTP/%s" %d'``, the path with its query third): the query
    holds the provider's authorization code."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        path = args[2] if isinstance(args, tuple) and len(args) > 2 else None
        if isinstance(args, tuple) and isinstance(path, str) and path.startswith(CALLBACK_PATH):
            record.args = (*args[:2], path.partition("?")[0], *args[3:])
        return True


def install(app: FastAPI) -> None:
    app.include_router(router)
    # /oidc/callback, or a provider's own under it (/oidc/callback/<name>):
    # with several providers, each has callbacks of its own (a mix-up is
    # caught by the page, which compares the address with the one it expects)
    for path in (CALLBACK_PATH, CALLBACK_PATH + "/{name}"):
        app.add_api_route(
            path, oidc_callback, methods=["GET"], response_class=HTMLResponse,
            include_in_schema=False,
        )  # fmt: skip
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _HideCallbackQuery) for f in access.filters):
        access.addFilter(_HideCallbackQuery())


def identity_strings() -> dict[str, str]:
    """The wallet's sentences for a login at the manifest's identity provider
    (``static/wallet/identity.js``), keyed ``identity_<code>`` after the
    refusal they explain; ``{name}`` is the provider's name, filled in the
    page. Called while the page's language is set."""
    gettext = i18n.gettext
    return {
        "identity_leaving": gettext("Taking you to {name}…"),
        "identity_asking": gettext(
            "Back from {name}: checking your login and asking for your credential…"
        ),
        "identity_no_login": gettext(
            "This tab has no login under way to take part: the link was perhaps opened in "
            "another browser or tab, or it was used already. Open the process's page in this "
            "tab and log in again: nothing was spent."
        ),
        "identity_bad_state": gettext(
            "This answer is not the one this page asked {name} for (it may come from a link "
            "someone else made): nothing was sent to the service. Go back to the process's "
            "page and log in again."
        ),
        "identity_login_failed": gettext(
            "{name} did not log you in ({error}). Nothing was spent: you may try again."
        ),
        "identity_ineligible": gettext(
            "{name} says that you are not among the people who may take part in this process "
            "(its rule sets an age, a place of birth…). No credential was issued. If you think "
            "this is a mistake, contact the institution."
        ),
        "identity_claim_missing": gettext(
            "{name} did not give what this process's rule needs to know (a full date of "
            "birth, for instance). No credential was issued. Contact the institution: it may "
            "offer you a one-time code instead."
        ),
        "identity_acr_too_low": gettext(
            "This process asks for a stronger login than the one you used at {name}. Log in "
            "again with a means of a higher level of assurance (an identity app that checked "
            "your identity document, for instance)."
        ),
        "identity_already_issued": gettext(
            "A credential was already issued to you through {name}, for another browser or "
            "device. Take part from there, or export your wallet there (“Export my wallet”) "
            "and import it here."
        ),
        "identity_code_refused": gettext(
            "The login at {name} could not be used: it expired or was used already. Go back "
            "to the process's page and log in again: nothing was spent."
        ),
        "identity_id_token": gettext(
            "The service could not check the answer of {name}, so no credential was issued. "
            "Try again later, and tell the institution if it happens again."
        ),
        "identity_provider_unavailable": gettext(
            "{name} did not answer the service. Try again in a few minutes: nothing was spent."
        ),
        "identity_provider_not_configured": gettext(
            "This service is not set up to work with {name} yet. Tell the institution."
        ),
        "identity_bad_redirect_uri": gettext(
            "This service is not registered with {name} at this address. Tell the institution."
        ),
        "identity_not_an_identity_process": gettext("This process takes one-time codes only."),
        "identity_offline": gettext(
            "The service did not answer, so your credential could not be asked for. Nothing "
            "was lost: go back to the process's page and log in with {name} again."
        ),
        "identity_process_closed": gettext(
            "This process is closed: nothing more can be cast in it."
        ),
        "identity_process_ended": gettext(
            "This process is closed: nothing more can be cast in it."
        ),
        "identity_too_many_requests": gettext(
            "Too many attempts from here. Wait a minute and try again."
        ),
        "identity_bad_credential": gettext(
            "The credential the service gave does not verify: it was not used. Try again, "
            "and tell the institution if it happens again."
        ),
        "refused": gettext("The service refused: {message}"),
        "error": gettext("Something went wrong: {message}"),
    }


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
        # the manifest's identity provider (docs/spec/eligibility.md): its button
        "eligibility": (
            {"name": p.eligibility.name, "provider": p.eligibility.provider}
            if p.eligibility is not None
            else None
        ),
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
        eligibility=data["eligibility"],
        identity_strings=identity_strings,
        data=data,
        import_map=IMPORT_MAP,
    )


def oidc_callback(request: Request) -> HTMLResponse:
    """Where the identity provider sends the citizen back: the page and its
    script, nothing else. Its query (the authorization code and the state) is
    read by the script only: never here, never written into the page."""
    response = web.render_page(
        request,
        "oidc_callback.html",
        csp=CSP,
        keep_query=False,
        identity_strings=identity_strings,
        import_map=IMPORT_MAP,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
