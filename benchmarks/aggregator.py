"""Aggregator throughput and latency with 4 BN254 executors, on anvil and on the embedded chain.

Everything is real: the chain process, the contracts, four `hourglass executor run` processes (each running the
square example performer as its own process) and the aggregator (in this process, so its per-stage
histograms can be read). Two phases per backend:

1. latency: tasks one at a time; createTask sent → TaskVerified seen (its log, looked for every 2 ms);
2. throughput: `--tasks` tasks created back to back by another process (as fast as one account can send
   them, as an app would), then first createTask → last TaskVerified; tasks/s = tasks / that time.

Usage: .venv/bin/python benchmarks/aggregator.py [--backend anvil|embedded|both] [--tasks 200] [--latency 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_abi import encode  # noqa: E402

from hourglass_cli.aggregator.config import load_aggregator_config  # noqa: E402
from hourglass_cli.aggregator.server import Aggregator  # noqa: E402
from hourglass_cli.aggregator.verify import PAIRINGS  # noqa: E402
from hourglass_cli.chain.structs import TaskStatus, operator_set  # noqa: E402
from tests.aggregator.stack import Devnet, build_devnet, wait_for  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXECUTOR_CLI = "from hourglass_cli.cli.executor import app; app(prog_name='hourglass executor')"
SQUARE = [sys.executable, "-m", "hourglass_cli.performer", "hourglass_cli.performer.examples.square:SquarePerformer"]


def start_executors(net: Devnet) -> list[subprocess.Popen[bytes]]:
    from hourglass_cli.executor.runtimes.base import wait_for_health

    procs = []
    for i in range(1, 5):
        config = net.executor_config(i, performer={"runtime": "process", "command": SQUARE, "cwd": str(REPO)})
        log = (net.root / f"executor-{i}.log").open("wb")
        procs.append(subprocess.Popen([sys.executable, "-c", EXECUTOR_CLI, "run", "--config", str(config)], cwd=REPO,
                                      stdout=log, stderr=subprocess.STDOUT))
    for i, proc in enumerate(procs, 1):
        wait_for_health(f"127.0.0.1:{net.ports[i]}", 60, alive=lambda p=proc: p.poll() is None)
    return procs


def _tree_cpu(pid: int) -> float:
    """utime + stime of `pid` and its descendants (Linux /proc), in seconds."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(_tree_cpu(int(c)) for c in children)


def cpu_seconds(procs: list[subprocess.Popen[bytes]], chain_pid: int) -> dict[str, float]:
    """CPU used so far by the chain, the executors (with their performers), this process and the creator."""
    times = os.times()
    return {"chain": _tree_cpu(chain_pid), "executors+performers": sum(_tree_cpu(p.pid) for p in procs),
            "aggregator": times.user + times.system,
            "creator": times.children_user + times.children_system}  # reaped children: the creator process


def verified(net: Devnet, task_hash: bytes) -> bool:
    return int(net.contracts.task_mailbox.functions.getTaskStatus(task_hash).call()) == TaskStatus.VERIFIED


class VerifiedWatch:
    """TaskVerified logs as they land (one eth_getLogs per look, not a status call per task): task hash → the
    time it was first seen."""

    def __init__(self, net: Devnet) -> None:
        from eth_utils import keccak

        self.net, self.seen = net, {}
        self.next_block = int(net.w3.eth.block_number) + 1
        self.topic = "0x" + keccak(text="TaskVerified(address,bytes32,address,uint32,bytes,bytes)").hex()

    def look(self) -> None:
        latest = int(self.net.w3.eth.block_number)
        if latest < self.next_block:
            return
        logs = self.net.w3.eth.get_logs({"fromBlock": self.next_block, "toBlock": latest, "topics": [self.topic],
                                         "address": self.net.contracts.task_mailbox.address})
        now = time.time()
        for log in logs:
            self.seen.setdefault(bytes(log["topics"][2]), now)
        self.next_block = latest + 1

    def wait(self, hashes: list[bytes], timeout: float) -> None:
        end = time.time() + timeout
        while True:
            self.look()
            if all(h in self.seen for h in hashes):
                return
            if time.time() > end:
                raise SystemExit(f"only {sum(h in self.seen for h in hashes)}/{len(hashes)} verified after {timeout} s")
            time.sleep(0.002)  # benchmark polling of the chain (a log filter would also poll)


def send_tasks(net: Devnet, count: int, start: int) -> list[tuple[bytes, float]]:
    """createTask × count from the app account without waiting in between; (task hash, send time) each."""
    return _create(net.w3, net.accounts.app, net.contracts.task_mailbox, net.core.avs,
                   net.core.executor_operator_set_id, count, start)


def _create(w3, app, mailbox, avs: str, set_id: int, count: int, start: int) -> list[tuple[bytes, float]]:
    from hourglass_cli.chain.events import decode_logs

    sender = app.sender(w3)
    pending = []
    for n in range(start, start + count):
        params = (sender.address, operator_set(avs, set_id), encode(["uint256"], [n]))
        pending.append((sender.send(mailbox.functions.createTask(params), gas=1_000_000), time.time()))
    out = []
    for tx, sent in pending:
        (event,) = decode_logs(mailbox, tx.wait(), "TaskCreated")
        out.append((bytes(event["taskHash"]), sent))
    return out


def send_tasks_elsewhere(net: Devnet, count: int, start: int) -> tuple[subprocess.Popen[str], Path]:
    """The same from another process (as an app would: not sharing the aggregator's interpreter and GIL)."""
    out = net.root / f"created-{start}.json"
    job = json.dumps({"rpc": net.handle.rpc_url, "mailbox": net.contracts.task_mailbox.address, "avs": net.core.avs,
                      "set_id": net.core.executor_operator_set_id, "count": count, "start": start, "out": str(out)})
    return subprocess.Popen([sys.executable, __file__, "--creator", job], cwd=REPO, text=True), out


def creator_main(job: dict) -> None:
    from hourglass_cli.chain.connection import connect
    from hourglass_cli.chain.contracts import contract
    from hourglass_cli.devnet.accounts import devnet_accounts

    w3 = connect(job["rpc"])
    created = _create(w3, devnet_accounts(4).app, contract(w3, "TaskMailbox", job["mailbox"]), job["avs"],
                      job["set_id"], job["count"], job["start"])
    Path(job["out"]).write_text(json.dumps([[h.hex(), t] for h, t in created]))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run(backend: str, tasks: int, latency_tasks: int) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"bench-aggregator-{backend}-"))
    net = build_devnet(backend, "bn254", root, executors=False)
    procs = start_executors(net)
    aggregator = Aggregator(load_aggregator_config(net.aggregator_config(root / "aggregator",
                                                                         max_concurrent_tasks=int(os.environ.get("BENCH_CONCURRENCY", "256")))))
    stages: dict[str, list[float]] = {}
    try:
        aggregator.start()
        histogram = aggregator.metrics.stage_seconds
        observe = histogram.observe

        def record(value: float, *labels: str) -> None:  # keep every sample for medians
            stages.setdefault(labels[0], []).append(value)
            observe(value, *labels)

        histogram.observe = record
        # warm-up (operator table, channels, lines of the keys)
        (h, _), = send_tasks(net, 1, 1)
        wait_for(lambda: verified(net, h), 30, "the warm-up task")
        stages.clear()
        checks0 = PAIRINGS.snapshot()

        latencies = []
        phases = random.Random(7)
        for n in range(latency_tasks):
            # Arrivals at a random point of a second: with EigenLayer's timing (no result in the creation block's
            # second) where in its second a task is created decides most of its latency.
            time.sleep(phases.random())  # load shaping, not waiting for a condition
            watch = VerifiedWatch(net)
            (h, sent), = send_tasks(net, 1, 100 + n)
            watch.wait([h], 30)
            latencies.append(watch.seen[h] - sent)
        checks1 = PAIRINGS.snapshot()
        seq_stages = {k: list(v) for k, v in stages.items()}
        stages.clear()

        cpu0 = cpu_seconds(procs, net.handle.pid)
        watch = VerifiedWatch(net)
        start = time.time()
        creator, created_file = send_tasks_elsewhere(net, tasks, 10_000)
        while creator.poll() is None:
            watch.look()
            time.sleep(0.01)  # benchmark polling while the creator runs
        if creator.returncode != 0:
            raise SystemExit(f"the task creator failed with exit code {creator.returncode}")
        created = [(bytes.fromhex(h), t) for h, t in json.loads(created_file.read_text())]
        sent_done = max(t for _, t in created)
        watch.wait([h for h, _ in created], 600)
        done = watch.seen
        elapsed = max(done[h] for h, _ in created) - start
        cpu = {k: v - cpu0.get(k, 0.0) for k, v in cpu_seconds(procs, net.handle.pid).items()}
        loaded = [done[h] - sent for h, sent in created]
        counts = aggregator.store.counts()
    finally:
        aggregator.stop()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        net.close()

    per_task = ((checks1[0] - checks0[0]) / latency_tasks, (checks1[1] - checks0[1]) / latency_tasks)
    print(f"\n== {backend}: 4 BN254 executors (subprocesses), aggregator in-process ==")
    print(f"sequential createTask→TaskVerified over {latency_tasks} tasks: p50 {statistics.median(latencies) * 1000:.0f} ms"
          f", p90 {pct(latencies, 0.9) * 1000:.0f} ms, min {min(latencies) * 1000:.0f} ms")
    print(f"pairing work per task: {per_task[0]:.2f} checks ({per_task[1]:.1f} pairs)")
    print("per stage (sequential), median ms: " + ", ".join(
        f"{k} {statistics.median(v) * 1000:.1f}" for k, v in sorted(seq_stages.items())))
    without_wait = [t - w for t, w in zip(seq_stages.get("total", []), seq_stages.get("wait_timestamp", []))]
    if without_wait:
        print(f"aggregator time excluding the wait for the chain's next second: p50 "
              f"{statistics.median(without_wait) * 1000:.0f} ms")
    print(f"throughput: {tasks} tasks created in {sent_done - start:.2f} s, all verified after {elapsed:.2f} s → "
          f"{tasks / elapsed:.1f} verified tasks/s; latency under load p50 {statistics.median(loaded) * 1000:.0f} ms,"
          f" p90 {pct(loaded, 0.9) * 1000:.0f} ms; store {counts}")
    print("CPU seconds per task under load: " + ", ".join(f"{k} {v / tasks * 1000:.1f} ms" for k, v in cpu.items()))
    print("per stage (under load), median ms: " + ", ".join(
        f"{k} {statistics.median(v) * 1000:.1f}" for k, v in sorted(stages.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["anvil", "embedded", "both"], default="both")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--latency", type=int, default=20)
    parser.add_argument("--creator", help=argparse.SUPPRESS)  # internal: the task-creating child process
    args = parser.parse_args()
    if args.creator:
        creator_main(json.loads(args.creator))
        return
    for backend in (["anvil", "embedded"] if args.backend == "both" else [args.backend]):
        run(backend, args.tasks, args.latency)


if __name__ == "__main__":
    main()
