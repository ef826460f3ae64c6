"""Connecting to a chain: a Web3 for an RPC URL, ready when `connect` returns."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, TypeVar

from hourglass_cli.errors import ChainError

if TYPE_CHECKING:
    from web3 import Web3

T = TypeVar("T")

DEFAULT_CONNECT_TIMEOUT = 30.0
DEFAULT_REQUEST_TIMEOUT = 60.0


def make_web3(rpc_url: str, request_timeout: float = DEFAULT_REQUEST_TIMEOUT, retries: bool = True) -> Web3:
    """A Web3 for an http(s) URL or an IPC path (no request is made).

    `retries=False` turns off web3's own retry-with-backoff on connection errors (used while probing).
    Two of web3's default middlewares are left out: "validation" asks the node for eth_chainId before every
    eth_call and transaction (twice the requests; our transactions carry the chain id TxSender read once), and
    "ens_name_to_address" walks every request's parameters for ENS names, which we never use.
    """
    from web3 import Web3

    if rpc_url.startswith(("http://", "https://")):
        extra = {} if retries else {"exception_retry_configuration": None}
        provider = Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": request_timeout}, session=_session(),
                                     **extra)
    elif rpc_url.endswith(".ipc"):
        provider = Web3.IPCProvider(rpc_url, timeout=request_timeout)
    else:
        raise ChainError(f"unsupported RPC URL {shown_url(rpc_url)!r}",
                         hint="use an http:// or https:// URL (e.g. http://127.0.0.1:8545) or a .ipc path")
    w3 = Web3(provider)
    for name in ("validation", "ens_name_to_address"):
        w3.middleware_onion.remove(name)
    return w3


def _session() -> object:
    """One requests session for every thread of a Web3, with a connection pool sized for many threads.

    Without it web3 keeps a session per thread in a 100-entry cache: an aggregator with more task threads than
    that evicts and reconnects (a timer thread per eviction), and every session pools only 10 connections."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=128)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def poll_until(check: Callable[[], T | None], timeout: float, what: str,
               hint: str | None = None, interval: float = 0.01) -> T:
    """Call `check` until it returns a value other than None, or raise ChainError after `timeout` seconds.

    Waits between polls start at `interval` and double up to 0.25 s; no wait outlasts the deadline.
    """
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        value = check()
        if value is not None:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChainError(f"{what} did not happen within {timeout:g} s", hint=hint)
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.25)


def shown_url(url: str) -> str:
    """`url` for messages and logs, without what may be a secret: a password as ***, a user without a password
    (providers' API keys: https://KEY@host/) as ***, and a path or query (https://host/v3/KEY) as /…."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.netloc:
        return url  # an IPC path
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        userinfo = f"{parts.username}:***" if parts.password is not None else "***"
    rest = "/…" if parts.path.strip("/") or parts.query or parts.fragment else parts.path
    return f"{parts.scheme}://{userinfo}{at}{host}{rest}"


def wait_answer(chain_id: Callable[[], int], timeout: float, name: str) -> int:
    """Call `chain_id` (an eth_chainId request) until it answers; ChainError naming `name` after `timeout` s.

    Shared by web3's path (`wait_ready`) and the task commands' (`tasks.rpc.wait_ready`).
    """
    last: list[str] = []

    def ask() -> int | None:
        try:
            return chain_id()
        except Exception as exc:  # noqa: BLE001 - not up yet: connection refused, 503, ...
            # A ChainError wrapping the transport's error: name the cause (ConnectionRefusedError, ...).
            cause = exc.__cause__ if isinstance(exc, ChainError) and exc.__cause__ is not None else exc
            last[:] = [type(cause).__name__]
            return None

    name = shown_url(name)
    try:
        return poll_until(ask, timeout, f"a JSON-RPC answer from {name}")
    except ChainError:
        reason = f" (last error: {last[0]})" if last else ""
        raise ChainError(
            f"the chain at {name} did not answer within {timeout:g} s{reason}",
            hint="start it (`hourglass devnet start`) or check the RPC URL and port",
        ) from None


def wait_ready(w3: Web3, timeout: float = DEFAULT_CONNECT_TIMEOUT, what: str | None = None) -> int:
    """Wait until the node answers `eth_chainId`; returns the chain id."""
    return wait_answer(lambda: int(w3.eth.chain_id), timeout, what or _endpoint(w3))


def connect(rpc_url: str, timeout: float = DEFAULT_CONNECT_TIMEOUT,
            request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> Web3:
    """A Web3 for `rpc_url`, returned once the node answers (polled until `timeout` seconds)."""
    # Probe without web3's retry back-off (its sleeps would overshoot our deadline), then hand out
    # a normal Web3.
    wait_ready(make_web3(rpc_url, min(request_timeout, 5.0), retries=False), timeout, rpc_url)
    return make_web3(rpc_url, request_timeout)


def _endpoint(w3: Web3) -> str:
    provider = w3.provider
    return str(getattr(provider, "endpoint_uri", None) or getattr(provider, "ipc_path", None) or type(provider).__name__)
