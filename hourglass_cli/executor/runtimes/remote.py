"""The ``remote`` runtime: a performer someone else runs, reached at ``host:port``.

Nothing is started or stopped; "alive" means its gRPC health answers SERVING, and a "restart" is waiting
for it to answer again. The runtime env (PORT, RPC URLs, contracts) is the operator's to give it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from hourglass_cli.errors import ConfigError
from hourglass_cli.executor.runtimes.base import PerformerRuntime, RuntimeContext, check_health, wait_for_health

_HOSTPORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$")


def parse_address(address: str, where: str = "[performer].address") -> str:
    """Check ``host:port`` (IPv6 in brackets); ConfigError naming ``where`` otherwise."""
    match = _HOSTPORT.match(address or "")
    if not match or not 0 < int(match.group(2)) <= 65535:
        raise ConfigError(f"{where} must be host:port (e.g. 127.0.0.1:8080), got {address!r}")
    return address


class RemoteRuntime(PerformerRuntime):
    """A performer at a fixed address."""

    name: ClassVar[str] = "remote"

    def __init__(self, address: str, *, start_deadline_s: float = 10.0, health_timeout: float = 1.0) -> None:
        super().__init__()
        self.address = parse_address(address)
        self.start_deadline_s = start_deadline_s
        self.health_timeout = health_timeout

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], context: RuntimeContext) -> RemoteRuntime:
        """Keys: ``address`` (host:port), ``startup_timeout``."""
        address = parse_address(str(settings.get("address") or ""), f"{context.where}.address")
        return cls(address, start_deadline_s=float(settings.get("startup_timeout", 10.0)))

    def endpoint(self) -> str:
        return self.address

    def start(self, deadline_s: float) -> None:
        wait_for_health(self.address, deadline_s)

    def stop(self, timeout: float = 10.0) -> None:
        """Nothing to stop: someone else runs it."""

    def is_alive(self) -> bool:
        return check_health(self.address, self.health_timeout)

    def restart(self) -> None:
        self.start(self.start_deadline_s)
