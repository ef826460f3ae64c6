"""gRPC handlers and client stubs for the performer and executor services, built from the descriptors.

grpcio-tools' ``*_pb2_grpc.py`` need grpcio >= 1.64; these helpers use only ``unary_unary`` and generic
handlers, which every grpcio >= 1.60 has, and take the method paths from the compiled descriptors so no
name is written twice. Every method of both services is unary.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from hourglass_cli.wire.gen.eigenlayer.hourglass.v1.executor import executor_pb2
from hourglass_cli.wire.gen.eigenlayer.hourglass.v1.performer import performer_pb2

__all__ = [
    "executor_pb2",
    "performer_pb2",
    "PERFORMER_SERVICE",
    "EXECUTOR_SERVICE",
    "EXECUTE_TASK",
    "START_SYNC",
    "SUBMIT_TASK",
    "PerformerStub",
    "ExecutorStub",
    "add_performer_servicer",
    "add_executor_servicer",
]

_PERFORMER: ServiceDescriptor = performer_pb2.DESCRIPTOR.services_by_name["PerformerService"]
_EXECUTOR: ServiceDescriptor = executor_pb2.DESCRIPTOR.services_by_name["ExecutorService"]

PERFORMER_SERVICE: str = _PERFORMER.full_name
"""``eigenlayer.hourglass.v1.performer.PerformerService`` (also the name its health status is kept under)."""
EXECUTOR_SERVICE: str = _EXECUTOR.full_name
"""``eigenlayer.hourglass.v1.ExecutorService``."""


def method_path(service: ServiceDescriptor, method: str) -> str:
    """The HTTP/2 path of a method: ``/<package>.<Service>/<Method>``."""
    return f"/{service.full_name}/{service.methods_by_name[method].name}"


EXECUTE_TASK = method_path(_PERFORMER, "ExecuteTask")
START_SYNC = method_path(_PERFORMER, "StartSync")
SUBMIT_TASK = method_path(_EXECUTOR, "SubmitTask")


def _types(module: ModuleType, service: ServiceDescriptor, method: str) -> tuple[Any, Any]:
    desc = service.methods_by_name[method]
    return getattr(module, desc.input_type.name), getattr(module, desc.output_type.name)


def _generic_handler(module: ModuleType, service: ServiceDescriptor, servicer: object) -> grpc.GenericRpcHandler:
    handlers = {}
    for desc in service.methods:
        request_type, response_type = _types(module, service, desc.name)
        behaviour: Callable[[Any, grpc.ServicerContext], Any] = getattr(servicer, desc.name)
        handlers[desc.name] = grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def add_performer_servicer(servicer: object, server: grpc.Server) -> None:
    """Serve ``PerformerService``: ``servicer`` has ``StartSync`` and ``ExecuteTask(request, context)``."""
    server.add_generic_rpc_handlers((_generic_handler(performer_pb2, _PERFORMER, servicer),))


def add_executor_servicer(servicer: object, server: grpc.Server) -> None:
    """Serve ``ExecutorService``: ``servicer`` has ``SubmitTask(request, context)``."""
    server.add_generic_rpc_handlers((_generic_handler(executor_pb2, _EXECUTOR, servicer),))


def _callable(
    channel: grpc.Channel, module: ModuleType, service: ServiceDescriptor, method: str
) -> grpc.UnaryUnaryMultiCallable:
    request_type, response_type = _types(module, service, method)
    return channel.unary_unary(
        method_path(service, method),
        request_serializer=request_type.SerializeToString,
        response_deserializer=response_type.FromString,
    )


class PerformerStub:
    """Client of ``PerformerService``: ``stub.ExecuteTask(TaskRequest, timeout=...)``."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.StartSync = _callable(channel, performer_pb2, _PERFORMER, "StartSync")
        self.ExecuteTask = _callable(channel, performer_pb2, _PERFORMER, "ExecuteTask")


class ExecutorStub:
    """Client of ``ExecutorService``: ``stub.SubmitTask(TaskSubmission, timeout=...)``."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.SubmitTask = _callable(channel, executor_pb2, _EXECUTOR, "SubmitTask")
