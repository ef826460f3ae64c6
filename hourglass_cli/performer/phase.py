"""Workflow phases as a performer sees them: the JSON envelope WorkflowStateMachine puts in a phase's task.

`{"hourglass_workflow":1,"workflow":"0x…","execution":"0x…","phase":I,"name":"…","type":"…","update":N,
"input":"0x…","dependencies":["0x…",…]}` (shared/docs/WORKFLOWS.md). `parse_envelope` turns those bytes into a
`PhaseRequest` (or says what is wrong with them); `is_envelope` is the cheap test the server routes on.
A Go performer can parse the same JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hourglass_cli.performer.base import TaskValidationError

ENVELOPE_KEY = "hourglass_workflow"
ENVELOPE_VERSION = 1
PHASE_TYPES = ("IMMEDIATE", "COORDINATION", "CONTINUOUS", "CONDITIONAL", "AGGREGATION")
_HASH = re.compile(r"0x[0-9a-f]{64}")
_HEX = re.compile(r"0x(?:[0-9a-f]{2})*")
_PREFIX = b'{"' + ENVELOPE_KEY.encode() + b'":'


@dataclass(frozen=True)
class PhaseRequest:
    """One phase's task: where it belongs, what it is, and what it works on.

    ``input`` is the execution's payload (for a CONDITIONAL phase: the trigger data); ``dependencies`` are the
    results of the phases this one depends on, in the definition's order; ``update`` numbers a CONTINUOUS
    phase's updates from 0 (0 for the other types).
    """

    task_id: bytes
    workflow_id: str
    execution_id: str
    phase_index: int
    phase_name: str
    phase_type: str
    update: int
    input: bytes = field(repr=False)
    dependencies: tuple[bytes, ...] = field(repr=False, default=())

    @property
    def task_hash(self) -> str:
        return self.task_id.decode("ascii", errors="backslashreplace")


def is_envelope(payload: bytes) -> bool:
    """Whether `payload` claims to be a workflow envelope (its first key); `parse_envelope` checks the rest."""
    return bytes(payload[: len(_PREFIX)]) == _PREFIX


def parse_envelope(payload: bytes, task_id: bytes = b"") -> PhaseRequest:
    """The PhaseRequest in a workflow envelope; TaskValidationError saying what is wrong with it."""
    def bad(why: str) -> TaskValidationError:
        return TaskValidationError(f"not a workflow phase envelope: {why} (a phase task's payload is the JSON "
                                   "WorkflowStateMachine writes; other tasks go to handle_task)")

    from hourglass_cli import safe_json

    try:
        doc = safe_json.loads(bytes(payload).decode("utf-8"))
    except safe_json.TooDeepError:  # json's C decoder would overflow the stack (py_ecc raises the limit)
        raise bad("the payload is not JSON (nested too deeply)") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("the payload is not JSON") from None
    if not isinstance(doc, dict) or doc.get(ENVELOPE_KEY) != ENVELOPE_VERSION:
        raise bad(f'"{ENVELOPE_KEY}" is not {ENVELOPE_VERSION}')

    def text(key: str, pattern: re.Pattern[str] | None = None) -> str:
        value = doc.get(key)
        if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
            raise bad(f'"{key}" is missing or malformed')
        return value

    def number(key: str) -> int:
        value = doc.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad(f'"{key}" is not a non-negative integer')
        return value

    phase_type = text("type")
    if phase_type not in PHASE_TYPES:
        raise bad(f'"type" {phase_type[:20]!r} is not one of {", ".join(PHASE_TYPES)}')
    deps = doc.get("dependencies")
    if not isinstance(deps, list) or not all(isinstance(d, str) and _HEX.fullmatch(d) for d in deps):
        raise bad('"dependencies" is not a list of 0x-hex strings')
    return PhaseRequest(
        task_id=bytes(task_id), workflow_id=text("workflow", _HASH), execution_id=text("execution", _HASH),
        phase_index=number("phase"), phase_name=text("name"), phase_type=phase_type, update=number("update"),
        input=bytes.fromhex(text("input", _HEX)[2:]), dependencies=tuple(bytes.fromhex(d[2:]) for d in deps))
