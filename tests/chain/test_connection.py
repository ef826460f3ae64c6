"""connect(): ready when it returns, a deadline when nothing answers, clear errors for bad URLs."""

from __future__ import annotations

import socket
import time

import pytest

from hourglass_cli.chain import connect, poll_until
from hourglass_cli.errors import ChainError
from tests.chain.conftest import start_chain


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connect_to_anvil_returns_a_ready_web3() -> None:
    chain = start_chain("anvil")
    try:
        url = chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
        w3 = connect(url, timeout=5)
        assert w3.eth.chain_id == 31337
        assert w3.eth.block_number >= 0
    finally:
        chain.close()


def test_nothing_listening_fails_at_the_deadline_with_a_hint() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(ChainError) as info:
        connect(url, timeout=0.5)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.5  # polled up to the deadline (how fast it gives up after is a benchmark matter)
    assert url in str(info.value) and "did not answer within 0.5 s" in str(info.value)
    assert "hourglass devnet start" in (info.value.hint or "")


def test_unsupported_url() -> None:
    with pytest.raises(ChainError, match="unsupported RPC URL") as info:
        connect("ftp://example.org", timeout=1)
    assert "http://" in (info.value.hint or "")


def test_poll_until_returns_the_first_value_or_times_out() -> None:
    calls = iter([None, None, 7])
    assert poll_until(lambda: next(calls), 5, "a value") == 7
    with pytest.raises(ChainError, match="a value did not happen within 0.05 s"):
        poll_until(lambda: None, 0.05, "a value")


@pytest.mark.parametrize("url, shown", [
    ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
    ("http://user:hunter2@127.0.0.1:8545/", "http://user:***@127.0.0.1:8545/"),
    ("https://APIKEY123@rpc.example.org/", "https://***@rpc.example.org/"),
    ("https://mainnet.example.io/v3/APIKEY123", "https://mainnet.example.io/…"),
    ("https://rpc.example.org/?key=APIKEY123", "https://rpc.example.org/…"),
    ("/tmp/node.ipc", "/tmp/node.ipc"),
])
def test_urls_in_messages_hide_what_may_be_a_secret(url: str, shown: str) -> None:
    from hourglass_cli.chain.connection import shown_url

    assert shown_url(url) == shown


def test_an_unsupported_url_is_refused_without_its_secret() -> None:
    from hourglass_cli.chain.connection import make_web3

    with pytest.raises(ChainError) as info:
        make_web3("ws://user:hunter2@127.0.0.1:8546/APIKEY123")
    assert "hunter2" not in str(info.value) and "APIKEY123" not in str(info.value)
