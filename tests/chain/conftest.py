"""Chains for the chain-layer tests: eth-tester in process and anvil (missing anvil fails, never skips)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contracts.chains import Chain, anvil_binary, anvil_chain, eth_tester_chain


def start_chain(kind: str) -> Chain:
    """A fresh chain funding DevKit's accounts: "eth-tester" or "anvil"."""
    if kind == "eth-tester":
        return eth_tester_chain()
    binary = anvil_binary()
    if binary is None:
        pytest.fail("anvil is not installed: `make test` installs it (npm @foundry-rs/anvil into ./node_modules)")
    return anvil_chain(binary)


@pytest.fixture(params=["eth-tester", "anvil"])
def chain(request: pytest.FixtureRequest) -> Iterator[Chain]:
    """A fresh chain per test, on py-evm and on anvil."""
    started = start_chain(request.param)
    try:
        yield started
    finally:
        started.close()
