"""Crash recovery as a user's devnet sees it: tasks, kills, lost tasks, wasted transactions, time to recover.

Runs `tests/chaos/harness.ChaosRun` (see its docstring) on each chain backend: `hourglass avs init`,
`hourglass devnet start --detach --chain X` (process runtime, 4 BN254 executors, the supervisor restarting what
dies), a separate plain-web3 process creating `--tasks` tasks back to back, SIGKILLs of the aggregator, executors
and performers at verified-task counts drawn from the seed, plus three crash points armed in the environment
(the aggregator right after signing a submitResult and right after the node took it; an executor right after
storing its signed answer). Then the ledger: every task verified once with n², submitResult transactions against
verified tasks, the stores' integrity.

Recovery, per victim kind, p50/p95 by nearest rank over every round's kills (the watcher polls eth_getLogs every
50 ms): "next verified" — from the kill to the first TaskVerified in a block mined after it (work already in flight
counts: a submitResult the dead aggregator had sent still mines); "healthy again" — from the kill until the devnet's state
shows the aggregator or executor healthy under a new pid (the supervisor's restart plus the process's start-up and
resume; performers are restarted by their executor and not timed here). Nothing is asserted.

Usage: .venv/bin/python benchmarks/chaos.py [--chains embedded,anvil] [--tasks 100] [--rounds 1] [--seed N]
       [--aggregator-kills 3] [--executor-kills 2] [--performer-kills 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chaos.harness import ChaosRun, Report  # noqa: E402


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def kind_of(victim: str) -> str:
    return victim if victim.startswith("failpoint:") else victim.rstrip("-0123456789")


def fmt(seconds: float) -> str:
    return "–" if math.isnan(seconds) else f"{seconds:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", default="embedded,anvil")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None, help="first round's seed (default: random, printed)")
    parser.add_argument("--aggregator-kills", type=int, default=3)
    parser.add_argument("--executor-kills", type=int, default=2)
    parser.add_argument("--performer-kills", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    first = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    kills = {"aggregator": args.aggregator_kills, "executor": args.executor_kills, "performer": args.performer_kills}
    chains = [c for c in args.chains.split(",") if c]
    reports: dict[str, list[Report]] = {c: [] for c in chains}
    started = time.monotonic()
    for round_no in range(args.rounds):
        for chain in chains:  # interleaved: a burst of load on a shared machine hits both chains
            seed = first + round_no
            print(f"round {round_no + 1}/{args.rounds} {chain} seed={seed} …", file=sys.stderr, flush=True)
            report = ChaosRun(chain, seed, tasks=args.tasks, kills=kills).run()
            print(report.summary(), file=sys.stderr, flush=True)
            reports[chain].append(report)

    print(f"seeds {first}..{first + args.rounds - 1}, {args.rounds} round(s), {args.tasks} tasks per run, "
          f"load {os.getloadavg()[0]:.1f}, {time.monotonic() - started:.0f} s\n")
    print("| chain | tasks | verified | lost | wrong | submitResult txs | extra txs | kills | recovery p50 s | "
          "recovery p95 s | wall s (median) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for chain, runs in reports.items():
        recovered = [k.recovered_s for r in runs for k in r.kills if not math.isnan(k.recovered_s)]
        print(f"| {chain} | {sum(r.tasks for r in runs)} | {sum(r.verified for r in runs)} | "
              f"{sum(len(r.lost) for r in runs)} | {sum(len(r.wrong) for r in runs)} | "
              f"{sum(r.submissions for r in runs)} | {sum(r.extra_submissions for r in runs)} | "
              f"{sum(len(r.kills) for r in runs)} | {fmt(nearest_rank(recovered, 0.5))} | "
              f"{fmt(nearest_rank(recovered, 0.95))} | {statistics.median(r.wall_s for r in runs):.1f} |")
    print("\n| chain | victim | kills | next verified p50 s | p95 s | healthy again p50 s | p95 s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for chain, runs in reports.items():
        by_kind: dict[str, list[tuple[float, float]]] = {}
        for r in runs:
            for k in r.kills:
                by_kind.setdefault(kind_of(k.victim), []).append((k.recovered_s, k.back_s))
        for kind, values in sorted(by_kind.items()):
            nxt = [a for a, _b in values if not math.isnan(a)]
            new = [b for _a, b in values if not math.isnan(b)]
            print(f"| {chain} | {kind} | {len(values)} | {fmt(nearest_rank(nxt, 0.5))} | "
                  f"{fmt(nearest_rank(nxt, 0.95))} | {fmt(nearest_rank(new, 0.5))} | {fmt(nearest_rank(new, 0.95))} |")
    problems = [p for runs in reports.values() for r in runs for p in r.problems]
    if problems:
        print("\nproblems:", *problems[:20], sep="\n- ")
    if args.json:
        args.json.write_text(json.dumps({chain: [{"seed": r.seed, "summary": r.summary(), "kills": [
            {"victim": k.victim, "after_verified": k.after_verified, "recovered_s": k.recovered_s,
             "back_s": k.back_s} for k in r.kills]}
            for r in runs] for chain, runs in reports.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
