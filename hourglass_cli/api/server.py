"""Serving the client API: a grpcio server with ``aggregator.Aggregator``, gRPC health and reflection, bound to
loopback unless ``[api].host`` says otherwise. `ApiClient` is the Python side of the same wire (the CLI uses it).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from google.protobuf import message_factory
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from hourglass_cli.api.config import ApiConfig
from hourglass_cli.api.service import ApiService, wrap
from hourglass_cli.errors import HourglassError
from hourglass_cli.wire.gen import avs_pb2

SERVICE = avs_pb2.DESCRIPTOR.services_by_name["Aggregator"]
log = logging.getLogger("hourglass.api")


def _types(method) -> tuple[Any, Any]:
    return (message_factory.GetMessageClass(method.input_type), message_factory.GetMessageClass(method.output_type))


def add_api_servicer(service: ApiService, server: grpc.Server) -> None:
    handlers = {}
    for method in SERVICE.methods:
        request_type, response_type = _types(method)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            wrap(getattr(service, method.name), log.error), request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),))


NODE_SERVICE = "aggregator.Node"
STATUS_SERVICE = "hourglass.api.Triggers"


def make_node_service(config: ApiConfig, service: ApiService):
    """The aggregator.Node service when [api.triggers] is on and the chain, mailbox and AVS are configured."""
    api, triggers = config.api, config.triggers
    if not triggers.enabled or service.chain is None or not (api.task_mailbox and api.avs_address):
        if triggers.enabled:
            log.info("aggregator.Node not served: it needs [api].rpc_url, task_mailbox and avs_address")
        return None
    from hourglass_cli.triggers.node_service import NodeService
    from hourglass_cli.triggers.registry import OperatorRegistry

    set_id = triggers.operator_set_id if triggers.operator_set_id >= 0 else api.executor_operator_set_id
    registry = OperatorRegistry(service.chain.w3, avs=api.avs_address, set_id=set_id,
                                task_mailbox=api.task_mailbox, ttl=triggers.registry_ttl)
    return NodeService(service, registry, chain_id=api.chain_id)


def add_status_servicer(service: ApiService, node: Any, server: grpc.Server) -> None:
    """``hourglass.api.Triggers/Status`` (JSON in and out, the caller's ``authkey``): operators and, for a task the
    caller owns (or any task for an admin key), its watchers, last reports and fires."""
    import json

    from hourglass_cli.api.service import Abort

    def status(request: dict, context: grpc.ServicerContext) -> dict:
        try:
            user = service.user(context)
            task_id = request.get("task_id") if isinstance(request, dict) else None
            if task_id is not None:
                row = service.store.task(str(task_id))
                if row is None or (row[0] != user.address and "admin" not in user.roles):
                    raise Abort(grpc.StatusCode.NOT_FOUND, "task not found")
            return node.status(str(task_id) if task_id is not None else None)
        except Abort as exc:
            context.abort(exc.code, exc.message)

    def decode(raw: bytes) -> dict:
        from hourglass_cli.safe_json import loads

        try:
            value = loads(raw.decode("utf-8")) if raw else {}
        except Exception:  # noqa: BLE001 - bad JSON is an empty request (the call says what it needs)
            return {}
        return value if isinstance(value, dict) else {}

    handler = grpc.unary_unary_rpc_method_handler(status, request_deserializer=decode,
                                                  response_serializer=lambda v: json.dumps(v).encode())
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(STATUS_SERVICE, {"Status": handler}),))


def trigger_status(address: str, auth_key: str, task_id: str | None = None, timeout: float = 10.0) -> dict:
    """Call ``hourglass.api.Triggers/Status`` (the CLI's view of who watches what)."""
    import json

    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(f"/{STATUS_SERVICE}/Status", request_serializer=lambda v: json.dumps(v).encode(),
                                   response_deserializer=lambda raw: json.loads(raw))
        return call({"task_id": task_id} if task_id else {}, metadata=(("authkey", auth_key),), timeout=timeout)


class ApiServer:
    """The client API on a port; `start()` returns once it listens, `stop()` ends it."""

    def __init__(self, config: ApiConfig, *, chain: Any = None, hourglass: Any = None,
                 service: ApiService | None = None) -> None:
        self.config = config
        self.service = service or ApiService(config, chain=chain, hourglass=hourglass)
        api = config.api
        limit = api.max_request_bytes
        self.node = make_node_service(config, self.service)
        streams = config.triggers.max_streams if self.node is not None else 0
        self._server = grpc.server(ThreadPoolExecutor(max_workers=api.workers + streams,
                                                      thread_name_prefix="api-rpc"),
                                   options=[("grpc.max_receive_message_length", limit),
                                            ("grpc.max_send_message_length", 64 * 1024 * 1024),
                                            ("grpc.so_reuseport", 0),
                                            ("grpc.keepalive_time_ms", 30_000),
                                            ("grpc.keepalive_timeout_ms", 10_000),
                                            ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
                                            ("grpc.keepalive_permit_without_calls", 1)])
        add_api_servicer(self.service, self._server)
        names = [SERVICE.full_name]
        if self.node is not None:
            from hourglass_cli.triggers.node_service import add_node_servicer

            add_node_servicer(self.node, self._server)
            add_status_servicer(self.service, self.node, self._server)
            names.append(NODE_SERVICE)
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        try:
            from grpc_reflection.v1alpha import reflection

            reflection.enable_server_reflection((*names, reflection.SERVICE_NAME, health.SERVICE_NAME),
                                                self._server)
        except ImportError:  # reflection is a convenience for grpcurl users
            pass
        host = api.host
        try:
            self.port = self._server.add_insecure_port(f"{host}:{api.port}")
        except RuntimeError as exc:
            self.service.close()
            raise HourglassError(f"cannot listen on {host}:{api.port} for the client API ({exc})",
                                 hint="choose another [api].port, or stop what uses it") from None
        if self.port == 0:
            self.service.close()
            raise HourglassError(f"cannot listen on {host}:{api.port} for the client API (in use?)",
                                 hint="choose another [api].port, or stop what uses it")
        self.address = f"{host}:{self.port}"
        self._stopped = threading.Event()

    def start(self) -> ApiServer:
        self._server.start()
        if self.node is not None:
            self.node.start()
            self._health.set(NODE_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        self._health.set(SERVICE.full_name, health_pb2.HealthCheckResponse.SERVING)
        self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        return self

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    def stop(self, grace: float = 1.0) -> None:
        if self.node is not None:
            self.node.close()  # ends the operators' streams, so the server's stop does not wait for them
        self._server.stop(grace).wait(grace + 1)
        self.service.close()
        self._stopped.set()


class ApiClient:
    """Calls ``aggregator.Aggregator`` with an ``authkey``: ``client.call("ListTasks", request)``."""

    def __init__(self, address: str, auth_key: str | None = None, timeout: float = 30.0) -> None:
        self.channel = grpc.insecure_channel(address)
        self.auth_key, self.timeout = auth_key, timeout
        self._calls = {}
        for method in SERVICE.methods:
            request_type, response_type = _types(method)
            self._calls[method.name] = self.channel.unary_unary(
                f"/{SERVICE.full_name}/{method.name}", request_serializer=request_type.SerializeToString,
                response_deserializer=response_type.FromString)

    def call(self, method: str, request: Any, *, auth_key: str | None = None, timeout: float | None = None) -> Any:
        key = auth_key if auth_key is not None else self.auth_key
        metadata = (("authkey", key),) if key else ()
        return self._calls[method](request, metadata=metadata, timeout=timeout or self.timeout)

    def close(self) -> None:
        self.channel.close()
