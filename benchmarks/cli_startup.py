"""CLI start-up: wall time of `hourglass --help` and `hourglass --version` against bare `python -c pass`.

Run: .venv/bin/python benchmarks/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    exe = shutil.which("hourglass", path=str(Path(sys.executable).parent)) or "hourglass"
    cases = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "hourglass --version": [exe, "--version"],
        "hourglass --help": [exe, "--help"],
        "hourglass keys --help": [exe, "keys", "--help"],
    }
    wall(cases["hourglass --help"], 2)  # warm the page cache and .pyc files
    print(f"{'command':32} {'median ms':>10} {'min ms':>8}   ({args.runs} runs)")
    for name, cmd in cases.items():
        t = wall(cmd, args.runs)
        print(f"{name:32} {statistics.median(t) * 1e3:10.1f} {min(t) * 1e3:8.1f}")


if __name__ == "__main__":
    main()
