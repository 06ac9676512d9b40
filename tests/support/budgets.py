"""An obviously correct, slow reference of the Method of Equal Shares (one run,
cost utilities, voter by voter, exact fractions), that the fast engine of
``urne.verifier.civic.budget`` is compared against; never the reverse."""

from __future__ import annotations

from fractions import Fraction

from urne.verifier.civic.budget import ApprovalElection


def reference_mes_run(election: ApprovalElection, per_voter: Fraction) -> list[str]:
    """MES with cost utilities as defined, voter by voter (slow, obviously right)."""
    budgets = [per_voter] * len(election.ballots)
    candidates = [
        p for p in sorted(election.costs) if election.costs[p] > 0 and election.approvals()[p]
    ]
    funded: list[str] = []
    while True:
        best: tuple[Fraction, str, Fraction] | None = None
        for p in candidates:
            if p in funded:
                continue
            cost = election.costs[p]
            held = sorted(budgets[i] for i, b in enumerate(election.ballots) if p in b)
            if sum(held) < cost:
                continue
            paid = Fraction(0)
            for k, b in enumerate(held):  # the least q with sum(min(b_i, q)) = cost
                q = (cost - paid) / (len(held) - k)
                if q <= b:
                    break
                paid += b
            if best is None or (q / cost, p) < best[:2]:
                best = (q / cost, p, q)
        if best is None:
            return funded
        _, p, q = best
        funded.append(p)
        for i, b in enumerate(election.ballots):
            if p in b:
                budgets[i] -= min(budgets[i], q)
