"""A process's manifest for an issuance host that keeps no log
(docs/spec/eligibility.md §5): read from the log's service, and believed
only once proven.

An issuer that answers people an identity provider vouches for needs the
manifest's rule and closing time. Run apart from the log (so that it sees
nothing of how anyone votes, not even the timing on one machine), it reads
the manifest from the log's public API -- ``GET /processes/{id}`` for its
index, then ``GET /entries/{index}/receipt`` -- and checks the receipt as a
citizen does: the checkpoint signed by the log's key the operator configured,
with the quorum of the witnesses it trusts if it trusts any, and the entry's
inclusion proof. The manifest must be signed by the institution it names and
name this issuer's key for the process.

The log's service is asked on a timer of this host's own, for every process
whose issuer key is here, never because a citizen asked: otherwise the log's
operator would learn when each person logged in at the provider, and could
set it beside the ballots cast just after. A manifest never changes, so it is
kept once proven; whether the process was closed is refreshed on the same
timer (the log's service can only withhold issuance with that answer; the
closing time is checked on the manifest itself, at each request). A process
not yet known (opened since the last round) is read once, at its first
request."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from urne.ledger.errors import LedgerError, NotFound
from urne.ledger.issuance.errors import IssuanceConflict
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.verifier.check.receipt import Receipt, check_receipt
from urne.verifier.citizen.service import CitizenClient, ServiceRefused
from urne.verifier.civic.entries import IDENTIFIER, Process, decode_entry, verify_entry_signature
from urne.verifier.errors import FetchError, UrneError
from urne.verifier.tlog.cosignature import WitnessPolicy
from urne.verifier.tlog.note import Ed25519Verifier

__all__ = ["REFRESH", "LogManifests", "LogUnavailable"]

logger = logging.getLogger(__name__)

#: Seconds between two rounds of reading the log's processes.
REFRESH = 60.0


class LogUnavailable(LedgerError):
    """The log's service did not answer, or answered what its key (and the
    witnesses this issuer trusts) do not prove (``log_unavailable``,
    ``manifest_unproven``)."""

    code = "log_unavailable"
    status = 503


def _parse(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


@dataclass
class _Known:
    process: Process
    closed: bool


class LogManifests:
    """The manifests of the log at ``url``, proven under ``log_key`` (and
    ``policy``'s witnesses); :meth:`start` begins the rounds."""

    def __init__(
        self,
        url: str,
        log_key: Ed25519Verifier,
        keyring: IssuerKeyring,
        *,
        policy: WitnessPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timeout: float = 10.0,
        refresh: float = REFRESH,
    ) -> None:
        self.client = CitizenClient(url, timeout=timeout)
        self.log_key = log_key
        self.keyring = keyring
        self.policy = policy
        self.clock = clock
        self.refresh = refresh
        self._lock = threading.Lock()
        self._known: dict[str, _Known] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading the log ------------------------------------------------------------------

    def _get(self, path: str) -> object:
        try:
            return self.client.get_json(path)
        except ServiceRefused as exc:
            if exc.code == "unknown_process":
                raise NotFound(str(exc), code="unknown_process") from exc
            raise LogUnavailable(f"the log's service refused {path}: {exc}") from exc
        except FetchError as exc:
            raise LogUnavailable(f"the log's service did not answer {path}: {exc}") from exc

    def _prove(self, process_id: str, index: int) -> Process:
        try:
            receipt = Receipt.from_json(self._get(f"/entries/{index}/receipt"))
            signed = check_receipt(receipt, self.log_key)
            if self.policy is not None:
                self.policy.check(signed.note)
            entry = decode_entry(receipt.entry)
            process = entry.body
            if not isinstance(process, Process) or process.id != process_id:
                raise LogUnavailable(
                    f"entry {index} of the log is not the manifest of {process_id!r}",
                    code="manifest_unproven",
                )
            verify_entry_signature(entry, process.institution)
        except LedgerError:
            raise
        except UrneError as exc:
            raise LogUnavailable(
                f"the manifest of {process_id!r} the log's service gave is not proven: {exc}",
                code="manifest_unproven",
            ) from exc
        if process.issuer_key != self.keyring.public_key(process_id):
            raise LogUnavailable(
                f"the manifest of {process_id!r} names another issuer key than this issuer's",
                code="manifest_unproven",
            )
        return process

    def read(self, process_id: str) -> _Known:
        """Ask the log's service about ``process_id`` now, and keep the answer."""
        summary = self._get(f"/processes/{process_id}")
        if not isinstance(summary, dict) or not isinstance(summary.get("index"), int):
            raise LogUnavailable(f"the log's service describes {process_id!r} without its index")
        with self._lock:
            known = self._known.get(process_id)
        process = known.process if known is not None else self._prove(process_id, summary["index"])
        found = _Known(process, bool(summary.get("closed")))
        with self._lock:
            self._known[process_id] = found
        return found

    def round(self) -> None:
        """One round: every process whose issuer key is here, read again."""
        for pid in self._processes():
            try:
                self.read(pid)
            except UrneError as exc:  # not opened yet, or the log is away: next round
                logger.debug("reading %s from the log: %s", pid, exc.code)

    def _processes(self) -> list[str]:
        issuers = self.keyring.issuers_dir
        if not issuers.is_dir():
            return []
        return sorted(
            p.name[: -len(".pub")]
            for p in issuers.glob("*.pub")
            if IDENTIFIER.fullmatch(p.name[: -len(".pub")])
        )

    # -- the timer ----------------------------------------------------------------------

    def start(self) -> None:
        def run() -> None:
            while not self._stop.is_set():
                self.round()
                self._stop.wait(self.refresh)

        self._thread = threading.Thread(target=run, name="urne-log-manifests", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.client.timeout + 5)

    # -- answering ------------------------------------------------------------------------

    def process(self, process_id: str) -> Process:
        """The manifest of ``process_id``, proven; refused once the process is
        closed on the log (``process_closed``, as of the last round) or past
        its closing time (``process_ended``). Asks the log only for a process
        it does not know yet."""
        with self._lock:
            known = self._known.get(process_id)
        if known is None:
            known = self.read(process_id)
        if known.closed:
            raise IssuanceConflict(f"process {process_id!r} is closed", code="process_closed")
        if self.clock() >= _parse(known.process.closes):
            raise IssuanceConflict(f"process {process_id!r} closed at {known.process.closes}",
                                   code="process_ended")  # fmt: skip
        return known.process
