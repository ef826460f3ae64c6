"""Chaos runs on a real devnet, as a user starts it: SIGKILLs while a stream of tasks runs, then the ledger.

`ChaosRun(chain, seed).run()`:

1. `hourglass avs init` in a temporary folder and `hourglass devnet start --detach --chain CHAIN` (process
   runtime, 4 BN254 executors, the devnet supervisor restarting whatever dies), with crash points armed in the
   environment (`hourglass_cli.failpoints`, each fires once): the aggregator dies once right after signing a
   submitResult and once right after the node took one (killed *while submitting*), an executor once after
   storing its signed answer and before replying;
2. a separate process (`tests.chaos.stream`, plain web3) creates `tasks` tasks back to back;
3. a killer SIGKILLs the aggregator, an executor or a performer (a child of an executor) each time the count of
   verified tasks reaches one of a set of thresholds drawn from the seed — so kills land at random points of
   the work, during and after the stream;
4. once the stream has ended, it waits (with a deadline) for every task to be verified, then checks the
   ledger: each task VERIFIED once with n², one TaskVerified each, and the mailbox's submitResult
   transactions equal to the tasks (none wasted); the aggregator's and executors' stores pass an integrity
   check and no executor holds two answers for a task.

Every random choice comes from `seed`; `Report` carries it, and the test prints it on failure. No sleeps:
every wait is on a condition with a deadline.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HOURGLASS = Path(sys.executable).with_name("hourglass")
APP_ACCOUNT = 2  # DevKit's task creator (the test mnemonic)
VICTIMS = ("aggregator", "executor", "performer")


@dataclass
class Kill:
    at: float  # wall time
    victim: str  # aggregator | executor-N | performer-N | failpoint:<name>
    after_verified: int
    head: int = -1  # the chain's head block when it was killed
    recovered_s: float = math.nan  # until a task was seen verified in a block mined after the kill
    back_s: float = math.nan  # until the supervisor had it healthy again under a new pid (aggregator, executors)


@dataclass
class Report:
    chain: str
    seed: int
    tasks: int
    verified: int = 0
    lost: list[str] = field(default_factory=list)  # tasks not verified (or wrong) at the end
    wrong: list[str] = field(default_factory=list)
    extra_submissions: int = 0  # submitResult transactions beyond one per task
    submissions: int = 0
    kills: list[Kill] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # store integrity, double answers, duplicate events
    wall_s: float = 0.0
    project: str = ""

    @property
    def ok(self) -> bool:
        return not (self.lost or self.wrong or self.extra_submissions or self.problems) and self.verified == self.tasks

    def recovery(self) -> tuple[float, float]:
        """(p50, p95) seconds from a kill to the next verified task (nearest rank)."""
        values = sorted(k.recovered_s for k in self.kills if not math.isnan(k.recovered_s))
        if not values:
            return math.nan, math.nan
        return statistics.median(values), values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]

    def summary(self) -> str:
        p50, p95 = self.recovery()
        kinds: dict[str, int] = {}
        for k in self.kills:
            kind = k.victim.split(":")[0].rstrip("-0123456789")
            kinds[kind] = kinds.get(kind, 0) + 1
        return (f"chain={self.chain} seed={self.seed} tasks={self.tasks} verified={self.verified} "
                f"lost={len(self.lost)} wrong={len(self.wrong)} submissions={self.submissions} "
                f"extra={self.extra_submissions} kills={len(self.kills)} {kinds} recovery_p50={p50:.2f}s "
                f"recovery_p95={p95:.2f}s wall={self.wall_s:.1f}s problems={self.problems[:5]} project={self.project}")


class ChaosError(Exception):
    pass


def _wait(check: Any, timeout: float, what: str, stop: threading.Event | None = None) -> Any:
    end = time.monotonic() + timeout
    pause = stop or threading.Event()
    delay = 0.01
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise ChaosError(f"{what} did not happen within {timeout:g} s")
        pause.wait(delay)  # polling a condition with a deadline
        delay = min(delay * 2, 0.1)


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    from hourglass_cli.devnet.chains._process import rpc_call

    return rpc_call(url, method, params, timeout=30)


class ChaosRun:
    """One chaos run on one chain backend (see the module docstring)."""

    def __init__(self, chain: str, seed: int, *, tasks: int = 100, kills: dict[str, int] | None = None,
                 failpoints: bool = True, workdir: Path | None = None, deadline_s: float = 240.0) -> None:
        self.chain, self.seed, self.tasks = chain, seed, tasks
        self.kill_plan = kills if kills is not None else {"aggregator": 3, "executor": 2, "performer": 2}
        self.failpoints = failpoints
        self.rng = random.Random(seed)
        self.workdir = workdir
        self.deadline_s = deadline_s
        self.report = Report(chain, seed, tasks)
        self._seen: dict[str, tuple[float, int]] = {}  # task hash -> (wall time TaskVerified was seen, its block)
        self._seen_lock = threading.Lock()
        self._stop = threading.Event()

    # -- the devnet --

    def _hg(self, *args: str, timeout: float = 300.0, env: dict[str, str] | None = None) -> str:
        full = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
        done = subprocess.run([str(HOURGLASS), *args], cwd=self.project, capture_output=True, text=True,
                              timeout=timeout, env=full)
        if done.returncode != 0:
            raise ChaosError(f"hourglass {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _state(self) -> Any:
        from hourglass_cli.devnet.state import devnet_dir, load_state

        return load_state(devnet_dir(self.project))

    def _armed(self, marks: Path) -> str:
        if not self.failpoints:
            return ""
        # The K-th hit in a process's life: drawn from the seed, so each run kills at other moments.
        points = {"aggregator.submit.signed": self.rng.randint(3, 25),
                  "aggregator.submit.sent": self.rng.randint(3, 25),
                  "executor.answer.stored": self.rng.randint(3, 25)}
        return ";".join(f"{name}={marks / name}@{nth}" for name, nth in points.items())

    def run(self) -> Report:
        started = time.monotonic()
        root = Path(self.workdir or tempfile.mkdtemp(prefix=f"hg-chaos-{self.chain}-"))
        root.mkdir(parents=True, exist_ok=True)
        self.marks = root / "failpoints"
        self.marks.mkdir(exist_ok=True)
        self.project = root
        self._hg("avs", "init", "chaos-avs")
        self.project = root / "chaos-avs"
        self.report.project = str(self.project)
        env = {"HOURGLASS_FAILPOINTS": self._armed(self.marks)}
        self._hg("devnet", "start", "--detach", "--chain", self.chain, env=env)
        try:
            self._run()
        finally:
            self._stop.set()
            try:
                self._hg("devnet", "stop", timeout=120)
            finally:
                self.report.wall_s = time.monotonic() - started
        self._check_stores()
        if self.report.ok and self.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
        return self.report

    # -- the run --

    def _run(self) -> None:
        from hourglass_cli.devnet.accounts import derive_account
        from hourglass_cli.devnet.deploy import CoreDeployment

        state = self._state()
        self.rpc = state.chains[0].endpoint
        self.deployment = CoreDeployment.from_json(state.deployment or {})
        self.first_block = int(_rpc(self.rpc, "eth_blockNumber", []), 16) + 1
        out = self.project / "stream.jsonl"
        stream = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.stream", "--rpc", self.rpc, "--mailbox", self.deployment.task_mailbox,
             "--avs", self.deployment.avs, "--set-id", str(self.deployment.executor_operator_set_id),
             "--key", "0x" + derive_account(APP_ACCOUNT).private_key.hex(), "--count", str(self.tasks),
             "--out", str(out)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        watcher = threading.Thread(target=self._watch, name="chaos-watch", daemon=True)
        watcher.start()
        plan = [v for kind, n in self.kill_plan.items() for v in [kind] * n]
        self.rng.shuffle(plan)
        thresholds = sorted(self.rng.sample(range(2, max(3, self.tasks - 5)), len(plan)))
        try:
            for threshold, kind in zip(thresholds, plan):
                _wait(lambda t=threshold: self._verified_count() >= t or self._stop.is_set(), self.deadline_s,
                      f"{threshold} verified tasks (before killing the {kind})", self._stop)
                self._kill(kind)
            code = stream.wait(self.deadline_s)
            output = stream.stdout.read() if stream.stdout else ""
            if code != 0:
                raise ChaosError(f"the task stream exited with {code}:\n{output[-2000:]}")
            self.created = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
            wanted = {t["task"] for t in self.created}
            try:
                _wait(lambda: wanted <= set(self._seen_copy()), self.deadline_s, "every task verified", self._stop)
            except ChaosError:
                pass  # the ledger below says which were lost
            self._recoveries()
            self._ledger()
        finally:
            if stream.poll() is None:
                stream.kill()
                stream.wait(10)

    def _kill(self, kind: str) -> None:
        from hourglass_cli.devnet.components import child_processes

        state = self._state()
        components = [c for c in state.components if c.pid]
        if kind == "aggregator":
            targets = [(c.name, c.pid) for c in components if c.kind == "aggregator"]
        elif kind == "executor":
            targets = [(c.name, c.pid) for c in components if c.kind == "executor"]
        else:
            targets = [(c.name.replace("executor", "performer"), pid) for c in components if c.kind == "executor"
                       for pid, _ticks in child_processes(c.pid or 0)]
        if not targets:  # it is being restarted right now: the next kill finds it
            return
        name, pid = self.rng.choice(sorted(targets))
        head = int(_rpc(self.rpc, "eth_blockNumber", []), 16)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        kill = Kill(time.time(), name, self._verified_count(), head)
        self.report.kills.append(kill)
        if kind != "performer":
            threading.Thread(target=self._back, args=(kill, name, pid), name="chaos-back", daemon=True).start()

    def _back(self, kill: Kill, name: str, pid: int) -> None:
        """Time from the kill until state.json shows the component healthy under a new pid."""
        def healthy_again() -> bool:
            try:
                found = [c for c in self._state().components if c.name == name]
            except Exception:  # noqa: BLE001 - state.json is rewritten atomically; a read may race a restart
                return False
            return bool(found) and found[0].pid not in (None, pid) and found[0].status == "healthy"

        try:
            _wait(healthy_again, 60.0, f"{name} healthy again", self._stop)
        except ChaosError:
            return
        kill.back_s = time.time() - kill.at

    # -- watching TaskVerified --

    def _watch(self) -> None:
        """Record when each TaskVerified is first seen (eth_getLogs by block range, a few times a second)."""
        from eth_utils import keccak

        from hourglass_cli.chain.abi import signature

        (entry,) = [e for e in _mailbox_abi() if e.get("type") == "event" and e["name"] == "TaskVerified"]
        topic = "0x" + keccak(text=signature(entry)).hex()
        next_block = self.first_block
        pause = threading.Event()
        while not self._stop.is_set():
            try:
                head = int(_rpc(self.rpc, "eth_blockNumber", []), 16)
                if head >= next_block:
                    logs = _rpc(self.rpc, "eth_getLogs", [{"address": self.deployment.task_mailbox,
                                                          "fromBlock": hex(next_block), "toBlock": hex(head),
                                                          "topics": [topic]}])
                    now = time.time()
                    with self._seen_lock:
                        for entry in logs:
                            self._seen.setdefault(entry["topics"][2].lower(), (now, int(entry["blockNumber"], 16)))
                    next_block = head + 1
            except Exception:  # noqa: BLE001 - the chain is never killed; a slow answer is retried
                pass
            pause.wait(0.05)  # the poll interval of a log watcher

    def _seen_copy(self) -> dict[str, tuple[float, int]]:
        with self._seen_lock:
            return dict(self._seen)

    def _verified_count(self) -> int:
        with self._seen_lock:
            return len(self._seen)

    def _recoveries(self) -> None:
        for name in ("aggregator.submit.signed", "aggregator.submit.sent", "executor.answer.stored"):
            marker = self.marks / name
            if marker.exists():  # the crash point fired (its marker's time is the kill's)
                self.report.kills.append(Kill(marker.stat().st_mtime, f"failpoint:{name}", -1, -1))
        verified_at = sorted(self._seen_copy().values())
        for kill in self.report.kills:
            after = [t for t, block in verified_at if block > kill.head and t >= kill.at]
            if after:
                kill.recovered_s = after[0] - kill.at

    # -- the ledger --

    def _ledger(self) -> None:
        from eth_abi import decode

        from hourglass_cli.chain.connection import make_web3
        from hourglass_cli.chain.structs import TaskStatus

        w3 = make_web3(self.rpc)
        mailbox = w3.eth.contract(address=self.deployment.task_mailbox, abi=_mailbox_abi())
        verified = 0
        for task in self.created:
            task_hash = bytes.fromhex(task["task"][2:])
            status = TaskStatus(int(mailbox.functions.getTaskStatus(task_hash).call()))
            if status != TaskStatus.VERIFIED:
                self.report.lost.append(f"{task['task']} (n={task['n']}, {status.name})")
                continue
            (value,) = decode(["uint256"], bytes(mailbox.functions.getTaskResult(task_hash).call()))
            if value != task["n"] ** 2:
                self.report.wrong.append(f"{task['task']}: {value} for n={task['n']}")
            verified += 1
        self.report.verified = verified
        events: dict[str, int] = {}
        for entry in w3.eth.get_logs({"address": self.deployment.task_mailbox, "fromBlock": self.first_block,
                                      "toBlock": "latest", "topics": [mailbox.events.TaskVerified().topic]}):
            key = "0x" + bytes(entry["topics"][2]).hex()
            events[key] = events.get(key, 0) + 1
        self.report.problems += [f"{h}: {n} TaskVerified events" for h, n in events.items() if n != 1]
        selector = bytes.fromhex(mailbox.encode_abi("submitResult", [b"\0" * 32, b"", b""])[2:10])
        submissions = 0
        for number in range(self.first_block, w3.eth.block_number + 1):
            for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
                if tx["to"] == mailbox.address and bytes(tx["input"])[:4] == selector:
                    submissions += 1
        self.report.submissions = submissions
        self.report.extra_submissions = max(0, submissions - len(events))

    def _check_stores(self) -> None:
        """After the devnet stopped: every store opens and passes its checks; no executor answered a task twice."""
        from hourglass_cli.aggregator.store import SqliteStore
        from hourglass_cli.devnet.state import devnet_dir
        from hourglass_cli.executor.store import ExecutorStore

        folder = devnet_dir(self.project)
        aggregator = SqliteStore(folder / "aggregator" / "aggregator.db")
        try:
            self.report.problems += [f"aggregator store: {p}" for p in aggregator.problems()]
            for task in getattr(self, "created", []):
                record = aggregator.get("l1", task["task"])
                if record is None or record.status != "completed":
                    self.report.problems.append(f"aggregator store: {task['task']} is "
                                                f"{record.status if record else 'unknown'} "
                                                f"({record.reason if record else ''})")
        finally:
            aggregator.close()
        for path in sorted(folder.glob("executors/*/executor.db")):
            store = ExecutorStore(path)
            try:
                self.report.problems += [f"{path.parent.name}: {p}" for p in store.problems()]
            finally:
                store.close()


def _mailbox_abi() -> list[dict[str, Any]]:
    from hourglass_cli.compiler.artifacts import load_artifact

    return load_artifact("TaskMailbox")["abi"]


def seed_from_env() -> int:
    """HOURGLASS_CHAOS_SEED if set (to replay a failure), else a fresh one."""
    text = os.environ.get("HOURGLASS_CHAOS_SEED", "")
    return int(text) if text else random.SystemRandom().randrange(2**32)
