"""A citizen's wallet on their own machine: one pseudonym and credential per
process, the entries cast with them and their receipts (docs/guides/citizens.md).

The wallet is a directory readable by its owner only (``0700``), one file per
process (``<process id>.json``, ``0600``): it holds the pseudonym's secret
seed, so whoever reads it can vote as that pseudonym (docs/threat-model.md).
Each file is rewritten whole and atomically (a temporary file, fsynced, then
renamed), so a wallet killed mid-write keeps its previous state.

Nothing is lost between two steps:

- **joining** saves the pseudonym and the blinding state (``r`` and ``B``)
  *before* the request for a credential is sent. If the answer is lost (the
  network cut, the program killed), joining again sends the same ``B`` with
  the same code, and the issuer answers a code it already answered for that
  same ``B`` again (docs/spec/issuance.md §3): the code is never spent
  without the citizen holding the credential. ``r`` is dropped once the
  credential is unblinded and checked;
- **casting** saves the signed entry as pending before it is posted. Cast
  again after a failure and the same bytes are sent again; if the first post
  had in fact reached the log, the service refuses the copy (``stale_seq``,
  ``already_signed``, ``already_voted``) and the wallet finds the entry in
  the process's open data, with its receipt. Revoting rules keep a retry from
  counting twice.

In a secret vote (docs/secret-ballot.md) a ballot is encrypted under the
election key the service publishes, for the manifest whose bytes the wallet
reads with their inclusion proof under the log key it trusts (the published
fingerprint is recomputed from them). The randomness of a cast ballot is
forgotten at once; the choice is kept in the wallet file (``choices``),
since the log shows the ballot encrypted. A *challenge* is a ballot made the
same way and opened instead of cast (``urne.verifier.secret.challenge``).

Every receipt is checked against the log's key the wallet trusts (given at
joining with ``log_key``, else the service's own ``GET /log`` answer, which
the wallet says it trusted), and again, later, against the grown log.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from urne.verifier.check.receipt import Receipt, check_against_log, check_receipt
from urne.verifier.citizen import authoring
from urne.verifier.citizen.blinding import (
    BlindingState,
    Pseudonym,
    blind,
    combine_shares,
    unblind,
    verify_blind_share,
)
from urne.verifier.citizen.identity import IdentityLogin, LoopbackCallback, new_state, pkce_pair
from urne.verifier.citizen.keyfile import fsync_dir, private_dir, read_private
from urne.verifier.citizen.service import CitizenClient, ServiceRefused
from urne.verifier.civic.canonical import canonical
from urne.verifier.civic.eligibility import credential_nonce
from urne.verifier.civic.entries import (
    GRADED,
    IDENTIFIER,
    ElectionKey,
    Process,
    VoteRule,
    b64decode,
    b64encode,
    decode_entry,
)
from urne.verifier.credentials.credential import (
    CREDENTIAL_SIZE,
    ISSUER_PUBLIC_KEY_SIZE,
    credential_message,
    verify_credential,
)
from urne.verifier.errors import FetchError, FormatError, UrneError
from urne.verifier.secret.ballot import EncryptedBallot, ballot_context, encrypt_ballot
from urne.verifier.secret.challenge import Challenge, Election, make_challenge
from urne.verifier.secret.group import ristretto255
from urne.verifier.tlog.note import Ed25519Verifier, parse_note

__all__ = ["FORMAT", "Joined", "Wallet", "WalletError", "describe"]

#: The ``format`` of a wallet file.
FORMAT = "urne-wallet-process/1"
#: Refusals by which the service says an entry (or an equal one) is already in the log.
_ALREADY_IN = {"already_signed", "already_voted", "stale_seq"}
#: The most bytes of a process's open data read to find an entry whose
#: acknowledgement was lost (about 400 bytes a ballot: a million ballots).
_MAX_EXPORT = 512 << 20
#: The most bytes of a secret vote's open data read to find its election key,
#: which precedes every ballot: after the manifest, at most 32 deals of a few
#: kilobytes, their complaints and checks.
_MAX_CEREMONY = 8 << 20


class WalletError(UrneError):
    """What the wallet cannot do, with what to do instead."""

    code = "wallet_error"
    status = 400


@dataclass
class Joined:
    """A process the wallet takes part in: what ``<process>.json`` holds."""

    server: str
    process: str
    log_key: str
    #: the issuance host (the service itself, unless issuance runs apart)
    issuer_url: str
    #: whether ``log_key`` was given by the citizen (else taken from the service)
    log_key_given: bool
    issuer: dict[str, Any]
    seed: bytes
    credential: bytes | None = None
    #: ``{"r": int, "blinded": bytes}`` between asking for a credential and holding it
    blinding: dict[str, Any] | None = None
    #: the next ``seq`` to sign with
    seq: int = 0
    #: an entry signed and not yet acknowledged
    pending: bytes | None = None
    receipts: list[dict[str, Any]] = field(default_factory=list)
    #: a secret vote: the choice of each ballot signed, by its ``seq`` (the log
    #: shows the ballot encrypted; its randomness is never kept)
    choices: dict[int, list[str]] = field(default_factory=dict)

    @property
    def pseudonym(self) -> Pseudonym:
        return Pseudonym.from_seed(self.seed)

    @property
    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier.from_vkey(self.log_key)

    def choice_of(self, entry: bytes) -> list[str] | None:
        """The choice this wallet kept for a secret ballot it signed, if any."""
        obj = json.loads(entry)
        if "encrypted" not in obj:
            return None
        return self.choices.get(int(obj["seq"]))

    def to_json(self) -> dict[str, Any]:
        blinding = None
        if self.blinding is not None:
            blinding = {
                "r": format(self.blinding["r"], "x"),
                "blinded": b64encode(self.blinding["blinded"]),
            }
        out = {
            "format": FORMAT,
            "server": self.server,
            "issuer_url": self.issuer_url,
            "process": self.process,
            "log_key": self.log_key,
            "log_key_given": self.log_key_given,
            "issuer": self.issuer,
            "pseudonym_seed": b64encode(self.seed),
            "credential": None if self.credential is None else b64encode(self.credential),
            "blinding": blinding,
            "seq": self.seq,
            "pending": None if self.pending is None else b64encode(self.pending),
            "receipts": self.receipts,
        }
        if self.choices:  # a secret vote's only
            out["choices"] = {str(k): v for k, v in sorted(self.choices.items())}
        return out

    @classmethod
    def from_json(cls, obj: Any, where: str) -> Joined:
        try:
            if obj.get("format") != FORMAT:
                raise ValueError(f"format is not {FORMAT!r}")
            blinding = obj["blinding"]
            credential, pending = obj["credential"], obj["pending"]
            choices = obj.get("choices", {})
            if not isinstance(choices, dict) or not all(
                isinstance(v, list) and all(isinstance(c, str) for c in v) for v in choices.values()
            ):
                raise ValueError("choices: expected lists of proposal ids by seq")
            return cls(
                server=str(obj["server"]),
                issuer_url=str(obj["issuer_url"]),
                process=str(obj["process"]),
                log_key=str(obj["log_key"]),
                log_key_given=bool(obj["log_key_given"]),
                issuer=dict(obj["issuer"]),
                seed=b64decode(obj["pseudonym_seed"], "pseudonym_seed", size=32),
                credential=None
                if credential is None
                else b64decode(credential, "credential", size=CREDENTIAL_SIZE),
                blinding=None
                if blinding is None
                else {
                    "r": int(blinding["r"], 16),
                    "blinded": b64decode(blinding["blinded"], "blinded", size=CREDENTIAL_SIZE),
                },
                seq=int(obj["seq"]),
                pending=None if pending is None else b64decode(pending, "pending"),
                receipts=[dict(r) for r in obj["receipts"]],
                choices={int(k): list(v) for k, v in choices.items()},
            )
        except (AttributeError, KeyError, TypeError, ValueError, FormatError) as exc:
            raise WalletError(
                f"{where} is not a wallet file this version reads ({exc})", code="bad_wallet"
            ) from exc


class Wallet:
    """The wallet in ``directory`` (created ``0700`` on first use)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    # -- storage ------------------------------------------------------------------------

    def path(self, process_id: str) -> Path:
        if not IDENTIFIER.fullmatch(process_id):  # it names a file: no "/", no leading "."
            raise WalletError(f"{process_id!r} is not a process id", code="bad_process_id")
        return self.directory / f"{process_id}.json"

    def load(self, process_id: str) -> Joined | None:
        path = self.path(process_id)
        if not path.exists():
            return None
        try:
            obj = json.loads(read_private(path))
        except ValueError as exc:
            raise WalletError(f"{path} is not JSON ({exc})", code="bad_wallet") from exc
        return Joined.from_json(obj, str(path))

    def joined(self, process_id: str) -> Joined:
        found = self.load(process_id)
        if found is None or found.credential is None:
            raise WalletError(
                f"this wallet has not joined {process_id!r}: run `urne-wallet join` with the "
                "code from your letter first",
                code="not_joined",
            )
        return found

    def processes(self) -> list[Joined]:
        if not self.directory.exists():
            return []
        out = []
        for path in sorted(self.directory.glob("*.json")):
            found = self.load(path.stem)
            if found is not None:
                out.append(found)
        return out

    def save(self, state: Joined) -> None:
        """Replace the process's file atomically: a private temporary file,
        fsynced, renamed over the old one, then the directory fsynced."""
        private_dir(self.directory)
        path = self.path(state.process)
        tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state.to_json(), fh, indent=1, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(path.parent)

    # -- joining -------------------------------------------------------------------------

    def join(
        self,
        server: str,
        process_id: str,
        code: str | None,
        *,
        log_key: str | None = None,
        issuer: str | None = None,
        login: IdentityLogin | None = None,
    ) -> tuple[Joined, bool]:
        """Obtain a credential for ``process_id`` with the one-time ``code``,
        or (``code=None``) through the process's identity provider with
        ``login`` (docs/spec/eligibility.md §2): ``(state, newly joined)``.
        ``issuer``: the issuance host, where it runs apart from the service
        (docs/spec/issuance.md §5). Joining a process the wallet holds a
        credential for changes nothing; one whose answer was lost asks again
        with the same blinded point."""
        client = CitizenClient(server)
        state = self.load(process_id)
        if state is not None and state.credential is not None:
            self._same_log(client, state)
            return state, False
        if state is None:
            state = self._new_state(client, server, process_id, log_key)
            state.issuer_url = issuer or server
        elif state.server != server.rstrip("/") and state.server != server:
            raise WalletError(
                f"this wallet began joining {process_id!r} at {state.server}: join there "
                f"again, or remove {self.path(process_id)} to start afresh",
                code="another_service",
            )
        elif issuer is not None:
            state.issuer_url = issuer
        message = credential_message(process_id, state.pseudonym.public_key)
        if state.blinding is None:
            blinding, blinded = blind(message)
            state.blinding = {"r": blinding.factor, "blinded": blinded}
            self.save(state)  # before the request: an answer lost can be asked again
        blinding = BlindingState(message, state.blinding["r"], state.blinding["blinded"])
        issuing = CitizenClient(state.issuer_url)
        if code is None:
            if login is None:
                raise WalletError("join with a code, or through the identity provider")
            state.credential = self._identity(issuing, state, blinding, login)
        else:
            state.credential = self._credential(issuing, state, code, blinding)
        state.blinding = None  # r has served: nothing links B to the pseudonym any more
        self.save(state)
        return state, True

    def _same_log(self, client: CitizenClient, state: Joined) -> None:
        """Refuse a service that now serves another log than the one this
        wallet joined (a demo started afresh): its credentials are of a log
        that is gone. Unreachable, nothing is said."""
        try:
            now = str(client.get_json("/log")["verifier_key"])
        except (FetchError, ServiceRefused, KeyError, TypeError):
            return
        if now != state.log_key:
            raise WalletError(
                f"{state.server} now serves another log (key {now}) than the one this wallet "
                f"joined {state.process!r} in (key {state.log_key}): use another --wallet, or "
                f"remove {self.path(state.process)}",
                code="another_log",
            )

    def proposals(self, process_id: str) -> list[str]:
        """The ids a ballot of ``process_id`` may choose, as its service lists them."""
        state = self.joined(process_id)
        process = CitizenClient(state.server).get_json(f"/processes/{process_id}")
        return [str(p["id"]) for p in process.get("proposals", [])]

    def _new_state(
        self, client: CitizenClient, server: str, process_id: str, log_key: str | None
    ) -> Joined:
        process = client.get_json(f"/processes/{process_id}")
        if process.get("closed"):
            raise WalletError(
                f"{process_id!r} is closed: nothing more can be cast in it",
                code="process_closed",
            )
        given = log_key is not None
        key = log_key if log_key is not None else str(client.get_json("/log")["verifier_key"])
        try:
            Ed25519Verifier.from_vkey(key)
        except FormatError as exc:
            raise WalletError(f"the log key {key!r} is not a verifier key: {exc}") from exc
        return Joined(
            server=server,
            issuer_url=server,
            process=process_id,
            log_key=key,
            log_key_given=given,
            issuer=dict(process["issuer"]),
            seed=Pseudonym.generate().seed,
        )

    def _credential(
        self, client: CitizenClient, state: Joined, code: str, blinding: BlindingState
    ) -> bytes:
        issuer = state.issuer
        public_key = b64decode(issuer["public_key"], "issuer key", size=ISSUER_PUBLIC_KEY_SIZE)
        path = f"/issuance/{state.process}"
        blinded = b64encode(blinding.blinded)
        if int(issuer["shares"]) == 1:
            answer = client.post_json(path, json.dumps({"code": code, "blinded": blinded}).encode())
            signature = b64decode(answer["blind_signature"], "blind signature")
            credential = unblind(blinding, signature, public_key)
        else:
            credential = self._threshold(client, state, code, blinding, public_key)
        if not verify_credential(public_key, state.process, state.pseudonym.public_key, credential):
            raise WalletError("the credential does not verify", code="bad_credential")
        return credential

    def _identity(
        self, client: CitizenClient, state: Joined, blinding: BlindingState, login: IdentityLogin
    ) -> bytes:
        """The authorization code flow (verifier, state, a nonce bound to
        ``B``, a loopback callback), then the code and ``B`` to the issuer."""
        if int(state.issuer["shares"]) != 1:
            raise WalletError("an identity provider's process has a single issuer key")
        public_key = b64decode(
            state.issuer["public_key"], "issuer key", size=ISSUER_PUBLIC_KEY_SIZE
        )
        path = f"/issuance/{state.process}"
        verifier, challenge = pkce_pair()
        request_state = new_state()
        with LoopbackCallback(request_state, port=login.port) as callback:
            ask = {
                "redirect_uri": callback.redirect_uri,
                "state": request_state,
                "nonce": credential_nonce(state.process, blinding.blinded),
                "code_challenge": challenge,
            }
            answer = client.post_json(path + "/authorize", json.dumps(ask).encode())
            url = str(answer["url"])
            u = urlsplit(url)
            if u.scheme != "https" and not (
                u.scheme == "http" and u.hostname in ("127.0.0.1", "localhost", "::1")
            ):
                raise WalletError(
                    f"the service gave a login address that is not https: {url!r}",
                    code="login_failed",
                )
            described = CitizenClient(state.server).get_json(f"/processes/{state.process}")
            provider = described.get("eligibility") or {}
            callback.expect(str(answer["redirect_uri"]), provider.get("provider"))
            login.open(url)
            code = callback.wait(login.timeout)
            redirect_uri = callback.redirect_uri
        body = {
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
            "blinded": b64encode(blinding.blinded),
        }
        answer = client.post_json(path + "/identity", json.dumps(body).encode())
        signature = b64decode(answer["blind_signature"], "blind signature")
        credential = unblind(blinding, signature, public_key)
        if not verify_credential(public_key, state.process, state.pseudonym.public_key, credential):
            raise WalletError("the credential does not verify", code="bad_credential")
        if isinstance(answer.get("logout"), str):
            login.logout = str(answer["logout"])
        return credential

    def _threshold(
        self,
        client: CitizenClient,
        state: Joined,
        code: str,
        blinding: BlindingState,
        public_key: bytes,
    ) -> bytes:
        """A t-of-n issuer: ask each share in turn, check each answer under its
        share key, combine the first ``t`` good ones.

        A key the offices made in their ceremony (the manifest names
        ``offices``, docs/spec/issuer-ceremony.md §3): each office is asked at
        its own address, and its answer checked under the share key the
        manifest names (which the rules checked against the ceremony), never
        one an office states. Otherwise, the one service answers for every
        share, with the share keys it states."""
        offices = state.issuer.get("offices")
        where: dict[int, tuple[CitizenClient, str]] = {}
        if offices is not None:
            for office in offices:
                where[int(office["share"])] = (
                    CitizenClient(str(office["url"])),
                    str(office["public_key"]),
                )
        else:
            info = client.get_json(f"/issuance/{state.process}")
            share_keys: Mapping[str, str] = info["share_public_keys"]
            where = {int(i): (client, str(k)) for i, k in share_keys.items()}
        needed = int(state.issuer["threshold"])
        answers: dict[int, bytes] = {}
        refusals: list[str] = []
        for index in sorted(where):
            office_client, key_text = where[index]
            body = {"code": code, "blinded": b64encode(blinding.blinded), "share": index}
            try:
                answer = office_client.post_json(
                    f"/issuance/{state.process}", json.dumps(body).encode()
                )
            except ServiceRefused as exc:
                refusals.append(f"share {index}: {exc.code}")
                continue
            except FetchError as exc:
                refusals.append(f"share {index}: unreachable ({exc.code})")
                continue
            signature = b64decode(answer["blind_signature"], "blind signature share")
            share_key = b64decode(key_text, "share key")
            if verify_blind_share(share_key, blinding.blinded, signature):
                answers[index] = signature
            if len(answers) == needed:
                return unblind(blinding, combine_shares(answers), public_key)
        raise WalletError(
            f"only {len(answers)} of the {needed} issuers needed answered ({'; '.join(refusals)})",
            code="not_enough_shares",
        )

    # -- casting -------------------------------------------------------------------------

    def cast(
        self,
        process_id: str,
        choice: Sequence[str] | None,
        *,
        grades: Mapping[str, str] | None = None,
    ) -> tuple[Receipt, bool]:
        """Sign and post the next ballot (``choice=None``: a petition
        signature): ``(receipt, True)``. If an earlier call's entry was never
        acknowledged, that entry is sent again instead, exactly as it was
        signed, and ``(its receipt, False)`` returned: the caller casts anew
        only once the earlier one is settled."""
        state = self.joined(process_id)
        client = CitizenClient(state.server)
        if state.pending is not None:  # the earlier call's entry, not acknowledged then
            return self._post(client, state, state.pending, retry=True), False
        assert state.credential is not None
        if grades is not None:  # a majority judgment: a grade per proposal
            ordered = self.grades_for(process_id, grades)
            entry = authoring.graded_ballot(
                process_id, state.pseudonym, state.credential, ordered, seq=state.seq
            )
            state.pending = entry
            state.seq += 1
            self.save(state)  # before the post: a retry sends these very bytes
            return self._post(client, state, entry), True
        election = None if choice is None else self._secret_vote(client, state)
        if choice is None:
            entry = authoring.signature(
                process_id, state.pseudonym, state.credential, seq=state.seq
            )
        elif election is None:
            entry = authoring.ballot(
                process_id, state.pseudonym, state.credential, list(choice), seq=state.seq
            )
        else:
            ballot, randomness, selected = self._encrypt(state, election, choice)
            randomness.clear()  # a cast ballot's randomness would show its choice: forgotten
            entry = authoring.secret_ballot(
                process_id, state.pseudonym, state.credential, ballot.to_json(), seq=state.seq
            )
            state.choices[state.seq] = [election.proposals[k] for k in selected]
        state.pending = entry
        state.seq += 1
        self.save(state)  # before the post: a retry sends these very bytes
        return self._post(client, state, entry), True

    def _post(
        self, client: CitizenClient, state: Joined, entry: bytes, *, retry: bool = False
    ) -> Receipt:
        """Post ``entry`` and keep its checked receipt. A retry refused as a
        copy of what the log holds is looked up there (its first post did
        arrive); any other refusal drops the pending entry."""
        try:
            answer = client.post_json("/entries", entry)
        except ServiceRefused as exc:
            found = self._find(client, state, entry) if retry and exc.code in _ALREADY_IN else None
            if found is None:
                state.pending = None  # refused for good: nothing of it is in the log
                state.choices.pop(int(json.loads(entry).get("seq", -1)), None)
                self.save(state)
                raise
            answer = found
        receipt = Receipt.from_json(answer)
        if receipt.entry != entry:
            raise WalletError("the service's receipt is for another entry", code="bad_receipt")
        check_receipt(receipt, state.verifier)
        state.pending = None
        state.receipts.append(receipt.to_json())
        self.save(state)
        return receipt

    # -- a secret vote or budget----------------------------------------------------------------

    def challenge(self, process_id: str, choice: Sequence[str]) -> Challenge:
        """A challenge file for ``choice``: a ballot made exactly as :meth:`cast`
        makes one (this wallet's pseudonym, the published key and manifest),
        opened instead of cast. Nothing is posted and nothing is kept: the
        ballot must never be cast."""
        state = self.joined(process_id)
        election = self._secret_vote(CitizenClient(state.server), state)
        if election is None:
            raise WalletError(
                f"{process_id!r} is not secret: its ballots show their choice, there is "
                "nothing to challenge",
                code="not_secret",
            )
        assert election.key is not None
        ballot, randomness, selected = self._encrypt(state, election, choice)
        return make_challenge(
            process_id,
            state.pseudonym.public_key,
            election.fingerprint,
            election.key,
            ballot,
            election.proposals,
            selected,
            randomness,
        )

    @staticmethod
    def _secret_vote(client: CitizenClient, state: Joined) -> Election | None:
        """The secret vote ``state.process`` is, or None for a public process,
        as its manifest says: the manifest read with its inclusion proof under
        the log key this wallet trusts (a service cannot pass a secret vote
        off as public), the fingerprint published recomputed from its bytes
        (``fingerprint_mismatch``), the election key published found in the
        log (``bad_election_key``)."""
        answer, receipt, manifest = Wallet._logged_manifest(client, state)
        if manifest.secret is None:
            return None
        if answer.get("secret") is None:
            raise WalletError(
                f"the service describes {state.process!r} as public; its manifest on the "
                "log makes it secret",
                code="fingerprint_mismatch",
            )
        election = Election.from_process(answer)
        if election.key is None:
            raise WalletError(
                f"the key ceremony of {state.process!r} has not ended (no election key on "
                "the log yet): no ballot can be encrypted yet",
                code="no_election_key",
            )
        Wallet._logged_key(client, state, election.key)
        return election.with_manifest(receipt.entry)

    @staticmethod
    def _logged_manifest(
        client: CitizenClient, state: Joined
    ) -> tuple[dict[str, Any], Receipt, Process]:
        """The service's description of ``state.process``, and its manifest
        as the log holds it: read with its inclusion proof under the log key
        this wallet trusts."""
        answer = client.get_json(f"/processes/{state.process}")
        index = answer.get("index") if isinstance(answer, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise WalletError(
                f"the service's description of {state.process!r} names no manifest",
                code="bad_process_answer",
            )
        receipt = Receipt.from_json(client.get_json(f"/entries/{index}/receipt"))
        if receipt.index != index:
            raise WalletError(
                f"the service's receipt of the manifest is of index {receipt.index}, not {index}",
                code="bad_receipt",
            )
        check_receipt(receipt, state.verifier)
        manifest = decode_entry(receipt.entry).body
        if not isinstance(manifest, Process) or manifest.id != state.process:
            raise WalletError(
                f"the entry at index {index} is not the manifest of {state.process!r}",
                code="bad_manifest",
            )
        assert isinstance(answer, dict)
        return answer, receipt, manifest

    def delegate(
        self, process_id: str, to: bytes | None = None, *, name: str | None = None
    ) -> Receipt:
        """Stand as a delegate under ``name``, or delegate this wallet's vote
        to the delegate ``to`` (a pseudonym's public key), or revoke (neither):
        docs/spec/delegation.md. A pending entry not acknowledged is sent
        again first, as :meth:`cast` does."""
        state = self.joined(process_id)
        client = CitizenClient(state.server)
        if state.pending is not None:
            self._post(client, state, state.pending, retry=True)
        assert state.credential is not None
        if name is not None:
            entry = authoring.delegate(process_id, state.pseudonym, state.credential, name)
        else:
            entry = authoring.delegation(
                process_id, state.pseudonym, state.credential, to, seq=state.seq
            )
            state.seq += 1
        state.pending = entry
        self.save(state)  # before the post: a retry sends these very bytes
        return self._post(client, state, entry)

    def grades_for(self, process_id: str, grades: Mapping[str, str]) -> list[str]:
        """A majority judgment's grades, ``{proposal id: grade id}``, in the
        order of the proposals of the manifest the log holds (never the order a
        service states): every proposal once, every grade on the scale."""
        state = self.joined(process_id)
        _, _, manifest = self._logged_manifest(CitizenClient(state.server), state)
        rule = manifest.rule
        if not isinstance(rule, VoteRule) or rule.method != GRADED:
            raise WalletError(
                f"{process_id!r} is not a majority judgment: vote with `urne-wallet vote`",
                code="not_graded",
            )
        ids = [q.id for q in manifest.proposals]
        scale = rule.grade_ids()
        missing = [pid for pid in ids if pid not in grades]
        unknown = sorted(set(grades) - set(ids))
        wrong = sorted({g for g in grades.values() if g not in scale})
        if missing or unknown or wrong:
            raise WalletError(
                f"grade each proposal once ({', '.join(ids)}) with a grade of the scale "
                f"({', '.join(scale)}), best first"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                + (f"; not on the scale: {', '.join(wrong)}" if wrong else ""),
                code="bad_grades",
            )
        return [grades[pid] for pid in ids]

    @staticmethod
    def _logged_key(client: CitizenClient, state: Joined, key: bytes) -> None:
        """The election key the service publishes must be the one of the
        ``election-key`` entry of the log this wallet trusts (``bad_election_key``):
        found in the process's open data, where it precedes every ballot, and
        read with its inclusion proof."""
        head = client.raw(f"/processes/{state.process}/entries.jsonl",
                          max_bytes=_MAX_CEREMONY, head=True)  # fmt: skip
        index = None
        for line in head.split(b"\n")[1:]:
            try:
                obj = json.loads(line)
                entry = obj["entry"]
            except (ValueError, KeyError, TypeError):
                break  # the line the bound cut, or the end
            if isinstance(entry, dict) and entry.get("kind") == "election-key":
                index = obj.get("index")
                break
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise WalletError(
                f"the log holds no election key of {state.process!r} among the first entries "
                "of its open data",
                code="bad_election_key",
            )
        receipt = Receipt.from_json(client.get_json(f"/entries/{index}/receipt"))
        if receipt.index != index:
            raise WalletError(
                f"the service's receipt of the election key is of index {receipt.index}, not "
                f"{index}",
                code="bad_election_key",
            )
        check_receipt(receipt, state.verifier)
        body = decode_entry(receipt.entry).body
        if (
            not isinstance(body, ElectionKey)
            or body.issuer
            or body.process != state.process
            or body.key != key
        ):
            raise WalletError(
                f"the election key the service publishes for {state.process!r} is not the one "
                f"of its log (index {index})",
                code="bad_election_key",
            )

    @staticmethod
    def _encrypt(
        state: Joined, election: Election, choice: Sequence[str]
    ) -> tuple[EncryptedBallot, list[int], tuple[int, ...]]:
        """``choice`` encrypted for this wallet's pseudonym: the ballot, its
        randomness (for a challenge only) and the indices chosen."""
        index = {pid: k for k, pid in enumerate(election.proposals)}
        unknown = [c for c in choice if c not in index]
        if unknown:
            raise WalletError(f"unknown proposal(s) {unknown}", code="unknown_proposal")
        if len(set(choice)) != len(choice):
            raise WalletError("a proposal is named twice", code="duplicate_choice")
        lo, hi = election.bounds
        if not lo <= len(choice) <= hi:
            raise WalletError(
                f"{len(choice)} choices; this process takes {lo} to {hi}",
                code="bad_choice_count",
            )
        selected = tuple(sorted(index[c] for c in choice))
        spend = election.spend
        if spend is not None:
            cost = spend.spent(selected)
            if cost > spend.ceiling:
                raise WalletError(
                    f"these projects cost {cost:,}, over the budget of {spend.ceiling:,}",
                    code="over_budget",
                )
            if cost < spend.floor:
                raise WalletError(
                    f"these projects cost {cost:,}; a ballot spends at least {spend.floor:,}",
                    code="min_share",
                )
        assert election.key is not None
        g = ristretto255()
        key = g.decode(election.key, "the election key")
        ctx = ballot_context(g, election.fingerprint, key, state.pseudonym.public_key)
        ballot, randomness = encrypt_ballot(
            ctx, key, len(election.proposals), selected, election.bounds, spend=spend
        )
        return ballot, randomness, selected

    @staticmethod
    def _find(client: CitizenClient, state: Joined, entry: bytes) -> Any:
        """The receipt of ``entry`` if the log holds it (a post whose answer
        was lost): looked up in the process's open data."""
        try:
            data = client.raw(f"/processes/{state.process}/entries.jsonl", max_bytes=_MAX_EXPORT)
        except (FetchError, ServiceRefused):
            return None
        for line in data.splitlines()[1:]:
            obj = json.loads(line)
            if canonical(obj["entry"]) == entry:
                return client.get_json(f"/entries/{obj['index']}/receipt")
        return None

    # -- receipts ------------------------------------------------------------------------

    def recheck(self, state: Joined) -> list[tuple[Receipt, UrneError | None]]:
        """Each receipt of ``state`` checked against today's log: still
        included under a checkpoint that extends the receipt's."""
        client = CitizenClient(state.server)
        out: list[tuple[Receipt, UrneError | None]] = []
        upgraded = False
        for k, obj in enumerate(state.receipts):
            receipt = Receipt.from_json(obj)
            better = self._witnessed(client, state, receipt)
            if better is not None:
                receipt, upgraded = better, True
                state.receipts[k] = better.to_json()
            try:
                check_against_log(receipt, state.verifier, lambda p: client.raw("/" + p))
            except UrneError as exc:
                out.append((receipt, exc))
            else:
                out.append((receipt, None))
        if upgraded:
            self.save(state)
        return out

    @staticmethod
    def _witnessed(client: CitizenClient, state: Joined, receipt: Receipt) -> Receipt | None:
        """The service's current receipt of the same entry, if it carries more
        signatures (witnesses' cosignatures gathered since) and checks; else
        None. A receipt given at casting time is upgraded so (docs/spec/witness.md §4)."""
        try:
            newer = Receipt.from_json(client.get_json(f"/entries/{receipt.index}/receipt"))
            if newer.entry != receipt.entry:
                return None
            check_receipt(newer, state.verifier)
            count = len(parse_note(newer.checkpoint).signatures)
            if count <= len(parse_note(receipt.checkpoint).signatures):
                return None
        except (UrneError, ValueError, KeyError, TypeError):
            return None
        return newer


def describe(entry: bytes, secret_choice: Sequence[str] | None = None) -> str:
    """What an entry records, in words: "your signature on pet", "your vote: a";
    for a secret ballot, the choice the wallet kept (``Joined.choice_of``)."""
    obj = decode_entry(entry).obj
    if "encrypted" in obj:
        if secret_choice is None:
            return f"your secret ballot in {obj['process']} (its choice is not in this wallet)"
        return f"your secret ballot in {obj['process']}: {', '.join(secret_choice) or '(none)'}"
    if "grades" in obj:
        return f"your grades in {obj['process']}: {', '.join(obj['grades'])}"
    if obj["kind"] == "delegate":
        return f"you stand as a delegate in {obj['process']}, as {obj['name']!r}"
    if obj["kind"] == "delegation":
        if obj["to"] is None:
            return f"your delegation in {obj['process']} revoked"
        return f"your vote in {obj['process']} delegated to {obj['to']}"
    if "choice" not in obj:
        return f"your signature on {obj['process']}"
    return f"your ballot in {obj['process']}: {', '.join(obj['choice']) or '(none)'}"
