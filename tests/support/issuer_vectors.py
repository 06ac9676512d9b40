"""A recorded issuers' key ceremony (docs/spec/issuer-ceremony.md §7): the
entries of docs/spec/issuer-ceremony-vectors.json, with every secret of its
three offices, so that a second implementation can replay the transcript,
decrypt each dealt share and recompute the issuer key, each office's share
and share key, and check a credential two offices signed.

``python -m tests.support.issuer_vectors`` writes the file (new random values
each time); tests/verifier/test_issuer_vectors.py checks the file as it is.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.civic import Institution, institution_name
from tests.support.paths import ROOT
from tests.support.secret import Board
from urne.verifier.citizen import authoring
from urne.verifier.citizen.signing import AuthorKey
from urne.verifier.civic.entries import b64encode, decode_entry
from urne.verifier.civic.secret import manifest_fingerprint

PATH = ROOT / "docs" / "spec" / "issuer-ceremony-vectors.json"
PID = "petition-2027"


def _scalar(k: int) -> str:
    return b64encode(k.to_bytes(32, "little"))


def build() -> dict[str, Any]:
    operator, inst = AuthorKey.generate(), Institution()
    board = Board.make(PID, 3, 2, issuer=True)
    key = inst.key.public_key
    leaves = [
        authoring.registration(institution_name(key), key, operator),
        authoring.reservation(PID, key, board.reservation_field(), operator),
    ]
    board.opened(leaves[1])
    board.ceremony(lambda leaf: leaves.append(leaf) or len(leaves) - 1, inst.key)
    manifest = inst.process(
        PID,
        "petition",
        rule={"threshold": 2},
        issuer_key=board.manifest_issuer({j: f"https://office-{j}.example.org" for j in (1, 2, 3)}),
    )
    leaves.append(manifest)
    pseudonym, credential = board.credential((1, 3))
    leaves.append(authoring.signature(PID, pseudonym, credential))
    manifest_issuer = decode_entry(manifest).obj["issuer"]
    return {
        "description": (
            "An issuers' key ceremony of three offices, two of which sign each credential "
            "(docs/spec/issuer-ceremony.md): the log's entries in order, each base64 of its "
            "exact bytes, and every secret of the offices. Scalars are 32 bytes little-endian; "
            "points are compressed BLS12-381 G2 (96 bytes)."
        ),
        "log_key": b64encode(operator.public_key),
        "process": PID,
        "threshold": 2,
        "reservation_fingerprint": manifest_fingerprint(decode_entry(leaves[1])).hex(),
        "offices": [
            {
                "index": x.index,
                "share_secret": _scalar(x.e),
                "coefficients": [_scalar(a) for a in x.coefficients],
                "share": _scalar(board.share(x.index)),
                "share_public_key": next(
                    o["public_key"] for o in manifest_issuer["offices"] if o["share"] == x.index
                ),
            }
            for x in board.trustees
        ],
        "issuer_key": b64encode(board.key),
        "credential": {
            "pseudonym": b64encode(pseudonym.public_key),
            "signed_by": [1, 3],
            "credential": b64encode(credential),
        },
        "entries": [b64encode(leaf) for leaf in leaves],
    }


def main() -> None:
    PATH.write_text(json.dumps(build(), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
