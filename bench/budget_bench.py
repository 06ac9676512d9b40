"""Urne's participatory-budget rules against pabutools, in the same run.

For each pabulib file in ``vectors/pabulib/`` (or those named), time Urne's
``greedy``, ``mes`` (Equal Shares with Add1) and, on request,
``mes-then-greedy``, then pabutools 1.2.3's same rules on the same machine,
check both select the same projects, and print the times and the ratios.

    python bench/budget_bench.py                       # every file, greedy and mes
    python bench/budget_bench.py --rules mes --files Poland_Warszawa_2020_Mokotow.pb
    python bench/budget_bench.py --skip-slow-peer      # pabutools only where it is quick
    python bench/budget_bench.py --runs                # also how many MES runs Add1 made
    python bench/budget_bench.py --attack --files      # only the attack: amounts up to 2**53 - 1
    python bench/budget_bench.py --rules mes --memory  # also each side's peak memory

pabutools (GPL-3.0) is the oracle and the peer, never a dependency of Urne:
``pip install pabutools==1.2.3``. Its MES on Warsaw Mokotów 2020 takes about
7 minutes and 6 GB; ``--skip-slow-peer`` skips its runs that
expected_outcomes.json records as slower than a minute and compares Urne's
outcome with the recorded one instead (the recorded time is shown in brackets).
Times are process CPU seconds of one call (parsing excluded), best of
``--repeat`` for Urne. ``--runs`` also counts the MES runs Urne's Add1 made
(once more, untimed); Add1 as defined, one currency unit at a time, makes
as many as pabutools. ``--attack`` adds the elections that once froze the
service: a budget of 10**15 or 2**53 - 1, one project costing B - 1 that one
voter in two approves; pabutools would step 5 * 10**14 times or more, so it
is not run there. ``--memory`` also runs each side once more in a fresh
process that parses the file and counts, and prints that process's peak
resident memory (``VmHWM``; the interpreter and the parsed file included,
about 40 MB of it Python itself); pabutools is measured there too where
``--skip-slow-peer`` leaves its timing out, unless ``--no-slow-memory``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from urne.verifier.civic.budget import RULES, ApprovalElection, EqualShares
from urne.verifier.civic.pabulib import parse_pabulib

ROOT = Path(__file__).resolve().parent.parent

VECTORS = ROOT / "tests" / "vectors"
PABULIB = VECTORS / "pabulib"
SLOW = 60.0  # seconds: what --skip-slow-peer leaves out
KEYS = {"greedy": "greedy", "mes": "mes", "mes-then-greedy": "mes_then_greedy"}


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.process_time()
    result = call()
    return result, time.process_time() - start


def pabutools_rule(rule: str, path: Path) -> Callable[[], list[str]]:
    from pabutools.election import Cost_Sat
    from pabutools.election import parse_pabulib as parse
    from pabutools.rules import (
        completion_by_rule_combination,
        greedy_utilitarian_welfare,
        method_of_equal_shares,
    )

    instance, profile = parse(str(path))
    mes_params = {"sat_class": Cost_Sat, "voter_budget_increment": 1}

    def run() -> list[str]:
        if rule == "greedy":
            outcome = greedy_utilitarian_welfare(instance, profile, sat_class=Cost_Sat)
        elif rule == "mes":
            outcome = method_of_equal_shares(instance, profile, **mes_params)
        else:
            outcome = completion_by_rule_combination(
                instance,
                profile,
                [method_of_equal_shares, greedy_utilitarian_welfare],
                [mes_params, {"sat_class": Cost_Sat}],
            )
        return sorted(p.name for p in outcome)

    return run


def attack_elections() -> dict[str, ApprovalElection]:
    """The attack on the count (docs/spec/counting-budgets.md §4), by its budget."""
    return {
        f"attack, budget {name}": ApprovalElection.from_ballots(
            total, {"x": total - 1}, [{"x"}, set()]
        )
        for name, total in (("10**15", 10**15), ("2**53 - 1", 2**53 - 1))
    }


def _high_water_mb() -> float:
    """This process's peak resident memory: ``VmHWM`` of /proc/self/status.
    Not ``ru_maxrss``, which Linux keeps across ``execve``: a child started
    by a large parent would report the parent's peak."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _peak_child(side: str, rule: str, path: str, pipe: Any) -> None:
    """In a fresh process: parse ``path``, count with ``side``, send back the
    outcome and the process's peak resident memory (MB)."""
    if side == "urne":
        election = parse_pabulib(Path(path)).election()
        outcome = sorted(RULES[rule](election))
    else:
        outcome = pabutools_rule(rule, Path(path))()
    pipe.send((outcome, _high_water_mb()))
    pipe.close()


def peak_memory(side: str, rule: str, path: Path) -> tuple[list[str], float]:
    """``(outcome, peak MB)`` of a fresh process that parses and counts."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_peak_child, args=(side, rule, str(path), theirs))
    child.start()
    outcome, peak = ours.recv()
    child.join()
    return outcome, peak


def mes_runs(election: ApprovalElection) -> int:
    """How many MES runs Urne's Add1 makes on ``election``."""
    if not election.ballots:
        return 0
    engine = EqualShares(election)
    engine.add1()
    return engine.runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", nargs="*", help="file names in vectors/pabulib/ (default: all)")
    parser.add_argument("--rules", nargs="*", default=["greedy", "mes"], choices=sorted(RULES))
    parser.add_argument("--skip-slow-peer", action="store_true", help="skip pabutools runs > 60 s")
    parser.add_argument("--repeat", type=int, default=1, help="Urne runs per rule (best counts)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--runs", action="store_true", help="also count Urne's MES runs")
    parser.add_argument("--attack", action="store_true", help="also time the attack elections")
    parser.add_argument("--memory", action="store_true", help="also each side's peak memory")
    parser.add_argument(
        "--no-slow-memory", action="store_true", help="with --memory: not pabutools' slow runs"
    )
    args = parser.parse_args()

    with open(PABULIB / "expected_outcomes.json", encoding="utf-8") as fh:
        expected = json.load(fh)["outcomes"]
    names = sorted(p.name for p in PABULIB.glob("*.pb")) if args.files is None else args.files
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; CPU seconds of one call")
    header = f"{'file':<58} {'rule':<16} {'urne':>8} {'pabutools':>11} {'ratio':>7}  same"
    print(header + (f" {'runs':>6}" if args.runs or args.attack else ""))
    rows: list[dict[str, Any]] = []
    failed = False
    if args.attack:
        for name, election in attack_elections().items():
            for rule in args.rules:
                best = float("inf")
                for _ in range(max(1, args.repeat)):
                    outcome, seconds = timed(lambda rule=rule, e=election: RULES[rule](e))
                    best = min(best, seconds)
                runs = mes_runs(election) if rule != "greedy" else 0
                print(
                    f"{name:<58} {rule:<16} {best:8.3f} {'-':>11} {'-':>7}  {'-':<4} {runs:>6}",
                    flush=True,
                )
                rows.append(
                    {"file": name, "rule": rule, "urne_seconds": round(best, 3), "mes_runs": runs}
                )
    for name in names:
        path = PABULIB / name
        election: ApprovalElection = parse_pabulib(path).election()
        for rule in args.rules:
            key = KEYS[rule]
            best = float("inf")
            for _ in range(max(1, args.repeat)):
                outcome, seconds = timed(lambda rule=rule, e=election: RULES[rule](e))
                best = min(best, seconds)
            ours = sorted(outcome)
            recorded = float(expected[name]["seconds_pabutools"][key])
            if args.skip_slow_peer and recorded > SLOW:
                theirs, peer, peer_text = expected[name][key], recorded, f"[{recorded:.1f}]"
            else:
                theirs, peer = timed(pabutools_rule(rule, path))
                peer_text = f"{peer:.3f}"
            same = ours == theirs == expected[name][key]
            failed |= not same
            ratio = peer / best if best > 0 else float("inf")
            runs = mes_runs(election) if args.runs and rule != "greedy" else None
            memory: dict[str, Any] = {}
            if args.memory:
                mine, memory["urne_peak_mb"] = peak_memory("urne", rule, path)
                failed |= mine != ours
                if not (args.no_slow_memory and recorded > SLOW):
                    other, memory["pabutools_peak_mb"] = peak_memory("pabutools", rule, path)
                    failed |= other != ours
            mem_text = "".join(f"  {k.split('_')[0]} {v:,.0f} MB" for k, v in memory.items())
            print(
                f"{name:<58} {rule:<16} {best:8.3f} {peer_text:>11} {ratio:6.1f}x  "
                f"{'yes' if same else 'NO':<4}"
                + ("" if runs is None else f" {runs:>6}")
                + mem_text,
                flush=True,
            )
            rows.append(
                {
                    "file": name,
                    "rule": rule,
                    "urne_seconds": round(best, 3),
                    "pabutools_seconds": round(peer, 3),
                    "pabutools_measured": peer_text[0] != "[",
                    "ratio": round(ratio, 1),
                    "identical": same,
                }
                | ({} if runs is None else {"mes_runs": runs})
                | {k: round(v, 1) for k, v in memory.items()}
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
