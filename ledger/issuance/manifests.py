"""A process's manifest for an issuance host that keeps no log
(docs/spec/eligibility.md §5): read from the log's service, and believed
only once proven.

An issuer that answers people an identity provider vouches for needs the
manifest's rule and closing time. Run apart from the log (so that it sees
nothing of how anyone votes, not even the timing on one machine), it reads
the manifest from the log's public API -- ``GET /processes/{id}`` for its
index, then ``GET /entries/{index}/receipt`` -- and checks the receipt as a
citizen does: the checkpoint signed by the log's key the operator configured,
the entry's inclusion proof. The manifest must also name this issuer's key
for the process. A manifest never changes, so it is kept once proven; whether
the process is closed is asked again at each request (the log's service can
only withhold issuance with that answer, never grant it: the closing time is
checked here too, on the manifest)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from urne.ledger.errors import LedgerError, NotFound
from urne.ledger.issuance.errors import IssuanceConflict
from urne.ledger.issuance.keyring import IssuerKeyring
from urne.verifier.check.receipt import Receipt, check_receipt
from urne.verifier.citizen.service import CitizenClient, ServiceRefused
from urne.verifier.civic.entries import Process, decode_entry
from urne.verifier.errors import FetchError, UrneError
from urne.verifier.tlog.note import Ed25519Verifier

__all__ = ["LogManifests", "LogUnavailable"]


class LogUnavailable(LedgerError):
    """The log's service did not answer, or answered what its key does not
    prove (``log_unavailable``, ``manifest_unproven``)."""

    code = "log_unavailable"
    status = 503


def _parse(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


class LogManifests:
    """The manifests of the log at ``url``, proven under ``log_key``."""

    def __init__(
        self,
        url: str,
        log_key: Ed25519Verifier,
        keyring: IssuerKeyring,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timeout: float = 10.0,
    ) -> None:
        self.client = CitizenClient(url, timeout=timeout)
        self.log_key = log_key
        self.keyring = keyring
        self.clock = clock
        self._lock = threading.Lock()
        self._proven: dict[str, Process] = {}

    def _get(self, path: str) -> object:
        try:
            return self.client.get_json(path)
        except ServiceRefused as exc:
            if exc.code == "unknown_process":
                raise NotFound(str(exc), code="unknown_process") from exc
            raise LogUnavailable(f"the log's service refused {path}: {exc}") from exc
        except FetchError as exc:
            raise LogUnavailable(f"the log's service did not answer {path}: {exc}") from exc

    def _summary(self, process_id: str) -> dict[str, object]:
        summary = self._get(f"/processes/{process_id}")
        if not isinstance(summary, dict) or not isinstance(summary.get("index"), int):
            raise LogUnavailable(f"the log's service describes {process_id!r} without its index")
        return summary

    def _prove(self, process_id: str, index: int) -> Process:
        try:
            receipt = Receipt.from_json(self._get(f"/entries/{index}/receipt"))
            check_receipt(receipt, self.log_key)
            entry = decode_entry(receipt.entry)
        except UrneError as exc:
            if isinstance(exc, LedgerError):
                raise
            raise LogUnavailable(
                f"the manifest of {process_id!r} the log's service gave is not proven by the "
                f"log's key: {exc}",
                code="manifest_unproven",
            ) from exc
        process = entry.body
        if not isinstance(process, Process) or process.id != process_id:
            raise LogUnavailable(
                f"entry {index} of the log is not the manifest of {process_id!r}",
                code="manifest_unproven",
            )
        if process.issuer_key != self.keyring.public_key(process_id):
            raise LogUnavailable(
                f"the manifest of {process_id!r} names another issuer key than this issuer's",
                code="manifest_unproven",
            )
        return process

    def process(self, process_id: str) -> Process:
        """The manifest of ``process_id``, proven; refused once the process is
        closed on the log (``process_closed``) or past its closing time
        (``process_ended``)."""
        summary = self._summary(process_id)
        with self._lock:
            found = self._proven.get(process_id)
        if found is None:
            index = summary["index"]
            assert isinstance(index, int)
            found = self._prove(process_id, index)
            with self._lock:
                self._proven[process_id] = found
        if summary.get("closed"):
            raise IssuanceConflict(f"process {process_id!r} is closed", code="process_closed")
        if self.clock() >= _parse(found.closes):
            raise IssuanceConflict(f"process {process_id!r} closed at {found.closes}",
                                code="process_ended")  # fmt: skip
        return found
