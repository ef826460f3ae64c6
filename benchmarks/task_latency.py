"""Task latency and throughput as a user sees them: a fresh project, `hourglass devnet start`, tasks from Python.

For every combination of chain backend (anvil, embedded), curve (bn254, ecdsa) and operator count (1, 4, 10):

1. `hourglass avs init` in a temporary folder, then `hourglass devnet start --detach --json --chain X --curve Y
   --operators N` exactly as a user runs it (process runtime, the project's own performer, its own Python);
2. latency: one warm-up task (the first task after start, reported apart), then K tasks one at a time with the
   project's task client in this process (what `hourglass task submit` does, without a CLI start-up each):
   createTask sent → TaskVerified seen on chain (the client's log filter, polled every 50 ms); each result is
   checked (n²). By default a task arrives at a random point of a second after the previous one is verified
   (`--arrival random`, seeded): a user's tasks do not arrive in step with the chain's clock. Under EigenLayer's
   mailbox rule (no result in the task's creation second) back-to-back tasks (`--arrival back-to-back`) would
   all be created just after a second boundary and wait almost a full second each;
3. throughput: M tasks sent back to back from one account (no wait between sends), then first send → last
   TaskVerified seen (one TaskVerified log filter for the mailbox, polled every 50 ms by a thread); tasks/s;
4. `hourglass devnet stop`, always (a failed configuration keeps its project folder for the logs).

With --rounds N the whole matrix runs N times (interleaved, so a burst of load on a shared machine hits several
configurations rather than all rounds of one). Prints a markdown table (p50/p95 by nearest rank over every round's
samples; tasks/s as median and range of the rounds) and, with --json PATH, writes every sample. Nothing is
asserted.

Usage: .venv/bin/python benchmarks/task_latency.py [--backends anvil,embedded] [--curves bn254,ecdsa]
       [--operators 1,4,10] [--tasks 20] [--throughput 100] [--throughput-operators 1,4,10] [--json PATH]
       [--rounds N] [--devnet same_second_results=false]   (any [devnet] key of the temporary project's hourglass.toml)
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from hourglass_cli.tasks.client import TaskClient

BIN = Path(sys.executable).parent
POLL = 0.05  # the task client's own poll interval (hourglass_cli.tasks.client.POLL_INTERVAL)


class BenchError(Exception):
    """A configuration could not be measured (the message says why)."""


@dataclass
class Result:
    backend: str
    curve: str
    operators: int
    ok: bool = False
    error: str = ""
    project: str = ""  # kept on failure, for the logs under .hourglass/devnet/logs
    start_wall_s: float = math.nan  # `devnet start --detach` until it returned
    first_task_ms: float = math.nan
    latencies_ms: list[float] = field(default_factory=list)
    # sent → the aggregator sent submitResult (its store's row; NaN when TaskVerified was seen before the row)
    certificate_ms: list[float] = field(default_factory=list)
    throughput_tasks: int = 0
    throughput_verified: int = 0
    send_s: float = math.nan  # first send → last createTask sent
    throughput_s: float = math.nan  # first send → last TaskVerified seen
    loaded_latencies_ms: list[float] = field(default_factory=list)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    seconds: float = 0.0  # the whole configuration, start to stop

    @property
    def tasks_per_s(self) -> float:
        if self.throughput_verified < self.throughput_tasks or not self.throughput_tasks:
            return math.nan
        return self.throughput_tasks / self.throughput_s


def nearest_rank(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank (p95 of 20 samples is the 19th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------------- the CLI


def _env() -> dict[str, str]:
    # The template's performer command is `python -m PACKAGE`, looked up on PATH: this venv's Python.
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}


def hourglass(cwd: Path, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    exe = BIN / "hourglass"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "hourglass_cli"]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env())


def log_excerpt(project: Path, lines: int = 12) -> str:
    """The tail of the supervisor's log and of any other devnet log that mentions an error."""
    logs = project / ".hourglass" / "devnet" / "logs"
    if not logs.is_dir():
        return "(no devnet logs)"
    parts = []
    for path in sorted(logs.glob("*.log"), key=lambda p: (p.name != "supervisor.log", p.name)):
        text = path.read_text(errors="replace").splitlines()
        if path.name == "supervisor.log" or any(w in line.lower() for line in text
                                                for w in ("error", "traceback", "failed")):
            parts.append(f"--- {path} (last {lines} lines)\n" + "\n".join(text[-lines:]))
    return "\n".join(parts) or "(no errors in the devnet logs)"


def set_devnet_keys(config: Path, settings: list[str]) -> None:
    """Write KEY = VALUE lines (VALUE as TOML, e.g. `false`) at the top of the project's [devnet] section."""
    text = config.read_text()
    if "\n[devnet]\n" not in text:
        text += "\n[devnet]\n"
    lines = "".join(f"{key.strip()} = {value.strip()}\n" for key, value in (s.split("=", 1) for s in settings))
    config.write_text(text.replace("\n[devnet]\n", "\n[devnet]\n" + lines, 1))


# ---------------------------------------------------------------------------------------------- measuring


def payload(n: int) -> bytes:
    from eth_abi import encode

    return encode(["uint256"], [n])


def one_task(client: TaskClient, n: int, timeout: float) -> tuple[float, float]:
    """Create task n and wait for its TaskVerified as `task submit` does: (sent → seen, sent → certificate sent)."""
    from eth_abi import decode

    sub = client.submit(payload(n))
    out = client.wait(sub, timeout)
    if out.result is None or decode(["uint256"], out.result)[0] != n * n:
        raise BenchError(f"task {sub.task_hash} verified with result {out.result!r}, expected {n}²")
    subs = out.view.submissions if out.view is not None else []
    seen = out.verified_seen_at if out.verified_seen_at is not None else math.nan
    return seen - sub.sent_at, (subs[0].sent_at - sub.sent_at) if subs else math.nan


class VerifiedLog:
    """Every TaskVerified of a mailbox from a block on: task hash → wall time first seen (polled by a thread)."""

    def __init__(self, client: TaskClient, from_block: int) -> None:
        from hourglass_cli.chain.connection import connect

        self.w3 = connect(client.target.rpc_url)  # its own connection: web3 providers are not shared across threads
        self.spec = {"address": client.mailbox.address, "fromBlock": hex(from_block),
                     "topics": [client.verified_topic]}
        self.filter_id = self._rpc("eth_newFilter", [self.spec])
        self.seen: dict[str, float] = {}
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="verified-log", daemon=True)
        self._thread.start()

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in response:
            raise BenchError(f"{method} failed: {response['error']}")
        return response.get("result")

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                logs = self._rpc("eth_getFilterChanges", [self.filter_id])
                now = time.time()
                for log in logs or []:
                    topic = log["topics"][2]
                    self.seen.setdefault(topic if isinstance(topic, str) else "0x" + bytes(topic).hex(), now)
                self._stop.wait(POLL)
        except BaseException as exc:  # noqa: BLE001 - reported by the waiting thread
            self.error = exc

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        try:
            self._rpc("eth_uninstallFilter", [self.filter_id])
        except Exception:  # noqa: BLE001 - best effort; the chain is stopped next
            pass


def throughput(client: TaskClient, count: int, timeout: float, result: Result) -> None:
    """`count` createTask sent back to back from the app account; first send → last TaskVerified seen."""
    from hourglass_cli.chain.events import decode_logs
    from hourglass_cli.chain.sender import TxSender
    from hourglass_cli.chain.structs import operator_set

    sender = TxSender(client.w3, client.target.key, label="task creator")
    log = VerifiedLog(client, int(client.w3.eth.block_number))
    result.throughput_tasks = count
    try:
        start = time.time()
        pending = []
        for i in range(count):
            params = (sender.address, operator_set(client.target.avs, 1), payload(10_000 + i))
            pending.append((sender.send(client.mailbox.functions.createTask(params), gas=3_000_000), time.time()))
        result.send_s = time.time() - start
        sent: dict[str, float] = {}
        for tx, at in pending:
            (event,) = decode_logs(client.mailbox, tx.wait(), "TaskCreated")
            sent["0x" + bytes(event["taskHash"]).hex()] = at
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while not all(h in log.seen for h in sent):
            if log.error is not None:
                raise BenchError(f"watching TaskVerified failed: {log.error}")
            if time.monotonic() > deadline:
                break
            pause.wait(POLL)
        done = {h: log.seen[h] for h in sent if h in log.seen}
        result.throughput_verified = len(done)
        if done:
            result.throughput_s = max(done.values()) - start
            result.loaded_latencies_ms = [(done[h] - sent[h]) * 1e3 for h in sent if h in done]
        if len(done) < count:
            missing = [h for h in sent if h not in done]
            statuses: dict[str, int] = {}
            for h in missing:
                view = client.store.task(h)
                key = view.task.status if view is not None else "unseen by the aggregator"
                statuses[key] = statuses.get(key, 0) + 1
            raise BenchError(f"throughput: only {len(done)}/{count} tasks verified within {timeout:g} s "
                             f"(aggregator status of the rest: {statuses})")
    finally:
        log.close()


def measure(project: Path, args: argparse.Namespace, result: Result) -> None:
    from hourglass_cli.tasks.client import TaskClient
    from hourglass_cli.tasks.target import devnet_target

    client = TaskClient(devnet_target(project))
    first, _ = one_task(client, 1, args.timeout)
    result.first_task_ms = first * 1e3
    phases = random.Random(7)
    pause = threading.Event()
    for n in range(2, 2 + args.tasks):
        if args.arrival == "random":
            pause.wait(phases.random())  # the arrival process (a user's next task), not waiting for a condition
        latency, certificate = one_task(client, n, args.timeout)
        result.latencies_ms.append(latency * 1e3)
        result.certificate_ms.append(certificate * 1e3)
    if args.throughput and result.operators in args.throughput_operators:
        throughput(client, args.throughput, args.timeout + args.throughput, result)


def run_config(backend: str, curve: str, operators: int, args: argparse.Namespace) -> Result:
    result = Result(backend, curve, operators, load_before=os.getloadavg())
    began = time.time()
    folder = Path(tempfile.mkdtemp(prefix=f"hg-latency-{backend}-{curve}-{operators}-"))
    project = folder / "bench"
    result.project = str(project)
    started = False
    try:
        init = hourglass(folder, "avs", "init", "bench")
        if init.returncode != 0:
            raise BenchError(f"`hourglass avs init bench` failed: {init.stderr.strip() or init.stdout.strip()}")
        if args.devnet:
            set_devnet_keys(project / "hourglass.toml", args.devnet)
        t0 = time.perf_counter()
        started = True  # a failed start may still leave processes behind: stop regardless
        start = hourglass(project, "devnet", "start", "--detach", "--json", "--chain", backend, "--curve", curve,
                          "--operators", str(operators), timeout=args.start_timeout)
        result.start_wall_s = time.perf_counter() - t0
        if start.returncode != 0:
            raise BenchError(f"`hourglass devnet start --detach --json --chain {backend} --curve {curve} "
                             f"--operators {operators}` exited {start.returncode}: "
                             f"{(start.stderr or start.stdout).strip()}\n{log_excerpt(project)}")
        state = json.loads(start.stdout)
        if state.get("status") != "ready":
            raise BenchError(f"devnet start returned status {state.get('status')!r}: {state.get('error')}")
        measure(project, args, result)
        result.ok = True
    except Exception as exc:  # noqa: BLE001 - one configuration failing must not stop the others
        if isinstance(exc, subprocess.TimeoutExpired):
            exc = BenchError(f"`{' '.join(map(str, exc.cmd[1:]))}` did not return within {exc.timeout:g} s\n"
                             f"{log_excerpt(project)}")
        elif not isinstance(exc, BenchError):
            exc = BenchError(f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc(limit=6)}"
                             f"{log_excerpt(project)}")
        result.error = str(exc)
    finally:
        if started:
            try:
                stop = hourglass(project, "devnet", "stop", timeout=120)
                if stop.returncode != 0:
                    result.error += f"\n`hourglass devnet stop` exited {stop.returncode}: {stop.stderr.strip()}"
                    result.ok = False
            except subprocess.TimeoutExpired:
                result.error += "\n`hourglass devnet stop` did not return within 120 s"
                result.ok = False
        result.load_after = os.getloadavg()
        result.seconds = time.time() - began
    if result.ok and not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return result


# ---------------------------------------------------------------------------------------------- reporting


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:,.0f}"


def _median(values: list[float]) -> float:
    """The median of the values measured (NaN: not recorded, e.g. TaskVerified seen before the store's row)."""
    known = [v for v in values if not math.isnan(v)]
    return statistics.median(known) if known else math.nan


def _spread(values: list[float], fmt: str) -> str:
    """"median (min–max)" over rounds, or the one value."""
    if not values:
        return "—"
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}–{format(max(values), fmt)})"


def table(results: list[Result]) -> str:
    """One row per configuration; latency samples of all rounds pooled, tasks/s and load as median (range)."""
    groups: dict[tuple[str, str, int], list[Result]] = {}
    for r in results:
        groups.setdefault((r.backend, r.curve, r.operators), []).append(r)
    lines = ["| backend | curve | operators | p50 ms | p95 ms | tasks/s | first task ms | certificate sent p50 ms "
             "| load (1 min) | rounds ok |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (backend, curve, operators), rounds in groups.items():
        latencies = [v for r in rounds for v in r.latencies_ms]
        load = _spread([r.load_after[0] for r in rounds], ".1f")
        ok = f"{sum(r.ok for r in rounds)}/{len(rounds)}"
        if not latencies:
            lines.append(f"| {backend} | {curve} | {operators} | failed | | | | | {load} | {ok} |")
            continue
        tried = [r for r in rounds if r.throughput_tasks]
        rates = [r.tasks_per_s for r in tried if not math.isnan(r.tasks_per_s)]
        tps = "—" if not tried else _spread(rates, ".1f") if rates else "failed"
        firsts = [r.first_task_ms for r in rounds if not math.isnan(r.first_task_ms)]
        certificates = [v for r in rounds for v in r.certificate_ms]
        lines.append(f"| {backend} | {curve} | {operators} | {_ms(statistics.median(latencies))} "
                     f"| {_ms(nearest_rank(latencies, 0.95))} | {tps} | {_ms(statistics.median(firsts))} "
                     f"| {_ms(_median(certificates))} | {load} | {ok} |")
    return "\n".join(lines)


def _git() -> str:
    """The commit measured, with "+uncommitted changes" when the working tree differs from it."""
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" +uncommitted changes" if dirty else "")


def _finite(value: Any) -> Any:
    """NaN (a figure not measured) as JSON null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _setting(text: str) -> str:
    if "=" not in text or not text.split("=", 1)[0].strip():
        raise argparse.ArgumentTypeError("expected KEY=VALUE, e.g. same_second_results=false")
    return text


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def _names(choices: tuple[str, ...]) -> Any:
    def parse(text: str) -> list[str]:
        names = [x for x in text.split(",") if x]
        bad = [x for x in names if x not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}")
        return names
    return parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", type=_names(("anvil", "embedded")), default=["anvil", "embedded"])
    parser.add_argument("--curves", type=_names(("bn254", "ecdsa")), default=["bn254", "ecdsa"])
    parser.add_argument("--operators", type=_ints, default=[1, 4, 10], help="operator counts (default 1,4,10)")
    parser.add_argument("--tasks", type=int, default=20, help="sequential tasks for latency (default 20)")
    parser.add_argument("--arrival", choices=("random", "back-to-back"), default="random",
                        help="when the next sequential task is sent after the previous one is verified")
    parser.add_argument("--throughput", type=int, default=100, help="tasks sent back to back (0 = skip)")
    parser.add_argument("--throughput-operators", type=_ints, default=None,
                        help="operator counts to measure throughput for (default: all of --operators)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every configuration this many times, rounds interleaved (default 1)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one task (default 60)")
    parser.add_argument("--start-timeout", type=float, default=300.0, help="seconds for `devnet start`")
    parser.add_argument("--devnet", metavar="KEY=VALUE", action="append", default=[], type=_setting,
                        help="set a [devnet] key of the temporary project's hourglass.toml (VALUE in TOML), "
                             "e.g. same_second_results=false; repeatable")
    parser.add_argument("--keep", action="store_true", help="keep every project folder (failed ones are kept)")
    parser.add_argument("--json", metavar="PATH", help="also write every sample as JSON")
    args = parser.parse_args()
    if args.throughput_operators is None:
        args.throughput_operators = args.operators

    began, load0, tree0 = time.time(), os.getloadavg(), _git()
    results = []
    configs = list(itertools.product(args.backends, args.curves, args.operators))
    for (round_, (backend, curve, operators)) in itertools.product(range(1, args.rounds + 1), configs):
        r = run_config(backend, curve, operators, args)
        results.append(r)
        if args.rounds > 1:
            print(f"[round {round_}/{args.rounds}] ", end="")
        summary = (f"p50 {statistics.median(r.latencies_ms):.0f} ms, p95 {nearest_rank(r.latencies_ms, 0.95):.0f} ms"
                   if r.latencies_ms else "no latency")
        if r.throughput_tasks:
            summary += f", {r.throughput_verified}/{r.throughput_tasks} in {r.throughput_s:.2f} s"
        print(f"{backend} {curve} {operators}: {summary} ({r.seconds:.0f} s, load {r.load_after[0]:.1f})"
              + ("" if r.ok else f"\n  FAILED (project kept: {r.project}):\n    "
                 + r.error.replace("\n", "\n    ")), flush=True)
    elapsed, load1, tree1 = time.time() - began, os.getloadavg(), _git()
    tree = tree0 if tree0 == tree1 else f"{tree0} at start, {tree1} at the end"

    arrival = ("at a random point of a second after the previous task was verified" if args.arrival == "random"
               else "back to back")
    print(f"\ncreateTask sent → TaskVerified seen; {args.tasks} sequential tasks per round, sent {arrival} "
          f"(p50/p95 over all rounds' samples); {args.throughput} tasks back to back for tasks/s (median and range "
          "over rounds)")
    print(table(results))
    print(f"\n{len(configs)} configurations × {args.rounds} round(s) in {elapsed:.0f} s; load average {load0[0]:.1f} at start, "
          f"{load1[0]:.1f} at the end; {os.cpu_count()} CPUs; tree {tree}"
          + (f"; [devnet] {', '.join(args.devnet)}" if args.devnet else ""))
    if args.json:
        doc = {"command": " ".join([Path(sys.executable).name, *sys.argv]),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "seconds": elapsed, "load_start": load0,
               "load_end": load1, "cpus": os.cpu_count(), "python": platform.python_version(),
               "git": tree, "args": {k: v for k, v in vars(args).items() if k != "json"},
               "results": [{**asdict(r), "p50_ms": statistics.median(r.latencies_ms) if r.latencies_ms else None,
                            "p95_ms": nearest_rank(r.latencies_ms, 0.95) if r.latencies_ms else None,
                            "tasks_per_s": None if math.isnan(r.tasks_per_s) else r.tasks_per_s}
                           for r in results]}
        Path(args.json).write_text(json.dumps(_finite(doc), indent=1, default=str) + "\n")
    if not all(r.ok for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
