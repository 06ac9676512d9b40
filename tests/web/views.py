"""Every page of the site in each state worth looking at, for the tests that
go through them all (layout, screenshots, accessibility)."""

from __future__ import annotations

from typing import Any

from tests.support.civic import Citizen, open_in
from tests.support.secret import Board
from tests.support.site import Site
from urne.verifier.citizen import authoring

#: view name -> (path, HTTP status); ``{chart}`` and ``{upcoming}`` are the
#: ids of the conftest's ``chart_petition`` and ``upcoming_vote``, ``{secret}``
#: the secret vote :func:`secret_vote` adds.
VIEWS: dict[str, tuple[str, int]] = {
    "index": ("/", 200),
    "petition": ("/p/petition", 200),
    "petition-chart": ("/p/{chart}", 200),
    "vote": ("/p/vote", 200),
    "vote-upcoming": ("/p/{upcoming}", 200),
    "budget": ("/p/budget", 200),
    "vote-secret": ("/p/{secret}", 200),
    "take-part-secret": ("/p/{secret}/take-part", 200),
    "receipt": ("/receipt", 200),
    "receipt-checked": ("/receipt?index={ballot}", 200),
    "no-such-process": ("/p/no-such-process", 404),
    "not-found": ("/no/such/page", 404),
    "docs": ("/docs", 200),
}
WIDTHS = (390, 1280)
LANGUAGES = ("en", "fr")


#: A secret vote whose trustees made the key, with encrypted ballots: added by
#: :func:`secret_vote` the first time a view needs it.
SECRET_VOTE = "secret"


def secret_vote(site: Site) -> str:
    """The id of a secret vote (three trustees, threshold two) holding a few
    encrypted ballots, open; added to the site's log once."""
    if SECRET_VOTE not in site.civic.process_ids():
        inst, civic = site.institution, site.civic
        board = Board.make(SECRET_VOTE, 3, 2)
        manifest = inst.process(SECRET_VOTE, "vote", secret=board.manifest_field())
        open_in(civic, manifest)
        board.opened(manifest)
        board.ceremony(civic.append, inst.key)
        for selected in ([0], [2], [0]):
            c = Citizen.enrol(inst, SECRET_VOTE)
            enc = board.encrypted(c.pseudonym.public_key, 3, selected, (1, 1))
            leaf = authoring.secret_ballot(SECRET_VOTE, c.pseudonym, c.credential, enc)
            site.ballots.setdefault(SECRET_VOTE, []).append(civic.append(leaf))
    return SECRET_VOTE


def open_view(page: Any, site: Site, view: str, *, chart: str, upcoming: str) -> Any:
    """Go to ``view`` and wait until it shows what it is for; the response."""
    path, status = VIEWS[view]
    secret = secret_vote(site) if "{secret}" in path else ""
    url = site.url + path.format(
        chart=chart, upcoming=upcoming, secret=secret, ballot=site.ballots["vote"][0]
    )
    response = page.goto(url)
    assert response.status == status, (view, response.status)
    if status == 404:
        page.urne_errors.clear()  # the browser logs the 404 itself
    if view == "receipt-checked":
        page.wait_for_function("() => document.querySelector('#receipt-text').value.length > 0")
        page.click("#check")
        page.wait_for_selector("#verdict[data-result=valid]")
    elif view == "docs":
        page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=20_000)
    elif view.startswith("receipt"):
        page.wait_for_selector("#receipt-form[data-ready=yes]")
    elif view.startswith("take-part"):
        page.wait_for_selector("body[data-ready=yes]")
    return response
