"""CLI start-up and the overhead of the task commands, as wall (and CPU) time of the real `hourglass` command.

1. Start-up: `hourglass --version`, `hourglass --help`, `hourglass keys --help` against bare `python -c pass`.
2. Task commands against a devnet this script starts itself (`hourglass avs init` in a temporary folder, then
   `hourglass devnet start --detach --chain embedded`; `hourglass devnet stop` at the end, always):
   - `task submit --signature "(uint256)" --args "(n)" --json`: the command's wall time, split into the chain
     part — the command's own `mined_in` + `timings.verified` (createTask sent → mined, then the aggregator's record
     of the task → TaskVerified: sending, mining, the aggregator and executors, the certificate on chain; the
     client's 50 ms poll included) — and the rest, the CLI
     overhead (interpreter, imports, reading the devnet state, connecting, signing, fetching the outcome,
     rendering, exit). Each result is checked (n²);
   - `task status HASH --json` and `task list --json`: no waiting, so all of it is overhead.
   One warm-up run of each command first; then medians (and the CPU time of the command's process, user +
   sys, which another job on the machine inflates less than the wall time).

`--baseline DIR` also runs the task commands of another source checkout (e.g. `git worktree add /tmp/base
HEAD~1`, or `git archive REV | tar -x -C DIR`) against the same devnet, alternating with this one run by run,
so both see the same machine load. The devnet itself runs this checkout's code.

Runs in the caller's environment: with PYTHONDONTWRITEBYTECODE=1 (as on some CI machines) our own modules are
compiled on every run, ~20 ms more per command than with cached bytecode.

Run: .venv/bin/python benchmarks/cli_startup.py [--runs N] [--task-runs N] [--chain embedded|anvil]
     [--no-tasks] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

EXE = shutil.which("hourglass", path=str(Path(sys.executable).parent)) or "hourglass"


def wall(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return times


def startup(runs: int) -> None:
    cases = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "hourglass --version": [EXE, "--version"],
        "hourglass --help": [EXE, "--help"],
        "hourglass keys --help": [EXE, "keys", "--help"],
    }
    wall(cases["hourglass --help"], 2)  # warm the page cache and .pyc files
    print(f"{'command':32} {'median ms':>10} {'min ms':>8}   ({runs} runs)")
    for name, cmd in cases.items():
        t = wall(cmd, runs)
        print(f"{name:32} {statistics.median(t) * 1e3:10.1f} {min(t) * 1e3:8.1f}")


# ---------------------------------------------------------------- task commands


class BenchError(Exception):
    pass


@dataclass
class Sample:
    wall: float
    cpu: float  # user + sys of the command's process
    chain: float | None = None  # createTask sent → TaskVerified seen (submit only)


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)

    def overhead(self) -> float:
        return statistics.median(s.wall - (s.chain or 0.0) for s in self.samples)


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[Sample, str]:
    """Run one command; its wall and CPU time and stdout (BenchError with its output if it fails)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd[1:])} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(elapsed, cpu), proc.stdout


class Devnet:
    """A fresh project with a detached devnet, stopped (and its folder removed) on exit."""

    def __init__(self, chain: str) -> None:
        self.chain = chain
        self.tmp = Path(tempfile.mkdtemp(prefix="hg-cli-bench-"))
        self.project = self.tmp / "bench"
        self.started = False

    def __enter__(self) -> Devnet:
        try:
            self._check([EXE, "avs", "init", "bench"], self.tmp)
            self.started = True  # a failed start may leave processes: stop anyway
            self._check([EXE, "devnet", "start", "--detach", "--json", "--chain", self.chain], self.project)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        stopped = True
        if self.started:
            proc = subprocess.run([EXE, "devnet", "stop"], cwd=self.project, capture_output=True, text=True)
            stopped = proc.returncode == 0
            if not stopped:
                print(f"warning: `hourglass devnet stop` failed ({proc.returncode}): {proc.stderr.strip()}; "
                      f"the project stays in {self.project}", file=sys.stderr)
        if stopped and exc[0] is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif stopped:
            print(f"the failed run's project (logs under .hourglass/devnet/logs): {self.project}", file=sys.stderr)

    @staticmethod
    def _check(cmd: list[str], cwd: Path) -> None:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BenchError(f"{' '.join(cmd[1:])} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")


class Variant:
    """One checkout's `hourglass` (ours, or --baseline's via PYTHONPATH) and its samples."""

    def __init__(self, name: str, pythonpath: Path | None) -> None:
        self.name = name
        self.env = dict(os.environ)
        if pythonpath is not None:
            self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), os.environ.get("PYTHONPATH")]))
        self.series = {"submit": Series(), "status": Series(), "list": Series()}
        self.last_hash = ""

    def submit(self, project: Path, n: int, record: bool = True) -> None:
        cmd = [EXE, "task", "submit", "--signature", "(uint256)", "--args", f"({n})", "--json"]
        sample, out = run(cmd, project, self.env)
        doc = json.loads(out)
        if doc.get("status") != "VERIFIED" or doc.get("decoded") != [n * n]:
            raise BenchError(f"task submit ({self.name}): expected {n}² verified, got {out}")
        # createTask sent → TaskVerified: sent → mined, then the aggregator's record → verified (its timings' origin;
        # older checkouts, for --baseline, counted timings from the send)
        sample.chain = float(doc["timings"]["verified"]) + (float(doc.get("mined_in") or 0.0)
                                                            if doc.get("timings_from") == "aggregator_seen" else 0.0)
        self.last_hash = doc["task_hash"]
        if record:
            self.series["submit"].samples.append(sample)

    def read(self, project: Path, what: str, record: bool = True) -> None:
        cmd = [EXE, "task", "status", self.last_hash, "--json"] if what == "status" else [EXE, "task", "list", "--json"]
        sample, out = run(cmd, project, self.env)
        json.loads(out)  # it printed a whole document
        if record:
            self.series[what].samples.append(sample)


def task_commands(args: argparse.Namespace) -> None:
    variants = [Variant("this", None)]
    if args.baseline is not None:
        if not (args.baseline / "hourglass_cli" / "__init__.py").is_file():
            raise BenchError(f"--baseline {args.baseline}: no hourglass_cli package there")
        variants.append(Variant("baseline", args.baseline.resolve()))
        print(f"\n[this] = {Path(__file__).resolve().parent.parent}, [baseline] = {args.baseline.resolve()}")
    print(f"\ntask commands against a fresh {args.chain} devnet (4 executors, bn254), "
          f"{args.task_runs} runs each after a warm-up run")
    with Devnet(args.chain) as devnet:
        n = 2
        for v in variants:  # warm-up: the first task after start, .pyc and page cache
            v.submit(devnet.project, n, record=False)
            v.read(devnet.project, "status", record=False)
            v.read(devnet.project, "list", record=False)
        for i in range(args.task_runs):
            order = variants if i % 2 == 0 else variants[::-1]
            for v in order:
                n += 1
                v.submit(devnet.project, n)
            for what in ("status", "list"):
                for v in order:
                    v.read(devnet.project, what)
    print(f"{'command':36} {'wall ms':>8} {'chain ms':>9} {'overhead ms':>12} {'cpu ms':>7}   (medians)")
    labels = {"submit": 'task submit --args "(n)"', "status": "task status HASH", "list": "task list"}
    for what, label in labels.items():
        for v in variants:
            s = v.series[what]
            chain = f"{s.median('chain') * 1e3:9.0f}" if what == "submit" else f"{'-':>9}"
            name = label if len(variants) == 1 else f"{label} [{v.name}]"
            print(f"{name:36} {s.median('wall') * 1e3:8.0f} {chain} {s.overhead() * 1e3:12.0f} "
                  f"{s.median('cpu') * 1e3:7.0f}")
    print("chain = the command's own mined_in + timings.verified (createTask sent → TaskVerified); "
          "overhead = wall − chain, per run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21, help="runs of each start-up command")
    parser.add_argument("--task-runs", type=int, default=9, help="runs of each task command")
    parser.add_argument("--chain", choices=("embedded", "anvil"), default="embedded")
    parser.add_argument("--no-tasks", action="store_true", help="only the start-up commands (no devnet)")
    parser.add_argument("--baseline", type=Path, help="a source checkout to compare the task commands with")
    args = parser.parse_args()
    startup(args.runs)
    if not args.no_tasks:
        try:
            task_commands(args)
        except BenchError as exc:
            sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
