"""Eligibility from an identity provider: the manifest's ``eligibility`` object
and the rule the issuer applies to a person's claims (docs/spec/eligibility.md).

A process may say that who may ask for a credential is decided by an OpenID
Provider (FranceConnect, a city's accounts, Keycloak) rather than by a roll of
one-time codes::

    "eligibility": {
      "provider": "https://auth.franceconnect.gouv.fr/api/v2",
      "name": "FranceConnect",
      "acr": ["eidas2", "eidas3"],
      "rules": [
        {"claim": "birthdate", "min_age": 16},
        {"claim": "birthplace", "in": ["75056", "75101"]}
      ]
    }

The rule is public and on the log with the manifest: anyone can read who was
meant to take part, and the issuer cannot change it later. This module is
pure: it parses the object and evaluates the rule over claims the issuer has
already validated (the ID token's signature, ``iss``, ``aud``, ``exp``,
``nonce``: ``urne.ledger.issuance.oidc``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from urne.verifier.errors import FormatError

__all__ = [
    "MAX_IN",
    "MAX_RULES",
    "NONCE_DOMAIN",
    "Eligibility",
    "Ineligible",
    "Rule",
    "age_on",
    "credential_nonce",
    "evaluate",
    "parse_eligibility",
]

#: At most this many rules, and this many values in one ``in`` list.
MAX_RULES = 8
MAX_IN = 2000
_MAX_VALUE = 64
#: A claim: an OpenID Connect claim name, or ``object.member`` one level down
#: (the standard ``address`` claim is an object: ``address.postal_code``).
_CLAIM = re.compile(r"[a-z][a-z0-9_]{0,63}(\.[a-z][a-z0-9_]{0,63})?")
_ACR = re.compile(r"[A-Za-z0-9._:/\-]{1,128}")
_BIRTHDATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")

#: The nonce of a credential request (docs/spec/eligibility.md §2).
NONCE_DOMAIN = b"urne/v1/oidc-nonce\n"


def credential_nonce(process_id: str, blinded: bytes) -> str:
    """The OpenID Connect ``nonce`` of a credential request: base64url, without
    padding, of SHA-256(``urne/v1/oidc-nonce`` 0x0a || process || 0x0a || B).

    The wallet sends it in the authorization request; the issuer accepts the
    ID token only for the very ``B`` it then signs. A token obtained for one
    request (or stolen from one) answers no other, and the issuer keeps no
    state between the two halves of the flow. ``B`` is uniformly random, so
    the provider learns nothing from it."""
    digest = hashlib.sha256(NONCE_DOMAIN + process_id.encode() + b"\n" + blinded).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class Rule:
    """One condition on one claim: ``min_age`` years on the closing day (the
    claim a ``YYYY-MM-DD`` birthdate), or the claim's value ``in`` a list."""

    claim: str
    min_age: int | None = None
    values: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Eligibility:
    provider: str
    name: str
    acr: tuple[str, ...]
    rules: tuple[Rule, ...]

    @property
    def claims(self) -> tuple[str, ...]:
        """The top-level claims the rules read, in rule order, once each: what
        the issuer asks the provider for (FranceConnect: a scope per claim)."""
        out: list[str] = []
        for r in self.rules:
            top = r.claim.split(".", 1)[0]
            if top not in out:
                out.append(top)
        return tuple(out)


class Ineligible(Exception):
    """The person's claims do not meet the rule; ``reasons`` says which part,
    in the rule's order, and ``code`` is stable (``ineligible``,
    ``claim_missing``, ``acr_too_low``)."""

    def __init__(self, code: str, reasons: Sequence[str]) -> None:
        super().__init__("; ".join(reasons))
        self.code = code
        self.reasons = tuple(reasons)


def _provider_url(v: object, what: str) -> str:
    """An OpenID Provider's issuer identifier (OpenID Connect Discovery §2): an
    https URL with no query or fragment; http only on loopback, for tests."""
    ok = isinstance(v, str) and 0 < len(v) <= 200 and v.isprintable() and " " not in v
    if ok:
        assert isinstance(v, str)
        try:
            u = urlsplit(v)
            u.port  # noqa: B018  (raises ValueError on a port that is not a number)
        except ValueError:
            ok = False
        else:
            ok = (
                bool(u.hostname)
                and not u.query
                and not u.fragment
                and "@" not in u.netloc
                and not v.endswith("/")
                and (u.scheme == "https" or (u.scheme == "http" and u.hostname in _LOOPBACK))
            )
    if not ok:
        raise FormatError(
            f"{what}: expected the provider's issuer identifier, an https URL of at most "
            "200 characters with no query, fragment, credentials or trailing slash "
            f"(http only on loopback), found {v!r}",
            code="bad_url",
        )
    assert isinstance(v, str)
    return v


def _rule(v: object, what: str) -> Rule:
    if not isinstance(v, dict):
        raise FormatError(f"{what}: expected an object")
    claim = v.get("claim")
    if not isinstance(claim, str) or not _CLAIM.fullmatch(claim):
        raise FormatError(
            f"{what}.claim: expected a claim name (a-z, 0-9, _; one '.' for a member), "
            f"found {claim!r}",
            code="bad_rule",
        )
    keys = set(v) - {"claim"}
    if keys == {"min_age"}:
        age = v["min_age"]
        if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 150:
            raise FormatError(f"{what}.min_age: expected an integer in [0, 150], found {age!r}")
        return Rule(claim, min_age=age)
    if keys == {"in"}:
        raw = v["in"]
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_IN:
            raise FormatError(f"{what}.in: expected a list of 1 to {MAX_IN} values")
        for i, x in enumerate(raw):
            if not isinstance(x, str) or not 0 < len(x) <= _MAX_VALUE or not x.isprintable():
                raise FormatError(
                    f"{what}.in[{i}]: expected a string of 1 to {_MAX_VALUE} printable "
                    f"characters, found {x!r}"
                )
        if len(set(raw)) != len(raw):
            raise FormatError(f"{what}.in: a value appears twice")
        return Rule(claim, values=frozenset(raw))
    raise FormatError(
        f'{what}: expected "claim" and one of "min_age" or "in", found {sorted(v)}',
        code="bad_rule",
    )


def parse_eligibility(v: object, what: str = "process.eligibility") -> Eligibility:
    """The manifest's ``eligibility`` object, every field checked; refused with
    a :class:`FormatError` naming the field."""
    if not isinstance(v, dict):
        raise FormatError(f"{what}: expected an object")
    missing = {"provider", "name", "rules"} - v.keys()
    if missing:
        raise FormatError(f"{what}: missing field(s) {sorted(missing)}", code="missing_field")
    unknown = v.keys() - {"provider", "name", "rules", "acr"}
    if unknown:
        raise FormatError(f"{what}: unknown field(s) {sorted(unknown)}", code="unknown_field")
    provider = _provider_url(v["provider"], f"{what}.provider")
    name = v["name"]
    if not isinstance(name, str) or not 0 < len(name) <= 60 or not name.isprintable():
        raise FormatError(f"{what}.name: expected 1 to 60 printable characters, found {name!r}")
    acr_raw = v.get("acr", [])
    if not isinstance(acr_raw, list) or len(acr_raw) > 16:
        raise FormatError(f"{what}.acr: expected a list of at most 16 acr values")
    for i, a in enumerate(acr_raw):
        if not isinstance(a, str) or not _ACR.fullmatch(a):
            raise FormatError(f"{what}.acr[{i}]: expected an acr value, found {a!r}")
    if len(set(acr_raw)) != len(acr_raw):
        raise FormatError(f"{what}.acr: a value appears twice")
    rules_raw = v["rules"]
    if not isinstance(rules_raw, list) or len(rules_raw) > MAX_RULES:
        raise FormatError(f"{what}.rules: expected a list of at most {MAX_RULES} rules")
    rules = tuple(_rule(r, f"{what}.rules[{i}]") for i, r in enumerate(rules_raw))
    return Eligibility(provider, name, tuple(acr_raw), rules)


def age_on(birthdate: date, day: date) -> int:
    """Full years of someone born on ``birthdate`` on ``day``: a birthday counts
    from its day; one on 29 February counts from 1 March in other years."""
    return day.year - birthdate.year - ((day.month, day.day) < (birthdate.month, birthdate.day))


def _claim(claims: Mapping[str, object], path: str) -> object:
    top, _, member = path.partition(".")
    value = claims.get(top)
    if member:
        value = value.get(member) if isinstance(value, Mapping) else None
    return value


def _birthdate(value: object) -> date | None:
    """A full ``YYYY-MM-DD`` birthdate (OpenID Connect Core §5.1); a partial one
    (``0000`` year, or only a year) cannot prove an age and reads as None."""
    if not isinstance(value, str) or (m := _BIRTHDATE.fullmatch(value)) is None:
        return None
    try:
        born = date(*(int(x) for x in m.groups()))
    except ValueError:
        return None
    return born if born.year > 0 else None


def evaluate(
    eligibility: Eligibility, claims: Mapping[str, object], acr: object, closes: str
) -> None:
    """Raise :class:`Ineligible` unless ``claims`` (and the ID token's ``acr``)
    meet every rule; ages are counted on the UTC day of ``closes``.

    The reasons name the rule and never echo the person's values: they reach
    the citizen's screen and may reach a log line.
    """
    if eligibility.acr and acr not in eligibility.acr:
        raise Ineligible(
            code="acr_too_low",
            reasons=[
                f"the provider authenticated at level {acr!r}; this process needs one of "
                f"{list(eligibility.acr)}"
            ],
        )
    closing_day = date.fromisoformat(closes[:10])
    missing: list[str] = []
    failed: list[str] = []
    for r in eligibility.rules:
        value = _claim(claims, r.claim)
        if r.min_age is not None:
            born = _birthdate(value)
            if born is None:
                missing.append(f"{r.claim}: no full date of birth (YYYY-MM-DD) from the provider")
            elif age_on(born, closing_day) < r.min_age:
                failed.append(f"{r.claim}: under {r.min_age} on {closing_day.isoformat()}")
        else:
            assert r.values is not None
            if not isinstance(value, str) or not value:
                missing.append(f"{r.claim}: not given by the provider")
            elif value not in r.values:
                failed.append(f"{r.claim}: not one of the {len(r.values)} values the rule lists")
    if failed:
        raise Ineligible(code="ineligible", reasons=failed + missing)
    if missing:
        raise Ineligible(code="claim_missing", reasons=missing)
