"""The server-rendered pages: what a citizen or a newcomer opens in a browser.

- ``/``: every process on the log, the log's size and its verifier key.
- ``/p/{id}``: a process: its text, its proposals with their fingerprints, the
  live counts (refreshed in the page from ``/processes/{id}/tally``); for a
  petition a progress bar toward the threshold and a chart of signatures over
  time, for a budget the outcome against the budget; the final result, once
  the institution has published it (one per process, through the close).
- ``/receipt``: paste or upload a receipt; the page checks it in the browser
  itself (``static/receipt.js``: the checkpoint's Ed25519 signature and the
  RFC 9162 inclusion proof with WebCrypto), and optionally that today's log
  still holds it (consistency proof). The server never sees the receipt.

No build step: Jinja2 templates in ``api/templates``, plain JavaScript and CSS
in ``api/static``. Pages are served with a strict Content-Security-Policy (no
inline script or style), so what runs is only what is in ``api/static``.
Specification: docs/guides/web.md.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from urne.api.deps import CivicDep, LogDep
from urne.api.routes.civic import authority_of
from urne.ledger.civic.record import CivicRecord
from urne.ledger.issuance.roll import codes_replaced, issued_count, roll_size
from urne.verifier.civic.entries import decode_entry
from urne.verifier.civic.process import EntryRefused, ProcessState

__all__ = ["CSP", "install", "router", "signature_curve"]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)

#: Only our own script and style; no inline code; nothing framed; no referrer.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: Points of the signatures-over-time chart at most.
CHART_POINTS = 120
#: A point of the chart stands for at least this many signatures since the one
#: before it, and its time is kept to the hour. Whoever knows when each person
#: was issued a credential (the issuer) then learns of a signature only that it
#: is one of at least ten in an hour, not which: one point per signature, to
#: the second, let such an issuer match every person to their signature. Ten,
#: as tables of official statistics hold back cells of fewer than five to ten
#: people. The latest signatures appear once ten more are in; the live count
#: above the chart is the log's total, as anyone polling the log sees it.
CHART_GROUP = 10

Text = str | dict[str, str]


def install(app: FastAPI) -> None:
    """Add the pages to ``app`` (the casting side)."""
    app.include_router(router)


_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Urne API</title>
<link rel="icon" href="/static/favicon.svg">
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head><body><main id="swagger-ui"></main>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body></html>
"""


def install_docs(app: FastAPI) -> None:
    """The static files (every role) and ``/docs``: Swagger UI from the files
    vendored in ``api/static/vendor/swagger-ui`` (their origin and hashes in
    ``SOURCES.md`` there), under the pages' Content-Security-Policy, so the
    documentation works offline and asks nobody else for anything."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS_PAGE, headers=_PAGE_HEADERS)


# -- text in the reader's language --------------------------------------------------------


def _language(request: Request) -> str:
    """``?lang=xx``, else the first language of Accept-Language, else English."""
    asked = request.query_params.get("lang")
    if asked:
        return asked.strip().lower()[:16]
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag and tag != "*":
            return tag.split("-")[0][:16]
    return "en"


def text_in(text: Text, lang: str) -> str:
    """A manifest text in ``lang``, else English, else its first language in
    code point order (texts are a string or ``{language: string}``)."""
    if isinstance(text, str):
        return text
    for k in (lang, "en"):
        if k in text:
            return text[k]
    return text[min(text)] if text else ""


class _PlainText(HTMLParser):
    """The text of an HTML fragment, with a line break per block."""

    BLOCKS = frozenset(
        {
            "p",
            "br",
            "div",
            "li",
            "ul",
            "ol",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "tr",
            "blockquote",
            "pre",
            "section",
            "article",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def plain_text(html: str) -> str:
    """Proposal bodies are HTML, as on Decidim: the pages show their text only
    (escaped by the templates), so nothing an author wrote can run or style
    the page. One line per block, blank lines dropped."""
    parser = _PlainText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


# -- the signatures-over-time curve -------------------------------------------------------


@dataclass(frozen=True)
class CurvePoint:
    index: int
    total: int
    at: datetime


def signature_curve(
    civic: CivicRecord, st: ProcessState, points: int = CHART_POINTS
) -> list[CurvePoint]:
    """Cumulative signatures (online and on paper) of a petition against the
    hour they were committed in, a point for every :data:`CHART_GROUP` (or a
    multiple of it, to keep about ``points`` points) since the previous one.

    Each online signature counts at the index of the pseudonym's ballot (a
    petition takes one per pseudonym); a paper batch counts its signatures at
    its own index. A point is placed at the index where the running total
    first reaches the next mark, with the signing time of the first checkpoint
    holding it, to the hour: the service's clock, shown for the chart only
    (the log's order is what counts)."""
    # Copies: the lists only grow, and copying a list is atomic in CPython.
    events = [(i, 1) for i in list(st.ballot_indices)]
    events += [(i, pb.signatures or 0) for i, pb in list(st.paper)]
    events.sort()
    total = sum(n for _, n in events)
    if total < CHART_GROUP:
        return []
    step = CHART_GROUP * -(-total // (CHART_GROUP * points))
    xs: list[int] = []
    totals: list[int] = []
    running, mark = 0, step
    for index, n in events:
        running += n
        if running >= mark:
            xs.append(index)
            totals.append(running)
            mark = running + step
    times = [t.replace(minute=0, second=0, microsecond=0) for t in civic.log.committed_at(xs)]
    return [CurvePoint(x, n, t) for x, n, t in zip(xs, totals, times, strict=True)]


@dataclass(frozen=True)
class Chart:
    """An SVG step chart of a curve, computed here so the template only draws."""

    width: int
    height: int
    path: str
    threshold_y: float | None
    y_max: int
    start: str
    end: str
    rows: Sequence[CurvePoint]
    #: the time axis spans the signatures only, not the process's whole term
    zoomed: bool


def _parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _chart(curve: list[CurvePoint], threshold: int, opens: str, now: datetime) -> Chart | None:
    if not curve:
        return None
    w, h, pad_l, pad_r, pad_t, pad_b = 640, 240, 48, 12, 12, 28
    t0 = min(_parse_time(opens), curve[0].at)
    t1 = max(now, curve[-1].at)
    burst = curve[-1].at - curve[0].at
    zoomed = burst * 20 < t1 - t0
    if zoomed:  # signatures came in a short burst: show the burst, not the whole term
        pad = max(burst / 20, timedelta(hours=1))
        t0, t1 = curve[0].at - pad, curve[-1].at + pad
    span = max((t1 - t0).total_seconds(), 1.0)
    y_max = max(threshold, curve[-1].total, 1)

    def x(t: datetime) -> float:
        return pad_l + (w - pad_l - pad_r) * (t - t0).total_seconds() / span

    def y(n: int) -> float:
        return pad_t + (h - pad_t - pad_b) * (1 - n / y_max)

    d = [f"M{x(t0):.1f},{y(0):.1f}"]
    for p in curve:
        d.append(f"H{x(p.at):.1f}V{y(p.total):.1f}")
    d.append(f"H{x(t1):.1f}")
    return Chart(
        width=w,
        height=h,
        path="".join(d),
        threshold_y=y(threshold) if threshold <= y_max else None,
        y_max=y_max,
        start=t0.strftime("%Y-%m-%d %H:00"),
        end=t1.strftime("%Y-%m-%d %H:00"),
        rows=curve,
        zoomed=zoomed,
    )


# -- pages --------------------------------------------------------------------------------


def _render(request: Request, name: str, http_status: int = 200, **ctx: Any) -> HTMLResponse:
    log = getattr(request.app.state, "log", None)
    ctx.setdefault("origin", log.origin if log is not None else "")
    ctx.setdefault("verifier_key", log.verifier.vkey if log is not None else "")
    return templates.TemplateResponse(
        request, name, ctx, status_code=http_status, headers=_PAGE_HEADERS
    )


def _status(st: ProcessState, now: datetime) -> str:
    p = st.process
    if st.closed_at is not None:
        return "closed"
    if now < _parse_time(p.opens):
        return "upcoming"
    if now >= _parse_time(p.closes):
        return "ended"
    return "open"


def _counts(request: Request, process_id: str) -> tuple[int | None, int | None, int | None]:
    """Credentials issued, roll size and codes replaced, where this app can read the roll."""
    roll = getattr(request.app.state, "roll", None)
    if roll is None:
        return None, None, None
    return (
        issued_count(roll, process_id),
        roll_size(roll, process_id),
        codes_replaced(roll, process_id),
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request, civic: CivicDep, log: LogDep) -> HTMLResponse:
    lang = _language(request)
    now = civic.clock()
    rows = []
    for pid in civic.process_ids():
        st = civic.process(pid)
        rows.append(
            {
                "id": pid,
                "type": st.process.type,
                "title": text_in(st.process.title, lang),
                "opens": st.process.opens,
                "closes": st.process.closes,
                "status": _status(st, now),
                # no count: a list of every process must not wait for any one's
                "participants": civic.participants(pid),
            }
        )
    cp = log.checkpoint()
    return _render(request, "index.html", processes=rows, size=cp.size, lang=lang)


@router.get("/p/{process_id}", response_class=HTMLResponse)
def process_page(request: Request, process_id: str, civic: CivicDep, log: LogDep) -> HTMLResponse:
    lang = _language(request)
    log.catch_up()
    try:
        st = civic.process(process_id)
    except EntryRefused:
        return _render(
            request,
            "error.html",
            404,
            title="No such process",
            message=f"There is no process {process_id!r} on this log.",
        )
    p = st.process
    manifest = decode_entry(log.entry(st.index)).obj
    tally = civic.tally(process_id)
    now = civic.clock()
    issued, on_roll, replaced = _counts(request, process_id)
    proposals = [
        {
            "id": q.id,
            "title": text_in(q.title, lang),
            "body": plain_text(text_in(q.body, lang)),
            "fingerprint": q.fingerprint,
            "cost": q.cost,
        }
        for q in p.proposals
    ]
    chart = None
    if p.type == "petition":
        chart = _chart(signature_curve(civic, st), tally["threshold"], p.opens, now)
    return _render(
        request,
        "process.html",
        lang=lang,
        p=p,
        title=text_in(p.title, lang),
        text=plain_text(text_in(p.text, lang)),
        institution=base64.b64encode(p.institution).decode(),
        authority=authority_of(civic, st),
        manifest_index=st.index,
        officials=manifest["officials"],
        rule=manifest["rule"],
        status=_status(st, now),
        closed_at=st.closed_at,
        proposals=proposals,
        tally=tally,
        result=_final_result(st),
        issued=issued,
        roll_size=on_roll,
        replaced=replaced,
        chart=chart,
        chart_group=CHART_GROUP,
        now=now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _final_result(st: ProcessState) -> dict[str, int] | None:
    """Where the process's result lies and what it counts. The rules admit
    one result per process, through its close, so this is the final outcome;
    before it there is only the live recount, never shown as a result."""
    if not st.results:
        return None
    index, result = st.results[0]
    return {"index": index, "through": result.through}


@router.get("/receipt", response_class=HTMLResponse)
def receipt_page(request: Request, log: LogDep) -> HTMLResponse:
    index = request.query_params.get("index", "")
    return _render(
        request,
        "receipt.html",
        index=index if index.isdigit() and len(index) <= 19 else "",
    )
