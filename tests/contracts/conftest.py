"""Chains for the contract tests: eth-tester and anvil (installed by `make test`; missing anvil fails)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contracts.chains import Chain, anvil_binary, anvil_chain, eth_tester_chain


@pytest.fixture(params=["eth-tester", "anvil"])
def chain(request: pytest.FixtureRequest) -> Iterator[Chain]:
    """A fresh chain per test, on py-evm and on anvil."""
    if request.param == "eth-tester":
        yield eth_tester_chain()
        return
    binary = anvil_binary()
    if binary is None:
        pytest.fail("anvil is not installed: `make test` installs it (npm @foundry-rs/anvil into ./node_modules)")
    chain = anvil_chain(binary)
    try:
        yield chain
    finally:
        chain.close()


@pytest.fixture
def tester_chain() -> Chain:
    """A fresh in-process py-evm chain (for the many revert-path tests)."""
    return eth_tester_chain()


@pytest.fixture(scope="session")
def sol_artifacts(request: pytest.FixtureRequest) -> dict:
    """ABI and bytecode of the test-only tests/contracts/sol/*.sol, compiled once per session."""
    from tests.contracts.sol import compile_test_contracts

    cache = getattr(request.config, "cache", None)  # absent under `-p no:cacheprovider`
    return compile_test_contracts(cache.mkdir("hourglass-test-sol") if cache is not None else None)
