"""Triggers watched by real executors on a devnet (embedded chain, 4 executor operators of equal weight, quorum
2/3 = 3 reports): each occurrence of a fixed-time, cron, block-interval or event trigger starts exactly one
execution, through operator reports; silenced or dishonest operators; forged reports; an event flood.

    PYTHONPATH=. .venv/bin/python -m pytest -q tests/triggers/test_devnet_triggers.py
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from eth_account import Account
from google.protobuf import timestamp_pb2
from web3 import Web3

from hourglass_cli.api.engine import from_value, to_value
from hourglass_cli.api.server import ApiClient, trigger_status
from hourglass_cli.crypto import bn254
from hourglass_cli.crypto.keystore import load_keystore
from hourglass_cli.devnet.accounts import DEPLOYER_INDEX, derive_account
from hourglass_cli.triggers import protocol
from hourglass_cli.wire.gen import avs_pb2 as pb
from hourglass_cli.wire.gen import node_pb2 as npb
from hourglass_cli.wire.gen import node_pb2_grpc
from hourglass_cli.wire.signing import Bn254Signer
from tests.api.conftest import login
from tests.devnet._helpers import ok, run, state_of, wait_for
from tests.triggers.helpers import ERC20_ABI, TRANSFER_TOPIC

pytestmark = pytest.mark.slow

DEADLINE = 60.0
PASSWORD = "hourglass-devnet"


@dataclass
class Net:
    project: Path
    client: ApiClient
    w3: Web3
    state: object
    token: str
    wallet: str
    cli_key: str
    node: node_pb2_grpc.NodeStub
    chain_id: int

    def create(self, trigger: pb.TaskTrigger, **kw) -> str:
        node = pb.TaskNode(id="n1", name="code", type=pb.NODE_TYPE_CUSTOM_CODE, custom_code=pb.CustomCodeNode(
            config=pb.CustomCodeNode.Config(lang=pb.LANG_JAVASCRIPT, source="return 1")))
        trigger.id = trigger.id or "tr"
        request = pb.CreateTaskReq(trigger=trigger, nodes=[node],
                                   edges=[pb.TaskEdge(id="e1", source=trigger.id, target="n1")], **kw)
        request.input_variables["settings"].CopyFrom(to_value({"name": "t", "runner": self.wallet}))
        return self.client.call("CreateTask", request, auth_key=self.token).id

    def executions(self, task_id: str) -> list[pb.Execution]:
        """The task's executions, oldest first, once none is still running (each has its steps then)."""
        def settled() -> list[pb.Execution] | None:
            resp = self.client.call("ListExecutions", pb.ListExecutionsReq(task_ids=[task_id], limit=200),
                                    auth_key=self.token)
            items = list(reversed(resp.items))
            return None if any(e.status == pb.EXECUTION_STATUS_PENDING for e in items) else items

        return wait_for(lambda: (found := settled()) is not None and [found], DEADLINE, "executions settled")[0]

    def task(self, task_id: str) -> pb.Task:
        return self.client.call("GetTask", pb.IdReq(id=task_id), auth_key=self.token)

    def status(self, task_id: str | None = None) -> dict:
        return trigger_status(self.state.api["address"], self.cli_key, task_id)

    def blocks(self, count: int) -> None:
        """Mine `count` blocks (the embedded chain mines one per transaction)."""
        me = self.w3.eth.accounts[0]
        for _ in range(count):
            self.w3.eth.send_transaction({"from": me, "to": me, "value": 1})

    def send(self, to: str | None, data: bytes = b"") -> dict:
        account = Account.from_key(derive_account(DEPLOYER_INDEX).private_key)
        tx = {"to": to, "data": data, "value": 0, "nonce": self.w3.eth.get_transaction_count(account.address),
              "gas": 3_000_000, "gasPrice": self.w3.eth.gas_price, "chainId": self.chain_id}
        receipt = self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_raw_transaction(
            account.sign_transaction(tx).raw_transaction), timeout=60)
        assert receipt["status"] == 1
        return receipt

    def executors(self) -> list[dict]:
        return [c for c in json.loads((self.project / ".hourglass/devnet/state.json").read_text())["components"]
                if c["kind"] == "executor"]

    def signer_of(self, name: str) -> tuple[str, Bn254Signer]:
        import tomllib

        config = tomllib.loads((self.project / f".hourglass/devnet/executors/{name}/executor.toml").read_text())
        loaded = load_keystore(Path(config["keys"]["bn254_keystore"]), PASSWORD)
        return config["executor"]["operator_address"], Bn254Signer(loaded.bn254_private_key())


def _quorum(execution: pb.Execution) -> dict:
    return from_value(execution.steps[0].metadata)["quorum"]


def _data(execution: pb.Execution, field: str) -> dict:
    return from_value(getattr(execution.steps[0], field).data)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    folder = tmp_path_factory.mktemp("triggers-devnet")
    ok(run(folder, "avs", "init", "trig-avs"))
    project = folder / "trig-avs"
    ok(run(project, "devnet", "start", "--detach", "--chain", "embedded", "--operators", "4"))
    try:
        state = state_of(project)
        client = ApiClient(state.api["address"])
        token, _ = login(client)
        wallet = client.call("GetWallet", pb.GetWalletReq(salt="0"), auth_key=token).address
        w3 = Web3(Web3.HTTPProvider(state.chain("l1").endpoint))
        channel = grpc.insecure_channel(state.api["address"])
        net = Net(project, client, w3, state, token, wallet, Path(state.api["cli_key_file"]).read_text().strip(),
                  node_pb2_grpc.NodeStub(channel), int(w3.eth.chain_id))
        wait_for(lambda: sum(1 for o in net.status()["operators"].values() if o.get("connected")) == 4, DEADLINE,
                 "the 4 executors connected to aggregator.Node")
        yield net
        channel.close()
        client.close()
    finally:
        ok(run(project, "devnet", "stop", timeout=120))


def _watching(net: Net, task_id: str, count: int = 4) -> None:
    wait_for(lambda: len(net.status(task_id)["watchers"]) == count and all(
        o.get("unacked", 0) == 0 for o in net.status()["operators"].values() if o.get("connected")), DEADLINE,
        f"{count} operators watching {task_id} (messages acknowledged)")


# ------------------------------------------------------------------ one execution per occurrence


def test_block_interval_fires_once_per_interval_block_through_a_quorum(net: Net) -> None:
    task_id = net.create(pb.TaskTrigger(name="blk", type=pb.TRIGGER_TYPE_BLOCK,
                                        block=pb.BlockTrigger(config=pb.BlockTrigger.Config(interval=3))))
    _watching(net, task_id)
    start = net.w3.eth.block_number
    net.blocks(9)
    end = net.w3.eth.block_number
    expected = [n for n in range(start + 1, end + 1) if n % 3 == 0]
    runs = wait_for(lambda: (r := net.executions(task_id)) and len(r) >= len(expected) and r, DEADLINE,
                    "an execution per third block")
    ok_ = net.client.call("SetTaskEnabled", pb.SetTaskEnabledReq(id=task_id, enabled=False), auth_key=net.token)
    assert ok_.success
    numbers = [int(_data(e, "block_trigger")["blockNumber"]) for e in net.executions(task_id)]
    assert sorted(numbers) == sorted(set(numbers)), "a block fired twice"
    assert set(expected) <= set(numbers) and all(n % 3 == 0 for n in numbers)
    for execution in runs:
        quorum = _quorum(execution)
        assert len(quorum["reporters"]) >= 3 and quorum["totalWeight"] and quorum["quorum"] == "2/3"
        assert quorum["requestId"] == f"{task_id}:{int(_data(execution, 'block_trigger')['blockNumber'])}"
        assert execution.status == pb.EXECUTION_STATUS_SUCCESS
    # the disable reached the operators: nobody watches it, and more blocks start nothing
    wait_for(lambda: net.status(task_id)["watchers"] == [], DEADLINE, "operators told the automation is disabled")
    before = len(net.executions(task_id))
    net.blocks(3)
    assert len(net.executions(task_id)) == before


def test_fixed_time_fires_once_per_epoch(net: Net) -> None:
    now = int(time.time() * 1000)
    epochs = [now + 2500, now + 4000]
    task_id = net.create(pb.TaskTrigger(name="at", type=pb.TRIGGER_TYPE_FIXED_TIME, fixed_time=pb.FixedTimeTrigger(
        config=pb.FixedTimeTrigger.Config(epochs=epochs))))
    runs = wait_for(lambda: (r := net.executions(task_id)) and len(r) == 2 and r, DEADLINE, "both epochs fired")
    assert [int(_data(e, "fixed_time_trigger")["timestamp"]) for e in runs] == epochs
    for execution, epoch in zip(runs, epochs):
        assert execution.start_at >= epoch
        assert _quorum(execution)["requestId"] == f"{task_id}:{epoch}"
    # the 4th report of each epoch arrives after the fire: still one execution per epoch
    wait_for(lambda: len(net.status(task_id)["reports"]) == 8, DEADLINE, "every operator's two reports")
    assert len(net.executions(task_id)) == 2
    fires = net.status(task_id)["fires"]
    assert sorted(f["outcome"] for f in fires) == ["fired", "fired"]


def test_cron_fires_until_max_execution_then_completes_and_operators_stop(net: Net) -> None:
    task_id = net.create(pb.TaskTrigger(name="cr", type=pb.TRIGGER_TYPE_CRON, cron=pb.CronTrigger(
        config=pb.CronTrigger.Config(schedules=["* * * * * */2"]))), max_execution=2)
    wait_for(lambda: net.task(task_id).status == pb.Completed, DEADLINE, "the cron automation completed")
    runs = net.executions(task_id)
    assert len(runs) == 2
    times = [int(_data(e, "cron_trigger")["timestamp"]) for e in runs]
    assert times[0] < times[1] and all(t % 2000 == 0 for t in times)
    wait_for(lambda: net.status(task_id)["watchers"] == [], DEADLINE, "CompletedTask reached the operators")
    wait_for(lambda: all(o.get("unacked", 0) == 0 for o in net.status()["operators"].values()), DEADLINE,
             "CompletedTask acknowledged")
    assert len(net.executions(task_id)) == 2


def _deploy_token(net: Net) -> str:
    from eth_abi import encode

    artifact = json.loads((Path(__file__).resolve().parents[2] / "contracts/out/DevnetERC20.json").read_text())
    bytecode = artifact["bytecode"] if isinstance(artifact.get("bytecode"), str) else \
        artifact["evm"]["bytecode"]["object"]
    receipt = net.send(None, bytes.fromhex(bytecode.removeprefix("0x")) +
                       encode(["string", "string"], ["Devnet Dollar", "DVD"]))
    return receipt["contractAddress"]


def _event_trigger(address: str, *, threshold: int | None = None, limit: int | None = None) -> pb.TaskTrigger:
    query = pb.EventTrigger.Query(addresses=[address], topics=[TRANSFER_TOPIC],
                                  contract_abi=[to_value(e) for e in ERC20_ABI if e.get("name") == "Transfer"])
    if threshold is not None:
        query.conditions.append(pb.EventCondition(field_name="Transfer.value", operator="gt", value=str(threshold),
                                                  field_type="uint256"))
    if limit is not None:
        query.max_events_per_block = limit
    return pb.TaskTrigger(name="ev", type=pb.TRIGGER_TYPE_EVENT, event=pb.EventTrigger(
        config=pb.EventTrigger.Config(queries=[query], cooldown_seconds=0)))


def test_erc20_transfers_above_the_amount_each_fire_once(net: Net) -> None:
    token = Web3.to_checksum_address(_deploy_token(net))
    contract = net.w3.eth.contract(address=token, abi=ERC20_ABI)
    task_id = net.create(_event_trigger(token, threshold=100))
    _watching(net, task_id)
    sent = {}
    for value in (50, 150, 100, 200):
        receipt = net.send(token, contract.encode_abi("mint", [net.w3.eth.accounts[5], value]))
        sent[value] = "0x" + bytes(receipt["transactionHash"]).hex()
    runs = wait_for(lambda: (r := net.executions(task_id)) and len(r) >= 2 and r, DEADLINE,
                    "the two transfers above 100 fired")
    wait_for(lambda: len(net.status(task_id)["reports"]) >= 8, DEADLINE, "every operator reported both")
    runs = net.executions(task_id)
    assert len(runs) == 2
    hashes = [_data(e, "event_trigger")["transactionHash"] for e in runs]
    assert sorted(hashes) == sorted([sent[150], sent[200]])
    assert all(_quorum(e)["requestId"].startswith(f"{task_id}:0x") for e in runs)


def _flood_contract(net: Net, logs: int) -> str:
    """A contract that emits `logs` ERC-20 Transfer logs (value 1000) on any call: an event flood in one block."""
    topic = bytes.fromhex(TRANSFER_TOPIC[2:])
    emit = b"\x7f" + b"\0" * 32 + b"\x7f" + b"\0" * 32 + b"\x7f" + topic + b"\x60\x20\x60\x00\xa3"  # LOG3
    runtime = b"\x61\x03\xe8\x60\x00\x52" + emit * logs + b"\x00"  # mstore(0, 1000); logs × LOG3; stop
    size = len(runtime).to_bytes(2, "big")
    init = b"\x61" + size + b"\x60\x0e\x60\x00\x39\x61" + size + b"\x60\x00\xf3"  # codecopy + return
    assert len(init) == 14
    return net.send(None, init + runtime)["contractAddress"]


def test_an_event_flood_is_reported_and_disables_the_automation(net: Net) -> None:
    flooder = Web3.to_checksum_address(_flood_contract(net, 5))
    task_id = net.create(_event_trigger(flooder, limit=3))
    _watching(net, task_id)
    net.send(flooder)
    wait_for(lambda: net.task(task_id).status == pb.Disabled, DEADLINE, "the flooded automation disabled")
    assert net.executions(task_id) == []
    status = net.status(task_id)
    assert status["metrics"].get("overload_disabled", 0) >= 1
    assert sum(1 for r in status["reports"] if r["outputHash"] == "overload") >= 3


# ------------------------------------------------------------------ silenced, dishonest, forged


def _stop(pid: int) -> None:
    os.kill(pid, signal.SIGSTOP)


def _cont(pid: int) -> None:
    os.kill(pid, signal.SIGCONT)


def test_one_silenced_executor_the_quorum_holds_two_it_correctly_fails(net: Net) -> None:
    task_id = net.create(pb.TaskTrigger(name="blk", type=pb.TRIGGER_TYPE_BLOCK,
                                        block=pb.BlockTrigger(config=pb.BlockTrigger.Config(interval=1))))
    _watching(net, task_id)
    pids = [c["pid"] for c in net.executors()]
    assert all(pids)
    _stop(pids[0])
    try:
        net.blocks(1)
        block = net.w3.eth.block_number
        key = f"{task_id}:{block}"
        run_ = wait_for(lambda: next((e for e in net.executions(task_id) if _quorum(e)["requestId"] == key), None),
                        DEADLINE, "block fired with one executor silenced")
        assert len(_quorum(run_)["reporters"]) == 3
        _stop(pids[1])
        try:
            net.blocks(1)
            block = net.w3.eth.block_number
            key = f"{task_id}:{block}"
            wait_for(lambda: sum(1 for r in net.status(task_id)["reports"] if r["key"] == key) == 2, DEADLINE,
                     "the two live executors reported the block")
            assert not any(_quorum(e)["requestId"] == key for e in net.executions(task_id)), \
                "two of four operators started an execution"
        finally:
            _cont(pids[1])
        # back: the resumed executor catches up, the block reaches the quorum, still once
        run_ = wait_for(lambda: next((e for e in net.executions(task_id) if _quorum(e)["requestId"] == key), None),
                        DEADLINE, "the block fired once the executor was back")
    finally:
        _cont(pids[0])
        net.client.call("SetTaskEnabled", pb.SetTaskEnabledReq(id=task_id, enabled=False), auth_key=net.token)
    keys = [_quorum(e)["requestId"] for e in net.executions(task_id)]
    assert len(keys) == len(set(keys))


def _report(net: Net, address: str, signer, task_id: str, request_id: str, data: dict,
            kind: str = "block_trigger", trigger_type: int = pb.TRIGGER_TYPE_BLOCK) -> npb.NotifyTriggersResp:
    value = to_value(data)
    digest = protocol.output_hash(value)
    signature = signer.sign_offchain(protocol.report_message(net.chain_id, address, task_id, request_id, digest))
    request = npb.NotifyTriggersReq(address=address, signature="0x" + signature.hex(), task_id=task_id,
                                    trigger_type=trigger_type, trigger_request_id=request_id)
    getattr(request, kind).data.CopyFrom(value)
    return net.node.NotifyTriggers(request, timeout=10)


def test_a_single_dishonest_operator_cannot_start_an_execution(net: Net) -> None:
    task_id = net.create(pb.TaskTrigger(name="blk", type=pb.TRIGGER_TYPE_BLOCK,
                                        block=pb.BlockTrigger(config=pb.BlockTrigger.Config(interval=1000))))
    address, signer = net.signer_of("executor-1")  # a real member's registered key
    block = net.w3.eth.get_block("latest")
    number = block["number"] - block["number"] % 1000  # an interval block that exists (0 on a young chain)
    forged = protocol.block_output(net.w3.eth.get_block(number))
    forged["blockHash"] = "0x" + "ab" * 32
    resp = _report(net, address, signer, task_id, f"{task_id}:{number}", forged)
    assert resp.task_still_enabled and resp.remaining_executions == -1
    again = _report(net, address, signer, task_id, f"{task_id}:{number}", forged)
    assert again.message == "already reported by this operator"
    assert net.executions(task_id) == []
    assert [r["operator"] for r in net.status(task_id)["reports"]] == [address]


def test_forged_reports_and_streams_are_refused(net: Net) -> None:
    task_id = net.create(pb.TaskTrigger(name="blk", type=pb.TRIGGER_TYPE_BLOCK,
                                        block=pb.BlockTrigger(config=pb.BlockTrigger.Config(interval=1))))
    data = protocol.block_output(net.w3.eth.get_block(1))
    member, member_signer = net.signer_of("executor-2")
    stranger = Account.create().address
    wrong_key = Bn254Signer(bn254.PrivateKey(int.from_bytes(secrets.token_bytes(31), "big") + 1))

    def code_of(call) -> grpc.StatusCode:
        with pytest.raises(grpc.RpcError) as info:
            call()
        return info.value.code()

    # unknown operator, a member's address with the wrong key
    assert code_of(lambda: _report(net, stranger, wrong_key, task_id, f"{task_id}:1", data)) == \
        grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: _report(net, member, wrong_key, task_id, f"{task_id}:1", data)) == \
        grpc.StatusCode.UNAUTHENTICATED
    # a good signature over other bytes than sent (the output changed on the way)
    value = to_value(data)
    signature = member_signer.sign_offchain(protocol.report_message(net.chain_id, member, task_id, f"{task_id}:1",
                                                                    protocol.output_hash(value)))
    tampered = npb.NotifyTriggersReq(address=member, signature="0x" + signature.hex(), task_id=task_id,
                                     trigger_type=pb.TRIGGER_TYPE_BLOCK, trigger_request_id=f"{task_id}:1")
    tampered.block_trigger.data.CopyFrom(to_value({**data, "gasUsed": 1}))
    assert code_of(lambda: net.node.NotifyTriggers(tampered, timeout=10)) == grpc.StatusCode.UNAUTHENTICATED
    # stale and future stream signatures; a stream of a stranger
    for skew in (-600_000, 600_000):
        epoch = int(time.time() * 1000) + skew
        sig = member_signer.sign_offchain(protocol.auth_message(net.chain_id, "sync", member, epoch))
        stream = net.node.SyncMessages(npb.SyncMessagesReq(id=member, address=member, signature=sig,
                                                           monotonic_clock=epoch), timeout=10)
        assert code_of(lambda: next(stream)) == grpc.StatusCode.UNAUTHENTICATED
    epoch = int(time.time() * 1000)
    sig = wrong_key.sign_offchain(protocol.auth_message(net.chain_id, "sync", stranger, epoch))
    stream = net.node.SyncMessages(npb.SyncMessagesReq(id=stranger, address=stranger, signature=sig,
                                                       monotonic_clock=epoch), timeout=10)
    assert code_of(lambda: next(stream)) == grpc.StatusCode.PERMISSION_DENIED
    # a ping signed for "sync" is not a ping
    checkin = npb.Checkin(id=member, address=member, signature="0x" + sig.hex(),
                          status=npb.Checkin.Status(last_heartbeat=timestamp_pb2.Timestamp(seconds=epoch // 1000)))
    assert code_of(lambda: net.node.Ping(checkin, timeout=10)) == grpc.StatusCode.UNAUTHENTICATED
    # malformed: bad dedup keys, wrong kind, unknown task, oversized
    assert code_of(lambda: _report(net, member, member_signer, task_id, "junk", data)) == \
        grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: _report(net, member, member_signer, task_id, f"{task_id}:1",
                                   protocol.time_output(1000), "cron_trigger", pb.TRIGGER_TYPE_CRON)) == \
        grpc.StatusCode.INVALID_ARGUMENT
    other = "01J9Z3Y7W8X6V5T4S3R2Q1P0NM"
    assert code_of(lambda: _report(net, member, member_signer, other, f"{other}:1", data)) == \
        grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: _report(net, member, member_signer, task_id, f"{task_id}:10000000",
                                   {**data, "blockNumber": 10000000})) == grpc.StatusCode.INVALID_ARGUMENT
    big = {**data, "junk": "x" * 100_000}
    assert code_of(lambda: _report(net, member, member_signer, task_id, f"{task_id}:1", big)) == \
        grpc.StatusCode.INVALID_ARGUMENT
    metrics = net.status()["metrics"]
    for reason in ("unknown_operator", "bad_signature", "stale_signature", "bad_request_id", "too_large"):
        assert metrics.get(f"refused_{reason}", 0) >= 1, reason
    # none of it started anything, and the service still serves
    assert not any(_quorum(e)["requestId"] == f"{task_id}:1" for e in net.executions(task_id))
    assert net.node.HealthCheck(npb.HealthCheckRequest(), timeout=10).status == "OK"
    net.client.call("DeleteTask", pb.IdReq(id=task_id), auth_key=net.token)


# ------------------------------------------------------------------ the aggregator killed


def test_aggregator_sigkilled_while_blocks_come_loses_no_block_and_fires_none_twice(net: Net) -> None:
    task_id = net.create(pb.TaskTrigger(name="blk", type=pb.TRIGGER_TYPE_BLOCK,
                                        block=pb.BlockTrigger(config=pb.BlockTrigger.Config(interval=1))))
    _watching(net, task_id)
    first = net.w3.eth.block_number + 1
    import random

    rng = random.Random(int(os.environ.get("HOURGLASS_CHAOS_SEED", "15")))
    for round_ in range(2):
        net.blocks(rng.randint(1, 4))
        aggregator = next(c for c in json.loads((net.project / ".hourglass/devnet/state.json").read_text())
                          ["components"] if c["kind"] == "aggregator")
        os.kill(aggregator["pid"], signal.SIGKILL)
        net.blocks(rng.randint(1, 3))  # blocks while it is down: the executors keep their reports for it
        wait_for(lambda: _serving(net), DEADLINE, f"the aggregator restarted (round {round_})")
    net.blocks(2)
    last = net.w3.eth.block_number
    wanted = {f"{task_id}:{n}" for n in range(first, last + 1)}
    wait_for(lambda: wanted <= {_quorum(e)["requestId"] for e in net.executions(task_id)}, DEADLINE * 2,
             "every block fired")
    net.client.call("SetTaskEnabled", pb.SetTaskEnabledReq(id=task_id, enabled=False), auth_key=net.token)
    keys = [_quorum(e)["requestId"] for e in net.executions(task_id)]
    assert len(keys) == len(set(keys)), "a block fired twice"


def _serving(net: Net) -> bool:
    try:
        return net.status()["metrics"] is not None and \
            sum(1 for o in net.status()["operators"].values() if o.get("connected")) == 4
    except grpc.RpcError:
        return False
