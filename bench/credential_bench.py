#!/usr/bin/env python3
"""Credential verifications per second: one by one against batched, on both backends.

For ``--n`` credentials of one process (one issuer key, distinct pseudonyms),
in the same run:

- ``single``: :func:`urne.verifier.credentials.credential.verify_credential` on each credential
  (decode, hash to G1, two-pairing check per credential);
- ``batch``: one :func:`urne.verifier.credentials.credential.verify_credentials_batch` call over
  all of them (decode and hash each, two MSMs, two pairings for the batch);

on arkworks with ``--n`` credentials and on the py_ecc reference with a small
sample (``--ref-n``), and prints rates and ratios (batch/single,
arkworks/py_ecc). The arkworks batch is also broken down into its parts, and
the blind issuance round trip is timed. Only verification calls are timed;
making the credentials is not. Every timed verification must accept, and a
batch with one bad credential must be refused afterwards, so nothing wrong is
ever timed as a success.

Run ``python bench/credential_bench.py --help``; results in docs/spec/credentials.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from urne.ledger.issuance.issuer_key import IssuerKey
from urne.verifier.citizen.blinding import Pseudonym, blind, unblind
from urne.verifier.credentials import bls
from urne.verifier.credentials.credential import (
    CREDENTIAL_DST,
    credential_message,
    verify_credential,
    verify_credentials_batch,
)

ROOT = Path(__file__).resolve().parent.parent

PROCESS = "bench-process"
Item = tuple[str, bytes, bytes]


def make_items(key: IssuerKey, n: int) -> list[Item]:
    """n (process, pseudonym, credential), deterministic, signed with arkworks (not timed)."""
    be = bls.get_backend("arkworks")
    items = []
    for i in range(n):
        nym = Pseudonym.from_seed(hashlib.sha256(b"bench pseudonym %d" % i).digest()).public_key
        hashed = be.g1_compress(be.hash_to_g1(credential_message(PROCESS, nym), CREDENTIAL_DST))
        items.append((PROCESS, nym, key.sign_blinded(hashed, backend=be)))
    return items


def best_of(repeat: int, run: Callable[[], bool]) -> float:
    """The shortest wall-clock time of ``repeat`` runs; every run must accept."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        ok = run()
        elapsed = time.perf_counter() - start
        if not ok:
            raise SystemExit("a timed verification refused a valid credential")
        best = min(best, elapsed)
    return best


def measure(
    be: bls.AnyBackend, key: IssuerKey, items: list[Item], repeat: int
) -> tuple[float, float]:
    """(single verifications/s, batch verifications/s) on ``items``."""
    pk = key.public_key
    single = best_of(
        repeat, lambda: all(verify_credential(pk, *item, backend=be) for item in items)
    )
    batch = best_of(repeat, lambda: verify_credentials_batch(pk, items, backend=be))
    bad = [*items[:-1], (PROCESS, items[-1][1], items[0][2])]
    if verify_credentials_batch(pk, bad, backend=be):
        raise SystemExit(f"{be.name}: a batch with a bad credential was accepted")
    return len(items) / single, len(items) / batch


def breakdown(key: IssuerKey, items: list[Item]) -> list[tuple[str, float]]:
    """Where an arkworks batch spends its time (seconds for the whole batch)."""
    be = bls.get_backend("arkworks")
    weights = [bls.random_weight() for _ in items]
    parts: list[tuple[str, float]] = []

    def timed(name: str, run: Callable[[], object]) -> object:
        start = time.perf_counter()
        result = run()
        parts.append((name, time.perf_counter() - start))
        return result

    messages = [credential_message(p, nym) for p, nym, _ in items]
    sigs = timed("decode + subgroup-check S_i", lambda: [be.g1_decompress(c) for *_, c in items])
    hashes = timed("hash_to_G1 H_i", lambda: [be.hash_to_g1(m, CREDENTIAL_DST) for m in messages])
    s_agg = timed("MSM sum rho_i S_i", lambda: be.g1_msm(sigs, weights))  # type: ignore[arg-type]
    h_agg = timed("MSM sum rho_i H_i", lambda: be.g1_msm(hashes, weights))  # type: ignore[arg-type]
    pk = be.g2_decompress(key.public_key)
    ok = timed("2 pairings", lambda: be.core_verify(pk, h_agg, s_agg))
    if not ok:
        raise SystemExit("breakdown: the batch did not verify")
    return parts


def issuance_rate(key: IssuerKey, n: int) -> float:
    """Blind issuance round trips per second on arkworks (blind, sign, unblind + check)."""
    be = bls.get_backend("arkworks")
    messages = [credential_message(PROCESS, bytes([i % 256]) * 32) for i in range(n)]
    start = time.perf_counter()
    for message in messages:
        state, blinded = blind(message, backend=be)
        unblind(state, key.sign_blinded(blinded, backend=be), key.public_key, backend=be)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="credentials on arkworks")
    parser.add_argument("--ref-n", type=int, default=8, help="credentials on py_ecc")
    parser.add_argument("--repeat", type=int, default=3, help="arkworks runs (best kept)")
    args = parser.parse_args()

    versions = ", ".join(
        f"{d} {metadata.version(d)}" for d in ("py_arkworks_bls12381", "py_ecc", "PyNaCl")
    )
    print(f"Python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"{versions}\n")

    key = IssuerKey(bls.keygen(b"urne credential benchmark issuer!"))
    items = make_items(key, max(args.n, args.ref_n))
    rows = []
    for name, n, repeat in (("arkworks", args.n, args.repeat), ("py_ecc", args.ref_n, 1)):
        single, batch = measure(bls.get_backend(name), key, items[:n], repeat)  # type: ignore[arg-type]
        rows.append((name, n, single, batch))

    print(f"{'backend':<10}{'n':>6}{'single/s':>12}{'batch/s':>12}{'batch/single':>14}")
    for name, n, single, batch in rows:
        print(f"{name:<10}{n:>6}{single:>12.1f}{batch:>12.1f}{batch / single:>14.2f}")
    (_, _, ark_single, ark_batch), (_, _, ref_single, ref_batch) = rows
    print(
        f"\narkworks/py_ecc: single {ark_single / ref_single:.0f}x, "
        f"batch {ark_batch / ref_batch:.0f}x"
    )

    print(f"\narkworks batch of {args.n}, by part:")
    parts = breakdown(key, items[: args.n])
    total = sum(t for _, t in parts)
    for name, t in parts:
        print(f"  {name:<30}{t * 1000:>9.1f} ms {100 * t / total:>5.1f}%")
    issuance_n = min(args.n, 200)
    print(f"\narkworks blind issuance round trips: {issuance_rate(key, issuance_n):.0f}/s")


if __name__ == "__main__":
    main()
