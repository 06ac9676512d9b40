"""Decidim and Urne: a participatory process's proposals read from Decidim's
public GraphQL API into a process description, and a finished vote's or
budget's outcome written as the CSV that Decidim's Accountability component
imports (docs/guides/decidim.md).

``urne process import-decidim URL SLUG`` asks ``URL/api`` for the process
(``participatoryProcess(slug:)``), its proposals components, then each
component's proposals page by page (``component(id:) { ... on Proposals {
proposals(first:, after:) } }``). Each proposal's ``fingerprint { value source }``
is checked before anything is written: ``value`` must be the SHA-256 of
``source``, ``source`` must be the JSON of ``{"title", "body"}`` and exactly
Urne's own canonical form of them (RFC 8785), so that the manifest's
fingerprint is Decidim's. The title and body are taken from ``source``: byte
for byte what Decidim hashed, HTML included.

``urne process export-accountability ID`` recounts the process from its open
data (every proof and signature checked) and writes the results CSV.

Standard library only, as ``urne.api.client``: an institution runs this from
its own machine, with no server-side package.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from urne.api.cli.common import LogKeyOpt, ServerOpt, client_for, fail, process_app
from urne.api.cli.institution import manifest_from_description, recount_export
from urne.api.client import ServiceError
from urne.verifier.citizen.signing import AuthorKey
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.entries import IDENTIFIER, b64encode, decode_entry
from urne.verifier.civic.process import count
from urne.verifier.credentials import bls
from urne.verifier.errors import FormatError, VerificationError
from urne.verifier.tlog.tiles import MAX_ENTRY_SIZE

__all__ = [
    "PROCESS_QUERY",
    "PROPOSALS_QUERY",
    "DecidimError",
    "accountability_rows",
    "check_proposal",
    "read_process",
]

#: Proposals asked per page: Decidim's API serves at most 50 per page
#: (graphql-ruby clamps ``first`` to the schema's maximum page size silently;
#: the pagination below does not depend on getting what it asked for).
PAGE_SIZE = 50
#: The most proposals a manifest holds (``process.proposals``).
MAX_PROPOSALS = 10_000
#: Requests made at most for one import: the process, then pages of proposals.
MAX_PAGES = 1 + MAX_PROPOSALS // PAGE_SIZE + 20
#: Bytes read at most from one answer, and seconds waited for it.
MAX_RESPONSE = 16 * 1024 * 1024
TIMEOUT = 30.0
#: The key under which Decidim keeps machine translations inside a translated field.
MACHINE_TRANSLATIONS = "machine_translations"

_TRANSLATED = "{ translations { locale text } }"

#: The process and its components (only the ``Proposals`` ones are read further).
PROCESS_QUERY = f"""query UrneProcess($slug: String!) {{
  participatoryProcess(slug: $slug) {{
    id
    slug
    title {_TRANSLATED}
    shortDescription {_TRANSLATED}
    components {{
      id
      __typename
    }}
  }}
}}"""

#: One page of one proposals component.
PROPOSALS_QUERY = f"""query UrneProposals($id: ID!, $first: Int!, $after: String) {{
  component(id: $id) {{
    id
    __typename
    ... on Proposals {{
      proposals(first: $first, after: $after) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{
          id
          reference
          state
          withdrawn
          title {_TRANSLATED}
          body {_TRANSLATED}
          fingerprint {{ value source }}
        }}
      }}
    }}
  }}
}}"""

VOTE_RULE: dict[str, Any] = {"method": "single", "min": 1, "max": 1, "revoting": True}
BUDGET_RULE: dict[str, Any] = {
    "outcome": "greedy",
    "min_projects": 1,
    "max_projects": None,
    "min_share_percent": 0,
    "capped": True,
    "revoting": False,
}


class DecidimError(Exception):
    """A refusal of the import or the export: a stable ``code``, a message for people."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


# -- talking to Decidim ----------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: the URL given is the one read, and a POST is never replayed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def api_url(url: str) -> str:
    """Decidim's GraphQL endpoint for the organisation at ``url`` (``URL/api``;
    a URL ending in ``/api`` is taken as it is)."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DecidimError(
            f"{url!r} is not an http(s) URL of a Decidim organisation", code="bad_url"
        )
    if parts.query or parts.fragment:
        raise DecidimError(f"{url!r}: give the organisation's URL, with no query", code="bad_url")
    path = parts.path.rstrip("/")
    if not path.endswith("/api"):
        path += "/api"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def graphql(endpoint: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """POST one query; its ``data`` object. Refused: no answer, an HTTP error, an
    answer larger than ``MAX_RESPONSE``, not JSON, a GraphQL ``errors`` array."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(
        endpoint,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            raw = response.read(MAX_RESPONSE + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DecidimError(
            f"{endpoint} answered HTTP {exc.code} {exc.reason}", code="decidim_unreachable"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DecidimError(
            f"cannot reach {endpoint}: {reason}", code="decidim_unreachable"
        ) from exc
    if len(raw) > MAX_RESPONSE:
        raise DecidimError(
            f"{endpoint} answered more than {MAX_RESPONSE} bytes", code="decidim_malformed"
        )
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecidimError(
            f"{endpoint} did not answer JSON ({exc})", code="decidim_malformed"
        ) from exc
    if not isinstance(answer, dict):
        raise DecidimError(f"{endpoint} answered {type(answer).__name__}", code="decidim_malformed")
    errors = answer.get("errors")
    if errors:
        first = errors[0] if isinstance(errors, list) and errors else errors
        message = first.get("message") if isinstance(first, dict) else first
        raise DecidimError(
            f"{endpoint} refused the query: {str(message)[:300]}", code="decidim_refused"
        )
    data = answer.get("data")
    if not isinstance(data, dict):
        raise DecidimError(f"{endpoint} answered no data object", code="decidim_malformed")
    return data


def _obj(v: object, what: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise DecidimError(f"{what}: expected an object", code="decidim_malformed")
    return v


def _list(v: object, what: str) -> list[Any]:
    if not isinstance(v, list):
        raise DecidimError(f"{what}: expected a list", code="decidim_malformed")
    return v


def _text(v: object, what: str) -> str:
    if not isinstance(v, str):
        raise DecidimError(f"{what}: expected a string", code="decidim_malformed")
    return v


def translations(field: object, what: str) -> dict[str, str]:
    """A ``TranslatedField``'s ``translations { locale text }`` as ``{locale: text}``
    (locales with no text left out)."""
    if field is None:
        return {}
    out: dict[str, str] = {}
    for i, t in enumerate(_list(_obj(field, what).get("translations"), f"{what}.translations")):
        t = _obj(t, f"{what}.translations[{i}]")
        locale = _text(t.get("locale"), f"{what}.translations[{i}].locale")
        text = t.get("text")
        if text is None:
            continue
        out[locale] = _text(text, f"{what}.translations[{i}].text")
    return out


# -- the proposals and their fingerprints -----------------------------------------------------


@dataclass(frozen=True)
class DecidimProposal:
    id: str
    reference: str | None
    state: str | None
    withdrawn: bool
    title: str | dict[str, str]
    body: str | dict[str, str]
    fingerprint: str
    source: str

    @property
    def name(self) -> str:
        return f"proposal {self.id}" + (f" ({self.reference})" if self.reference else "")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _refuse_float(text: str) -> Any:
    raise ValueError(f"number {text}")


def _fingerprinted(v: object, name: str, field: str) -> str | dict[str, str]:
    """One field of a fingerprint's source, as a manifest holds it: a text, or
    translations whose values are non-empty texts."""
    if isinstance(v, str):
        if not v:
            raise DecidimError(f"{name}: its {field} is empty", code="empty_translation")
        return v
    if not isinstance(v, dict) or not v:
        raise DecidimError(
            f"{name}: its {field} in the fingerprint's source is neither a text nor translations",
            code="fingerprint_source",
        )
    if MACHINE_TRANSLATIONS in v:
        raise DecidimError(
            f"{name}: its {field} holds machine translations, which Decidim's fingerprint "
            "covers and a manifest cannot hold (docs/guides/decidim.md)",
            code="machine_translations",
        )
    for locale, text in v.items():
        if not isinstance(text, str) or not text:
            raise DecidimError(
                f"{name}: its {field} in {locale!r} is {text!r}; a manifest holds non-empty "
                "texts only",
                code="empty_translation",
            )
    return dict(v)


def check_proposal(node: object, what: str) -> DecidimProposal:
    """One node of ``proposals``, its fingerprint checked against Urne's own
    computation; :class:`DecidimError` naming the proposal otherwise."""
    node = _obj(node, what)
    pid = node.get("id")
    if not isinstance(pid, str) or not IDENTIFIER.fullmatch(pid):
        raise DecidimError(f"{what}.id: {pid!r} is not a proposal id", code="decidim_malformed")
    reference = node.get("reference")
    reference = reference if isinstance(reference, str) and reference else None
    state = node.get("state") if isinstance(node.get("state"), str) else None
    withdrawn = node.get("withdrawn") is True or state == "withdrawn"
    name = f"proposal {pid}" + (f" ({reference})" if reference else "")
    fp = _obj(node.get("fingerprint"), f"{name}: fingerprint")
    value = _text(fp.get("value"), f"{name}: fingerprint.value")
    source = _text(fp.get("source"), f"{name}: fingerprint.source")
    raw = source.encode("utf-8", "surrogatepass")
    if hashlib.sha256(raw).hexdigest() != value:
        raise DecidimError(
            f"{name}: Decidim's fingerprint {value} is not the SHA-256 of its source "
            f"({hashlib.sha256(raw).hexdigest()})",
            code="fingerprint_mismatch",
        )
    try:
        fields = json.loads(source, object_pairs_hook=_no_duplicates, parse_float=_refuse_float)
    except (ValueError, RecursionError) as exc:
        raise DecidimError(
            f"{name}: the fingerprint's source is not JSON Urne reads ({exc})",
            code="fingerprint_source",
        ) from exc
    if not isinstance(fields, dict) or set(fields) != {"title", "body"}:
        raise DecidimError(
            f'{name}: the fingerprint\'s source is not {{"title", "body"}}',
            code="fingerprint_source",
        )
    title = _fingerprinted(fields["title"], name, "title")
    body = _fingerprinted(fields["body"], name, "body")
    try:
        ours = canonical({"title": title, "body": body})
    except FormatError as exc:
        raise DecidimError(f"{name}: {exc}", code="fingerprint_mismatch") from exc
    if ours != raw:
        raise DecidimError(
            f"{name}: Urne's canonical form of its title and body hashes to "
            f"{hashlib.sha256(ours).hexdigest()}, Decidim's fingerprint is {value}",
            code="fingerprint_mismatch",
        )
    # the translations the API shows are the texts of the source
    for field, held in (("title", title), ("body", body)):
        for locale, text in translations(node.get(field), f"{name}: {field}").items():
            want = held.get(locale) if isinstance(held, dict) else held
            if text != want:
                raise DecidimError(
                    f"{name}: its {field} in {locale!r} is not the text its fingerprint covers",
                    code="fingerprint_mismatch",
                )
    return DecidimProposal(pid, reference, state, withdrawn, title, body, value, source)


@dataclass
class DecidimProcess:
    slug: str
    title: dict[str, str]
    text: dict[str, str]
    components: list[str]
    proposals: list[DecidimProposal]
    #: requests made
    pages: int


def read_process(
    url: str, slug: str, *, component: str | None = None, max_pages: int | None = None
) -> DecidimProcess:
    """The process ``slug`` of the Decidim at ``url`` with every proposal of its
    proposals components (or of ``component`` only), each fingerprint checked."""
    endpoint = api_url(url)
    max_pages = MAX_PAGES if max_pages is None else max_pages
    data = graphql(endpoint, PROCESS_QUERY, {"slug": slug})
    if data.get("participatoryProcess") is None:
        raise DecidimError(
            f"{endpoint} has no published participatory process {slug!r}", code="decidim_not_found"
        )
    p = _obj(data["participatoryProcess"], "participatoryProcess")
    comps = [
        _text(_obj(c, "component").get("id"), "component.id")
        for c in _list(p.get("components"), "participatoryProcess.components")
        if isinstance(c, dict) and c.get("__typename") == "Proposals"
    ]
    if component is not None:
        if component not in comps:
            raise DecidimError(
                f"{slug} has no proposals component {component} (it has {comps})",
                code="decidim_not_found",
            )
        comps = [component]
    if not comps:
        raise DecidimError(f"{slug} has no proposals component", code="decidim_not_found")
    proposals: list[DecidimProposal] = []
    seen: set[str] = set()
    pages = 1
    for cid in comps:
        after: str | None = None
        cursors: set[str] = set()
        while True:
            if pages >= max_pages:
                raise DecidimError(
                    f"more than {max_pages} requests: the process has more proposals than a "
                    f"manifest holds ({MAX_PROPOSALS}), or its pages never end",
                    code="too_many_pages",
                )
            pages += 1
            page = graphql(
                endpoint, PROPOSALS_QUERY, {"id": cid, "first": PAGE_SIZE, "after": after}
            )
            comp = page.get("component")
            if comp is None:
                raise DecidimError(f"component {cid} is not published", code="decidim_not_found")
            conn = _obj(_obj(comp, "component").get("proposals"), f"component {cid}: proposals")
            nodes = _list(conn.get("nodes"), f"component {cid}: proposals.nodes")
            for i, node in enumerate(nodes):
                prop = check_proposal(node, f"component {cid}: proposals.nodes[{i}]")
                if prop.id in seen:
                    raise DecidimError(f"{prop.name} appears twice", code="decidim_malformed")
                seen.add(prop.id)
                proposals.append(prop)
                if len(proposals) > MAX_PROPOSALS:
                    raise DecidimError(
                        f"more than {MAX_PROPOSALS} proposals: a manifest holds at most that many",
                        code="too_many_proposals",
                    )
            info = _obj(conn.get("pageInfo"), f"component {cid}: pageInfo")
            if info.get("hasNextPage") is not True:
                break
            cursor = info.get("endCursor")
            if not isinstance(cursor, str) or not cursor or cursor in cursors or not nodes:
                raise DecidimError(
                    f"component {cid}: a next page with no new cursor ({cursor!r})",
                    code="decidim_malformed",
                )
            cursors.add(cursor)
            after = cursor
    title = translations(p.get("title"), "participatoryProcess.title")
    text = translations(p.get("shortDescription"), "participatoryProcess.shortDescription")
    return DecidimProcess(
        slug=slug,
        title={k: v for k, v in title.items() if v},
        text={k: v for k, v in text.items() if v},
        components=comps,
        proposals=proposals,
        pages=pages,
    )


# -- the description --------------------------------------------------------------------------


def read_costs(path: Path) -> dict[str, int]:
    """A costs file: CSV with the header ``id,cost``, one Decidim proposal id and
    its cost (a positive integer, in the budget's unit) per line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DecidimError(f"cannot read the costs file {path}: {exc}", code="bad_costs") from exc
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip().lower() for c in rows[0]] != ["id", "cost"]:
        raise DecidimError(f"{path}: the first line is the header id,cost", code="bad_costs")
    costs: dict[str, int] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != 2 or not row[1].strip().isdigit() or int(row[1]) < 1:
            raise DecidimError(
                f"{path}, line {n}: expected a proposal id and a positive whole cost",
                code="bad_costs",
            )
        pid = row[0].strip()
        if pid in costs:
            raise DecidimError(f"{path}, line {n}: proposal {pid} again", code="bad_costs")
        costs[pid] = int(row[1])
    return costs


def build_description(
    process: DecidimProcess,
    *,
    process_id: str,
    ptype: str,
    opens: str,
    closes: str,
    rule: dict[str, Any],
    costs: dict[str, int] | None,
) -> dict[str, Any]:
    """The process description ``urne process open`` takes, checked as the
    manifest it makes (with a stand-in key), its size included."""
    props = [p for p in process.proposals if not p.withdrawn]
    if not props:
        raise DecidimError(f"{process.slug} has no proposal to vote on", code="decidim_not_found")
    proposals: list[dict[str, Any]] = []
    for p in props:
        entry: dict[str, Any] = {"id": p.id, "title": p.title, "body": p.body}
        if ptype == "budget":
            assert costs is not None
            if p.id not in costs:
                raise DecidimError(f"the costs file has no cost for {p.name}", code="bad_costs")
            entry["cost"] = costs[p.id]
        proposals.append(entry)
    if costs is not None:
        unknown = sorted(set(costs) - {p.id for p in props})
        if unknown:
            raise DecidimError(
                f"the costs file names proposals not imported: {unknown}", code="bad_costs"
            )
    if not process.title:
        raise DecidimError(f"{process.slug} has no title", code="decidim_malformed")
    desc: dict[str, Any] = {
        "id": process_id,
        "type": ptype,
        "title": process.title,
        "text": process.text or process.title,
        "opens": opens,
        "closes": closes,
        "proposals": proposals,
        "rule": rule,
    }
    stand_in = {"public_key": b64encode(bls.current_backend().sk_to_pk(1)), "threshold": 1}
    try:
        trial = manifest_from_description(desc, AuthorKey.generate(), {**stand_in, "shares": 1})
        body = decode_entry(trial).body
    except FormatError as exc:
        raise DecidimError(f"not a valid process: {exc}", code=exc.code) from exc
    if len(trial) > MAX_ENTRY_SIZE:
        raise DecidimError(
            f"the manifest would be {len(trial)} bytes; an entry is at most {MAX_ENTRY_SIZE}: "
            "import fewer proposals (--component) or shorter ones",
            code="entry_too_large",
        )
    fingerprints = {p.id: p.fingerprint for p in getattr(body, "proposals", ())}
    for p in props:
        assert fingerprints[p.id] == p.fingerprint  # the manifest's is Decidim's
    return desc


def _write_new(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        fail(f"{path} exists; it is never overwritten", 2)
    except OSError as exc:
        fail(f"cannot create {path}: {exc}", 2)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


@process_app.command("import-decidim")
def process_import_decidim(
    url: Annotated[
        str, typer.Argument(help="The Decidim organisation, e.g. https://decidim.example")
    ],
    slug: Annotated[str, typer.Argument(help="The participatory process's slug.")],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write the process description (a new file).")
    ],
    opens: Annotated[str, typer.Option("--opens", help="Opening time, YYYY-MM-DDTHH:MM:SSZ.")],
    closes: Annotated[str, typer.Option("--closes", help="Closing time, YYYY-MM-DDTHH:MM:SSZ.")],
    ptype: Annotated[str, typer.Option("--type", help="vote or budget.")] = "vote",
    process_id: Annotated[
        str | None, typer.Option("--id", help="The Urne process id (default: the slug).")
    ] = None,
    rule: Annotated[
        str | None,
        typer.Option(
            "--rule",
            help="The rule as a JSON object, over the defaults (a single-choice vote; a "
            "greedy budget, whose amount must be given: '{\"budget\": 100000}').",
        ),
    ] = None,
    costs: Annotated[
        Path | None,
        typer.Option(
            "--costs",
            help="A budget: CSV with the header id,cost, the cost of each Decidim proposal.",
        ),
    ] = None,
    component: Annotated[
        str | None,
        typer.Option("--component", help="Only this proposals component (its Decidim id)."),
    ] = None,
) -> None:
    """Read a Decidim process's proposals (GraphQL API), check every fingerprint
    against Urne's, and write the process description for `urne process open`."""
    if ptype not in ("vote", "budget"):
        fail(f"--type: vote or budget, not {ptype!r}", 2)
    pid = slug if process_id is None else process_id
    if not IDENTIFIER.fullmatch(pid):
        fail(f"{pid!r} is not a process id; give one with --id", 2)
    defaults = dict(VOTE_RULE if ptype == "vote" else BUDGET_RULE)
    if rule is not None:
        try:
            given = json.loads(rule)
        except ValueError as exc:
            fail(f"--rule: not JSON ({exc})", 2)
        if not isinstance(given, dict):
            fail("--rule: a JSON object", 2)
        defaults.update(given)
    if ptype == "budget" and costs is None:
        fail("a budget needs each project's cost: Decidim's proposals have none (--costs)", 2)
    if ptype == "vote" and costs is not None:
        fail("--costs: a vote has no costs", 2)
    if out.exists():
        fail(f"{out} exists; it is never overwritten", 2)
    try:
        cost_map = None if costs is None else read_costs(costs)
    except DecidimError as exc:
        fail(f"{exc.code}: {exc}", 2)
    try:
        api_url(url)
    except DecidimError as exc:
        fail(f"{exc.code}: {exc}", 2)
    try:
        process = read_process(url, slug, component=component)
        desc = build_description(
            process,
            process_id=pid,
            ptype=ptype,
            opens=opens,
            closes=closes,
            rule=defaults,
            costs=cost_map,
        )
    except DecidimError as exc:
        fail(f"{exc.code}: {exc}")
    _write_new(out, json.dumps(desc, ensure_ascii=False, indent=1) + "\n")
    skipped = [p.name for p in process.proposals if p.withdrawn]
    typer.echo(
        f"read {len(process.proposals)} proposals of {slug} from {len(process.components)} "
        f"component(s) in {process.pages} requests; every fingerprint is Urne's own"
    )
    if skipped:
        typer.echo(f"withdrawn, left out: {', '.join(skipped)}")
    typer.echo(f"description: {out} ({len(desc['proposals'])} proposals)")
    typer.echo(f"Next: urne process open {out} --server ... --key ...")


# -- the Accountability CSV -------------------------------------------------------------------


def _locales(texts: list[str | dict[str, str]], default_locale: str) -> list[str]:
    found = {default_locale}
    for t in texts:
        if isinstance(t, dict):
            found |= set(t)
    return [default_locale, *sorted(found - {default_locale})]


def _in(t: str | dict[str, str], locale: str, default_locale: str) -> str:
    if isinstance(t, str):
        return t if locale == default_locale else ""
    return t.get(locale, "")


def accountability_rows(
    report_state: Any,
    *,
    everything: bool = False,
    status_id: int | None = None,
    default_locale: str = "en",
) -> tuple[list[str], list[list[str]], str]:
    """The header and rows of the Accountability CSV of a closed vote or budget,
    and which outcome they hold (``winners`` or ``selected``)."""
    st = report_state
    p = st.process
    if p.type not in ("vote", "budget"):
        raise DecidimError(f"{p.id} is a {p.type}, not a vote or a budget", code="not_a_vote")
    if st.closed_at is None:
        raise DecidimError(f"{p.id} is not closed: its outcome is not final", code="not_closed")
    tally = count(st, st.closed_at)
    outcome = "winners" if p.type == "vote" else "selected"
    chosen = tally.get(outcome)
    counts = tally.get("total" if p.type == "vote" else "approvals")
    if chosen is None or counts is None:
        raise DecidimError(
            f"{p.id}'s totals are not decrypted yet (urne-trustee decrypt)", code="not_counted"
        )
    props = [q for q in p.proposals if everything or q.id in chosen]
    locales = _locales([t for q in props for t in (q.title, q.body)], default_locale)
    header = [
        "id",
        *(f"title/{loc}" for loc in locales),
        *(f"description/{loc}" for loc in locales),
        "category/id",
        "parent/id",
        "status/id",
        "progress",
        "start_date",
        "end_date",
        "proposal_urls",
        "external_id",
        "urne/process",
        "urne/proposal",
        "urne/fingerprint",
        "urne/votes",
        "urne/cost",
        "urne/outcome",
    ]
    rows = []
    for q in props:
        rows.append(
            [
                "",
                *(_in(q.title, loc, default_locale) for loc in locales),
                *(_in(q.body, loc, default_locale) for loc in locales),
                "",
                "",
                "" if status_id is None else str(status_id),
                "",
                "",
                "",
                "",
                f"urne:{p.id}:{q.id}",
                p.id,
                q.id,
                q.fingerprint,
                str(counts[q.id]),
                "" if q.cost is None else str(q.cost),
                "selected" if q.id in chosen else "not_selected",
            ]
        )
    return header, rows, outcome


@process_app.command("export-accountability")
def process_export_accountability(
    process_id: Annotated[str, typer.Argument(help="The closed vote or budget.")],
    server: ServerOpt,
    out: Annotated[Path, typer.Option("--out", help="The CSV to write (a new file).")],
    log_key: LogKeyOpt = None,
    everything: Annotated[
        bool,
        typer.Option("--all", help="Every proposal, not only the winners or selected projects."),
    ] = False,
    status_id: Annotated[
        int | None,
        typer.Option(
            "--status-id",
            min=1,
            help="The Accountability status (its id in the target component) of every result.",
        ),
    ] = None,
    default_locale: Annotated[
        str,
        typer.Option(
            "--default-locale", help="The Decidim organisation's default locale (first columns)."
        ),
    ] = "en",
    separator: Annotated[
        str, typer.Option("--separator", help="Column separator: Decidim's default is ';'.")
    ] = ";",
) -> None:
    """Recount a closed vote or budget from its open data and write the results
    CSV that Decidim's Accountability component imports."""
    if len(separator) != 1 or separator in '"\r\n':
        fail("--separator: one character, not a quote or a line break", 2)
    if out.exists():
        fail(f"{out} exists; it is never overwritten", 2)
    client = client_for(server)
    try:
        report = recount_export(client, process_id, log_key)
    except ServiceError as exc:
        fail(str(exc))
    except VerificationError as exc:
        fail(f"the export of {process_id} does not check: {exc} ({exc.code})")
    if report.state is None:
        fail(f"{process_id}: the export holds no process")
    try:
        header, rows, outcome = accountability_rows(
            report.state,
            everything=everything,
            status_id=status_id,
            default_locale=default_locale,
        )
    except DecidimError as exc:
        fail(f"{exc.code}: {exc}")
    lines: list[str] = []

    class _Sink:
        def write(self, s: str) -> None:
            lines.append(s)

    writer = csv.writer(_Sink(), delimiter=separator, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    _write_new(out, "".join(lines))
    typer.echo(
        f"recounted {process_id} from its open data ({report.entries} entries, "
        f"{report.credentials_checked} credentials checked)"
    )
    typer.echo(f"wrote {len(rows)} results ({'all proposals' if everything else outcome}): {out}")
