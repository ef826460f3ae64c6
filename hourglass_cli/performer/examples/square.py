"""Example performer: the payload is an ABI-encoded ``uint256`` n, the result the ABI-encoded n².

Run it with ``hourglass performer serve hourglass_cli.performer.examples.square:SquarePerformer``; a task
created with DevKit's ``avs call signature="(uint256)" args="(5)"`` gets back ``abi.encode(uint256(25))``.
"""

from __future__ import annotations

from eth_abi import decode, encode

from hourglass_cli.performer import Performer, TaskRequest, TaskValidationError

_LIMIT = 2**128  # n < 2^128 keeps n² inside uint256


class SquarePerformer(Performer):
    """Squares a uint256; rejects anything that is not exactly one ABI word below 2^128."""

    def _number(self, request: TaskRequest) -> int:
        if len(request.payload) != 32:
            raise TaskValidationError(
                f"payload must be one ABI-encoded uint256 (32 bytes), got {len(request.payload)} bytes"
            )
        (number,) = decode(["uint256"], request.payload)
        return int(number)

    def validate_task(self, request: TaskRequest) -> None:
        if self._number(request) >= _LIMIT:
            raise TaskValidationError("the number must be below 2^128, or its square overflows uint256")

    def handle_task(self, request: TaskRequest) -> bytes:
        number = self._number(request)
        return encode(["uint256"], [number * number])
