"""The server-rendered pages: what a citizen or a newcomer opens in a browser.

- ``/``: every process on the log, the log's size and its verifier key.
- ``/p/{id}``: a process: its text, its proposals with their fingerprints, the
  live counts (refreshed in the page from ``/processes/{id}/tally``); for a
  petition a progress bar toward the threshold and a chart of signatures over
  time, for a vote a bar per proposal, for a budget the selected projects and
  their cost against the budget; the final result, once the institution has
  published it (one per process, through the close); while it is open, the
  way to take part (``/p/{id}/take-part``). For a sortition, what the
  institution committed to (seats, pool, quotas, the drand round) and, once
  drawn, the panel, the beacon's randomness and how to replay the draw. Where
  the manifest promises answers, or the institution answered, the answers:
  for each subject due, whether it was answered on time, late, not yet or not
  by the deadline (by the service's clock), with the last answer's status,
  text, cost, date and log index; answers nobody promised besides.
- ``/receipt``: paste or upload a receipt; the page checks it in the browser
  itself (``static/receipt.js``: the checkpoint's Ed25519 signature and the
  RFC 9162 inclusion proof with WebCrypto), and optionally that today's log
  still holds it (consistency proof). The server never sees the receipt.
- ``/lang/{code}``: the language switch of every page's header (a cookie,
  then back to the page); any unknown path: a page saying so, with a 404.

Every page is in English or French (``urne.api.i18n``): :func:`render_page`
renders a template in the reader's language. No build step: Jinja2 templates
in ``api/templates``, plain JavaScript and CSS in ``api/static``. Pages are
served with a strict Content-Security-Policy (no inline script or style), so
what runs is only what is in ``api/static``. Specification: docs/guides/web.md.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from urne.api import i18n
from urne.api.deps import CivicDep, LogDep
from urne.api.routes.civic import authority_of
from urne.ledger.civic.record import CivicRecord
from urne.ledger.issuance.oidc import subjects_count
from urne.ledger.issuance.roll import codes_replaced, issued_count, roll_size
from urne.verifier.civic.beacon import NETWORKS, randomness
from urne.verifier.civic.entries import Answer, Process, SortitionRule, VoteRule, decode_entry
from urne.verifier.civic.process import EntryRefused, ProcessState, answers_due

__all__ = [
    "CSP",
    "delegates_in_order",
    "install",
    "install_docs",
    "local_path",
    "not_found_page",
    "page_language",
    "process_status",
    "reader_languages",
    "render_page",
    "router",
    "signature_curve",
    "templates",
    "text_in",
]

HERE = Path(__file__).parent
_env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
i18n.install(_env)
templates = Jinja2Templates(env=_env)
router = APIRouter(include_in_schema=False)

#: Only our own script and style; no inline code; nothing framed; no referrer.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
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


def install_docs(app: FastAPI) -> None:
    """What every role serves: the static files, ``/docs``, the language
    switch, and the page a browser gets for an unknown path.

    ``/docs`` is Swagger UI from the files vendored in
    ``api/static/vendor/swagger-ui`` (their origin and hashes in ``SOURCES.md``
    there), under the pages' Content-Security-Policy, so the documentation
    works offline and asks nobody else for anything. ``urne.api.errors``
    answers an unknown path with :func:`not_found_page` when the client asks
    for HTML, and with the API's JSON error otherwise."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.not_found_page = not_found_page

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return render_page(request, "docs.html")

    @app.get("/lang/{code}", include_in_schema=False)
    def switch_language(
        request: Request, code: str, back: str = Query("/", alias="next")
    ) -> RedirectResponse:
        """Remember the reader's language for a year, and go back to the page
        they were on (only a path on this site: never an open redirect)."""
        lang = i18n.negotiate(code, None, None)
        response = RedirectResponse(local_path(back), status_code=303)
        response.set_cookie(
            i18n.COOKIE,
            lang,
            max_age=i18n.COOKIE_MAX_AGE,
            path="/",
            samesite="lax",
            httponly=True,
            secure=request.url.scheme == "https",
        )
        response.headers["Cache-Control"] = "no-store"
        return response


def local_path(target: str) -> str:
    """``target`` if it is a path on this site, else ``/``. A path starts with
    one ``/``: ``//host`` and ``/\\host`` are other sites to a browser, which
    also drops tabs and line breaks before it reads a URL, so any control
    character, space or backslash refuses it."""
    if not target.startswith("/") or target.startswith("//"):
        return "/"
    if any(c <= " " or c in "\\\x7f" for c in target):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


# -- text in the reader's language --------------------------------------------------------


def page_language(request: Request) -> str:
    """The language of the pages for this request (``urne.api.i18n.negotiate``)."""
    return i18n.negotiate(
        request.query_params.get("lang"),
        request.cookies.get(i18n.COOKIE),
        request.headers.get("accept-language"),
    )


def reader_languages(request: Request) -> list[str]:
    """The reader's languages for what institutions wrote, most wanted first,
    the pages' language among them."""
    named = i18n.preferences(
        request.query_params.get("lang"),
        request.cookies.get(i18n.COOKIE),
        request.headers.get("accept-language"),
    )
    return list(dict.fromkeys([*named, page_language(request)]))


def text_in(text: Text, lang: str | Sequence[str]) -> str:
    """A manifest text in the first of the reader's languages it has, else
    English, else its first language in code point order (texts are a string
    or ``{language: string}``)."""
    if isinstance(text, str):
        return text
    wanted = [lang] if isinstance(lang, str) else list(lang)
    for k in (*wanted, "en"):
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
    """An SVG step chart of a curve, computed here so the template only draws.

    The SVG holds the lines only, stretched to the width of the page
    (``preserveAspectRatio="none"``, strokes that do not scale): its labels
    are HTML around it, so they keep the text's size on a phone, where a
    scaled-down drawing would shrink them to a few pixels."""

    width: int
    height: int
    path: str
    baseline_y: float
    threshold_y: float | None
    y_max: int
    start: datetime
    end: datetime
    rows: Sequence[CurvePoint]
    #: the time axis spans the signatures only, not the process's whole term
    zoomed: bool


def _parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _chart(curve: list[CurvePoint], threshold: int, opens: str, now: datetime) -> Chart | None:
    if not curve:
        return None
    w, h, pad_t, pad_b = 640, 200, 8, 1
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
        return w * (t - t0).total_seconds() / span

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
        baseline_y=y(0),
        threshold_y=y(threshold) if threshold <= y_max else None,
        y_max=y_max,
        start=t0,
        end=t1,
        rows=curve,
        zoomed=zoomed,
    )


#: Width of a full bar, in the bars' SVG user units (``viewBox="0 0 1000 1"``).
BAR_FULL = 1000
#: The least width of a bar for a count above zero, so that it shows.
BAR_LEAST = 4


def bar_width(count: int, top: int) -> str:
    """A bar's width for ``count`` when the longest is ``top`` (``static/live.js``
    computes the same)."""
    if count <= 0:
        return "0"
    return f"{max(BAR_FULL * count / max(top, 1), BAR_LEAST):.1f}"


# -- pages --------------------------------------------------------------------------------


def render_page(
    request: Request,
    name: str,
    *,
    status_code: int = 200,
    csp: str = CSP,
    strings: Callable[[], Mapping[str, i18n.Phrase]] | None = None,
    keep_query: bool = True,
    **ctx: Any,
) -> HTMLResponse:
    """``templates/<name>`` in the reader's language (:func:`page_language`),
    with the pages' headers.

    ``strings`` gives the words of the page's scripts (``urne.api.i18n``,
    e.g. :func:`urne.api.i18n.receipt_strings`); it is called while the
    language is set, and written into the page's ``urne-strings`` block. A
    page that loads an inline import map passes its own ``csp``. The
    language switch comes back to the same address, query included, unless
    ``keep_query`` is false: a page whose query is a secret (an identity
    provider's authorization code) never writes it into its links."""
    lang = page_language(request)
    log = getattr(request.app.state, "log", None)
    ctx.setdefault("origin", log.origin if log is not None else "")
    ctx.setdefault("verifier_key", log.verifier.vkey if log is not None else "")
    ctx.setdefault("casting", log is not None)  # the pages of the log are served here
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang" and keep_query]
    ctx["here"] = request.url.path + (f"?{urlencode(query)}" if query else "")
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Content-Language": lang,
        # the same address answers in the reader's language
        "Vary": "Accept-Language, Cookie",
    }
    with i18n.using(lang):
        ctx["strings"] = strings() if strings is not None else {}
        return templates.TemplateResponse(
            request, name, ctx, status_code=status_code, headers=headers
        )


def not_found_page(request: Request) -> HTMLResponse:
    """What a browser gets for a path that is no page and no API route."""
    return render_page(
        request, "error.html", status_code=404, error="no_page", path=request.url.path
    )


def process_status(st: ProcessState, now: datetime) -> str:
    """``upcoming``, ``open``, ``ended`` (its closing time passed) or
    ``closed`` (the institution's close is on the log); a sortition is
    ``upcoming``, then ``awaiting`` (its draw) until the draw is on the log,
    then ``drawn``."""
    p = st.process
    if isinstance(p.rule, SortitionRule):
        if st.draw is not None:
            return "drawn"
        return "upcoming" if now < _parse_time(p.opens) else "awaiting"
    if st.closed_at is not None:
        return "closed"
    if now < _parse_time(p.opens):
        return "upcoming"
    if now >= _parse_time(p.closes):
        return "ended"
    return "open"


def _offices(civic: CivicRecord, p: Process) -> list[dict[str, str]]:
    """The issuer's offices when they made its key with no dealer
    (docs/spec/issuer-ceremony.md): each qualified one's name, as the
    reservation gives it, and address, as the manifest gives it."""
    reserved = civic.reservation(p.id)
    if not p.issuer_offices or reserved is None or reserved[1].offices is None:
        return []
    named = reserved[1].offices.trustees
    return [
        {
            "name": named[o.share - 1].name,
            "host": urlsplit(o.url).netloc,
            "url": f"{o.url}/issuance/{p.id}",
        }
        for o in p.issuer_offices
    ]


@dataclass(frozen=True, slots=True)
class Counts:
    """What the issuer published of a process, where this app can read the roll
    (docs/spec/eligibility.md §4): credentials issued (through the roll and
    the identity provider together), the roll's size, codes replaced, and the
    distinct people the provider vouched for, each answered once."""

    issued: int
    roll_size: int
    replaced: int
    subjects: int


def _counts(request: Request, process_id: str) -> Counts | None:
    roll = getattr(request.app.state, "roll", None)
    if roll is None:
        return None
    return Counts(
        issued=issued_count(roll, process_id),
        roll_size=roll_size(roll, process_id),
        replaced=codes_replaced(roll, process_id),
        subjects=subjects_count(roll, process_id),
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request, civic: CivicDep, log: LogDep) -> HTMLResponse:
    langs = reader_languages(request)
    now = civic.clock()
    rows = []
    for pid in civic.process_ids():
        st = civic.process(pid)
        rows.append(
            {
                "id": pid,
                "type": st.process.type,
                "title": text_in(st.process.title, langs),
                "opens": st.process.opens,
                "closes": st.process.closes,
                "status": process_status(st, now),
                # no count: a list of every process must not wait for any one's
                "participants": civic.participants(pid),
            }
        )
    cp = log.checkpoint()
    return render_page(request, "index.html", processes=rows, size=cp.size)


@router.get("/p/{process_id}", response_class=HTMLResponse)
def process_page(request: Request, process_id: str, civic: CivicDep, log: LogDep) -> HTMLResponse:
    langs = reader_languages(request)
    log.catch_up()
    try:
        st = civic.process(process_id)
    except EntryRefused:
        return render_page(
            request, "error.html", status_code=404, error="no_process", process_id=process_id
        )
    p = st.process
    manifest = decode_entry(log.entry(st.index)).obj
    tally = civic.tally(process_id)
    now = civic.clock()
    counts = _counts(request, process_id)
    proposals = [
        {
            "id": q.id,
            "title": text_in(q.title, langs),
            "body": plain_text(text_in(q.body, langs)),
            "fingerprint": q.fingerprint,
            "cost": q.cost,
        }
        for q in p.proposals
    ]
    chart = bars = None
    if p.type == "petition":
        chart = _chart(signature_curve(civic, st), tally["threshold"], p.opens, now)
    elif p.type == "vote" and tally.get("total") is not None:  # a secret vote's: once decrypted
        top = max(tally["total"].values(), default=0)
        bars = {q.id: bar_width(tally["total"][q.id], top) for q in p.proposals}
    witnessed = _witnessed_times(request, st, tally)
    ranked = _ranked_view(p, tally, langs)
    sortition = _sortition(st)
    delegation = _delegation(p, tally)
    answers = _answers(st, log.size - 1, now, langs, page_language(request))
    offices = _offices(civic, p)
    if offices:  # the offices hold the roll that counts, not this service
        counts = None
    identity = None
    if p.eligibility is not None and counts is not None:
        # each person the provider vouched for holds one credential: the rest
        # were issued through the roll
        identity = {"name": p.eligibility.name, "people": counts.subjects}
    return render_page(
        request,
        "process.html",
        answers=answers,
        offices=offices,
        sortition=sortition,
        delegation=delegation,
        ranked=ranked,
        strings=i18n.live_strings,
        witnessed=witnessed,
        p=p,
        title=text_in(p.title, langs),
        text=plain_text(text_in(p.text, langs)),
        institution=base64.b64encode(p.institution).decode(),
        authority=authority_of(civic, st),
        manifest_index=st.index,
        officials=manifest["officials"],
        rule=manifest["rule"],
        status=process_status(st, now),
        closed_at=st.closed_at,
        proposals=proposals,
        tally=tally,
        result=_final_result(st),
        issued=None if counts is None else counts.issued - counts.subjects,
        roll_size=None if counts is None else counts.roll_size,
        replaced=None if counts is None else counts.replaced,
        identity=identity,
        chart=chart,
        chart_group=CHART_GROUP,
        bars=bars,
        bar_full=BAR_FULL,
        now=now.astimezone(UTC),
    )


#: The colours of a majority judgment's grades in its profile bars, best to
#: worst (a scale of at most ten grades): the bars repeat the profile table
#: below them, which says everything in words and numbers.
GRADE_COLOURS = (
    "#0b5d1e",
    "#2e7d32",
    "#558b2f",
    "#7c9a1f",
    "#a89a14",
    "#c78a12",
    "#d9731a",
    "#d35400",
    "#b8401f",
    "#9b1c1c",
)


def grade_colours(n: int) -> list[str]:
    """``n`` colours from :data:`GRADE_COLOURS`, spread from the best to the worst."""
    last = len(GRADE_COLOURS) - 1
    if n <= 1:
        return [GRADE_COLOURS[0]] * n
    return [GRADE_COLOURS[round(k * last / (n - 1))] for k in range(n)]


def _ranked_view(p: Process, tally: dict[str, Any], langs: Sequence[str]) -> dict[str, Any] | None:
    """What the page shows of a majority judgment's or a Schulze vote's tally
    (docs/spec/counting-ranked.md): the ranking in tiers, best first, with each
    proposal's rank (its tier, from 1); for a majority judgment the scale's
    labels, each proposal's profile (counts and shares per grade, best first,
    and the bar's segments) and majority grade; for Schulze the pairwise counts
    and the strongest paths, rows and columns in the ranking's order. None for
    any other process."""
    rule = p.rule
    if not isinstance(rule, VoteRule) or rule.method not in ("majority-judgment", "schulze"):
        return None
    titles = {q.id: text_in(q.title, langs) for q in p.proposals}
    ranking: list[list[str]] = [list(tier) for tier in tally.get("ranking", [])]
    ordered = [pid for tier in ranking for pid in tier]
    ordered += [q.id for q in p.proposals if q.id not in ordered]
    tier_of = {pid: k + 1 for k, tier in enumerate(ranking) for pid in tier}
    counted = bool(tally.get("winners"))
    out: dict[str, Any] = {
        "method": rule.method,
        "counted": counted,
        "tiers": [
            {"rank": k + 1, "proposals": [{"id": pid, "title": titles[pid]} for pid in tier]}
            for k, tier in enumerate(ranking)
        ],
        "winners": [titles[pid] for pid in tally.get("winners", [])],
    }
    if rule.method == "majority-judgment":
        scale = [{"id": g.id, "label": text_in(g.label, langs)} for g in rule.grades]
        label = {g["id"]: g["label"] for g in scale}
        colours = grade_colours(len(scale))
        for g, colour in zip(scale, colours, strict=True):
            g["colour"] = colour
        rows = []
        for pid in ordered:
            counts = list(tally["profiles"][pid])
            n = sum(counts)
            segments, x = [], 0.0
            for k, c in enumerate(counts):
                width = BAR_FULL * c / n if n else 0.0
                if c:
                    segments.append(
                        {"x": f"{x:.1f}", "width": f"{width:.1f}", "colour": colours[k]}
                    )
                x += width
            best = tally["majority_grades"].get(pid)
            rows.append(
                {
                    "id": pid,
                    "title": titles[pid],
                    "rank": tier_of.get(pid),
                    "tied": len(ranking[tier_of[pid] - 1]) > 1 if pid in tier_of else False,
                    "counts": counts,
                    "shares": [c / n if n else 0.0 for c in counts],
                    "total": n,
                    "majority": label.get(best) if best is not None else None,
                    "majority_id": best,
                    "segments": segments,
                }
            )
        out.update(scale=scale, rows=rows)
        by_id = {r["id"]: r for r in rows}
        for tier in out["tiers"]:
            for q in tier["proposals"]:
                q["majority"] = by_id[q["id"]]["majority"]
    else:
        d, paths = tally["pairwise"], tally["strongest_paths"]

        def matrix(m: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
            return [
                {
                    "id": x,
                    "title": titles[x],
                    "cells": [
                        None
                        if x == y
                        else {"n": m[x][y], "wins": m[x][y] > m[y][x], "against": titles[y]}
                        for y in ordered
                    ],
                }
                for x in ordered
            ]

        out.update(
            columns=[{"id": y, "title": titles[y]} for y in ordered],
            pairwise=matrix(d),
            paths=matrix(paths),
        )
    return out


def delegates_in_order(delegates: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A tally's ``delegates`` (docs/spec/delegation.md §3) as a list, the
    heaviest first, then by name, then by key."""
    rows = [
        {"key": key, "name": d["name"], "voted": bool(d["voted"]), "weight": int(d["weight"])}
        for key, d in delegates.items()
    ]
    rows.sort(key=lambda r: (-r["weight"], r["name"], r["key"]))
    return rows


def _delegation(p: Process, tally: dict[str, Any]) -> dict[str, Any] | None:
    """What the page shows of a vote with delegation: how many votes came
    through a delegation, the delegates (:func:`delegates_in_order`) and
    their state in one string (each key, weight and whether it voted, in key
    order: ``static/live.js`` compares it with the tally's to know when to
    read the table again). None for any other process."""
    if not (isinstance(p.rule, VoteRule) and p.rule.delegation):
        return None
    delegates = dict(tally.get("delegates", {}))
    return {
        "delegated": int(tally.get("delegated", 0)),
        "delegates": delegates_in_order(delegates),
        "state": " ".join(
            f"{key}:{d['weight']}:{1 if d['voted'] else 0}" for key, d in sorted(delegates.items())
        ),
    }


def _sortition(st: ProcessState) -> dict[str, Any] | None:
    """What a sortition's page shows (docs/spec/sortition.md): the manifest's
    commitment and, once drawn, the panel in the order drawn, the beacon's
    randomness and where the draw lies on the log; None for another process."""
    rule = st.process.rule
    if not isinstance(rule, SortitionRule):
        return None
    network = NETWORKS[rule.chain]
    drawn = st.draw  # one tuple, set once: read it once
    out: dict[str, Any] = {
        "seats": rule.seats,
        "people": rule.people,
        "pool_sha256": rule.pool_sha256,
        "features": rule.features,
        "algorithm": rule.algorithm,
        "attempts": rule.attempts,
        "network": network.name,
        "chain": rule.chain,
        "round": rule.round,
        "released": network.round_iso(rule.round),
        "quotas": [
            {"feature": q.feature, "value": q.value, "min": q.min, "max": q.max}
            for q in rule.quotas
        ],
        "drawn": None,
    }
    if drawn is None:
        return out
    index, draw = drawn
    column = {f: k for k, f in enumerate(rule.features)}
    for q in out["quotas"]:  # the seats each value took on the panel
        k = column[q["feature"]]
        q["drawn"] = sum(1 for m in draw.panel if m.values[k] == q["value"])
    out["drawn"] = {
        "index": index,
        "attempt": draw.attempt,
        "randomness": randomness(draw.signature).hex(),
        "panel": [
            {"seat": seat, "id": m.id, "traits": m.values}
            for seat, m in enumerate(draw.panel, start=1)
        ],
    }
    return out


def _text_and_language(text: Text, langs: Sequence[str]) -> tuple[str, str | None]:
    """:func:`text_in`, and the language of what it gives when the text names
    it (a plain string names none)."""
    shown = text_in(text, langs)
    if isinstance(text, str):
        return shown, None
    return shown, next((k for k, v in text.items() if v == shown), None)


def _answer_view(index: int, a: Answer, langs: Sequence[str], page: str) -> dict[str, Any]:
    text, lang = _text_and_language(a.text, langs)
    return {
        "index": index,
        "status": a.status,
        "text": text,
        # the text's language, where it is not the page's (WCAG 3.1.2)
        "lang": lang if lang is not None and lang != page else None,
        "cost": a.cost,
        "answered": a.answered,
    }


def _answers(
    st: ProcessState, through: int, now: datetime, langs: Sequence[str], page: str
) -> dict[str, Any] | None:
    """What the page shows of the institution's answers (docs/spec/answers.md):
    what the manifest promises and by when, where each subject due stands at
    ``now`` (the service's clock) counting the entries through ``through``
    (``answers_due``, as the audit reads it), then the answers to subjects
    nobody promised; each with its answers in log order. None when the
    manifest promises none and none was given."""
    p, policy = st.process, st.process.answers
    # copies: the sequencer goes on adding to the originals (dicts and lists
    # that only grow: a copy is consistent through ``through``)
    given = {
        about: [(i, a) for i, a in list(xs) if i <= through]
        for about, xs in dict(st.answers).items()
    }
    given = {about: xs for about, xs in given.items() if xs}
    if policy is None and not given:
        return None
    due = []
    moment = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if policy is not None:
        # answers_due counts a petition: never on the live state
        view = replace(st, casts=dict(st.casts), paper=list(st.paper), answers=given)
        due = answers_due(view, through, moment)

    def subject(about: str | None) -> str | None:
        """The proposal's title; None for the petition itself."""
        if about is None:
            return None
        q = p.proposal(about)
        return text_in(q.title, langs) if q is not None else about

    def item(about: str | None, state: str) -> dict[str, Any]:
        history = [_answer_view(i, a, langs, page) for i, a in given.get(about, [])]
        return {
            "about": about,
            "subject": subject(about),
            "state": state,
            "last": history[-1] if history else None,
            "earlier": history[:-1],
        }

    promised = {d.about for d in due}
    extra = [about for about in given if about not in promised]
    # the petition first, then the proposals in the manifest's order
    order = {q.id: k for k, q in enumerate(p.proposals)}
    extra.sort(key=lambda about: -1 if about is None else order.get(about, len(order)))
    return {
        "by": policy.by if policy is not None else None,
        "passed": policy is not None and moment > policy.by,
        "promised": [item(d.about, d.state) for d in due],
        "petition_waits": policy is not None and p.type == "petition" and None not in promised,
        "also": [item(about, "also") for about in extra],
    }


def _witnessed_times(
    request: Request, st: ProcessState, tally: dict[str, Any]
) -> dict[str, datetime]:
    """Where the log has witnesses: by when (on the witnesses' clocks) the
    close and the entry that reached the threshold existed
    (docs/spec/witness.md §8); each is checkable with its receipt."""
    witnessing = getattr(request.app.state, "witnessing", None)
    if witnessing is None:
        return {}
    wanted = {"close": st.closed_at, "threshold": tally.get("reached_at")}
    out = {}
    for what, index in wanted.items():
        if index is None:
            continue
        when = witnessing.existed_by(witnessing.receipt(int(index)))
        if when is not None:
            out[what] = datetime.fromtimestamp(when, UTC)
    return out


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
    witnessing = getattr(request.app.state, "witnessing", None)
    return render_page(
        request,
        "receipt.html",
        strings=i18n.receipt_strings,
        index=index if index.isdigit() and len(index) <= 19 else "",
        witness_keys=[w.key.vkey for w in witnessing.witnesses] if witnessing else [],
        witness_quorum=witnessing.policy.quorum if witnessing else None,
    )
