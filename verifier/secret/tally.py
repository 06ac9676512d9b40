"""The secret tally: aggregate, decryption shares, and the bounded discrete log.

- The aggregate of an option is the product of its ciphertexts over the counted
  ballots (the last ballot of each pseudonym before the close):
  ``(prod alpha, prod beta) = (g^R, h^R g^T)`` where ``T`` is the option's total.
- A qualified trustee ``j`` publishes ``D_j = alpha^{x_j}`` for each aggregate with
  a proof that ``log_g X_j = log_alpha D_j`` (``X_j`` its verification key).
- Any ``t`` valid shares give ``alpha^x = prod D_j^{lambda_j}`` (Lagrange at 0),
  and ``g^T = beta / alpha^x``.
- ``T`` is found by baby-step giant-step below a bound (the number of counted
  ballots): ``O(sqrt(bound))`` group operations.
"""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from urne.verifier.errors import ProofError
from urne.verifier.secret.dkg import lagrange_at_zero
from urne.verifier.secret.group import Group
from urne.verifier.secret.proofs import Ciphertext, Context, DleqProof

__all__ = [
    "aggregate",
    "aggregate_encoded",
    "combine",
    "decryption_context",
    "decryption_label",
    "discrete_log",
    "share_decryption",
    "verify_decryption",
]


def decryption_context(group: Group, fingerprint: bytes, key: bytes) -> Context:
    return Context(group, (fingerprint, key))


def decryption_label(option: int) -> bytes:
    return b"decrypt" + option.to_bytes(4, "big")


def aggregate(
    group: Group, ballots: Sequence[Sequence[Ciphertext]], options: int
) -> list[Ciphertext]:
    """The product of each option's ciphertexts (the identity pair for no ballot)."""
    alphas = [group.identity] * options
    betas = [group.identity] * options
    for ballot in ballots:
        for k, ct in enumerate(ballot):
            alphas[k] = group.add(alphas[k], ct.alpha)
            betas[k] = group.add(betas[k], ct.beta)
    return [Ciphertext(a, b) for a, b in zip(alphas, betas, strict=True)]


#: A worker: a fresh interpreter (as urne.verifier.check.workers explains, not
#: multiprocessing, which would run the caller's main script again), reading one
#: pickled chunk on stdin and writing its sums, pickled, on stdout.
_WORKER = """
import os, pickle, sys
sys.path[:0] = pickle.loads(bytes.fromhex(os.environ["URNE_WORKER_PATH"]))
from urne.verifier.secret.tally import _sum_chunk
out = pickle.dumps(_sum_chunk(pickle.loads(sys.stdin.buffer.read())))
sys.stdout.buffer.write(out)
"""


def sum_in_worker(args: tuple[list[tuple[bytes, ...]], int]) -> list[bytes]:
    """The sums of one chunk ``(ballots, options)``, in a worker process."""
    env = {**os.environ, "URNE_WORKER_PATH": pickle.dumps([p for p in sys.path if p]).hex()}
    run = subprocess.run(
        [sys.executable, "-c", _WORKER], input=pickle.dumps(args), capture_output=True, env=env
    )
    if run.returncode != 0:
        raise OSError(f"a summing worker failed: {run.stderr.decode(errors='replace')[-500:]}")
    result: list[bytes] = pickle.loads(run.stdout)  # from our own child
    return result


def _sum_chunk(args: tuple[list[tuple[bytes, ...]], int]) -> list[bytes]:
    """In a worker process: the sums of one chunk, ``alpha || beta`` per option."""
    from urne.verifier.secret.group import ristretto255

    chunk, options = args
    g = ristretto255()
    cts = [[Ciphertext(c[:32], c[32:]) for c in b] for b in chunk]
    return [c.to_bytes() for c in aggregate(g, cts, options)]


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


#: Below this many ballots, summing in this process costs less than starting workers.
PARALLEL_MIN = 20_000


def aggregate_encoded(
    group: Group, ballots: Sequence[Sequence[bytes]], options: int, *, workers: int = 1
) -> list[Ciphertext]:
    """:func:`aggregate` of ballots given as ``alpha || beta`` encodings, on
    ``workers`` processes when there are many (ristretto255 only): each sum
    costs two additions per option and ballot, a few seconds per 100,000
    ballots of 4 options on one core, and the sums of chunks add up."""
    if workers <= 1 or len(ballots) < PARALLEL_MIN or group.name != "ristretto255":
        cts = [[Ciphertext(c[:32], c[32:]) for c in b] for b in ballots]
        return aggregate(group, cts, options)
    size = -(-len(ballots) // workers)
    chunks = [
        ([tuple(b) for b in ballots[k : k + size]], options) for k in range(0, len(ballots), size)
    ]
    with ThreadPoolExecutor(len(chunks)) as threads:
        partial = list(threads.map(sum_in_worker, chunks))
    return aggregate(
        group, [[Ciphertext(c[:32], c[32:]) for c in part] for part in partial], options
    )


def share_decryption(
    ctx: Context, share: int, aggregates: Sequence[Ciphertext]
) -> list[tuple[bytes, DleqProof]]:
    """Trustee's ``(D_k, proof)`` for each aggregate."""
    g = ctx.group
    return [
        (g.mul(share, ct.alpha), DleqProof.prove(ctx, decryption_label(k), share, ct.alpha))
        if ct.alpha != g.identity
        else (g.identity, DleqProof(0, 0))
        for k, ct in enumerate(aggregates)
    ]


def verify_decryption(
    ctx: Context,
    verification_key: bytes,
    aggregates: Sequence[Ciphertext],
    shares: Sequence[bytes],
    proofs: Sequence[DleqProof],
) -> None:
    """Raise :class:`ProofError` (``bad_decryption``) unless every share is proven."""
    if not len(shares) == len(proofs) == len(aggregates):
        raise ProofError(
            f"{len(shares)} shares for {len(aggregates)} options", code="bad_decryption"
        )
    for k, (ct, d, p) in enumerate(zip(aggregates, shares, proofs, strict=True)):
        if ct.alpha == ctx.group.identity:
            if d != ctx.group.identity or (p.c, p.s) != (0, 0):
                raise ProofError(
                    f"option {k}: the share of an empty aggregate is the identity, its proof zero",
                    code="bad_decryption",
                )
            continue
        try:
            p.verify(ctx, decryption_label(k), verification_key, ct.alpha, d)
        except ProofError as exc:
            raise ProofError(
                f"option {k}: the decryption share is not proven correct", code="bad_decryption"
            ) from exc


def combine(
    group: Group, aggregates: Sequence[Ciphertext], shares: Mapping[int, Sequence[bytes]]
) -> list[bytes]:
    """``g^{T_k}`` for each option, from the shares of exactly ``t`` trustees."""
    lam = lagrange_at_zero(sorted(shares), group.order)
    out = []
    for k, ct in enumerate(aggregates):
        ax = group.identity
        for j, ds in shares.items():
            ax = group.add(ax, group.mul(lam[j], ds[k]))
        out.append(group.sub(ct.beta, ax))
    return out


def discrete_log(group: Group, point: bytes, bound: int) -> int | None:
    """The ``T`` in ``0 .. bound`` with ``g^T = point``, or ``None``."""
    m = math.isqrt(bound) + 1
    table: dict[bytes, int] = {}
    acc = group.identity
    for j in range(m):
        table.setdefault(acc, j)
        acc = group.add(acc, group.generator)
    # acc = g^m; giant steps divide by it
    step = acc
    cur = point
    for i in range(m + 1):
        found = table.get(cur)
        if found is not None:
            t = i * m + found
            return t if t <= bound else None
        cur = group.sub(cur, step)
    return None
