"""RFC 9162 proof verification against third-party vectors.

Every probe of transparency-dev/merkle and of the C2SP CCTV suite must be
accepted or rejected exactly as its ``wantErr`` (or file name) says.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.support.paths import VECTORS, load_vector
from urne.verifier.errors import FormatError, ProofError, VerificationError
from urne.verifier.tlog.proof import (
    consistency_proof_length,
    inclusion_proof_length,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from urne.verifier.tlog.rfc9162 import empty_root, hash_children, hash_leaf

TD = VECTORS / "rfc9162" / "transparency-dev-merkle" / "testdata"
CCTV = VECTORS / "rfc9162" / "c2sp-cctv-merkle-rgdd" / "testdata"


def _b(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


def _proof(p: list[str] | None) -> list[bytes]:
    return [_b(h) for h in (p or [])]


def _files(kind: str) -> list[Path]:
    files = sorted((TD / kind).rglob("*.json"))
    return files


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.stem}"


@pytest.mark.parametrize("path", _files("inclusion"), ids=_id)
def test_transparency_dev_inclusion(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (_b(v["leafHash"]), v["leafIdx"], v["treeSize"], _proof(v["proof"]), _b(v["root"]))
    if v["wantErr"]:
        with pytest.raises(VerificationError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _files("consistency"), ids=_id)
def test_transparency_dev_consistency(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (v["size1"], v["size2"], _proof(v["proof"]), _b(v["root1"]), _b(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(VerificationError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_transparency_dev_vectors_are_all_there() -> None:
    # 98 + 98 probes as the vectors' README says; a silently empty glob must fail.
    inc, con = _files("inclusion"), _files("consistency")
    assert len(inc) == 98 and len(con) == 98
    wants = [json.loads(p.read_text())["wantErr"] for p in inc + con]
    assert wants.count(False) == 12


def test_cctv_tree_leaves_and_roots() -> None:
    tree = json.loads((CCTV / "merkle_tree.json").read_text())
    assert len(tree) == 16
    from urne.verifier.tlog.merkle import CompactRange

    cr = CompactRange()
    for step in tree:
        lh = hash_leaf(step["leaf_data"].encode())
        assert lh == _b(step["leaf_hash"])
        cr.append(lh, lambda *_: None)
        assert cr.root() == _b(step["root_hash"])


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "invalid"])
def test_cctv_inclusion(valid: bool) -> None:
    cases = json.loads((CCTV / f"inclusion-{'valid' if valid else 'invalid'}.json").read_text())
    assert cases
    for c in cases:
        args = (
            _b(c["leaf_hash"]),
            c["leaf_index"],
            c["tree_size"],
            _proof(c["inclusion_path"]),
            _b(c["root_hash"]),
        )
        if valid:
            verify_inclusion(*args)
        else:
            with pytest.raises(VerificationError):
                verify_inclusion(*args)


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "invalid"])
def test_cctv_consistency(valid: bool) -> None:
    cases = json.loads((CCTV / f"consistency-{'valid' if valid else 'invalid'}.json").read_text())
    assert cases
    for c in cases:
        args = (
            c["old_size"],
            c["new_size"],
            _proof(c["consistency_path"]),
            _b(c["old_root"]),
            _b(c["new_root"]),
        )
        # CCTV accepts proofs from size 0; Urne refuses them (see vectors/README.md).
        if valid and c["old_size"] > 0:
            verify_consistency(*args)
        else:
            with pytest.raises(VerificationError):
                verify_consistency(*args)


def test_go_literals_known_answers() -> None:
    v = load_vector("rfc9162/rfc6962_go_test_literals.json")
    assert empty_root().hex() == v["empty_tree_root"]
    for ka in v["hash_known_answers"]:
        if ka["kind"] == "leaf":
            assert hash_leaf(bytes.fromhex(ka["data_hex"])).hex() == ka["want"]
        elif ka["kind"] == "node_raw":
            got = hash_children(bytes.fromhex(ka["left_hex"]), bytes.fromhex(ka["right_hex"]))
            assert got.hex() == ka["want"]
        else:
            assert empty_root().hex() == ka["want"]


def test_go_literal_proofs_verify() -> None:
    v = load_vector("rfc9162/rfc6962_go_test_literals.json")
    leaves = [bytes.fromhex(x) for x in v["leaves"]]
    roots = {int(k): bytes.fromhex(r) for k, r in v["roots_by_tree_size"].items()}
    for p in v["inclusion_probes"]:
        proof = [bytes.fromhex(h) for h in p["proof"]]
        lh = hash_leaf(leaves[p["leaf_index"]])
        verify_inclusion(lh, p["leaf_index"], p["tree_size"], proof, roots[p["tree_size"]])
        assert len(proof) == inclusion_proof_length(p["leaf_index"], p["tree_size"])
    for p in v["consistency_probes"]:
        proof = [bytes.fromhex(h) for h in p["proof"]]
        verify_consistency(p["size1"], p["size2"], proof, roots[p["size1"]], roots[p["size2"]])
        assert len(proof) == consistency_proof_length(p["size1"], p["size2"])


def test_errors_say_what_was_wrong() -> None:
    lh = hash_leaf(b"x")
    with pytest.raises(ProofError, match="index 3 is not below tree size 3") as e:
        verify_inclusion(lh, 3, 3, [], lh)
    assert e.value.code == "bad_index"
    with pytest.raises(FormatError, match="proof\\[1\\] is 31 bytes, want 32"):
        root_from_inclusion_proof(lh, 0, 4, [lh, lh[:31]])
    with pytest.raises(ProofError, match="has 1 hashes, want 2") as e:
        root_from_inclusion_proof(lh, 0, 4, [lh])
    assert e.value.code == "bad_proof_length"
    with pytest.raises(ProofError, match="from size 0"):
        root_from_consistency_proof(0, 5, [], empty_root())
    with pytest.raises(ProofError, match="smaller than size1"):
        root_from_consistency_proof(5, 4, [], lh)
    with pytest.raises(ProofError, match="root mismatch") as e:
        verify_inclusion(lh, 0, 1, [], hash_leaf(b"y"))
    assert e.value.code == "root_mismatch"
