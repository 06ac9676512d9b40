"""A stand-in for a Decidim organisation's GraphQL API (``POST /api``), on a
loopback port, for ``urne process import-decidim``.

Its answers follow Decidim's published schema (decidim/decidim, read at the
commits docs/guides/decidim.md names): ``participatoryProcess(slug:)`` with
``components { id __typename }``, ``component(id:)`` whose ``Proposals``
type has a ``proposals(first:, after:)`` connection (``pageInfo {
hasNextPage endCursor }``, ``nodes``), each proposal's ``title`` and
``body`` as ``TranslatedField`` (``translations { locale text }``) and its
``fingerprint { value source }``. The source is made as Decidim's
``FingerprintCalculator`` makes it (keys sorted at every level, Ruby's
``JSON.generate``: no spaces, non-ASCII and ``/`` as they are): the tests check
this emulation on tests/vectors/decidim/fingerprints.json first. Like
graphql-ruby, it clamps ``first`` to its maximum page size silently, and its
cursors are opaque base64 strings.

``mode`` makes it misbehave: ``not_json``, ``errors`` (a GraphQL ``errors``
array), ``endless`` (every page says there is a next one), ``http_500``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Text = str | dict[str, Any]


def sort_hash(v: Any) -> Any:
    """Decidim's ``sort_hash``: every hash's keys sorted, at every level."""
    if isinstance(v, dict):
        return {k: sort_hash(v[k]) for k in sorted(v)}
    return v


def ruby_json_generate(v: Any) -> str:
    """Ruby's ``JSON.generate`` for the strings and hashes proposals hold."""
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def decidim_fingerprint(fields: dict[str, Any]) -> tuple[str, str]:
    """``(value, source)`` as ``Decidim::FingerprintCalculator`` computes them."""
    source = ruby_json_generate(sort_hash(fields))
    return hashlib.sha256(source.encode("utf-8")).hexdigest(), source


def translated(t: Text | None) -> dict[str, Any] | None:
    """A ``TranslatedField``: the defined translations, then the machine ones
    for locales with no text of their own (Decidim's ``display_translations``)."""
    if t is None:
        return None
    if isinstance(t, str):  # a field from before translations: not translated
        return {"translations": []}
    machine = t.get("machine_translations", {})
    defined = {k: v for k, v in t.items() if k != "machine_translations"}
    locales = list(dict.fromkeys([*defined, *machine]))
    return {
        "translations": [
            {"locale": loc, "text": defined.get(loc) or machine.get(loc)} for loc in locales
        ]
    }


@dataclass
class Proposal:
    id: int
    title: Text
    body: Text
    reference: str | None = None
    state: str | None = None
    withdrawn: bool = False
    #: a fingerprint to answer instead of the right one
    value: str | None = None
    source: str | None = None

    def node(self) -> dict[str, Any]:
        value, source = decidim_fingerprint({"title": self.title, "body": self.body})
        return {
            "id": str(self.id),
            "reference": self.reference or f"d-prop-{self.id}",
            "state": self.state,
            "withdrawn": self.withdrawn,
            "title": translated(self.title),
            "body": translated(self.body),
            "fingerprint": {
                "value": self.value or value,
                "source": self.source if self.source is not None else source,
            },
        }


@dataclass
class Process:
    slug: str
    title: dict[str, str]
    short_description: dict[str, str]
    #: component id -> its proposals (a component of another type: None)
    components: dict[str, list[Proposal] | None]


@dataclass
class Decidim:
    processes: dict[str, Process]
    max_page_size: int = 2
    mode: str = "ok"
    #: every request's decoded body, in order
    requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        query, variables = body["query"], body.get("variables") or {}
        if self.mode == "errors":
            return {"errors": [{"message": "Field 'fingerprint' doesn't exist on type 'Proposal'"}]}
        if "participatoryProcess(slug: $slug)" in query:
            return {"data": {"participatoryProcess": self.process(variables["slug"])}}
        if "component(id: $id)" in query and "proposals(first: $first, after: $after)" in query:
            return {"data": {"component": self.page(variables)}}
        return {"errors": [{"message": "this stand-in does not know that query"}]}

    def process(self, slug: str) -> dict[str, Any] | None:
        p = self.processes.get(slug)
        if p is None:
            return None
        return {
            "id": str(abs(hash(slug)) % 1000),
            "slug": p.slug,
            "title": translated(p.title),
            "shortDescription": translated(p.short_description),
            "components": [
                {"id": cid, "__typename": "Proposals" if props is not None else "Meetings"}
                for cid, props in p.components.items()
            ],
        }

    def page(self, variables: dict[str, Any]) -> dict[str, Any] | None:
        cid = variables["id"]
        props = next(
            (c[cid] for c in (p.components for p in self.processes.values()) if cid in c), None
        )
        if props is None:
            return None
        first = min(int(variables["first"]), self.max_page_size)
        after = variables.get("after")
        start = 0 if after is None else int(base64.b64decode(after).decode()) + 1
        chunk = props[start : start + first]
        if self.mode == "endless":  # a fresh page of new proposals, every time
            n = len(self.requests)
            chunk = [
                Proposal(900_000 + n * first + i, {"en": f"More {n}.{i}"}, {"en": "<p>More</p>"})
                for i in range(first)
            ]
        end = start + len(chunk) - 1
        more = end + 1 < len(props) or self.mode == "endless"
        cursor = base64.b64encode(str(end if chunk else start).encode()).decode()
        if self.mode == "endless":
            cursor = base64.b64encode(str(len(self.requests)).encode()).decode()
        return {
            "id": cid,
            "__typename": "Proposals",
            "proposals": {
                "pageInfo": {"hasNextPage": more, "endCursor": cursor},
                "nodes": [q.node() for q in chunk],
            },
        }


@contextmanager
def serving(decidim: Decidim) -> Iterator[str]:
    """``decidim`` on a free loopback port: the organisation's base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            if self.path != "/api":
                self.send_error(404)
                return
            n = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(n))
            decidim.requests.append(body)
            if decidim.mode == "http_500":
                self.send_error(500)
                return
            if decidim.mode == "not_json":
                raw = b"<html><body>Decidim is down for maintenance</body></html>"
                ctype = "text/html"
            else:
                raw = json.dumps(decidim.answer(body)).encode()
                ctype = "application/json"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
