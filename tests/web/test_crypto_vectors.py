"""The browser's wallet computes, in Chromium, exactly what ``urne.verifier``
computes (docs/spec/wallet-vectors.json): the credential message, its hash to
G1, the blinded and unblinded points, the combined shares of a t-of-n
issuer, the canonical entry bytes and their signatures; and it refuses every
encoding of a G1 point the verifier refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support import wallet_vectors
from tests.support.site import Site

pytestmark = pytest.mark.browser

VECTORS: dict[str, Any] = json.loads(wallet_vectors.PATH.read_text(encoding="ascii"))

#: Runs in the page: every value of the vectors, computed by /static/wallet/core.js.
COMPUTE = (Path(__file__).parent / "wallet_vectors.js").read_text(encoding="utf-8")


def test_the_browser_computes_the_verifier_s_bytes(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/p/vote/take-part")
    got = page.evaluate(COMPUTE, VECTORS)
    fields = [
        "pseudonym",
        "credential_message",
        "hash_to_g1",
        "blinded",
        "credential",
        "signing_bytes",
        "signature",
        "entry",
    ]
    assert len(got["cases"]) == len(VECTORS["cases"]) == 4
    for want, computed in zip(VECTORS["cases"], got["cases"], strict=True):
        assert computed["verifies"] is True
        assert {f: computed[f] for f in fields} == {f: want[f] for f in fields}, want["name"]
    t = VECTORS["threshold"]
    assert got["threshold"] == {
        "shares_verify": [True, True],
        "combined": t["combined"],
        "credential": t["credential"],
    }
    assert got["canonical"] == [x["jcs"] for x in VECTORS["canonical"]]
    assert got["refused"] == dict.fromkeys(VECTORS["g1_refused"], True)
    # an answer unblinded with the wrong factor is refused, not handed on
    assert got["wrong_answer"] == "bad_blind_signature"
