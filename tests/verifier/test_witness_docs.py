"""The worked example of docs/spec/witness.md §2 recomputes: the key ID and
the cosignature line it shows are what Urne computes from the seed, the
checkpoint text and the time it gives."""

from __future__ import annotations

import re

from tests.support.paths import ROOT
from urne.verifier.tlog.cosignature import CosignatureSigner

DOC = (ROOT / "docs" / "spec" / "witness.md").read_text(encoding="utf-8")


def _field(name: str) -> str:
    m = re.search(rf"^    {re.escape(name)}:\s+(.+)$", DOC, re.M)
    assert m is not None, name
    return m.group(1).strip()


def test_the_documented_cosignature_recomputes() -> None:
    assert "seed `11` followed by 31 zero bytes" in DOC
    signer = CosignatureSigner("example.org/witness", bytes([0x11]) + bytes(31))
    text = _field("checkpoint text").replace("\\n", "\n")
    assert signer.witness.key_id.hex() == _field("key ID")
    line = signer.cosign(text, int(_field("timestamp"))).line()
    assert line == _field("cosignature") + "\n"
    assert signer.witness.vkey in DOC  # the key shown in §1
