"""The aggregator's config errors (file, key and rule named; no secrets in the file), the SQLite store's
restart semantics, and the certificate builders' witnesses (index-only for cached non-signers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hourglass_cli.aggregator import certificates as certs
from hourglass_cli.aggregator import store as st
from hourglass_cli.aggregator.config import load_aggregator_config, parse_aggregator_config
from hourglass_cli.aggregator.metrics import Metrics
from hourglass_cli.crypto import bn254, merkle
from hourglass_cli.errors import ConfigError

A = "0x" + "11" * 20


def minimal(**over: object) -> dict:
    doc = {
        "aggregator": {"operator_address": A, "avs_address": A},
        "keys": {"bn254_keystore": "k.json", "tx_key_env": "TX_KEY", "password_env": "PW"},
        "l1": {"rpc_url": "http://127.0.0.1:8545", "task_avs_registrar": A},
        "chains": [{"name": "l1", "rpc_url": "http://127.0.0.1:8545", "task_mailbox": A}],
    }
    for key, value in over.items():
        section, _, field = key.partition("__")
        if field:
            doc[section][field] = value
        else:
            doc[section] = value
    return doc


def test_minimal_config_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "aggregator.toml"
    path.write_text('[aggregator]\noperator_address = "%s"\navs_address = "%s"\n[keys]\necdsa_keystore = "k.json"\n'
                    'tx_keystore = "tx.json"\npassword_file = "pw"\n[l1]\nrpc_url = "http://127.0.0.1:1"\n'
                    'task_avs_registrar = "%s"\n[[chains]]\nname = "l1"\nrpc_url = "http://127.0.0.1:1"\n'
                    'task_mailbox = "%s"\n[[chains]]\nname = "l2"\nrpc_url = "http://127.0.0.1:2"\n'
                    'task_mailbox = "%s"\nconfirmations = 2\n' % (A, A, A, A, A))
    config = load_aggregator_config(path)
    assert [c.name for c in config.chains] == ["l1", "l2"] and config.chains[1].confirmations == 2
    assert config.chains[0].poll_interval == 0.05 and config.aggregator.max_concurrent_tasks == 64
    assert config.resolve("k.json") == tmp_path / "k.json"


@pytest.mark.parametrize("doc, message", [
    (minimal(aggregator__operator_address="0x12"), "[aggregator].operator_address must be 0x followed by 40 hex"),
    (minimal(aggregator__max_concurent_tasks=3), "unknown key 'max_concurent_tasks' in [aggregator] (did you mean "
                                                  "'max_concurrent_tasks'?)"),
    (minimal(keys__password="hunter2"), "secrets must not be written in the config file"),
    (minimal(keys__ecdsa_keystore="e.json"), "exactly one of bn254_keystore or ecdsa_keystore"),
    (minimal(chains=[]), "[[chains]] must be one or more tables"),
    (minimal(chains=[{"name": "l1", "rpc_url": "http://x:1", "task_mailbox": A, "poll_interval": 0}]),
     "[chains.0].poll_interval must be from 0.001 to 600"),
    (minimal(chains=[{"name": "a", "rpc_url": "http://x:1", "task_mailbox": A}] * 2), "two [[chains]] are named 'a'"),
    (minimal(l1__rpc_url="ftp://x"), "[l1].rpc_url must be an http(s):// URL"),
    (minimal(aggregatr={}), "unknown section [aggregatr] (did you mean 'aggregator'?)"),
])
def test_config_errors_name_the_file_key_and_rule(doc: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_aggregator_config(doc, "agg.toml")
    assert message in info.value.message and info.value.message.startswith("agg.toml")
    assert "hunter2" not in info.value.message


def test_tx_key_from_env_is_checked_and_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_aggregator_config(minimal())
    monkeypatch.setenv("TX_KEY", "0x" + "ab" * 31 + "zz")
    with pytest.raises(ConfigError) as info:
        config.read_tx_key()
    assert "ab" * 31 not in info.value.message
    monkeypatch.setenv("TX_KEY", "0x" + "ab" * 32)
    assert config.read_tx_key() == bytes.fromhex("ab" * 32)


def _task(n: int, block: int, block_hash: str = "0xaa") -> st.NewTask:
    return st.NewTask(f"0x{n:064x}", block, block_hash, 0, A, 1, 100, 1000, 1120, b"\x05")


def test_store_scans_transitions_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "agg.db"
    store = st.SqliteStore(path)
    fresh = store.record_scan("l1", st.Checkpoint(10, "0x10"), [_task(1, 9), _task(2, 10)], keep=3)
    assert [t.status for t in fresh] == [st.PENDING, st.PENDING]
    assert store.record_scan("l1", st.Checkpoint(11, "0x11"), [_task(1, 9)], keep=3) == []  # seen before
    assert store.transition("l1", _task(1, 9).task_hash, st.PROCESSING, only_from=st.IN_FLIGHT)
    store.add_response("l1", _task(1, 9).task_hash, st.ResponseRecord(A, "ok", b"\x19", b"s", b"a", None, 1.0))
    assert store.transition("l1", _task(2, 10).task_hash, st.EXPIRED, only_from=st.IN_FLIGHT, reason="late")
    assert not store.transition("l1", _task(2, 10).task_hash, st.COMPLETED, only_from=st.IN_FLIGHT)
    for n in range(12, 16):
        store.record_scan("l1", st.Checkpoint(n, f"0x{n}"), [], keep=3)
    assert [c.number for c in store.checkpoints("l1")] == [15, 14, 13]
    store.close()

    reopened = st.SqliteStore(path)  # a restart: in-flight tasks and their answers are still there
    assert [t.task_hash for t in reopened.in_flight()] == [_task(1, 9).task_hash]
    assert reopened.responses("l1", _task(1, 9).task_hash)[0].output == b"\x19"
    assert reopened.get("l1", _task(2, 10).task_hash).reason == "late"
    assert reopened.counts()[st.EXPIRED] == 1
    # A task cancelled by a reorg and seen again in another block is a new task.
    assert reopened.transition("l1", _task(1, 9).task_hash, st.CANCELLED, only_from=st.IN_FLIGHT, reason="reorg")
    again = reopened.record_scan("l1", st.Checkpoint(16, "0x16"), [_task(1, 12, "0xbb")], keep=3)
    assert [(t.status, t.block_number) for t in again] == [(st.PENDING, 12)]
    assert reopened.responses("l1", _task(1, 9).task_hash) == []
    reopened.rewind("l1", st.Checkpoint(14, "0x14"))
    assert [c.number for c in reopened.checkpoints("l1")] == [14]
    reopened.close()


def test_corrupt_store_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "agg.db"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(st.StoreError) as info:
        st.SqliteStore(path)
    assert "corrupt" in info.value.message and info.value.hint


def test_witnesses_index_only_for_cached_non_signers_and_local_check() -> None:
    keys = [bn254.PrivateKey.from_seed(bytes([i])) for i in range(5)]
    members = [certs.Member(k.public_g1(), (10,)) for k in keys]
    leaves = [merkle.operator_info_leaf(m.g1, list(m.weights)) for m in members]
    digest = b"\x42" * 32
    signers = [0, 2, 4]
    cert = certs.build_bn254_certificate(7, b"\x01" * 32, [keys[i].sign(digest) for i in signers],
                                         [keys[i].public_g2() for i in signers], members, signers, cached={3})
    witnesses = cert[4]
    assert [w[0] for w in witnesses] == [1, 3]
    assert witnesses[0][1] == merkle.merkle_proof(leaves, 1) and witnesses[1][1] == b""  # index only
    aggregate = bn254.aggregate_g1([m.g1 for m in members])
    signed = certs.check_bn254_certificate(cert, members=members, root=merkle.merkle_root(leaves),
                                           aggregate_g1=aggregate, totals=[50], bips=6000,
                                           signer_g1=[members[i].g1 for i in signers], cached={3})
    assert signed == [30]
    with pytest.raises(certs.CertificateError, match="below the threshold"):
        certs.check_bn254_certificate(cert, members=members, root=merkle.merkle_root(leaves), aggregate_g1=aggregate,
                                      totals=[50], bips=6667, signer_g1=[members[i].g1 for i in signers], cached={3})
    with pytest.raises(certs.CertificateError, match="Merkle proof"):
        certs.check_bn254_certificate(cert, members=members, root=b"\x09" * 32, aggregate_g1=aggregate, totals=[50],
                                      bips=1, signer_g1=[members[i].g1 for i in signers], cached={3})


def test_metrics_text_format() -> None:
    metrics = Metrics(task_counts=lambda: {"completed": 2}, pairings=lambda: (3, 15))
    metrics.stage_seconds.observe(0.03, "collect")
    metrics.responses.inc("0xabc", "ok")
    text = metrics.render()
    assert 'hourglass_aggregator_tasks{status="completed"} 2' in text
    assert 'hourglass_aggregator_stage_seconds_bucket{stage="collect",le="0.05"} 1' in text
    assert 'hourglass_aggregator_stage_seconds_count{stage="collect"} 1' in text
    assert 'hourglass_aggregator_pairing_work{kind="checks"} 3' in text
    assert "# TYPE hourglass_aggregator_responses_total counter" in text


def test_rendered_config_parses_back(tmp_path: Path) -> None:
    from hourglass_cli.aggregator.config import render_aggregator_config

    text = render_aggregator_config(
        operator_address=A, avs_address=A, keystore="keys/aggregator.bn254.keystore.json", curve="bn254",
        tx_keystore="keys/aggregator-tx.json", password_file="password.txt", l1_rpc_url="http://127.0.0.1:8545",
        task_avs_registrar=A, chains=[{"name": "l1", "rpc_url": "http://127.0.0.1:8545", "task_mailbox": A,
                                       "start_block": 3, "poll_interval": 0.02}],
        store="aggregator.db", metrics_port=0)
    path = tmp_path / "aggregator.toml"
    path.write_text(text)
    config = load_aggregator_config(path)
    assert config.chains[0].start_block == 3 and config.keys.tx_keystore == "keys/aggregator-tx.json"
    with pytest.raises(ConfigError, match="poll_interval"):
        render_aggregator_config(operator_address=A, avs_address=A, keystore="k", curve="bn254", tx_key_env="K",
                                 l1_rpc_url="http://x:1", task_avs_registrar=A,
                                 chains=[{"name": "l1", "rpc_url": "http://x:1", "task_mailbox": A,
                                          "poll_interval": -1}])
