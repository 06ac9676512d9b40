"""What a third party does with the evidence of an audit finding, trusting
nothing but the log's verifier key."""

from __future__ import annotations

import base64
from typing import Any

from urne.verifier.tlog.checkpoint import open_checkpoint
from urne.verifier.tlog.note import Ed25519Verifier
from urne.verifier.tlog.proof import verify_inclusion
from urne.verifier.tlog.rfc9162 import hash_leaf


def check_evidence(log_key: Ed25519Verifier, ev: dict[str, Any], index: int | None) -> bytes | None:
    """Check ``ev`` with ``log_key`` alone; returns the entry it proves to be in
    the log at ``index`` (to which the reader applies the rule the finding
    names), or None for evidence about checkpoints or tiles."""
    if "earlier" in ev:  # two signed checkpoints that cannot both be true
        a = open_checkpoint(ev["earlier"], log_key).checkpoint
        b = open_checkpoint(ev["later"], log_key).checkpoint
        assert (a.size, a.root) != (b.size, b.root)
    if "path" in ev:
        assert ev["path"].startswith("tile/")
    if "inclusion_proof" not in ev:
        return None
    # an entry, provably at ``index`` under a checkpoint the log's key signed
    assert index is not None
    cp = open_checkpoint(ev["checkpoint"], log_key).checkpoint
    entry = base64.b64decode(ev["entry"])
    verify_inclusion(
        hash_leaf(entry),
        index,
        cp.size,
        [base64.b64decode(h) for h in ev["inclusion_proof"]],
        cp.root,
    )
    return entry


def audit_catches(tmp: Any, signer: Any, leaves: list[bytes], step: int, code: str) -> None:
    """The audit of ``leaves`` (exported under ``tmp``, signed by ``signer``)
    finds ``code`` at ``step``, with evidence a third party checks against the
    log's key alone."""
    from tests.support.exported import exported_log
    from urne.verifier.check.audit import DirectorySource, audit

    r = audit(DirectorySource(exported_log(tmp, "bad", signer, leaves)), signer.verifier)
    assert not r.ok
    found = [(f.step, f.code) for f in r.findings]
    assert (step, code) in found, found
    finding = next(f for f in r.findings if (f.step, f.code) == (step, code))
    check_evidence(signer.verifier, finding.evidence, finding.index)
