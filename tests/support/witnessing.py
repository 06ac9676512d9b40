"""Witnesses of a served log: real ``urne-witness`` servers in threads of
the test process (HTTP on loopback, SQLite state)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from urne.ledger.log import Log
from urne.ledger.log.witnessing import WitnessEndpoint
from urne.verifier.tlog.cosignature import CosignatureSigner
from urne.verifier.witness.core import Witness
from urne.verifier.witness.server import WitnessServer
from urne.verifier.witness.state import SqliteStore


def witness_server(tmp: Path, log: Log, name: str) -> WitnessServer:
    """A witness of ``log`` named ``name``, served in a thread (stop it with
    ``shutdown`` and ``server_close``); its state in ``tmp``."""
    signer = CosignatureSigner.generate(name)
    store = SqliteStore(tmp / f"{name}.db", [log.origin])
    server = WitnessServer(("127.0.0.1", 0), Witness(signer, {log.origin: [log.verifier]}, store))
    server.serve_in_thread()
    return server


def endpoint(server: WitnessServer) -> WitnessEndpoint:
    """How ``urne serve --witness`` names the witness ``server``."""
    return WitnessEndpoint(server.witness.signer.witness, server.url)


def witness_servers(stack: ExitStack, tmp: Path, log: Log, n: int) -> list[WitnessEndpoint]:
    """``n`` witnesses of ``log`` (named ``w0.example``...), served until
    ``stack`` closes; their endpoints."""
    out = []
    for i in range(n):
        server = witness_server(tmp, log, f"w{i}.example")
        stack.callback(server.server_close)
        stack.callback(server.shutdown)
        out.append(endpoint(server))
    return out
