"""free_port picks below the kernel's ephemeral range, so no outgoing connection takes the port before the
server that asked for it binds it."""

from __future__ import annotations

import socket

from hourglass_cli.ports import _ephemeral_range, free_port, port_in_use


def test_free_ports_are_bindable_and_outside_the_ephemeral_range() -> None:
    low, high = _ephemeral_range()
    ports = {free_port() for _ in range(20)}
    assert len(ports) > 1  # random picks, not one fixed port
    for port in ports:
        assert not low <= port <= high, (port, low, high)
        assert not port_in_use("127.0.0.1", port)
    with socket.socket() as server:  # and a port someone listens on is never handed out
        server.bind(("127.0.0.1", 0))
        server.listen()
        taken = server.getsockname()[1]
        assert port_in_use("127.0.0.1", taken)
        assert taken not in {free_port() for _ in range(50)}
