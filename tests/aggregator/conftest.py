"""Fixtures: real devnets (anvil and the embedded chain, BN254 and ECDSA) shared per module, and in-process
aggregators on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hourglass_cli.aggregator.config import load_aggregator_config
from hourglass_cli.aggregator.server import Aggregator
from tests.aggregator.stack import Devnet, build_devnet


def settled(aggregator: Aggregator, task_hash: str, timeout: float = 10.0) -> object:
    """The aggregator's final record of a task. TaskVerified can be seen on chain before the aggregator has read
    its receipt and written the outcome, so a test that saw the event waits for the store too."""
    from hourglass_cli.aggregator import store as st
    from tests.aggregator.stack import wait_for

    return wait_for(lambda: (r := aggregator.store.get("l1", task_hash)) and r.status in st.FINAL and r, timeout,
                    "the aggregator's final record of the task")


def start_aggregator(net: Devnet, folder: Path, **settings: object) -> Aggregator:
    aggregator = Aggregator(load_aggregator_config(net.aggregator_config(folder, **settings)))
    aggregator.start()
    return aggregator


class Devnets:
    """Devnets built on first use, closed at the end of the module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nets: dict[tuple[str, str, bool], tuple[Devnet, Aggregator]] = {}

    def get(self, backend: str, curve: str, same_second: bool = True) -> tuple[Devnet, Aggregator]:
        """`same_second=False`: the mailbox has EigenLayer's timing (a result waits for the chain's next second)."""
        key = (backend, curve, same_second)
        if key not in self.nets:
            net = build_devnet(backend, curve, self.root / f"{backend}-{curve}-{int(same_second)}",
                               same_second=same_second)
            try:
                aggregator = start_aggregator(net, net.root / "aggregator")
            except BaseException:
                net.close()
                raise
            self.nets[key] = (net, aggregator)
        return self.nets[key]

    def close(self) -> None:
        for net, aggregator in self.nets.values():
            aggregator.stop()
            net.close()


@pytest.fixture(scope="module")
def devnets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnets]:
    built = Devnets(tmp_path_factory.mktemp("aggregator-devnets"))
    yield built
    built.close()
