"""Local TCP ports: a free one picked by the kernel, and whether one is taken (devnet, executor, avs build)."""

from __future__ import annotations

import errno
import random
import socket
from pathlib import Path


_LOWEST = 10_000
_RANDOM = random.SystemRandom()


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for ports it hands out itself (outgoing connections, bind to port 0)."""
    try:
        low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host.strip("[]"), port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now, for a server that binds it a little later.

    Picked below the kernel's ephemeral range when there is room: a port the kernel picked (bind to 0) is one it
    may also hand to the next outgoing connection — an HTTP client's local port — before our server binds it."""
    low, _high = _ephemeral_range()
    if low - _LOWEST >= 1_000:
        for _ in range(64):
            port = _RANDOM.randint(_LOWEST, low - 1)  # os.urandom: forked processes do not share a sequence
            if _bindable(host, port):
                return port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host.strip("[]"), 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """True if something listens on host:port (SO_REUSEADDR: a TIME_WAIT leftover is not "in use")."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False
