"""Chaos: a stream of 100 tasks on each chain backend while the aggregator, executors and performers are
SIGKILLed at random points (and at the crash points a random kill rarely hits: the aggregator while it
submits, an executor between storing and sending its answer). Every task must end verified exactly once with
the right result, with exactly one submitResult transaction each. The seed is printed on failure; replay it
with HOURGLASS_CHAOS_SEED=N. See tests/chaos/harness.py."""

from __future__ import annotations

import pytest

from tests.chaos.harness import ChaosRun, seed_from_env

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


@pytest.mark.parametrize("chain", ["embedded", "anvil"])
def test_no_task_lost_or_doubled_under_random_kills(chain: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    seed = seed_from_env()
    print(f"chaos seed {seed} ({chain}); replay with HOURGLASS_CHAOS_SEED={seed}")
    report = ChaosRun(chain, seed, tasks=100, workdir=tmp_path_factory.mktemp(f"chaos-{chain}")).run()
    print(report.summary())
    where = f"(seed {seed}; replay with HOURGLASS_CHAOS_SEED={seed}) {report.summary()}"
    assert len([k for k in report.kills if not k.victim.startswith("failpoint:")]) >= 5, where
    assert any(k.victim == "failpoint:aggregator.submit.sent" for k in report.kills), where
    assert not report.lost, f"tasks lost {where}: {report.lost[:10]}"
    assert not report.wrong, f"wrong results {where}: {report.wrong[:10]}"
    assert report.verified == report.tasks == 100, where
    assert report.submissions == report.tasks and report.extra_submissions == 0, where
    assert not report.problems, f"{where}: {report.problems[:10]}"
