#!/usr/bin/env python3
"""From the one-time code to the receipt shown, in the browser's wallet.

What one run does:

1. **Prepare** (not timed): the demo's three processes on a fresh SQLite log
   (``urne.ledger.demo.populate_demo``, no simulated resident), with ``2 * n``
   unused codes of ``demo-vote`` on the roll; the real service
   (``urne.api.main.create_app``) under uvicorn on a loopback port, in a
   thread of this process.
2. **Urne in the browser**: ``n`` times, a fresh headless Chromium profile
   (no IndexedDB, no cache) opens ``/p/demo-vote/take-part``; then, timed: the
   code is entered and "Get my credential" pressed (the page makes the
   pseudonym, hashes and blinds, the issuer answers, the page unblinds and
   checks the pairing) until the ballot form shows; a proposal is picked and
   "Cast my vote" pressed (sign, post, check the receipt's signed checkpoint and
   inclusion proof) until the checked receipt shows. Reported: the median of
   the sum, and of each half.
3. **The reference on the same work**: ``urne-wallet``'s code
   (``urne.verifier.citizen.wallet.Wallet``: PyNaCl, the arkworks backend,
   urllib), ``join`` then ``vote`` with the other ``n`` codes, against the same
   service. The ratio says what the browser costs over native code.

No peer's voting booth runs here: Helios and Belenios booths need their own
servers (Django and PostgreSQL; OCaml), which this bench does not build.

Run: ``python bench/wallet_bench.py [--n 20]``; results in docs/performance.md
("The wallet in the browser").
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from urne.api.main import create_app
from urne.ledger.demo import populate_demo
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.ledger.log import Log
from urne.verifier.citizen.wallet import Wallet

PID = "demo-vote"


def _serve(app: Any) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


def browser_runs(url: str, codes: list[str], chromium: str) -> list[tuple[float, float]]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for code in codes:
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{url}/p/{PID}/take-part")
            page.wait_for_selector("body[data-ready=yes]")
            page.fill("#code", code)
            t0 = time.perf_counter()
            page.click("#get-credential")
            page.wait_for_selector("body[data-wallet=joined]")
            t1 = time.perf_counter()
            page.check("#choice-river")
            t2 = time.perf_counter()
            page.click("#cast")
            page.wait_for_selector("#receipt-verdict[data-result=valid]")
            t3 = time.perf_counter()
            out.append((t1 - t0, t3 - t2))
            context.close()
        browser.close()
    return out


def python_runs(url: str, codes: list[str], directory: Path) -> list[tuple[float, float]]:
    out = []
    for i, code in enumerate(codes):
        wallet = Wallet(directory / f"w{i}")
        t0 = time.perf_counter()
        wallet.join(url, PID, code)
        t1 = time.perf_counter()
        wallet.cast(PID, ["river"])
        t2 = time.perf_counter()
        out.append((t1 - t0, t2 - t1))
    return out


def _median(runs: list[tuple[float, float]]) -> tuple[float, float, float]:
    return (
        statistics.median(a + b for a, b in runs),
        statistics.median(a for a, _ in runs),
        statistics.median(b for _, b in runs),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20, help="citizens each way (default 20)")
    ap.add_argument("--chromium", default=os.environ.get("URNE_CHROMIUM") or "chromium")
    args = ap.parse_args()
    chromium = shutil.which(args.chromium) or args.chromium
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        url_db = f"sqlite:///{d / 'urne.db'}"
        log = Log.open(url_db, key_dir=d / "keys", origin="bench.localhost/log")
        app = create_app(log, keyring=IssuerKeyring(d / "keys"), rate_limit=None)
        base, server, thread = _serve(app)
        spare: dict[str, list[tuple[str, str]]] = {}
        populate_demo(app.state.civic, d / "keys", url_db, citizens=0, spare=2 * args.n,
                      spare_codes=spare)  # fmt: skip
        codes = [code for _, code in spare[PID]]
        try:
            web = browser_runs(base, codes[: args.n], chromium)
            native = python_runs(base, codes[args.n :], d)
        finally:
            server.should_exit = True
            thread.join(10)
            log.close()
    w, n = _median(web), _median(native)
    print(f"code to receipt, median of {args.n} (seconds)")
    print(f"{'':28} {'total':>8} {'credential':>11} {'cast+check':>11}")
    print(f"{'urne, Chromium (wallet page)':28} {w[0]:8.3f} {w[1]:11.3f} {w[2]:11.3f}")
    print(f"{'urne-wallet (Python)':28} {n[0]:8.3f} {n[1]:11.3f} {n[2]:11.3f}")
    print(f"browser / Python: {w[0] / n[0]:.2f}x   goal: total under 1.5 s: "
          f"{'met' if w[0] < 1.5 else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
