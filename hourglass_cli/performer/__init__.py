"""The performer SDK: subclass :class:`Performer`, then ``serve(MyPerformer())`` or
``hourglass performer serve my_module:MyPerformer``.

Importing this package is cheap (no gRPC); :func:`serve` loads the server on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hourglass_cli.performer.base import Performer, TaskRequest, TaskResponse, TaskValidationError
from hourglass_cli.performer.phase import PhaseRequest

if TYPE_CHECKING:
    from hourglass_cli.performer.server import PerformerServer

__all__ = ["Performer", "PerformerServer", "PhaseRequest", "TaskRequest", "TaskResponse", "TaskValidationError",
           "serve"]


def serve(performer: Performer, port: int | None = None, host: str = "127.0.0.1", **options: Any) -> None:
    """Serve ``performer`` over gRPC until SIGTERM/SIGINT (see :func:`hourglass_cli.performer.server.serve`)."""
    from hourglass_cli.performer.server import serve as _serve

    _serve(performer, port, host, **options)


def __getattr__(name: str) -> Any:
    if name == "PerformerServer":
        from hourglass_cli.performer.server import PerformerServer

        return PerformerServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
