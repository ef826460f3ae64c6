"""Workflows as a user's devnet runs them: the example workflow's start → completed wall time, and what a workflow
phase costs over a plain task.

For each chain backend: `hourglass avs init` in a temporary folder, `hourglass devnet start --detach --chain X`
(process runtime, 4 BN254 executors, the aggregator with its workflow driver), then through the CLI as a user runs
it:

1. the template's example (`workflows/price-oracle.toml`: 3 CONTINUOUS updates 2 s apart → COORDINATION →
   CONDITIONAL opened from the agreed price → AGGREGATION): `workflow register` once, then `--runs` times
   `workflow start price-oracle --input <5200> --wait --json`, timed from the command's start to its exit;
2. the overhead of one phase: a one-phase IMMEDIATE workflow (`workflow start … --wait`) against `task submit`
   of a plain task (both the CLI, both waiting for the verified result), `--runs` times each, interleaved.

Prints a markdown table: medians and ranges, and the phase/task ratio of the medians. Nothing is asserted.

Usage: .venv/bin/python benchmarks/workflows.py [--chains embedded,anvil] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOURGLASS = Path(sys.executable).with_name("hourglass")
# One IMMEDIATE phase the template's performer runs (its handle_phase knows "monitor": a price from the input).
ONE_PHASE = '''name = "one-phase"
[[phase]]
name = "monitor"
type = "immediate"
timeout = "2m"
'''


def hg(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run([str(HOURGLASS), *args], cwd=project, capture_output=True, text=True, timeout=timeout,
                          env=env)
    if done.returncode != 0:
        raise SystemExit(f"hourglass {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def timed(project: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = hg(project, *args)
    return time.perf_counter() - started, done


def run_chain(chain: str, runs: int) -> dict[str, list[float]]:
    root = Path(tempfile.mkdtemp(prefix=f"hg-wf-bench-{chain}-"))
    hg(root, "avs", "init", "bench-avs")
    project = root / "bench-avs"
    (project / "workflows" / "one-phase.toml").write_text(ONE_PHASE)
    hg(project, "devnet", "start", "--detach", "--chain", chain)
    out: dict[str, list[float]] = {"example": [], "phase": [], "task": []}
    try:
        hg(project, "workflow", "register", "workflows/price-oracle.toml")
        hg(project, "workflow", "register", "workflows/one-phase.toml")
        price = "0x" + (5200).to_bytes(32, "big").hex()
        number = "0x" + (7).to_bytes(32, "big").hex()
        for _ in range(runs):
            seconds, done = timed(project, "workflow", "start", "price-oracle", "--input", price, "--wait", "--json")
            assert json.loads(done.stdout)["status"] == "COMPLETED", done.stdout
            out["example"].append(seconds)
            seconds, done = timed(project, "workflow", "start", "one-phase", "--input", number, "--wait", "--json")
            assert json.loads(done.stdout)["status"] == "COMPLETED", done.stdout
            out["phase"].append(seconds)
            seconds, done = timed(project, "task", "submit", "--signature", "(uint256)", "--args", "(7)", "--json")
            assert json.loads(done.stdout)["status"] == "VERIFIED", done.stdout
            out["task"].append(seconds)
    finally:
        hg(project, "devnet", "stop", timeout=120)
    shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", default="embedded,anvil")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = {chain: run_chain(chain, args.runs) for chain in args.chains.split(",") if chain}
    print(f"{args.runs} runs per row, load {os.getloadavg()[0]:.1f}\n")
    print("| chain | example workflow s (median, range) | one-phase workflow s | plain task s | phase / task |")
    print("|---|---:|---:|---:|---:|")
    for chain, r in results.items():
        def cell(values: list[float]) -> str:
            return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

        ratio = statistics.median(r["phase"]) / statistics.median(r["task"])
        print(f"| {chain} | {cell(r['example'])} | {cell(r['phase'])} | {cell(r['task'])} | {ratio:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
