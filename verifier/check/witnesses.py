"""The audit against witnesses (docs/spec/witness.md §6): what each witness
last cosigned for this log, compared with the log the audit reads.

A witness's monitoring endpoint (``GET <witness>/<hex SHA-256 of the
origin>/checkpoint``) answers the last checkpoint it cosigned, signed by the
log's key. Against the audited checkpoint of size ``N`` and root ``R``:

- same size: the roots must be equal. Two checkpoints of one size with two
  roots, both signed by the log's key, are a split view, and that pair is the
  whole evidence;
- smaller (``M < N``): the tree the audit rebuilt has a root at ``M``
  (computed from the log's own tiles), which must be the witness's. If it is
  not, the evidence is both checkpoints, that root, and the consistency proof
  from ``M`` to ``N`` built from the same tiles: with the log's key alone a
  third party checks that the proof leads from that root to ``R``, and that
  the witness's checkpoint, signed by the same key, names another root for
  ``M``;
- larger (``M > N``): the log has grown since, or the audit was shown an
  older branch. The log must prove the extension (its consistency proof from
  ``N`` to ``M``); a log that does not, or gives a proof that fails, is a
  finding, with both checkpoints and what it answered.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from urne.verifier.errors import FetchError, FormatError, ProofError, VerificationError
from urne.verifier.tlog import merkle
from urne.verifier.tlog.checkpoint import SignedCheckpoint, open_checkpoint
from urne.verifier.tlog.cosignature import WitnessPolicy, verify_cosignatures
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.tlog.proof import verify_consistency

__all__ = ["Dated", "Dating", "WitnessView", "compare", "date_entries", "dated_checkpoints",
           "monitoring_path"]  # fmt: skip

Node = Callable[[int, int], bytes]


def monitoring_path(origin: str) -> str:
    return f"{hashlib.sha256(origin.encode('utf-8')).hexdigest()}/checkpoint"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


@dataclass
class WitnessView:
    """What one witness said, and what the audit made of it."""

    witness: str
    size: int | None = None
    #: consistent, behind, ahead, unreadable, or a finding's code
    outcome: str = "unread"
    detail: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"witness": self.witness, "size": self.size, "outcome": self.outcome}
        if self.detail:
            out["detail"] = self.detail
        return out


def compare(
    witness: str,
    get_witness: Callable[[str], bytes],
    audited: SignedCheckpoint,
    log_key: Ed25519Verifier,
    node: Node,
    get_log: Callable[[str], bytes],
    policy: WitnessPolicy | None = None,
) -> WitnessView:
    """Compare ``witness``'s last cosigned checkpoint with ``audited``.

    ``node(level, index)`` is a complete subtree's hash from the tree the
    audit rebuilt (``KeyError`` where it kept none); ``get_log`` reads a path
    of the log (its consistency proofs). The view's ``outcome`` is a finding
    code (``split_view``, ``unproven_extension``) when the log is caught."""
    view = WitnessView(witness)
    ours = audited.checkpoint
    try:
        data = get_witness(monitoring_path(ours.origin))
    except FetchError as exc:
        view.outcome, view.detail = "unreadable", str(exc)
        return view
    try:
        theirs = open_checkpoint(data, log_key)
        if policy is not None:  # its own cosignature, where the reader trusts its key
            verify_cosignatures(theirs.note, policy.witnesses)
    except VerificationError as exc:
        view.outcome, view.detail = "unreadable", f"not a checkpoint of this log: {exc}"
        return view
    cp = theirs.checkpoint
    view.size = cp.size
    evidence: dict[str, Any] = {"checkpoint": audited.signed, "witness_checkpoint": theirs.signed}
    if cp.size == ours.size:
        if cp.root != ours.root:
            view.outcome = "split_view"
            view.detail = f"two roots signed for size {cp.size}"
            view.evidence = evidence
        else:
            view.outcome = "consistent"
        return view
    if cp.size < ours.size:
        try:
            root, proof = _prefix(node, cp.size, ours.size)
        except KeyError:
            return _from_log(
                view, cp.size, cp.root, ours.size, ours.root, get_log, evidence, "behind"
            )
        if root != cp.root:
            view.outcome = "split_view"
            view.detail = (
                f"the witness holds a checkpoint of size {cp.size} whose root is not the "
                "root of the log's first entries at that size"
            )
            view.evidence = _split_evidence(audited.signed, theirs.signed, root, proof)
        else:
            view.outcome = "behind"
        return view
    return _from_log(view, ours.size, ours.root, cp.size, cp.root, get_log, evidence, "ahead")


def _split_evidence(ours: str, theirs: str, root: bytes, proof: list[bytes]) -> dict[str, Any]:
    """Two checkpoints the log's key signed that cannot both be true: the
    rebuilt root at the smaller size, and the consistency proof from it to
    the audited root, both from the log's own tiles."""
    return {
        "checkpoint": ours,
        "witness_checkpoint": theirs,
        "root_at_witness_size": _b64(root),
        "consistency_proof": [_b64(h) for h in proof],
    }


def _prefix(node: Node, m: int, n: int) -> tuple[bytes, list[bytes]]:
    """The rebuilt tree's root at ``m`` and the consistency proof from it to ``n``
    (``KeyError`` where the audit kept no node)."""
    if m == 0:
        return hashlib.sha256(b"").digest(), []
    root = merkle.fold_range([node(*x) for x in merkle.range_nodes(0, m)])
    proof = [
        merkle.fold_range([node(*x) for x in merkle.range_nodes(b, e)])
        for b, e in merkle.consistency_ranges(m, n)
    ]
    return root, proof


def _from_log(
    view: WitnessView,
    size1: int,
    root1: bytes,
    size2: int,
    root2: bytes,
    get_log: Callable[[str], bytes],
    evidence: dict[str, Any],
    fine: str,
) -> WitnessView:
    """The log's own consistency proof between the two checkpoints."""
    if size1 == 0:
        view.outcome = fine
        return view
    try:
        data = get_log(f"log/proof/consistency?size1={size1}&size2={size2}")
    except FetchError as exc:  # no answer says nothing of the log's history
        view.outcome, view.detail = "inconclusive", f"the log did not answer: {exc}"
        return view
    try:
        answer = json.loads(data)
        proof = [base64.b64decode(h, validate=True) for h in answer["proof"]]
        verify_consistency(size1, size2, proof, root1, root2)
    except (ValueError, KeyError, TypeError, ProofError, FormatError) as exc:
        view.outcome = "unproven_extension"
        view.detail = f"the log does not prove that size {size1} extends to {size2}: {exc}"
        view.evidence = {**evidence, "log_answer": data.decode("utf-8", "replace")[:4096]}
        return view
    view.outcome = fine
    return view


# -- witnessed time -------------------------------------------------------------------------


@dataclass(frozen=True)
class Dated:
    """A quorum-cosigned checkpoint: by ``time`` (the quorum-th earliest of its
    witnesses' times), every entry below ``size`` existed."""

    size: int
    root: bytes
    time: int
    note: str


#: The most pages of cosigned checkpoints an audit reads (a thousand each).
MAX_PAGES = 1000
#: Seconds the witnesses' clocks may be behind the operator's before an
#: entry they saw counts as seen before its process opened.
CLOCK_TOLERANCE = 300


def dated_checkpoints(
    get_log: Callable[[str], bytes], log_key: Ed25519Verifier, policy: WitnessPolicy
) -> Iterator[Dated]:
    """The quorum-cosigned checkpoints the log serves (``log/cosigned``), a
    page at a time, each checked: signed by the log's key, cosigned by the
    policy's quorum. A ``VerificationError`` for one that is not; a
    ``FetchError`` for pages that are no pages or never end."""
    after, last = 0, -1
    for _ in range(MAX_PAGES):
        try:
            page = json.loads(get_log(f"log/cosigned?after={after}"))
            notes, more = page["checkpoints"], page["next"]
            if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
                raise TypeError("checkpoints is not a list of texts")
            if more is not None and (type(more) is not int or more <= after):
                raise TypeError("next is not a size beyond this page's")
        except (ValueError, KeyError, TypeError) as exc:
            raise FetchError(f"log/cosigned: not a page of checkpoints ({exc})") from exc
        for note in notes:
            signed = open_checkpoint(note, log_key)
            when = policy.existed_by(policy.check(signed.note))
            cp = signed.checkpoint
            if when is None or cp.size <= last:
                raise FormatError("log/cosigned: checkpoints not in increasing size")
            last = cp.size
            yield Dated(cp.size, cp.root, when, signed.signed)
        if more is None or not notes:
            return
        after = more
    raise FetchError(f"log/cosigned: more than {MAX_PAGES:,} pages")


@dataclass(frozen=True)
class Dating:
    """What witnessed time says of one entry, or of one cosigned checkpoint."""

    code: str
    message: str
    index: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


def date_entries(
    dated: Iterable[Dated],
    audited: SignedCheckpoint,
    node: Node,
    entries: list[tuple[int, str]],
    deadlines: dict[str, tuple[int, int]],
    commitments: dict[int, int] | None = None,
) -> tuple[list[Dating], dict[str, int]]:
    """Each cosigned checkpoint against the rebuilt tree (another root at its
    size: ``split_view``), then each of ``entries`` (``(index, process)``, in
    index order: this run's ballots and paper batches) dated by the first
    cosigned checkpoint holding it, against its process's ``(opens, closes)``
    (POSIX seconds): one the witnesses saw more than :data:`CLOCK_TOLERANCE`
    before the process opened is ``witnessed_before_opening``. Returns the
    findings and, per process, how many entries were first witnessed after it
    closed (not proven in time: reported, not a finding, since a log may show
    its witnesses a checkpoint later than it signed it). Reads ``dated`` once,
    keeping one checkpoint at a time.

    ``commitments`` maps the index of each sortition's manifest to the POSIX
    time its beacon round is released (docs/spec/sortition.md §3); it is
    filled with the time the witnesses first cosigned a checkpoint holding
    that manifest (the index maps to that time, or stays absent when no
    cosigned checkpoint of this run holds it)."""
    found: list[Dating] = []
    pending = sorted(commitments) if commitments else []
    witnessed: dict[int, int] = {}
    late: dict[str, int] = {}
    ours = audited.checkpoint
    k = 0
    for d in dated:
        if d.size > ours.size:
            break  # beyond what was audited: the next run's
        try:
            root, proof = (
                (ours.root, []) if d.size == ours.size else _prefix(node, d.size, ours.size)
            )
        except KeyError:
            root = d.root  # below what this run rebuilt: an earlier run checked it
            proof = []
        if root != d.root:
            found.append(Dating(
                "split_view",
                f"a cosigned checkpoint of size {d.size} is not this log's tree at that size",
                evidence=_split_evidence(audited.signed, d.note, root, proof),
            ))  # fmt: skip
            return found, late
        while pending and pending[0] < d.size:
            witnessed[pending.pop(0)] = d.time
        while k < len(entries) and entries[k][0] < d.size:
            i, pid = entries[k]
            k += 1
            opens, closes = deadlines[pid]
            if d.time + CLOCK_TOLERANCE < opens:
                leaf = node(0, i)
                inclusion = [
                    merkle.fold_range([node(*n) for n in merkle.range_nodes(b, e)])
                    for b, e in merkle.inclusion_ranges(i, d.size)
                ]
                found.append(Dating(
                    "witnessed_before_opening",
                    f"entry {i} of process {pid!r} was in a checkpoint the witnesses saw at "
                    f"{d.time}, before the process opened ({opens})",
                    index=i,
                    evidence={"witnessed_checkpoint": d.note, "leaf_hash": _b64(leaf),
                              "inclusion_proof": [_b64(h) for h in inclusion],
                              "opens": opens},
                ))  # fmt: skip
            elif d.time > closes + CLOCK_TOLERANCE:
                late[pid] = late.get(pid, 0) + 1
    if commitments is not None:
        commitments.clear()
        commitments.update(witnessed)
    return found, late
