"""A plain grpcio client, run as its own process: ``python plain_client.py GEN_DIR HOST:PORT``.

It imports grpc and the modules ``grpc_tools.protoc`` compiled at test time from the proto text
(performer.proto from hourglass_cli/wire/protos, the standard health.proto) -- nothing of hourglass_cli --
so it talks to the performer exactly as a foreign (e.g. Go) executor would.

Protocol: one JSON command per stdin line, one JSON answer per stdout line, tagged with the command's
``id``; every command runs in its own thread, so many calls can be in flight at once.
  {"id": 1, "op": "execute", "task_id": HEX, "payload": HEX, "timeout": 30}
      -> {"id": 1, "ok": true, "task_id": HEX, "result": HEX}
       | {"id": 1, "ok": false, "code": "INTERNAL", "details": "..."}
  {"id": 2, "op": "health", "service": ""}   -> {"id": 2, "ok": true, "status": "SERVING"}
  {"id": 3, "op": "start_sync", "payload": HEX} -> {"id": 3, "ok": true}
"""

from __future__ import annotations

import json
import sys
import threading

import grpc

sys.path.insert(0, sys.argv[1])

from eigenlayer.hourglass.v1.performer import performer_pb2, performer_pb2_grpc  # noqa: E402
from plain_health import health_pb2, health_pb2_grpc  # noqa: E402  (package grpc.health.v1)

_out_lock = threading.Lock()


def _emit(answer: dict) -> None:
    with _out_lock:
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def _run(command: dict, performer: performer_pb2_grpc.PerformerServiceStub, health: health_pb2_grpc.HealthStub) -> None:
    answer: dict = {"id": command["id"]}
    timeout = command.get("timeout", 30)
    try:
        if command["op"] == "execute":
            request = performer_pb2.TaskRequest(task_id=bytes.fromhex(command["task_id"]),
                                                payload=bytes.fromhex(command["payload"]))
            response = performer.ExecuteTask(request, timeout=timeout)
            answer.update(ok=True, task_id=response.task_id.hex(), result=response.result.hex())
        elif command["op"] == "health":
            response = health.Check(health_pb2.HealthCheckRequest(service=command.get("service", "")), timeout=timeout)
            answer.update(ok=True, status=health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
        elif command["op"] == "start_sync":
            performer.StartSync(performer_pb2.StartSyncRequest(payload=bytes.fromhex(command.get("payload", ""))),
                                timeout=timeout)
            answer.update(ok=True)
        else:
            answer.update(ok=False, code="CLIENT", details=f"unknown op {command['op']!r}")
    except grpc.RpcError as exc:
        answer.update(ok=False, code=exc.code().name, details=exc.details())
    _emit(answer)


def main() -> None:
    channel = grpc.insecure_channel(sys.argv[2])
    performer = performer_pb2_grpc.PerformerServiceStub(channel)
    health = health_pb2_grpc.HealthStub(channel)
    _emit({"id": "ready", "ok": True})
    threads = []
    for line in sys.stdin:
        if line.strip():
            thread = threading.Thread(target=_run, args=(json.loads(line), performer, health))
            thread.start()
            threads.append(thread)
    for thread in threads:
        thread.join()
    channel.close()


if __name__ == "__main__":
    main()
