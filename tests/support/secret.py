"""Trustees and secret ballots for tests: real keys, real deals, real proofs
(docs/secret-ballot.md). Verifier-only: no server side here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from urne.verifier.citizen import authoring
from urne.verifier.citizen.blinding import Pseudonym, blind, combine_shares, unblind
from urne.verifier.citizen.signing import AuthorKey
from urne.verifier.civic.entries import Entry, b64encode, decode_entry
from urne.verifier.civic.secret import manifest_fingerprint
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import credential_message
from urne.verifier.secret import dkg, tally
from urne.verifier.secret.ballot import Spend, ballot_context, encrypt_ballot
from urne.verifier.secret.group import Group, bls12_381_g2, random_scalar, ristretto255
from urne.verifier.secret.proofs import SchnorrProof

G = ristretto255()


@dataclass
class Trustee:
    index: int
    name: str
    key: AuthorKey
    e: int
    coefficients: list[int] = field(default_factory=list)
    g: Group = G

    @property
    def share_key(self) -> bytes:
        return self.g.base(self.e)

    def public(self, pid: str) -> dict[str, Any]:
        proof = SchnorrProof.prove(
            dkg.share_context(self.g, pid, self.key.public_key), dkg.LABEL_SHARE_KEY, self.e
        )
        return authoring.trustee_public(
            self.name, self.key.public_key, self.share_key, proof.to_bytes()
        )


@dataclass
class Board:
    """``n`` trustees of one process, threshold ``t``; with ``issuer``, the
    offices of its credential issuers, in BLS12-381 G2
    (docs/spec/issuer-ceremony.md)."""

    pid: str
    t: int
    trustees: list[Trustee]
    fingerprint: bytes = b""
    deals: dict[int, dkg.Dealt] = field(default_factory=dict)
    key: bytes = b""
    qualified: tuple[int, ...] = ()
    g: Group = G
    issuer: bool = False

    @classmethod
    def make(cls, pid: str, n: int = 3, t: int = 2, *, issuer: bool = False) -> Board:
        g: Group = bls12_381_g2() if issuer else G
        name = "Office" if issuer else "Trustee"
        return cls(
            pid,
            t,
            [
                Trustee(i, f"{name} {i}", AuthorKey.generate(), random_scalar(g), g=g)
                for i in range(1, n + 1)
            ],
            g=g,
            issuer=issuer,
        )

    def reservation_field(self) -> dict[str, Any]:
        """The ``issuer`` of a reservation with these offices."""
        return {"threshold": self.t, "offices": [x.public(self.pid) for x in self.trustees]}

    def manifest_issuer(self, urls: dict[int, str] | None = None) -> dict[str, Any]:
        """The manifest's ``issuer`` once the issuer key is made: the key, t, n
        and each qualified office with its address and share's public key."""
        commitments = [self.deals[i].commitments for i in self.qualified]
        return {
            "public_key": b64encode(self.key),
            "threshold": self.t,
            "shares": len(self.trustees),
            "offices": [
                {
                    "share": j,
                    "url": (urls or {}).get(j, f"https://office-{j}.example.org"),
                    "public_key": b64encode(dkg.verification_key(self.g, commitments, j)),
                }
                for j in self.qualified
            ],
        }

    def manifest_field(self) -> dict[str, Any]:
        return {
            "group": "ristretto255",
            "threshold": self.t,
            "trustees": [x.public(self.pid) for x in self.trustees],
        }

    def opened(self, manifest: bytes | Entry) -> None:
        entry = manifest if isinstance(manifest, Entry) else decode_entry(manifest)
        self.fingerprint = manifest_fingerprint(entry)

    def deal(self, i: int, *, cheat_to: int | None = None) -> bytes:
        """Trustee ``i``'s deal; ``cheat_to`` gets a wrong share."""
        tr = self.trustees[i - 1]
        keys = {x.index: x.share_key for x in self.trustees}
        coeffs = [random_scalar(self.g) for _ in range(self.t)]
        tr.coefficients = coeffs
        dealt = dkg.deal(self.g, self.fingerprint, i, self.t, keys, coefficients=coeffs)
        if cheat_to is not None:
            bad = dkg.deal(self.g, self.fingerprint, i, self.t, keys)  # another polynomial's share
            dealt.shares[cheat_to] = bad.shares[cheat_to]
        self.deals[i] = dealt
        return authoring.deal(
            self.pid,
            tr.key,
            i,
            dealt.commitments,
            dealt.proof.to_bytes(),
            [(j, s.ephemeral, s.masked, s.proof) for j, s in sorted(dealt.shares.items())],
            issuer=self.issuer,
        )

    def complaints(self, j: int) -> list[bytes]:
        """Trustee ``j``'s complaints about the shares dealt to it."""
        tr = self.trustees[j - 1]
        out = []
        for i, d in sorted(self.deals.items()):
            if i == j:
                continue
            s = dkg.decrypt_share(self.g, self.fingerprint, i, j, d.shares[j], secret_key=tr.e)
            if not dkg.check_share(self.g, d.commitments, j, s):
                k, proof = dkg.complain(self.g, self.fingerprint, i, j, tr.e, d.shares[j])
                out.append(
                    authoring.complaint(
                        self.pid, tr.key, j, i, k, proof.to_bytes(), issuer=self.issuer
                    )
                )
        return out

    def check(self, j: int) -> bytes:
        return authoring.check(self.pid, self.trustees[j - 1].key, j, issuer=self.issuer)

    def election_key(self, institution: AuthorKey, qualified: Sequence[int]) -> bytes:
        self.qualified = tuple(qualified)
        self.key = dkg.joint_key(self.g, [self.deals[i].commitments[0] for i in self.qualified])
        return authoring.election_key(
            self.pid, institution, self.key, self.qualified, issuer=self.issuer
        )

    def share(self, j: int) -> int:
        tr = self.trustees[j - 1]
        x = 0
        for i in self.qualified:
            d = self.deals[i]
            if i == j:
                x += dkg.evaluate(tr.coefficients, j, self.g.order)
            else:
                s = dkg.decrypt_share(self.g, self.fingerprint, i, j, d.shares[j], secret_key=tr.e)
                assert s is not None
                x += s
        return x % self.g.order

    def credential(self, offices: Sequence[int]) -> tuple[Pseudonym, bytes]:
        """A fresh pseudonym and its credential from the answers of
        ``offices``, each signing the blinded point with its share of the
        issuer key, as the offices do (docs/spec/issuer-ceremony.md §4)."""
        pseudonym = Pseudonym.generate()
        state, blinded = blind(credential_message(self.pid, pseudonym.public_key))
        b = bls.current_backend()
        point = b.g1_decompress(blinded)
        answers = {j: b.g1_compress(b.g1_mul(point, self.share(j))) for j in offices}
        return pseudonym, unblind(state, combine_shares(answers), self.key)

    def decryption(self, j: int, aggregates: list[Any], *, wrong: bool = False) -> bytes:
        x = self.share(j)
        ctx = tally.decryption_context(G, self.fingerprint, self.key)
        out = tally.share_decryption(ctx, x + (1 if wrong else 0), aggregates)
        if wrong:  # a share made with another key, its proof with this one
            good = tally.share_decryption(ctx, x, aggregates)
            out = [(d, p) for (d, _), (_, p) in zip(out, good, strict=True)]
        return authoring.decryption(
            self.pid,
            self.trustees[j - 1].key,
            j,
            [d for d, _ in out],
            [p.to_bytes() for _, p in out],
        )

    def ceremony(self, add: Callable[[bytes], int], institution: AuthorKey) -> None:
        """Everyone honest: deal, check, the election key."""
        for x in self.trustees:
            add(self.deal(x.index))
        for x in self.trustees:
            add(self.check(x.index))
        add(self.election_key(institution, [x.index for x in self.trustees]))

    def encrypted(
        self,
        pseudonym: bytes,
        options: int,
        selected: Sequence[int],
        bounds: tuple[int, int],
        spend: Spend | None = None,
    ) -> dict[str, Any]:
        ctx = ballot_context(G, self.fingerprint, self.key, pseudonym)
        ballot, _ = encrypt_ballot(ctx, self.key, options, selected, bounds, spend=spend)
        return ballot.to_json()
