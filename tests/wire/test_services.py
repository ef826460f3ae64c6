"""wire.services: handlers and stubs built from the descriptors, over a real loopback server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from hourglass_cli.wire import services
from hourglass_cli.wire.services import ExecutorStub, PerformerStub, executor_pb2, performer_pb2


class _Executor:
    def SubmitTask(self, request, context):  # noqa: N802
        if request.version != 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "version")
        return executor_pb2.TaskResult(task_id=request.task_id, output=request.payload[::-1],
                                       operator_set_id=request.operator_set_id, version=1)


class _Performer:
    def StartSync(self, request, context):  # noqa: N802
        return performer_pb2.StartSyncResponse()

    def ExecuteTask(self, request, context):  # noqa: N802
        return performer_pb2.TaskResponse(task_id=request.task_id, result=b"ok")


@pytest.fixture
def channel():
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    services.add_executor_servicer(_Executor(), server)
    services.add_performer_servicer(_Performer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch
    server.stop(grace=0).wait()


def test_executor_round_trip(channel) -> None:
    stub = ExecutorStub(channel)
    task_id = "0x" + "12" * 32
    result = stub.SubmitTask(executor_pb2.TaskSubmission(task_id=task_id, payload=b"abc", operator_set_id=3,
                                                         task_block_number=2**40, version=1), timeout=10)
    assert (result.task_id, result.output, result.operator_set_id) == (task_id, b"cba", 3)
    with pytest.raises(grpc.RpcError) as info:
        stub.SubmitTask(executor_pb2.TaskSubmission(task_id=task_id), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_performer_round_trip_on_the_literal_path(channel) -> None:
    stub = PerformerStub(channel)
    assert stub.ExecuteTask(performer_pb2.TaskRequest(task_id=b"t"), timeout=10).result == b"ok"
    stub.StartSync(performer_pb2.StartSyncRequest(), timeout=10)
    # A client that only knows the path string (as a Go client does) reaches the same handler.
    raw = channel.unary_unary("/eigenlayer.hourglass.v1.performer.PerformerService/ExecuteTask")
    answer = performer_pb2.TaskResponse.FromString(raw(performer_pb2.TaskRequest(task_id=b"t").SerializeToString()))
    assert answer.task_id == b"t"
