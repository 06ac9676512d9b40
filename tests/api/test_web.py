"""The pages without a browser: headers, escaping, languages, and the numbers
behind the signatures chart (the browser tests are in tests/web/)."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.civic import Citizen, Institution, open_in, proposal
from urne.api.main import create_app
from urne.api.web import CHART_GROUP, CHART_POINTS, CSP, plain_text, signature_curve, text_in
from urne.ledger.civic.record import CivicRecord
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.log import Log
from urne.verifier.citizen import authoring

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[TestClient, CivicRecord, Institution]]:
    log = Log.open(f"sqlite:///{tmp_path / 'u.db'}", key_dir=tmp_path / "k", origin="web.test/log")
    app = create_app(
        log, keyring=IssuerKeyring(tmp_path / "ik"), clock=lambda: NOW, rate_limit=None
    )
    with TestClient(app) as client:
        yield client, app.state.civic, Institution()
    log.close()


def test_pages_carry_a_strict_policy(world: tuple[TestClient, CivicRecord, Institution]) -> None:
    client, civic, inst = world
    open_in(civic, inst.process("pet", "petition"))
    for path in ("/", "/p/pet", "/receipt", "/p/nothing", "/docs", "/no/such/page"):
        r = client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == (404 if path in ("/p/nothing", "/no/such/page") else 200)
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["content-security-policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in r.text  # scripts come from /static only
        # the one inline script element is data, which no browser runs
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", r.text)
        assert inline == ['<script type="application/json" id="urne-strings">'], inline
    assert client.get("/static/receipt.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"].get("/p/{process_id}") is None


def test_what_authors_wrote_cannot_run(world: tuple[TestClient, CivicRecord, Institution]) -> None:
    client, civic, inst = world
    evil = authoring.proposal(
        "x",
        {"en": "<script>alert(1)</script>Title"},
        {"en": "<p>First</p><script>alert(2)</script><p onclick='x()'>Second &amp; last</p>"},
    )
    open_in(civic, inst.process("v", "vote", proposals=[evil, proposal("y", "Other")]))
    html = client.get("/p/v").text
    assert "<script>alert" not in html and "onclick" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Title" in html  # the title, escaped
    assert "First\nSecond &amp; last" in html  # the body's text only
    assert "alert(2)" not in html


def test_plain_text() -> None:
    assert plain_text("<p>a</p><p>b <b>c</b></p>") == "a\nb c"
    assert plain_text("<ul><li>one</li><li>two</li></ul>") == "one\ntwo"
    assert plain_text("x<style>p{}</style>y<br>z") == "xy\nz"
    assert plain_text("no markup &lt;p&gt;") == "no markup <p>"
    assert plain_text("") == ""


def test_texts_in_the_readers_language(world: tuple[TestClient, CivicRecord, Institution]) -> None:
    assert text_in({"en": "Hello", "fr": "Bonjour"}, "fr") == "Bonjour"
    assert text_in({"en": "Hello", "fr": "Bonjour"}, "de") == "Hello"
    assert text_in({"fr": "Bonjour", "ca": "Bon dia"}, "de") == "Bon dia"
    assert text_in("Plain", "fr") == "Plain"
    assert text_in({"en": "Hello", "fr": "Bonjour", "ca": "Hola"}, ["de", "ca", "fr"]) == "Hola"
    client, civic, inst = world
    p = authoring.proposal("a", {"en": "Park", "ca": "Parc"}, {"en": "A park", "ca": "Un parc"})
    open_in(civic, inst.process("v", "vote", proposals=[p, proposal("b", "B")]))
    assert "Parc" in client.get("/p/v?lang=ca").text
    assert "Parc" in client.get("/p/v", headers={"Accept-Language": "ca-ES,ca;q=0.9"}).text
    assert "Parc" not in client.get("/p/v").text


def test_the_signature_curve_is_the_recount(
    world: tuple[TestClient, CivicRecord, Institution],
) -> None:
    """Sampled or not, each point's total is the number of signatures (online and
    on paper) at or before its index, at least CHART_GROUP more than the point
    before, and its time is the hour the log committed it."""
    client, civic, inst = world
    rnd = random.Random(7)
    open_in(civic, inst.process("pet", "petition", rule={"threshold": 50}))
    open_in(civic, inst.process("other", "petition"))
    events: list[tuple[int, int]] = []
    for k in range(CHART_POINTS + 60):
        pid = "pet" if rnd.random() < 0.8 else "other"
        if pid == "pet" and k % 37 == 5:
            i = civic.append(inst.paper("pet", f"b{k}", signatures=rnd.randint(1, 9)))
            events.append((i, civic.process("pet").paper[-1][1].signatures or 0))
        else:
            i = civic.append(Citizen.enrol(inst, pid).ballot())
            if pid == "pet":
                events.append((i, 1))
    st = civic.process("pet")
    curve = signature_curve(civic, st)
    total = civic.tally("pet")["total"]
    assert 0 < len(curve) <= CHART_POINTS
    for pt in curve:
        assert pt.total == sum(n for i, n in events if i <= pt.index)
    steps = [b.total - a.total for a, b in itertools.pairwise(curve)]
    assert curve[0].total >= CHART_GROUP and all(s >= CHART_GROUP for s in steps)
    assert total - curve[-1].total < CHART_GROUP * -(-total // (CHART_GROUP * CHART_POINTS))
    assert [p.index for p in curve] == sorted(p.index for p in curve)
    assert [p.at for p in curve] == sorted(p.at for p in curve)
    for pt in curve:
        committed = civic.log.checkpoint_covering(pt.index).created_at.replace(tzinfo=UTC)
        assert pt.at == committed.replace(minute=0, second=0)
    page = client.get("/p/pet").text
    assert 'id="signature-chart"' in page


def test_no_point_of_the_chart_singles_out_a_signature(
    world: tuple[TestClient, CivicRecord, Institution],
) -> None:
    """Finding 5 of the security review: the page printed each signature's
    commit time to the second, and an issuer who knew when it answered each
    person matched 8 of 8 to their signatures."""
    client, civic, inst = world
    open_in(civic, inst.process("pet", "petition", rule={"threshold": 50}))
    for _ in range(8):
        civic.append(Citizen.enrol(inst, "pet").ballot())
    assert signature_curve(civic, civic.process("pet")) == []
    page = client.get("/p/pet").text
    assert 'id="signature-chart"' not in page and 'id="no-chart"' in page
    times = [t.strftime("%H:%M:%S") for t in civic.log.committed_at(list(range(1, 9)))]
    assert not [t for t in times if t in page]  # no commit time of any signature
    for _ in range(CHART_GROUP * 2 + 3):
        civic.append(Citizen.enrol(inst, "pet").ballot())
    curve = signature_curve(civic, civic.process("pet"))
    assert [p.total for p in curve] == [CHART_GROUP, 2 * CHART_GROUP, 3 * CHART_GROUP]
    assert all((p.at.minute, p.at.second) == (0, 0) for p in curve)


def test_committed_at_refuses_what_is_not_committed(
    world: tuple[TestClient, CivicRecord, Institution],
) -> None:
    _, civic, inst = world
    open_in(civic, inst.process("pet", "petition"))
    assert civic.log.committed_at([]) == []
    [t] = civic.log.committed_at([0])
    assert t.tzinfo is not None
    with pytest.raises(Exception, match="beyond"):
        civic.log.committed_at([5])
