"""What an AVS developer subclasses: :class:`Performer`, with plain :class:`TaskRequest`/:class:`TaskResponse`.

No protobuf and no gRPC here: the server (:mod:`hourglass_cli.performer.server`) converts the wire
messages, so a performer is plain Python and can be unit-tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hourglass_cli.performer.phase import PhaseRequest


@dataclass(frozen=True)
class TaskRequest:
    """One task, as the executor sends it.

    ``task_id`` is exactly the bytes on the wire: for Hourglass, the ASCII of the 0x-prefixed 66-char task
    hash (``task_hash`` gives it as text). ``payload`` is what was passed to ``TaskMailbox.createTask``.
    """

    task_id: bytes
    payload: bytes = field(repr=False)

    @property
    def task_hash(self) -> str:
        """``task_id`` as text (``0x…``); undecodable bytes are shown as escapes rather than failing."""
        return self.task_id.decode("ascii", errors="backslashreplace")


@dataclass(frozen=True)
class TaskResponse:
    """A result. ``task_id`` must be the request's, unchanged (the executor rejects any other)."""

    task_id: bytes
    result: bytes = field(repr=False)


class TaskValidationError(Exception):
    """Raise from :meth:`Performer.validate_task` to reject a task with a clear reason (any exception works)."""


class Performer:
    """Base class of an AVS performer: override :meth:`handle_task`, optionally :meth:`validate_task`, and
    :meth:`handle_phase` for workflow phases (a task whose payload is a workflow envelope goes there instead).

    The server calls ``validate_task`` then ``handle_task`` for every ``ExecuteTask``, concurrently from a
    thread pool, so keep shared state thread-safe. An exception from ``validate_task`` answers the
    executor ``INTERNAL: task is invalid: <message>``; one from ``handle_task``,
    ``INTERNAL: failed to handle task: <message>``. Contract addresses and RPC URLs come from the
    environment (``L1_RPC_URL``, ``L2_RPC_URL``, ``TASK_MAILBOX``, one variable per AVS contract).
    """

    def validate_task(self, request: TaskRequest) -> None:
        """Raise to reject ``request``; the default accepts every task."""
        return None

    def handle_task(self, request: TaskRequest) -> TaskResponse | bytes:
        """Do the work; return the result bytes (or a :class:`TaskResponse` with the same ``task_id``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement handle_task")

    def handle_phase(self, request: PhaseRequest) -> bytes:
        """A workflow phase's task (its payload is a workflow envelope; see :mod:`hourglass_cli.performer.phase`):
        return the phase's result bytes. Override it to run workflow phases; tasks of no workflow still go to
        :meth:`handle_task`."""
        raise NotImplementedError(f"{type(self).__name__} has no handle_phase: it cannot run workflow phases "
                                  f"(phase {request.phase_name!r} of workflow {request.workflow_id}); add "
                                  "handle_phase(self, request: PhaseRequest) -> bytes")

    def start_sync(self, payload: bytes) -> None:
        """``StartSync``: a no-op in the Hourglass stack today; override to act on it."""
        return None
