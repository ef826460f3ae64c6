"""The client API under load: latency of GetTask and ListTasks (1,000 automations), a blocking TriggerTask of a
CUSTOM_CODE node, and sustained executions per second.

A devnet (`hourglass avs init` + `devnet start --detach --chain embedded`, its aggregator serving the API), one user
signed in through GetSignatureFormat/GetKey, 1,000 automations created for its wallet. Then, from this process over
gRPC on loopback:

- GetTask of a random automation, `--calls` times;
- ListTasks of the wallet with limit 50 (a page of the 1,000, newest first) and with limit 1000, `--calls` times each;
- TriggerTask blocking, one CUSTOM_CODE node (`return {sum: _.sum([1,2,3]), n: trigger.data.n}` with lodash),
  `--calls` times;
- sustained: `--threads` client threads triggering non-blocking runs of a CUSTOM_CODE automation for `--seconds`,
  then waiting until every run ended; executions per second = finished runs / (last end - first start).

Prints a markdown table: p50 / p99 in ms and the throughput. Nothing is asserted.

Usage: .venv/bin/python benchmarks/api.py [--calls 200] [--seconds 10] [--threads 8]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HOURGLASS = Path(sys.executable).with_name("hourglass")


def hg(project: Path, *args: str) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run([str(HOURGLASS), *args], cwd=project, capture_output=True, text=True, timeout=600, env=env)
    if done.returncode != 0:
        raise SystemExit(f"hourglass {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(fn, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--tasks", type=int, default=1000)
    args = parser.parse_args()

    from hourglass_cli.api.engine import to_value
    from hourglass_cli.api.server import ApiClient
    from hourglass_cli.devnet.state import devnet_dir, load_state
    from hourglass_cli.wire.gen import avs_pb2 as pb
    from tests.api.conftest import login

    root = Path(tempfile.mkdtemp(prefix="hg-api-bench-"))
    hg(root, "avs", "init", "bench-avs")
    project = root / "bench-avs"
    hg(project, "devnet", "start", "--detach", "--chain", "embedded")
    try:
        state = load_state(devnet_dir(project))
        client = ApiClient(state.api["address"])
        token, _ = login(client)
        # the bench user is one user: lift its rate limit for the run (the limit is per user, by design)
        wallet = client.call("GetWallet", pb.GetWalletReq(salt="0"), auth_key=token).address

        def automation(source: str, name: str) -> pb.CreateTaskReq:
            req = pb.CreateTaskReq(trigger=pb.TaskTrigger(id="trig", name="trigger", type=pb.TRIGGER_TYPE_MANUAL,
                                                          manual=pb.ManualTrigger()),
                                   nodes=[pb.TaskNode(id="code", name="code", type=pb.NODE_TYPE_CUSTOM_CODE,
                                                      custom_code=pb.CustomCodeNode(config=pb.CustomCodeNode.Config(
                                                          lang=pb.LANG_JAVASCRIPT, source=source)))],
                                   edges=[pb.TaskEdge(id="e", source="trig", target="code")])
            req.input_variables["settings"].CopyFrom(to_value({"name": name, "runner": wallet}))
            return req

        source = "const _ = require('lodash'); return {sum: _.sum([1, 2, 3]), n: trigger.data.n};"
        ids = []
        for i in range(args.tasks):
            for attempt in range(100):
                try:
                    ids.append(client.call("CreateTask", automation(source, f"bench-{i}"), auth_key=token).id)
                    break
                except Exception as exc:  # noqa: BLE001 - RESOURCE_EXHAUSTED: the per-user limit; back off
                    if "RESOURCE_EXHAUSTED" not in repr(exc):
                        raise
                    threading.Event().wait(0.05 * (attempt + 1))
        rows = []

        def limited(fn):
            def call():
                while True:
                    try:
                        return fn()
                    except Exception as exc:  # noqa: BLE001
                        if "RESOURCE_EXHAUSTED" not in repr(exc):
                            raise
                        threading.Event().wait(0.01)
            return call

        get = timed(limited(lambda: client.call("GetTask", pb.IdReq(id=random.choice(ids)), auth_key=token)),
                    args.calls)
        rows.append(("GetTask", get))
        page = timed(limited(lambda: client.call("ListTasks", pb.ListTasksReq(smart_wallet_address=[wallet],
                                                                              limit=50), auth_key=token)), args.calls)
        rows.append(("ListTasks, limit 50 of 1,000", page))
        full = timed(limited(lambda: client.call("ListTasks", pb.ListTasksReq(smart_wallet_address=[wallet],
                                                                              limit=1000), auth_key=token)),
                     max(20, args.calls // 10))
        rows.append(("ListTasks, limit 1000", full))

        def trigger(blocking: bool):
            request = pb.TriggerTaskReq(task_id=random.choice(ids), trigger_type=pb.TRIGGER_TYPE_MANUAL,
                                        is_blocking=blocking)
            request.manual_trigger.data.CopyFrom(to_value({"n": 1}))
            resp = client.call("TriggerTask", request, auth_key=token)
            if blocking and resp.status != pb.EXECUTION_STATUS_SUCCESS:
                raise SystemExit(f"a run failed: {resp.error}")
            return resp

        rows.append(("TriggerTask blocking, CUSTOM_CODE (lodash)", timed(limited(lambda: trigger(True)), args.calls)))

        started: list[tuple[str, str]] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def load() -> None:
            while time.monotonic() < stop_at:
                resp = limited(lambda: trigger(False))()
                with lock:
                    started.append((resp.workflow_id, resp.execution_id))

        threads = [threading.Thread(target=load) for _ in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ends, begins, failed = [], [], 0
        for task_id, execution_id in started:
            while True:
                e = limited(lambda task_id=task_id, execution_id=execution_id: client.call(
                    "GetExecution", pb.ExecutionReq(task_id=task_id, execution_id=execution_id), auth_key=token))()
                if e.status != pb.EXECUTION_STATUS_PENDING:
                    break
                threading.Event().wait(0.02)
            failed += e.status != pb.EXECUTION_STATUS_SUCCESS
            begins.append(e.start_at)
            ends.append(e.end_at)
        rate = len(started) / ((max(ends) - min(begins)) / 1000) if started else 0.0
        print(f"\n{args.tasks} automations, {args.calls} calls each, embedded devnet, {os.cpu_count()} cores\n")
        print("| call | p50 ms | p99 ms |")
        print("|---|---|---|")
        for label, values in rows:
            print(f"| {label} | {statistics.median(values):.1f} | {pct(values, 0.99):.1f} |")
        print(f"\nsustained: {len(started)} non-blocking CUSTOM_CODE runs from {args.threads} threads in "
              f"{args.seconds:g} s: **{rate:.0f} executions/s** ({failed} failed)")
        print(json.dumps({"rate": rate, **{label: statistics.median(v) for label, v in rows}}))
        client.close()
    finally:
        hg(project, "devnet", "stop")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
