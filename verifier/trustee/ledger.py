"""The log as a trustee reads it, and the entries it posts.

A trustee acts on what the log holds, never on a summary the service sends:
:class:`HttpLedger` reads the signed checkpoint (under the log key the trustee
trusts), every entry from the start through the entry bundles of C2SP
tlog-tiles (each answer bounded in bytes and time,
``urne.verifier.check.fetch``), rebuilds the Merkle tree and compares its root
with the checkpoint's, and replays every entry through the rules
(``urne.verifier.civic.process.Registry``), as an auditor does. A log that
does not extend the checkpoint the trustee read last time, or that holds an
entry its rules refuse, is refused: the trustee takes no step on it.

Polling reads only what is new: the tree's border, the registry and the last
partial bundle stay in memory between two reads.

Two checks are left to the step that needs them, for the one process it
decrypts: the ballots' credentials (a pairing each, verified in one batch) and
the proofs of secret ballots (a few milliseconds each). The ballots of each
process are kept for it (:meth:`HttpLedger.ballots`), and a ceremony run,
which reads the log again and again, pays for none of those checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from urne.verifier.check.fetch import DEFAULT_DEADLINE, DEFAULT_TIMEOUT, Limits, fetch_url
from urne.verifier.check.receipt import Receipt, check_receipt
from urne.verifier.citizen.service import CitizenClient
from urne.verifier.civic.entries import Ballot, decode_entry
from urne.verifier.civic.process import Registry
from urne.verifier.errors import FormatError, ProofError, VerificationError
from urne.verifier.tlog import merkle
from urne.verifier.tlog.checkpoint import Checkpoint, open_checkpoint
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.tlog.rfc9162 import hash_leaf
from urne.verifier.tlog.tiles import TILE_WIDTH, decode_entry_bundle, entries_path, tile_width

__all__ = ["HttpLedger", "Ledger", "LogRefused", "service_log_key"]


class LogRefused(VerificationError):
    """The log served breaks its own rules or history: the trustee stops."""

    code = "log_refused"


class Ledger(Protocol):
    """What the trustee's steps need of a log."""

    #: the last signed checkpoint read, which the trustee keeps (None: not kept)
    checkpoint: str | None

    def refresh(self) -> Registry:
        """Read the log as it is now, every entry checked; the rules' state."""
        ...

    def post(self, leaf: bytes) -> int:
        """Append an entry; its index, once its receipt checks."""
        ...

    def ballots(self, process_id: str) -> list[Ballot]:
        """Every ballot of the process read so far, in log order (their
        credentials and proofs are the caller's to verify)."""
        ...


def _known(text: str | None, key: Ed25519Verifier) -> Checkpoint | None:
    if text is None:
        return None
    try:
        return open_checkpoint(text, key).checkpoint
    except VerificationError as exc:
        raise LogRefused(
            f"the checkpoint this trustee kept from its last read is not signed by the log "
            f"key it trusts ({exc})",
            code="bad_kept_checkpoint",
        ) from exc


class HttpLedger:
    """The log of the service at ``base``, read under ``log_key``.

    ``known``: the signed checkpoint read last time (from the trustee's file),
    which the log must extend."""

    def __init__(
        self,
        base: str,
        log_key: Ed25519Verifier,
        *,
        known: str | None = None,
        deadline: float = DEFAULT_DEADLINE,
        timeout: float = DEFAULT_TIMEOUT,
        get: Callable[[str], bytes] | None = None,
    ) -> None:
        """``get``: reads a tlog-tiles path (``checkpoint``, ``tile/entries/...``);
        by default over HTTP from ``base``, bounded (``urne.verifier.check.fetch``)."""
        self._read = get if get is not None else self._fetch
        self.client = CitizenClient(base, timeout=timeout)
        self.base = self.client.base
        self.log_key = log_key
        self.deadline, self.timeout = deadline, timeout
        self.limits = Limits()
        self.known = _known(known, log_key)
        #: the last signed checkpoint read (text), what the trustee keeps
        self.checkpoint: str | None = known
        # a trustee reads a whole log, then checks every ballot itself before it
        # decrypts (ceremony._check_ballots); the close sums on every core
        self.registry = Registry(
            credential_check=None,
            operator=log_key.public_key,
            ballot_proofs=False,
            running_sums=False,
        )
        self._border = merkle.CompactRange()
        self._partial: list[bytes] = []  # the entries of the last, partial bundle
        self._ballots: dict[str, list[Ballot]] = {}

    @property
    def size(self) -> int:
        return self._border.size

    def _fetch(self, path: str) -> bytes:
        most, what = self.limits.for_path(path)
        return fetch_url(
            f"{self.base}/{path}",
            max_bytes=most,
            what=what,
            deadline=self.deadline,
            timeout=self.timeout,
        )

    def refresh(self) -> Registry:
        try:
            signed = open_checkpoint(self._read("checkpoint"), self.log_key)
        except VerificationError as exc:
            raise LogRefused(
                f"the service's checkpoint is not signed by the log key this trustee trusts "
                f"({self.log_key.vkey}): {exc}; is this the log you took part in?",
                code="not_the_log",
            ) from exc
        cp = signed.checkpoint
        floor = max(self.size, self.known.size if self.known is not None else 0)
        if cp.size < floor:
            raise LogRefused(
                f"the log's checkpoint is of size {cp.size}, smaller than the {floor} entries "
                "this trustee read before: the log went back",
                code="log_shrank",
            )
        start = self.size - len(self._partial)
        for bundle in range(start // TILE_WIDTH, -(-cp.size // TILE_WIDTH)):
            width = tile_width(0, bundle, cp.size)
            path = entries_path(bundle, width)
            try:
                data = decode_entry_bundle(self._read(path), width=width)
            except FormatError as exc:
                raise LogRefused(f"{path}: {exc}", code="bad_entry_bundle") from exc
            first = bundle * TILE_WIDTH
            for k, leaf in enumerate(data):
                index = first + k
                if index < self.size:  # read before, in the partial bundle
                    if leaf != self._partial[k]:
                        raise LogRefused(
                            f"entry {index} now reads differently from when this trustee "
                            "read it: the log changed its history",
                            code="inconsistent_log",
                        )
                    continue
                self._append(index, leaf)
            self._partial = data if width < TILE_WIDTH else []
        if self._border.root() != cp.root:
            raise LogRefused(
                f"the {cp.size} entries served do not give the root of the log's signed checkpoint",
                code="root_mismatch",
            )
        self.checkpoint = signed.signed
        return self.registry

    def _append(self, index: int, leaf: bytes) -> None:
        self._border.append(hash_leaf(leaf), lambda *_: None)
        known = self.known
        if (
            known is not None
            and self._border.size == known.size
            and self._border.root() != known.root
        ):
            raise LogRefused(
                f"the log's first {known.size} entries are not those of the checkpoint "
                "this trustee read before: the log forked or changed its history",
                code="inconsistent_log",
            )
        try:
            entry = decode_entry(leaf)
            self.registry.check(entry, index)
        except VerificationError as exc:
            raise LogRefused(
                f"the log holds an entry its rules refuse, at index {index}: {exc} "
                f"({exc.code}); audit the log with urne-verify: a trustee takes no step "
                "on a log that breaks its rules",
                code="log_breaks_rules",
            ) from exc
        self.registry.apply(entry, index)
        body = entry.body
        if isinstance(body, Ballot):
            self._ballots.setdefault(body.process, []).append(body)

    def ballots(self, process_id: str) -> list[Ballot]:
        return list(self._ballots.get(process_id, ()))

    def post(self, leaf: bytes) -> int:
        """``POST /entries``; the receipt must be for these very bytes and check
        under the trusted log key. Refusals are the service's
        (``urne.verifier.citizen.service.ServiceRefused``)."""
        receipt = Receipt.from_json(self.client.post_json("/entries", leaf))
        if receipt.entry != leaf:
            raise ProofError("the service's receipt is for another entry", code="bad_receipt")
        check_receipt(receipt, self.log_key)
        return receipt.index


def service_log_key(base: str) -> str:
    """The verifier key the service says its log has (``GET /log``)."""
    answer = CitizenClient(base).get_json("/log")
    key = answer.get("verifier_key") if isinstance(answer, dict) else None
    if not isinstance(key, str):
        raise FormatError(f"{base}/log: no verifier_key in the answer")
    Ed25519Verifier.from_vkey(key)
    return key
