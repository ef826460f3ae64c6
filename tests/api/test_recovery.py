"""What a restart does with runs a crash left behind: the store as a SIGKILL leaves it (rows written by the
service's own transactions), then a new service on the same file."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hourglass_cli.api.engine import to_value
from hourglass_cli.api.service import ApiService
from hourglass_cli.api.store import SqliteApiStore
from hourglass_cli.wire.gen import avs_pb2 as pb
from tests.api.conftest import make_config

OWNER = "0x" + "11" * 20
WALLET = "0x" + "22" * 20


class _Count(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        _Count.hits.append(self.path)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Count)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _store_task(store: SqliteApiStore, task_id: str, url: str) -> pb.Task:
    task = pb.Task(id=task_id, owner=OWNER, smart_wallet_address=WALLET, name="t", status=pb.Enabled,
                   trigger=pb.TaskTrigger(id="trig", name="trigger", type=pb.TRIGGER_TYPE_MANUAL,
                                          manual=pb.ManualTrigger()),
                   nodes=[pb.TaskNode(id="n1", name="ping", type=pb.NODE_TYPE_REST_API, rest_api=pb.RestAPINode(
                       config=pb.RestAPINode.Config(url=f"{url}/{{{{trigger.data.run}}}}", method="GET")))],
                   edges=[pb.TaskEdge(id="e", source="trig", target="n1")], execution_count=2)
    task.input_variables["settings"].CopyFrom(to_value({"name": "t", "runner": WALLET}))
    store.put_task(task_id, OWNER, WALLET, task.status, task.SerializeToString())
    return task


def test_a_restart_runs_queued_runs_and_fails_started_ones_without_rerunning(tmp_path: Path, url: str) -> None:
    config = make_config(tmp_path)
    store = SqliteApiStore(config.store_path)
    task_id = "01JTASK0000000000000000000"
    _store_task(store, task_id, url)
    never_started = pb.Execution(id="01JEXEC000000000000000000A", start_at=1, status=pb.EXECUTION_STATUS_PENDING,
                                 index=0)
    started = pb.Execution(id="01JEXEC000000000000000000B", start_at=2, status=pb.EXECUTION_STATUS_PENDING, index=1)
    store.put_execution(never_started.id, task_id, OWNER, 0, 1, 1, 0, never_started.SerializeToString(),
                        queued=(json.dumps({"run": "a"}), "{}", False))
    store.put_execution(started.id, task_id, OWNER, 1, 1, 2, 0, started.SerializeToString(),
                        queued=(json.dumps({"run": "b"}), "{}", True))
    store.close()
    _Count.hits.clear()

    service = ApiService(config)
    try:
        service.background.shutdown(wait=True)  # let the recovered run finish
        a = pb.Execution.FromString(service.store.execution(never_started.id)[2])
        b = pb.Execution.FromString(service.store.execution(started.id)[2])
        assert a.status == pb.EXECUTION_STATUS_SUCCESS and [s.name for s in a.steps] == ["trigger", "ping"]
        assert b.status == pb.EXECUTION_STATUS_FAILED and "interrupted by a restart" in b.error
        assert _Count.hits == ["/a"]  # the started run's step was not sent again
        assert service.store.pending_triggers() == []
        assert service.store.problems() == []
    finally:
        service.close()
    # a second restart finds nothing to do
    _Count.hits.clear()
    again = ApiService(config)
    again.background.shutdown(wait=True)
    again.close()
    assert _Count.hits == []
