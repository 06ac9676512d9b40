"""Authority on the log (docs/spec/entries.md §2, §3): who may register an
institution, reserve a process id and publish a manifest, decided by the same
registry the service admits with and the auditor replays, every refusal with
its code and status."""

from __future__ import annotations

import json

import pytest

from tests.support.civic import Institution
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import AuthorKey, sign_entry
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.civic.process import EntryRefused, NotAuthorized, Registry
from urne.verifier.errors import FormatError, SignatureError


class Log:
    """A registry fed like a log, under the operator key ``operator``."""

    def __init__(self) -> None:
        self.operator = AuthorKey.generate()
        self.reg = Registry(None, operator=self.operator.public_key)
        self.n = 0

    def add(self, leaf: bytes) -> int:
        self.reg.admit(decode_entry(leaf), self.n)
        self.n += 1
        return self.n - 1

    def refuse(self, leaf: bytes, code: str, status: int) -> EntryRefused | SignatureError:
        with pytest.raises((EntryRefused, SignatureError)) as e:
            self.reg.check(decode_entry(leaf), self.n)
        assert (e.value.code, e.value.status) == (code, status), str(e.value)
        return e.value

    def register(self, inst: Institution, name: str, roles: tuple[str, ...] = ("open",)) -> int:
        return self.add(
            authoring.registration(name, inst.key.public_key, self.operator, roles=roles)
        )

    def reserve(self, inst: Institution, pid: str, *, signer: AuthorKey | None = None) -> bytes:
        inst.process(pid, "petition")  # makes the process's issuer key
        issuer = {
            "public_key": b64encode(inst.issuers[pid].public_key),
            "threshold": 1,
            "shares": 1,
        }
        return authoring.reservation(pid, inst.key.public_key, issuer, signer or self.operator)


def test_the_operator_registers_and_a_registrar_registers_others() -> None:
    log, city, parliament, committee = Log(), Institution(), Institution(), Institution()
    log.register(city, "city-hall")
    at = log.register(parliament, "parliament", ("open", "register"))
    committee_entry = authoring.registration(
        "petitions-committee", committee.key.public_key, parliament.key
    )
    log.add(committee_entry)
    assert log.reg.institution("petitions-committee") is not None
    found = log.reg.institutions[committee.key.public_key]
    assert (found.name, found.roles, found.registrar) == (
        "petitions-committee",
        ("open",),
        parliament.key.public_key,
    )
    # the committee opens a process; its authority goes up to the operator
    log.add(log.reserve(committee, "pet"))
    manifest = log.add(committee.process("pet", "petition"))
    assert log.reg.authority("pet") == [at, at + 1, at + 2]
    assert log.reg.state("pet").index == manifest
    # a registrar without the role, a registrar nobody registered
    other = Institution()
    log.refuse(
        authoring.registration("other", other.key.public_key, city.key),
        "not_a_registrar",
        403,
    )
    log.refuse(
        authoring.registration("other", other.key.public_key, AuthorKey.generate()),
        "unknown_registrar",
        403,
    )


def test_names_and_keys_are_registered_once() -> None:
    log, city = Log(), Institution()
    log.register(city, "city-hall")
    log.refuse(
        authoring.registration("city-hall", AuthorKey.generate().public_key, log.operator),
        "institution_exists",
        409,
    )
    log.refuse(authoring.registration("town", city.key.public_key, log.operator), "key_in_use", 409)
    log.refuse(
        authoring.registration("operator", log.operator.public_key, log.operator),
        "key_in_use",
        409,
    )


def test_a_registration_must_be_signed_by_the_registrar_it_names() -> None:
    log, city = Log(), Institution()
    obj = json.loads(authoring.registration("city-hall", city.key.public_key, log.operator))
    body = {k: v for k, v in obj.items() if k != "sig"}
    forged = sign_entry(body, AuthorKey.generate())  # names the operator, signed by another
    log.refuse(forged, "bad_entry_signature", 403)


@pytest.mark.parametrize(
    "roles",
    [[], ["open", "open"], ["register", "open"], ["vote"], "open", [1]],
)
def test_roles_are_distinct_known_and_sorted(roles: object) -> None:
    operator, city = AuthorKey.generate(), AuthorKey.generate()
    body = {
        "v": 1,
        "kind": "institution",
        "name": "city-hall",
        "key": b64encode(city.public_key),
        "roles": roles,
        "registrar": b64encode(operator.public_key),
    }
    with pytest.raises(FormatError) as e:
        sign_entry(body, operator)
    assert e.value.code == "bad_roles"


def test_a_reservation_is_the_operators_once_for_an_institution_that_may_open() -> None:
    log, city, council = Log(), Institution(), Institution()
    log.register(city, "city-hall")
    log.register(council, "council", ("register",))
    log.refuse(log.reserve(city, "pet", signer=city.key), "bad_entry_signature", 403)
    log.refuse(log.reserve(council, "pet"), "unregistered_institution", 403)
    log.refuse(log.reserve(Institution(), "pet"), "unregistered_institution", 403)
    at = log.add(log.reserve(city, "pet"))
    e = log.refuse(log.reserve(Institution(), "pet"), "unregistered_institution", 403)
    assert "not registered" in str(e)
    county = Institution()
    log.register(county, "county")
    e = log.refuse(log.reserve(county, "pet"), "process_reserved", 409)
    assert f"index {at}" in str(e)


def test_a_manifest_needs_the_reservation_of_its_id_for_its_institution() -> None:
    log, city, stranger = Log(), Institution(), Institution()
    log.register(city, "city-hall")
    # no reservation at all
    log.refuse(city.process("free", "petition"), "unreserved_process", 403)
    log.add(log.reserve(city, "consulta"))
    # the stranger reads the city's issuer key and names itself (finding 2)
    stranger.issuers["consulta"] = city.issuers["consulta"]
    hijack = stranger.process("consulta", "petition")
    e = log.refuse(hijack, "reserved_for_another", 403)
    assert isinstance(e, NotAuthorized)
    # the city's manifest with another issuer key than the reserved one
    other = Institution(key=city.key)
    log.refuse(other.process("consulta", "petition"), "wrong_issuer_key", 422)
    # another's signature on a manifest naming the city
    obj = json.loads(city.process("consulta", "petition"))
    body = {k: v for k, v in obj.items() if k != "sig"}
    log.refuse(sign_entry(body, AuthorKey.generate()), "bad_entry_signature", 403)
    index = log.add(city.process("consulta", "petition"))
    assert log.reg.state("consulta").reserved_at == index - 1
    log.refuse(city.process("consulta", "petition"), "process_exists", 409)


def test_an_operator_key_of_the_wrong_size_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        Registry(None, operator=b"\x00" * 31)
