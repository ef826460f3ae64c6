"""Devnet cold start to ready: `hourglass devnet start --detach` with 4 BN254 operators, anvil and embedded.

Run: .venv/bin/python benchmarks/devnet_start.py [--runs N] [--operators N] [--chains anvil,embedded]

Each run starts the real CLI in a fresh project folder (a new Python, so imports are paid every time),
measures the wall time until the command returns (the supervisor reported ready and state.json says
so), reads the supervisor's own breakdown from state.json (chain ready, deploy, operators, executors and
aggregator), adds up the CPU time of every process of the devnet, then stops it. Runs alternate between
backends.
Prints medians (and the spread); nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLI = ("from hourglass_cli import cli\n"
       "if 'devnet' not in cli.GROUPS:\n"
       "    import hourglass_cli.cli.devnet as group\n"
       "    cli.app.add_typer(group.app, name='devnet')\n"
       "cli.main()\n")
PHASES = ("chain_l1", "deploy_l1", "operators_l1", "executors", "total")


def hourglass(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args], cwd=project, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "NO_COLOR": "1"})


def cpu_seconds(pid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / ticks


def one_run(chain: str, operators: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"hg-bench-{chain}-") as folder:
        project = Path(folder)
        t0 = time.perf_counter()
        result = hourglass(project, "devnet", "start", "--detach", "--chain", chain, "--operators", str(operators))
        wall = time.perf_counter() - t0
        if result.returncode != 0:
            raise SystemExit(f"start failed on {chain}:\n{result.stderr}")
        state = json.loads((project / ".hourglass" / "devnet" / "state.json").read_text())
        assert state["status"] == "ready"
        pids = [state["supervisor_pid"]]
        for record in state["chains"] + state["components"]:
            pids += [record["pid"]] + [pid for pid, _ in record["children"]]
        cpu = sum(cpu_seconds(pid) for pid in pids)
        stop = hourglass(project, "devnet", "stop")
        if stop.returncode != 0:
            raise SystemExit(f"stop failed on {chain}:\n{stop.stderr}")
    return {"wall": wall, "cpu": cpu, **{k: float(state["timings"].get(k, 0.0)) for k in PHASES}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per backend (default 3)")
    parser.add_argument("--operators", type=int, default=4, help="executor operators (default 4)")
    parser.add_argument("--chains", default="anvil,embedded", help="backends, comma-separated")
    args = parser.parse_args()
    chains = [c for c in args.chains.split(",") if c]
    runs: dict[str, list[dict[str, float]]] = {c: [] for c in chains}
    for _ in range(args.runs):
        for chain in chains:
            runs[chain].append(one_run(chain, args.operators))

    print(f"devnet start --detach, {args.operators} BN254 operators, median of {args.runs} runs (min-max)")
    print(f"{'backend':<10} {'wall s':>16} {'supervisor s':>16} {'chain':>7} {'deploy':>7} {'operators':>9} "
          f"{'executors':>9} {'CPU s':>7}")
    for chain, rows in runs.items():
        def med(key: str) -> float:
            return statistics.median(r[key] for r in rows)

        def spread(key: str) -> str:
            values = [r[key] for r in rows]
            return f"{med(key):.2f} ({min(values):.2f}-{max(values):.2f})"

        print(f"{chain:<10} {spread('wall'):>16} {spread('total'):>16} {med('chain_l1'):>7.2f} "
              f"{med('deploy_l1'):>7.2f} {med('operators_l1'):>9.2f} {med('executors'):>9.2f} {med('cpu'):>7.2f}")
    print("wall: the CLI command until it returns; supervisor: its own start to ready (state.json timings);")
    print("executors: the aggregator and the executors started together until all serve (performers included);")
    print("CPU: user+system seconds of the supervisor, chain, aggregator, executors and performers together.")


if __name__ == "__main__":
    main()
