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


class ApiServer:
    """The client API on a port; `start()` returns once it listens, `stop()` ends it."""

    def __init__(self, config: ApiConfig, *, chain: Any = None, hourglass: Any = None,
                 service: ApiService | None = None) -> None:
        self.config = config
        self.service = service or ApiService(config, chain=chain, hourglass=hourglass)
        api = config.api
        limit = api.max_request_bytes
        self._server = grpc.server(ThreadPoolExecutor(max_workers=api.workers, thread_name_prefix="api-rpc"),
                                   options=[("grpc.max_receive_message_length", limit),
                                            ("grpc.max_send_message_length", 64 * 1024 * 1024),
                                            ("grpc.so_reuseport", 0)])
        add_api_servicer(self.service, self._server)
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        try:
            from grpc_reflection.v1alpha import reflection

            reflection.enable_server_reflection((SERVICE.full_name, reflection.SERVICE_NAME,
                                                 health.SERVICE_NAME), self._server)
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
        self._health.set(SERVICE.full_name, health_pb2.HealthCheckResponse.SERVING)
        self._health.set("", health_pb2.HealthCheckResponse.SERVING)
        return self

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    def stop(self, grace: float = 1.0) -> None:
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
