"""Known answers for docs/spec/eligibility.md (docs/spec/eligibility-vectors.json):
the nonce of a credential request, the subject's keyed hash, ages, and rules
over claims, so that a second implementation checks each one.

``python -m tests.support.eligibility_vectors`` writes the file (the same bytes
each time: nothing here is random); tests/verifier/test_eligibility.py checks
the file as it is, and each value against its definition.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date
from typing import Any

from tests.support.paths import ROOT
from urne.verifier.civic.eligibility import (
    Ineligible,
    age_on,
    credential_nonce,
    evaluate,
    parse_eligibility,
)
from urne.verifier.credentials import bls

PATH = ROOT / "docs" / "spec" / "eligibility-vectors.json"

#: The manifest's object the rule vectors evaluate.
ELIGIBILITY = {
    "provider": "https://auth.franceconnect.gouv.fr/api/v2",
    "name": "FranceConnect",
    "acr": ["eidas2", "eidas3"],
    "rules": [
        {"claim": "birthdate", "min_age": 16},
        {"claim": "birthplace", "in": ["75056", "75101"]},
    ],
}
CLOSES = "2027-03-01T17:00:00Z"


def _point(label: str) -> bytes:
    """A fixed point of G1 (hash to curve of ``label``): a blinded point's form."""
    backend = bls.current_backend()
    return backend.g1_compress(backend.hash_to_g1(label.encode(), b"urne/v1/test-vectors"))


def _subject(key: bytes, issuer: str, sub: str) -> str:
    msg = b"urne/v1/oidc-subject\n" + issuer.encode() + b"\n" + sub.encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def _outcome(claims: dict[str, Any], acr: str | None) -> str:
    try:
        evaluate(parse_eligibility(ELIGIBILITY), claims, acr, CLOSES)
    except Ineligible as exc:
        return exc.code
    return "eligible"


def build() -> dict[str, Any]:
    nonces = []
    for pid, label in (("petition-fc", "b1"), ("budget-2027.paris", "b2"), ("é", "b3")):
        blinded = _point(label)
        nonces.append(
            {"process": pid, "blinded_hex": blinded.hex(), "nonce": credential_nonce(pid, blinded)}
        )
    key = bytes(range(32))
    subjects = [
        {
            "roll_key_hex": key.hex(),
            "provider": issuer,
            "sub": sub,
            "subject_hmac_hex": _subject(key, issuer, sub),
        }
        for issuer, sub in (
            (
                "https://auth.franceconnect.gouv.fr/api/v2",
                "b6048e95bb134ec5b1d1e1fa69f287172e91722b9c7ec2d1c1d36c4f14e9f9e3v1",
            ),
            ("https://keycloak.example.org/realms/city", "f:8a1b:jeanne"),
        )
    ]
    ages = [
        {"birthdate": b, "on": on, "age": age_on(date.fromisoformat(b), date.fromisoformat(on))}
        for b, on in (
            ("2011-03-01", "2027-03-01"),
            ("2011-03-02", "2027-03-01"),
            ("2008-02-29", "2024-02-28"),
            ("2008-02-29", "2024-02-29"),
            ("2008-02-29", "2025-02-28"),
            ("2008-02-29", "2025-03-01"),
            ("1950-12-31", "2027-01-01"),
        )
    ]
    paris = {"birthdate": "1990-05-04", "birthplace": "75056"}
    rules = [
        {"claims": claims, "acr": acr, "outcome": _outcome(claims, acr)}
        for claims, acr in (
            (paris, "eidas2"),
            (paris, "eidas3"),
            (paris, "eidas1"),
            ({"birthdate": "2011-03-02", "birthplace": "75101"}, "eidas2"),
            ({"birthdate": "2011-03-01", "birthplace": "75101"}, "eidas2"),
            ({"birthdate": "1990-05-04", "birthplace": "69123"}, "eidas2"),
            ({"birthdate": "1990-05-04"}, "eidas2"),
            ({"birthdate": "1990-00-00", "birthplace": "75056"}, "eidas2"),
            ({"birthdate": "1990", "birthplace": "75056"}, "eidas2"),
            ({"birthdate": "2015-01-01"}, "eidas2"),
        )
    ]
    return {
        "spec": "docs/spec/eligibility.md",
        "nonce": {"domain": "urne/v1/oidc-nonce\n", "cases": nonces},
        "subject": {"domain": "urne/v1/oidc-subject\n", "cases": subjects},
        "age": ages,
        "rules": {"eligibility": ELIGIBILITY, "closes": CLOSES, "cases": rules},
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    PATH.write_text(render(), encoding="utf-8")
