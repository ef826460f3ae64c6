"""createTask → TaskVerified through the aggregator, on both chain backends and both curves: real chain, real
executors over gRPC with the square example performer, real SQLite; health and metrics over HTTP."""

from __future__ import annotations

import json
import urllib.request

import pytest
from eth_abi import decode

from hourglass_cli.aggregator import store as st
from hourglass_cli.aggregator.verify import PAIRINGS
from hourglass_cli.chain import certificates as encoding
from hourglass_cli.crypto import digests, ecdsa
from tests.aggregator.conftest import Devnets, settled


@pytest.mark.parametrize("backend", ["anvil", "embedded"])
@pytest.mark.parametrize("curve", ["bn254", "ecdsa"])
def test_task_verified_with_the_performers_result(devnets: Devnets, backend: str, curve: str) -> None:
    net, aggregator = devnets.get(backend, curve)
    assert aggregator.deps.same_second_results("l1")  # the devnet mailbox: no wait for the chain's next second
    checks_before = PAIRINGS.snapshot()[0]
    task_hash, _block = net.create_task(12345)
    event = net.wait_verified(task_hash)

    assert decode(["uint256"], event["result"]) == (12345**2,)
    assert event["aggregator"] == net.accounts.aggregator.address
    record = settled(aggregator, task_hash)
    assert record.status == st.COMPLETED and record.tx_hash
    assert "verified on chain" in (record.reason or "")
    ok = [r for r in aggregator.store.responses("l1", task_hash) if r.outcome == "ok"]
    assert len(ok) >= 3

    message_hash = digests.message_hash(bytes.fromhex(task_hash[2:]), event["result"])
    ts = net.ops.reference_timestamps[net.core.executor_operator_set_id]
    if curve == "bn254":
        cert = encoding.decode_bn254_certificate(event["executorCert"])
        assert (cert[0], bytes(cert[1])) == (ts, message_hash)
        # One witness per executor left out; a reply stored after the certificate was built may add to `ok`.
        assert 4 - len(ok) <= len(cert[4]) <= 1
        # One batched pairing check covered every result and auth signature of the task.
        assert PAIRINGS.snapshot()[0] - checks_before == 1
    else:
        cert = encoding.decode_ecdsa_certificate(event["executorCert"])
        digest = digests.ecdsa_certificate_digest(ts, message_hash, net.core.ecdsa_certificate_verifier)
        signers = [ecdsa.recover_hash(digest, cert[2][i:i + 65]) for i in range(0, len(cert[2]), 65)]
        # A reply stored after the certificate was built may make `ok` longer than the signer list.
        assert signers == sorted(signers, key=lambda a: int(a, 16)) and 3 <= len(signers) <= len(ok)
        registered = {op.ecdsa_signer for op in net.ops.executors}
        assert set(signers) <= registered

    # Health and metrics over HTTP.
    with urllib.request.urlopen(f"http://127.0.0.1:{aggregator.port}/healthz", timeout=5) as reply:
        health = json.loads(reply.read())
    assert health["status"] == "ok" and health["chains"]["l1"]["healthy"]
    with urllib.request.urlopen(f"http://127.0.0.1:{aggregator.port}/metrics", timeout=5) as reply:
        metrics = reply.read().decode()
    assert 'hourglass_aggregator_tasks{status="completed"}' in metrics
    assert 'hourglass_aggregator_stage_seconds_bucket{stage="total",le="+Inf"}' in metrics
    assert "hourglass_aggregator_responses_total{operator=" in metrics
    assert 'hourglass_aggregator_response_seconds_count{operator="0x' in metrics  # per-operator answer latency
