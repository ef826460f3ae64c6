"""OperatorClient against a real aggregator.Node gRPC server on loopback (recording, scripted by the test)."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from hourglass_cli.api.engine import from_value
from hourglass_cli.crypto.bn254 import PrivateKey
from hourglass_cli.triggers import protocol
from hourglass_cli.triggers.operator import OperatorClient, TriggerSettings
from hourglass_cli.wire.gen import avs_pb2, node_pb2, node_pb2_grpc
from hourglass_cli.wire.signing import Bn254Signer, EcdsaSigner, Signer, verifier_for
from google.protobuf import wrappers_pb2
from tests.contracts.chains import deploy, eth_tester_chain, send
from tests.devnet._helpers import wait_for
from tests.triggers.helpers import TASK, TASK_B, TASK_C, cron, fixed, flood, meta, transfers_above

CHAIN_ID = 31337
OPERATOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ECDSA_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
FAST = TriggerSettings(poll_interval=0.05, ping_interval=0.2, reconnect_min=0.05, reconnect_max=0.4,
                       rpc_timeout=5.0)


class RecordingNode(node_pb2_grpc.NodeServicer):
    """A real Node servicer: records every request; streams what the test queues; `initial` on every stream."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.syncs: list[tuple[float, Any]] = []
        self.acks: list[str] = []
        self.pings: list[Any] = []
        self.notifies: list[Any] = []
        self.overloads: list[tuple[Any, dict]] = []
        self.initial: list[Any] = []
        self.close_streams = 0  # the next this many streams end at once
        self.streams: list[queue.Queue] = []
        self.notify_reply: Callable[[Any, Any], Any] = lambda req, ctx: node_pb2.NotifyTriggersResp(
            remaining_executions=5, task_still_enabled=True, status="recorded")

    def SyncMessages(self, request: Any, context: Any) -> Iterator[Any]:
        q: queue.Queue = queue.Queue()
        context.add_callback(lambda: q.put(None))
        with self.lock:
            self.syncs.append((time.monotonic(), request))
            if self.close_streams:
                self.close_streams -= 1
                return
            self.streams.append(q)
            initial = list(self.initial)
        yield from initial
        while (item := q.get()) is not None:
            yield item

    def send(self, message: Any) -> None:
        with self.lock:
            self.streams[-1].put(message)

    def end_stream(self) -> None:
        with self.lock:
            self.streams[-1].put(None)

    def Ack(self, request: Any, context: Any) -> Any:
        with self.lock:
            self.acks.append(request.id)
        return wrappers_pb2.BoolValue(value=True)

    def Ping(self, request: Any, context: Any) -> Any:
        with self.lock:
            self.pings.append(request)
        return node_pb2.CheckinResp()

    def NotifyTriggers(self, request: Any, context: Any) -> Any:
        with self.lock:
            self.notifies.append(request)
        return self.notify_reply(request, context)

    def ReportEventOverload(self, request: Any, context: Any) -> Any:
        with self.lock:
            self.overloads.append((request, dict(context.invocation_metadata())))
        return node_pb2.EventOverloadResponse(task_cancelled=True)

    def reports(self, task: str) -> list[Any]:
        with self.lock:
            return [n for n in self.notifies if n.task_id == task]


@pytest.fixture
def node() -> Iterator[tuple[RecordingNode, str]]:
    servicer = RecordingNode()
    server = grpc.server(ThreadPoolExecutor(max_workers=8))
    node_pb2_grpc.add_NodeServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(0)


def _monitor(msg_id: str, task_meta: Any, op: int = node_pb2.MonitorTaskTrigger) -> Any:
    return node_pb2.SyncMessagesResp(id=msg_id, op=op, task_metadata=task_meta)


def _check_report(req: Any, signer: Signer, field: str) -> Any:
    """The report's signature is the operator's over the protocol's report bytes; returns the output data."""
    assert req.WhichOneof("trigger_output") == field
    value = getattr(req, field).data
    message = protocol.report_message(CHAIN_ID, OPERATOR, req.task_id, req.trigger_request_id,
                                      protocol.output_hash(value))
    assert req.signature.startswith("0x") and req.address == OPERATOR
    assert verifier_for(signer.curve.value).verify_offchain(message, bytes.fromhex(req.signature[2:]),
                                                           signer.public_key)
    return from_value(value)


def test_sync_ack_report_ping_immediate_and_disable(node: tuple[RecordingNode, str]) -> None:
    servicer, address = node
    signer = EcdsaSigner(ECDSA_KEY)
    now = int(time.time() * 1000)
    epoch = now - 1_000  # within the grace: a late joiner still reports it
    servicer.initial = [_monitor("m1", meta(TASK, fixed(epoch, now + 3_600_000)))]
    client = OperatorClient(address, operator=OPERATOR, signer=signer, chain_id=CHAIN_ID, settings=FAST)
    client.start()
    try:
        wait_for(lambda: servicer.reports(TASK), 10, "the fixed-time report")
        _, sync = servicer.syncs[0]
        assert sync.id == sync.address == OPERATOR and sync.capabilities.time_monitoring
        assert verifier_for("ecdsa").verify_offchain(
            protocol.auth_message(CHAIN_ID, "sync", OPERATOR, sync.monotonic_clock), sync.signature, signer.public_key)
        assert servicer.acks[0] == "m1"
        report = servicer.reports(TASK)[0]
        assert report.trigger_request_id == protocol.time_request_id(TASK, epoch)
        assert report.trigger_type == avs_pb2.TRIGGER_TYPE_FIXED_TIME
        assert _check_report(report, signer, "fixed_time_trigger") == protocol.time_output(epoch)

        ping = wait_for(lambda: servicer.pings and servicer.pings[-1], 10, "a ping")
        beat = ping.status.last_heartbeat.seconds * 1000 + ping.status.last_heartbeat.nanos // 1_000_000
        assert ping.id == ping.address == OPERATOR and ping.signature.startswith("0x")
        assert verifier_for("ecdsa").verify_offchain(protocol.auth_message(CHAIN_ID, "ping", OPERATOR, beat),
                                                    bytes.fromhex(ping.signature[2:]), signer.public_key)

        # ImmediateTrigger: one report at start_at, of the task's trigger type
        start_at = now - 5_000
        immediate = _monitor("m2", meta(TASK_B, cron("0 0 1 1 *"), start_at=start_at), node_pb2.ImmediateTrigger)
        servicer.send(immediate)
        servicer.send(immediate)  # resent before its Ack arrived: reported once
        wait_for(lambda: servicer.acks.count("m2") == 2, 10, "both acks of m2")
        report = wait_for(lambda: servicer.reports(TASK_B), 10, "the immediate report")[0]
        assert report.trigger_request_id == protocol.time_request_id(TASK_B, start_at)
        assert report.trigger_type == avs_pb2.TRIGGER_TYPE_CRON
        assert _check_report(report, signer, "cron_trigger") == protocol.time_output(start_at)
        assert TASK_B not in client.watched

        # a cron every second until DisableTask; after it no fire time later than the disable is reported
        servicer.send(_monitor("m3", meta(TASK_C, cron("* * * * * *"))))
        wait_for(lambda: servicer.reports(TASK_C), 10, "a per-second cron report")
        servicer.send(_monitor("m4", meta(TASK_C, avs_pb2.TaskTrigger()), node_pb2.DisableTask))
        wait_for(lambda: TASK_C not in client.watched, 10, "the cron watch stopped")
        disabled_at = int(time.time() * 1000)
        later = disabled_at + 1_500
        servicer.send(_monitor("m5", meta(TASK, fixed(later))))  # a changed trigger replaces the watch
        wait_for(lambda: any(r.trigger_request_id.endswith(f":{later}") for r in servicer.reports(TASK)), 10,
                 "the report 1.5 s after the disable")
        fired = [int(r.trigger_request_id.rsplit(":", 1)[1]) for r in servicer.reports(TASK_C)]
        assert max(fired) <= disabled_at
        assert set(servicer.acks) == {"m1", "m2", "m3", "m4", "m5"}
        status = client.status()
        assert status["messages_acked"] == 6 and status["reports_sent"] == len(servicer.notifies)
        assert status["connected"] and status["pings"] >= 1
    finally:
        started = time.monotonic()
        client.stop()
        assert time.monotonic() - started < 3


def test_reconnects_with_growing_backoff_and_keeps_watch_progress(node: tuple[RecordingNode, str]) -> None:
    servicer, address = node
    now = int(time.time() * 1000)
    servicer.close_streams = 3
    servicer.initial = [_monitor("m1", meta(TASK, fixed(now - 500, now + 3_600_000)))]
    client = OperatorClient(address, operator=OPERATOR, signer=EcdsaSigner(ECDSA_KEY), chain_id=CHAIN_ID,
                            settings=FAST, rng=random.Random(7))
    with client:
        wait_for(lambda: servicer.reports(TASK), 10, "the report after three refused streams")
        times = [t for t, _ in servicer.syncs]
        delays = list(client.backoff_delays)[:3]
        for k, delay in enumerate(delays, start=1):
            base = min(FAST.reconnect_max, FAST.reconnect_min * 2**k)
            assert 0.8 * base <= delay <= base
        assert delays == sorted(delays)
        for k in range(3):
            assert times[k + 1] - times[k] >= delays[k] * 0.9
        assert len({s.monotonic_clock for _, s in servicer.syncs}) >= 2  # signed afresh per stream

        servicer.end_stream()  # the server resends the assignment on the new stream
        wait_for(lambda: servicer.acks.count("m1") == 2, 10, "the resent assignment acked")
        assert client.backoff_delays[-1] <= FAST.reconnect_min  # a stream that delivered resets the backoff
        assert client.counters.reconnects == 4
        assert [r.trigger_request_id for r in servicer.reports(TASK)] == [protocol.time_request_id(TASK, now - 500)]


def test_retries_unavailable_never_a_refusal_and_stops_when_no_executions_left(
        node: tuple[RecordingNode, str]) -> None:
    servicer, address = node
    now = int(time.time() * 1000)
    calls: dict[str, int] = {}

    def reply(req: Any, ctx: Any) -> Any:
        calls[req.task_id] = calls.get(req.task_id, 0) + 1
        if req.task_id == TASK and calls[TASK] == 1:
            ctx.abort(grpc.StatusCode.UNAVAILABLE, "busy")
        if req.task_id == TASK_B:
            ctx.abort(grpc.StatusCode.PERMISSION_DENIED, "not a member of the monitoring set")
        return node_pb2.NotifyTriggersResp(remaining_executions=0, task_still_enabled=True)

    servicer.notify_reply = reply
    servicer.initial = [_monitor("a", meta(TASK, fixed(now - 100, now + 3_600_000))),
                        _monitor("b", meta(TASK_B, fixed(now - 100)))]
    client = OperatorClient(address, operator=OPERATOR, signer=EcdsaSigner(ECDSA_KEY), chain_id=CHAIN_ID,
                            settings=FAST)
    with client:
        wait_for(lambda: client.counters.reports_sent == 1 and client.counters.reports_refused == 1, 10,
                 "one report sent (after a retry) and one refused")
        assert calls == {TASK: 2, TASK_B: 1}
        wait_for(lambda: TASK not in client.watched, 10, "the task with no executions left unwatched")


def test_event_reports_and_overload_signed_with_bn254_on_the_embedded_chain(node: tuple[RecordingNode, str]) -> None:
    servicer, address = node
    chain = eth_tester_chain()
    signer = Bn254Signer(PrivateKey(0x1234567890ABCDEF))
    try:
        token = deploy(chain, "DevnetERC20", "Op", "OP")
        servicer.initial = [_monitor("e", meta(TASK, transfers_above(token.address, 1_000, limit=2)))]
        client = OperatorClient(address, operator=OPERATOR, signer=signer, chain_id=CHAIN_ID, w3=chain.w3,
                                settings=FAST)
        with client:
            wait_for(lambda: TASK in client.watched and client.head is not None, 10, "the event watch")
            receipt = send(chain, token.functions.mint(chain.accounts[6], 5_000), chain.accounts[0])
            report = wait_for(lambda: servicer.reports(TASK), 10, "the transfer's report")[0]
            data = _check_report(report, signer, "event_trigger")
            assert report.trigger_type == avs_pb2.TRIGGER_TYPE_EVENT
            assert data["transactionHash"] == "0x" + bytes(receipt["transactionHash"]).hex()
            assert report.trigger_request_id == protocol.event_request_id(TASK, data["transactionHash"],
                                                                          data["logIndex"])
            assert data["valueRaw"] == "5000" and data["eventName"] == "Transfer"

            number = flood(chain, token, [2_000, 3_000, 4_000])
            alert, metadata = wait_for(lambda: servicer.overloads and servicer.overloads[0], 10, "the overload")
            assert (alert.task_id, alert.block_number, alert.events_detected, alert.safety_limit,
                    alert.query_index) == (TASK, number, 3, 2, "0")
            message = protocol.overload_message(CHAIN_ID, OPERATOR, TASK, number, "0", 3, alert.timestamp)
            signature = bytes.fromhex(metadata[protocol.SIGNATURE_METADATA][2:])
            assert verifier_for("bn254").verify_offchain(message, signature, signer.public_key)
            assert TASK not in client.watched and len(servicer.reports(TASK)) == 1
            assert client.counters.overloads == 1
    finally:
        chain.close()


# -- the executor runs it --------------------------------------------------------------------------


def _executor_config(tmp_path: Any, **triggers: Any) -> dict:
    return {"executor": {"operator_address": OPERATOR, "avs_address": OPERATOR},
            "keys": {"ecdsa_keystore": "k.json"}, "chain": {"rpc_url": "http://127.0.0.1:8545"},
            "contracts": {"key_registrar": OPERATOR, "task_avs_registrar": OPERATOR,
                          "ecdsa_certificate_verifier": OPERATOR},
            "performer": {"runtime": "remote", "address": "127.0.0.1:1"}, "triggers": triggers}


def test_triggers_config_section(tmp_path: Any) -> None:
    from hourglass_cli.errors import ConfigError
    from hourglass_cli.executor.config import parse_executor_config

    config = parse_executor_config(_executor_config(tmp_path))
    assert not config.triggers.enabled and config.triggers.operator_set_id == -1
    assert config.triggers.client_settings() == TriggerSettings(ping_interval=15.0)
    config = parse_executor_config(_executor_config(tmp_path, enabled=True, aggregator="127.0.0.1:2206",
                                                    poll_interval=0.1, event_monitoring=False))
    assert config.triggers.client_settings().poll_interval == 0.1
    assert not config.triggers.client_settings().event_monitoring
    with pytest.raises(ConfigError, match=r"\[triggers\].aggregator is required"):
        parse_executor_config(_executor_config(tmp_path, enabled=True))
    with pytest.raises(ConfigError, match="reconnect_max"):
        parse_executor_config(_executor_config(tmp_path, reconnect_min=5.0, reconnect_max=1.0))
    with pytest.raises(ConfigError, match="unknown key 'pol_interval'"):
        parse_executor_config(_executor_config(tmp_path, pol_interval=1.0))


@pytest.mark.slow
def test_an_executor_with_triggers_enabled_reports_with_its_operator_key(node: tuple[RecordingNode, str],
                                                                          tmp_path: Any) -> None:
    from hourglass_cli.executor.config import load_executor_config
    from hourglass_cli.executor.server import Executor
    from hourglass_cli.performer.examples.square import SquarePerformer
    from hourglass_cli.performer.server import PerformerServer
    from tests.executor.conftest import build_net, write_config

    servicer, address = node
    net = build_net("ecdsa", tmp_path / "net")
    performer = PerformerServer(SquarePerformer(), port=0)
    port = performer.start()
    now = int(time.time() * 1000)
    servicer.initial = [_monitor("m1", meta(TASK, fixed(now - 200)))]
    try:
        path = write_config(net, tmp_path / "ex", {"runtime": "remote", "address": f"127.0.0.1:{port}"})
        with path.open("a") as f:
            f.write(f'[triggers]\nenabled = true\naggregator = "{address}"\nreconnect_min = 0.05\n')
        executor = Executor(load_executor_config(path), w3=net.chain.w3)
        executor.start()
        try:
            report = wait_for(lambda: servicer.reports(TASK), 20, "the executor's trigger report")[0]
            assert report.address == net.executor_address
            message = protocol.report_message(net.chain.w3.eth.chain_id, net.executor_address, TASK,
                                              report.trigger_request_id, protocol.output_hash(
                                                  report.fixed_time_trigger.data))
            assert verifier_for("ecdsa").verify_offchain(message, bytes.fromhex(report.signature[2:]),
                                                        net.executor_signer.public_key)
            wait_for(lambda: executor.triggers.counters.reports_sent == 1, 10, "the report counted")
        finally:
            executor.stop(grace=0)
        assert not executor.triggers.connected.is_set()
    finally:
        performer.stop(grace=0)
        net.chain.close()
