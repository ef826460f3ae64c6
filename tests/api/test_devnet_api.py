"""The client API on a running devnet (the aggregator serves it), from Python over gRPC: what the Ava SDK's suite
does not cover — users cannot see each other's automations, executions or secrets; secrets are encrypted in the
database file; CONTRACT_WRITE and ETH_TRANSFER really change chain state through the smart wallet (UserOps the
service bundles itself); a HOURGLASS_TASK step carries a result verified on chain; run limits; bad input."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from eth_abi import decode, encode
from eth_account import Account
from google.protobuf import json_format
from web3 import Web3

from hourglass_cli.api.engine import from_value, to_value
from hourglass_cli.api.server import ApiClient
from hourglass_cli.devnet.accounts import DEPLOYER_INDEX, derive_account
from hourglass_cli.wire.gen import avs_pb2 as pb
from tests.api.conftest import login
from tests.devnet._helpers import ok, run, state_of

pytestmark = pytest.mark.slow


@dataclass
class Net:
    project: Path
    client: ApiClient
    w3: Web3
    state: object

    def user(self):
        token, account = login(self.client)
        wallet = self.client.call("GetWallet", pb.GetWalletReq(salt="0"), auth_key=token).address
        return token, account, wallet


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    folder = tmp_path_factory.mktemp("api-devnet")
    ok(run(folder, "avs", "init", "api-avs"))
    project = folder / "api-avs"
    ok(run(project, "devnet", "start", "--detach", "--chain", "embedded"))
    try:
        state = state_of(project)
        client = ApiClient(state.api["address"])
        w3 = Web3(Web3.HTTPProvider(state.chain("l1").endpoint))
        yield Net(project, client, w3, state)
        client.close()
    finally:
        ok(run(project, "devnet", "stop", timeout=120))


def _send(w3: Web3, to: str, data: bytes = b"", value: int = 0) -> dict:
    key = derive_account(DEPLOYER_INDEX).private_key
    account = Account.from_key(key)
    tx = {"to": to, "data": data, "value": value, "nonce": w3.eth.get_transaction_count(account.address),
          "gas": 3_000_000, "gasPrice": w3.eth.gas_price, "chainId": w3.eth.chain_id}
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(
        account.sign_transaction(tx).raw_transaction), timeout=60)
    assert receipt["status"] == 1
    return receipt


def _deploy_token(w3: Web3) -> str:
    artifact = json.loads((Path(__file__).resolve().parents[2] / "contracts/out/DevnetERC20.json").read_text())
    bytecode = bytes.fromhex(artifact["bytecode"].removeprefix("0x") if isinstance(artifact.get("bytecode"), str)
                             else artifact["evm"]["bytecode"]["object"])
    receipt = _send(w3, None, bytecode + encode(["string", "string"], ["Devnet Dollar", "DVD"]))
    return receipt["contractAddress"]


def _call(w3: Web3, to: str, signature: str, types: list[str], args: list, out: list[str]):
    from eth_utils import function_signature_to_4byte_selector

    data = function_signature_to_4byte_selector(signature) + encode(types, args)
    return decode(out, bytes(w3.eth.call({"to": to, "data": "0x" + data.hex()})))


def _task(wallet: str, nodes: list[pb.TaskNode], *, name: str = "auto", max_execution: int = 0,
          trigger_data=None) -> pb.CreateTaskReq:
    trigger = pb.TaskTrigger(id="01TRIGGER00000000000000000", name="trigger", type=pb.TRIGGER_TYPE_MANUAL,
                             manual=pb.ManualTrigger(config=pb.ManualTrigger.Config()))
    if trigger_data is not None:
        trigger.manual.config.data.CopyFrom(to_value(trigger_data))
    req = pb.CreateTaskReq(trigger=trigger, nodes=nodes, max_execution=max_execution)
    previous = trigger.id
    for i, node in enumerate(nodes):
        req.edges.add(id=f"e{i}", source=previous, target=node.id)
        previous = node.id
    req.input_variables["settings"].CopyFrom(to_value({"name": name, "runner": wallet}))
    return req


def _rest_node(url: str, headers=None) -> pb.TaskNode:
    return pb.TaskNode(id="rest1", name="rest", type=pb.NODE_TYPE_REST_API, rest_api=pb.RestAPINode(
        config=pb.RestAPINode.Config(url=url, method="GET", headers=headers or {})))


class _Echo(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        _Echo.seen.append(dict(self.headers))
        body = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def test_users_cannot_see_each_others_automations_executions_or_secrets(net: Net, echo_url: str) -> None:
    c = net.client
    alice, _, alice_wallet = net.user()
    bob, _, bob_wallet = net.user()
    task_id = c.call("CreateTask", _task(alice_wallet, [_rest_node(echo_url)]), auth_key=alice).id
    run_ = c.call("TriggerTask", pb.TriggerTaskReq(task_id=task_id, trigger_type=pb.TRIGGER_TYPE_MANUAL,
                                                   is_blocking=True), auth_key=alice)
    c.call("CreateSecret", pb.CreateOrUpdateSecretReq(name="alice_only", secret="v"), auth_key=alice)
    for method, request in (("GetTask", pb.IdReq(id=task_id)),
                            ("GetExecution", pb.ExecutionReq(task_id=task_id, execution_id=run_.execution_id)),
                            ("TriggerTask", pb.TriggerTaskReq(task_id=task_id, is_blocking=True)),
                            ("ListExecutions", pb.ListExecutionsReq(task_ids=[task_id]))):
        err = _error(lambda method=method, request=request: c.call(method, request, auth_key=bob))
        assert (err.code(), err.details()) == (grpc.StatusCode.NOT_FOUND, "task not found"), method
    err = _error(lambda: c.call("ListTasks", pb.ListTasksReq(smart_wallet_address=[alice_wallet]), auth_key=bob))
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid smart account address")
    assert c.call("DeleteTask", pb.IdReq(id=task_id), auth_key=bob).status == "not_found"
    assert c.call("SetTaskEnabled", pb.SetTaskEnabledReq(id=task_id), auth_key=bob).status == "not_found"
    assert [s.name for s in c.call("ListSecrets", pb.ListSecretsReq(), auth_key=bob).items] == []
    assert c.call("GetExecutionCount", pb.GetExecutionCountReq(workflow_ids=[task_id]), auth_key=bob).total == 0
    assert c.call("GetWorkflowCount", pb.GetWorkflowCountReq(addresses=[alice_wallet]), auth_key=bob).total == 0
    # and alice still sees all of it
    assert c.call("GetTask", pb.IdReq(id=task_id), auth_key=alice).execution_count == 1
    assert c.call("GetExecutionCount", pb.GetExecutionCountReq(workflow_ids=[task_id]), auth_key=alice).total == 1
    del bob_wallet


def test_secrets_reach_steps_and_are_encrypted_in_the_database(net: Net, echo_url: str) -> None:
    c = net.client
    token, _, wallet = net.user()
    value = "hunter2-PLAINTEXT-MARKER-7f3a"
    c.call("CreateSecret", pb.CreateOrUpdateSecretReq(name="api_token", secret=value), auth_key=token)
    node = _rest_node(f"{echo_url}/secret", headers={"x-token": "{{apContext.configVars.api_token}}"})
    task_id = c.call("CreateTask", _task(wallet, [node]), auth_key=token).id
    resp = c.call("TriggerTask", pb.TriggerTaskReq(task_id=task_id, trigger_type=pb.TRIGGER_TYPE_MANUAL,
                                                   is_blocking=True), auth_key=token)
    assert resp.status == pb.EXECUTION_STATUS_SUCCESS, resp
    assert any(h.get("x-token") == value for h in _Echo.seen)
    listed = c.call("ListSecrets", pb.ListSecretsReq(), auth_key=token)
    assert [s.name for s in listed.items] == ["api_token"] and value not in str(listed)
    store = Path(net.state.api["store"])
    files = [p for p in store.parent.glob(store.name + "*") if p.is_file()]
    assert files and all(value.encode() not in p.read_bytes() for p in files)
    stored = c.call("GetExecution", pb.ExecutionReq(task_id=task_id, execution_id=resp.execution_id), auth_key=token)
    assert value not in str(stored.steps[1].config)  # the step records the template, not the secret


def test_contract_write_and_eth_transfer_change_chain_state_through_the_wallet(net: Net) -> None:
    c, w3 = net.client, net.w3
    token, _, wallet = net.user()
    erc20 = _deploy_token(w3)
    from eth_utils import function_signature_to_4byte_selector

    _send(w3, erc20, function_signature_to_4byte_selector("mint(address,uint256)")
          + encode(["address", "uint256"], [wallet, 1000]))
    _send(w3, wallet, value=10**18)  # the wallet's own ETH (gas is sponsored through its EntryPoint deposit)
    recipient = Account.create().address
    abi = [{"type": "function", "name": "transfer", "stateMutability": "nonpayable",
            "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
            "outputs": [{"name": "", "type": "bool"}]}]
    write = pb.TaskNode(id="w1", name="pay", type=pb.NODE_TYPE_CONTRACT_WRITE, contract_write=pb.ContractWriteNode(
        config=pb.ContractWriteNode.Config(
            contract_address=erc20, contract_abi=[json_format.ParseDict(e, to_value({})) for e in abi],
            method_calls=[pb.ContractWriteNode.MethodCall(method_name="transfer",
                                                          method_params=[recipient, "{{trigger.data.amount}}"])])))
    send = pb.TaskNode(id="t1", name="tip", type=pb.NODE_TYPE_ETH_TRANSFER, eth_transfer=pb.ETHTransferNode(
        config=pb.ETHTransferNode.Config(destination=recipient, amount="12345")))
    task_id = c.call("CreateTask", _task(wallet, [write, send], trigger_data={"amount": 250}), auth_key=token).id
    resp = c.call("TriggerTask", pb.TriggerTaskReq(task_id=task_id, trigger_type=pb.TRIGGER_TYPE_MANUAL,
                                                   is_blocking=True), auth_key=token)
    assert resp.status == pb.EXECUTION_STATUS_SUCCESS, resp
    assert _call(w3, erc20, "balanceOf(address)", ["address"], [recipient], ["uint256"]) == (250,)
    assert _call(w3, erc20, "balanceOf(address)", ["address"], [wallet], ["uint256"]) == (750,)
    assert w3.eth.get_balance(recipient) == 12345
    pay = next(s for s in resp.steps if s.name == "pay")
    assert int(pay.gas_used) > 0 and int(pay.total_gas_cost) > 0
    receipt = from_value(pay.metadata)[0]["receipt"]
    assert w3.eth.get_transaction_receipt(receipt["transactionHash"])["status"] == 1
    # the nonce GetNonce reports is the wallet's own EntryPoint nonce: two operations so far
    assert c.call("GetNonce", pb.NonceRequest(owner=wallet), auth_key=token).nonce == "2"
    # a transfer larger than the balance fails its step and changes nothing
    big = pb.TaskNode(id="t2", name="toomuch", type=pb.NODE_TYPE_ETH_TRANSFER, eth_transfer=pb.ETHTransferNode(
        config=pb.ETHTransferNode.Config(destination=recipient, amount=str(10**24))))
    task2 = c.call("CreateTask", _task(wallet, [big]), auth_key=token).id
    resp = c.call("TriggerTask", pb.TriggerTaskReq(task_id=task2, trigger_type=pb.TRIGGER_TYPE_MANUAL,
                                                   is_blocking=True), auth_key=token)
    assert resp.status == pb.EXECUTION_STATUS_FAILED and w3.eth.get_balance(recipient) == 12345


def test_withdraw_funds_and_token_metadata(net: Net) -> None:
    c, w3 = net.client, net.w3
    token, _, wallet = net.user()
    erc20 = _deploy_token(w3)
    meta = c.call("GetTokenMetadata", pb.GetTokenMetadataReq(address=erc20), auth_key=token)
    assert meta.found and (meta.token.name, meta.token.symbol, meta.token.decimals) == ("Devnet Dollar", "DVD", 18)
    assert not c.call("GetTokenMetadata", pb.GetTokenMetadataReq(address=Account.create().address),
                      auth_key=token).found
    _send(w3, wallet, value=5 * 10**17)
    recipient = Account.create().address
    resp = c.call("WithdrawFunds", pb.WithdrawFundsReq(recipient_address=recipient, amount="100000", token="ETH",
                                                       smart_wallet_address=wallet), auth_key=token)
    assert resp.success and w3.eth.get_balance(recipient) == 100000
    err = _error(lambda: c.call("WithdrawFunds", pb.WithdrawFundsReq(
        recipient_address=recipient, amount="-1", token="ETH", smart_wallet_address=wallet), auth_key=token))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "amount" in err.details()


def test_a_hourglass_task_step_carries_a_result_verified_on_chain(net: Net) -> None:
    c = net.client
    token, _, wallet = net.user()
    node = pb.TaskNode(id="h1", name="square", type=pb.NODE_TYPE_HOURGLASS_TASK, hourglass_task=pb.HourglassTaskNode(
        config=pb.HourglassTaskNode.Config(payload="0x{{trigger.data.word}}", result_abi="(uint256)")))
    word = encode(["uint256"], [12]).hex()
    task_id = c.call("CreateTask", _task(wallet, [node], trigger_data={"word": word}), auth_key=token).id
    resp = c.call("TriggerTask", pb.TriggerTaskReq(task_id=task_id, trigger_type=pb.TRIGGER_TYPE_MANUAL,
                                                   is_blocking=True), auth_key=token, timeout=120)
    assert resp.status == pb.EXECUTION_STATUS_SUCCESS, resp
    out = from_value(resp.steps[1].hourglass_task.data)
    assert out["verified"] is True and out["decoded"] == [144]
    from hourglass_cli.chain.contracts import contract

    mailbox = contract(net.w3, "TaskMailbox", net.state.deployment["task_mailbox"])
    task_hash = bytes.fromhex(out["taskHash"][2:])
    assert mailbox.functions.getTaskStatus(task_hash).call() == 2  # VERIFIED
    assert "0x" + bytes(mailbox.functions.getTaskResult(task_hash).call()).hex() == out["result"]


def test_max_execution_completes_the_automation(net: Net, echo_url: str) -> None:
    c = net.client
    token, _, wallet = net.user()
    task_id = c.call("CreateTask", _task(wallet, [_rest_node(echo_url)], max_execution=2), auth_key=token).id
    for _ in range(2):
        c.call("TriggerTask", pb.TriggerTaskReq(task_id=task_id, trigger_type=pb.TRIGGER_TYPE_MANUAL,
                                                is_blocking=True), auth_key=token)
    task = c.call("GetTask", pb.IdReq(id=task_id), auth_key=token)
    assert (task.status, task.execution_count) == (pb.Completed, 2) and task.completed_at > 0
    err = _error(lambda: c.call("TriggerTask", pb.TriggerTaskReq(task_id=task_id, is_blocking=True), auth_key=token))
    assert (err.code(), err.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "task cannot be executed: either reached max execution, expired, or not yet started")
    runs = c.call("ListExecutions", pb.ListExecutionsReq(task_ids=[task_id]), auth_key=token).items
    assert [e.index for e in runs] == [1, 0]  # newest first, 0-based run numbers


def test_pagination_both_ways(net: Net, echo_url: str) -> None:
    c = net.client
    token, _, wallet = net.user()
    ids = [c.call("CreateTask", _task(wallet, [_rest_node(echo_url)], name=f"t{i}"), auth_key=token).id
           for i in range(12)]
    newest_first = list(reversed(ids))
    pages, after = [], ""
    while True:
        page = c.call("ListTasks", pb.ListTasksReq(smart_wallet_address=[wallet], limit=5, after=after),
                      auth_key=token)
        pages.append([t.id for t in page.items])
        if not page.page_info.has_next_page:
            break
        after = page.page_info.end_cursor
    assert pages == [newest_first[:5], newest_first[5:10], newest_first[10:]]
    back = c.call("ListTasks", pb.ListTasksReq(smart_wallet_address=[wallet], limit=5,
                                               before=page.page_info.start_cursor), auth_key=token)
    assert [t.id for t in back.items] == newest_first[5:10]
    assert back.page_info.has_next_page and back.page_info.has_previous_page
    err = _error(lambda: c.call("ListTasks", pb.ListTasksReq(smart_wallet_address=[wallet], after="!!"),
                                auth_key=token))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "cursor" in err.details()
    err = _error(lambda: c.call("ListTasks", pb.ListTasksReq(smart_wallet_address=[wallet], limit=-1),
                                auth_key=token))
    assert err.details().startswith("item per page is not valid")


@pytest.mark.parametrize(("edit", "field"), [
    (lambda r: r.ClearField("trigger"), "trigger is required"),
    (lambda r: r.nodes[0].__setattr__("name", "not valid"), "not a valid JavaScript identifier"),
    (lambda r: r.nodes[0].__setattr__("name", "x" * 300), "at most 255 characters"),
    (lambda r: r.edges[0].__setattr__("target", "nowhere"), "edges[0].target"),
    (lambda r: r.input_variables["settings"].CopyFrom(to_value({"name": "n"})), "settings.runner is required"),
    (lambda r: r.__setattr__("expired_at", 1), "task expiration date is too close"),
    (lambda r: r.nodes[0].rest_api.config.__setattr__("body", "x" * (300 * 1024)), "[api].max_code_bytes"),
])
def test_bad_automations_are_refused_naming_the_field(net: Net, echo_url: str, edit, field: str) -> None:
    token, _, wallet = net.user()
    request = _task(wallet, [_rest_node(echo_url)])
    edit(request)
    err = _error(lambda: net.client.call("CreateTask", request, auth_key=token))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and field in err.details(), err.details()


def test_cli_automation_commands(net: Net, echo_url: str) -> None:
    definition = {"name": "cli-demo", "trigger": {"manual": {"config": {"data": {"n": 1}}}},
                  "nodes": [{"name": "ping", "restApi": {"config": {"url": echo_url, "method": "GET"}}}]}
    path = net.project / "automation.json"
    path.write_text(json.dumps(definition))
    automation_id = ok(run(net.project, "automation", "create", str(path))).stdout.strip()
    listed = json.loads(ok(run(net.project, "automation", "list", "--json")).stdout)
    assert automation_id in [t["id"] for t in listed["items"]]
    done = json.loads(ok(run(net.project, "automation", "trigger", automation_id, "--json")).stdout)
    assert done["status"] == "EXECUTION_STATUS_SUCCESS"
    runs = json.loads(ok(run(net.project, "automation", "executions", automation_id, "--json")).stdout)
    assert runs["items"][0]["id"] == done["executionId"]
    ok(run(net.project, "automation", "disable", automation_id))
    shown = json.loads(ok(run(net.project, "automation", "show", automation_id, "--json")).stdout)
    assert shown["status"] == "Disabled"
    ok(run(net.project, "automation", "delete", automation_id))
    result = run(net.project, "secret", "set", "cli_secret", "--value-env", "MY_VALUE", env={"MY_VALUE": "abc"})
    ok(result)
    assert "cli_secret" in ok(run(net.project, "secret", "list")).stdout
    ok(run(net.project, "secret", "rm", "cli_secret"))


class _PerRun(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}
    lock = threading.Lock()

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        with _PerRun.lock:
            _PerRun.hits[self.path] = _PerRun.hits.get(self.path, 0) + 1
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def test_sigkill_at_random_points_loses_no_run_and_repeats_no_step(net: Net, tmp_path: Path) -> None:
    """`hourglass api run` is SIGKILLed at seeded random moments while non-blocking runs are queued and running;
    after each restart every run ends (SUCCESS, or FAILED "interrupted" if its step had started), no step is sent
    twice, and the store is sound."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    from hourglass_cli.api.store import SqliteApiStore
    from hourglass_cli.ports import free_port
    from tests.devnet._helpers import wait_for

    seed = int(os.environ.get("HOURGLASS_CHAOS_SEED", random.randrange(2**32)))
    print(f"HOURGLASS_CHAOS_SEED={seed}")
    rng = random.Random(seed)
    echo = ThreadingHTTPServer(("127.0.0.1", 0), _PerRun)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    port = free_port()
    deployment = net.state.deployment
    (tmp_path / "api.toml").write_text(
        f'[api]\nport = {port}\nchain_id = {net.w3.eth.chain_id}\nrpc_url = "{net.state.chain("l1").endpoint}"\n'
        f'entry_point = "{deployment["entry_point"]}"\nwallet_factory = "{deployment["wallet_factory"]}"\n'
        "engine_workers = 2\nrequests_per_second = 100000\nburst = 100000\n")

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "hourglass_cli", "api", "run", "--config",
                                 str(tmp_path / "api.toml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = ApiClient(f"127.0.0.1:{port}", timeout=5)

        def up() -> bool:
            try:
                client.call("GetSignatureFormat", pb.GetSignatureFormatReq(wallet=wallet))
                return True
            except grpc.RpcError:
                return False

        wait_for(up, 60, "the API to serve")
        client.close()
        return proc

    token_holder = Account.create()
    wallet = token_holder.address
    proc = start()
    client = ApiClient(f"127.0.0.1:{port}")
    token, _ = login(client, token_holder)
    runner = client.call("GetWallet", pb.GetWalletReq(salt="0"), auth_key=token).address
    node = pb.TaskNode(id="n1", name="ping", type=pb.NODE_TYPE_REST_API, rest_api=pb.RestAPINode(
        config=pb.RestAPINode.Config(url=f"http://127.0.0.1:{echo.server_address[1]}/{{{{trigger.data.run}}}}",
                                     method="GET")))
    task_id = client.call("CreateTask", _task(runner, [node]), auth_key=token).id
    executions: dict[str, str] = {}
    try:
        for round_ in range(4):
            for i in range(15):
                tag = f"r{round_}-{i}"
                request = pb.TriggerTaskReq(task_id=task_id, trigger_type=pb.TRIGGER_TYPE_MANUAL)
                request.manual_trigger.data.CopyFrom(to_value({"run": tag}))
                try:
                    executions[client.call("TriggerTask", request, auth_key=token).execution_id] = tag
                except grpc.RpcError:
                    break  # the kill came first
            time.sleep(rng.uniform(0, 0.05))  # the random instant of the kill (this is the chaos, not a wait)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            proc = start()
        # the last restart finishes whatever is left
        def settled() -> bool:
            store = SqliteApiStore(tmp_path / "api.db")
            try:
                return not store.pending_executions()
            finally:
                store.close()

        wait_for(settled, 120, "every run to end")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        client.close()
        echo.shutdown()
    store = SqliteApiStore(tmp_path / "api.db")
    try:
        assert store.problems() == []
        outcomes = {}
        for execution_id, tag in executions.items():
            row = store.execution(execution_id)
            assert row is not None, f"run {tag} ({execution_id}) was lost"
            e = pb.Execution.FromString(row[2])
            outcomes[tag] = e.status
            hits = _PerRun.hits.get(f"/{tag}", 0)
            if e.status == pb.EXECUTION_STATUS_SUCCESS:
                assert hits == 1, (tag, hits)
            else:
                assert e.status == pb.EXECUTION_STATUS_FAILED and "interrupted" in e.error and hits <= 1, (tag, e)
        assert max(_PerRun.hits.values(), default=0) <= 1
        assert store.pending_triggers() == []
    finally:
        store.close()
    assert sum(1 for s in outcomes.values() if s == pb.EXECUTION_STATUS_SUCCESS) > 0


def test_tools_run_trigger_simulate_run_node_estimate_fees_and_stats(net: Net, echo_url: str) -> None:
    c, w3 = net.client, net.w3
    token, _, wallet = net.user()
    block = c.call("RunTrigger", pb.RunTriggerReq(trigger=pb.TaskTrigger(
        id="b", name="blocks", type=pb.TRIGGER_TYPE_BLOCK, block=pb.BlockTrigger(
            config=pb.BlockTrigger.Config(interval=5)))), auth_key=token)
    assert block.success and from_value(block.block_trigger.data)["blockNumber"] >= w3.eth.block_number - 1
    manual = c.call("RunTrigger", pb.RunTriggerReq(trigger=pb.TaskTrigger(
        id="m", name="m", type=pb.TRIGGER_TYPE_MANUAL, manual=pb.ManualTrigger(config=pb.ManualTrigger.Config(
            data=to_value({"k": [1, 2]}))))), auth_key=token)
    assert from_value(manual.manual_trigger.data) == {"k": [1, 2]}

    ran = c.call("RunNodeWithInputs", pb.RunNodeWithInputsReq(node=_rest_node(f"{echo_url}/{{{{q}}}}")),
                 auth_key=token)
    assert ran.success and from_value(ran.rest_api.data)["status"] == 200
    ran.Clear()
    request = pb.RunNodeWithInputsReq(node=_rest_node(f"{echo_url}/{{{{q}}}}"))
    request.input_variables["q"].CopyFrom(to_value("abc"))
    ran = c.call("RunNodeWithInputs", request, auth_key=token)
    assert ran.success and from_value(ran.rest_api.data)["url"].endswith("/abc")
    failing = c.call("RunNodeWithInputs", pb.RunNodeWithInputsReq(node=_rest_node("http://127.0.0.1:1/closed")),
                     auth_key=token)
    assert not failing.success and "failed" in failing.error

    trigger = pb.TaskTrigger(id="t", name="trigger", type=pb.TRIGGER_TYPE_MANUAL, manual=pb.ManualTrigger(
        config=pb.ManualTrigger.Config(data=to_value({"x": 1}))))
    sim = pb.SimulateTaskReq(trigger=trigger, nodes=[_rest_node(echo_url)],
                             edges=[pb.TaskEdge(id="e", source="t", target="rest1")])
    sim.input_variables["settings"].CopyFrom(to_value({"name": "sim", "runner": wallet}))
    execution = c.call("SimulateTask", sim, auth_key=token)
    assert execution.status == pb.EXECUTION_STATUS_SUCCESS
    assert [s.type for s in execution.steps] == ["TRIGGER_TYPE_MANUAL", "NODE_TYPE_REST_API"]
    assert c.call("GetWorkflowCount", pb.GetWorkflowCountReq(), auth_key=token).total == 0  # nothing was stored

    send = pb.TaskNode(id="s", name="send", type=pb.NODE_TYPE_ETH_TRANSFER, eth_transfer=pb.ETHTransferNode(
        config=pb.ETHTransferNode.Config(destination=Account.create().address, amount="1")))
    fees = c.call("EstimateFees", pb.EstimateFeesReq(trigger=trigger, nodes=[send], runner=wallet), auth_key=token)
    assert fees.success and fees.chain_id == str(w3.eth.chain_id)
    gas = [cogs for cogs in fees.cogs if cogs.node_id == "s"]
    assert gas, (list(fees.cogs), list(fees.warnings))
    assert int(gas[0].gas_units) > 21000 and int(gas[0].fee.amount) == int(gas[0].gas_units) * w3.eth.gas_price
    assert any(c.cost_type == "wallet_creation" for c in fees.cogs) == (len(w3.eth.get_code(wallet)) == 0)

    task_id = c.call("CreateTask", _task(wallet, [_rest_node(echo_url)]), auth_key=token).id
    for _ in range(3):
        c.call("TriggerTask", pb.TriggerTaskReq(task_id=task_id, trigger_type=pb.TRIGGER_TYPE_MANUAL,
                                                is_blocking=True), auth_key=token)
    stats = c.call("GetExecutionStats", pb.GetExecutionStatsReq(workflow_ids=[task_id]), auth_key=token)
    assert (stats.total, stats.succeeded, stats.failed) == (3, 3, 0) and stats.avg_execution_time >= 0
    queued = c.call("TriggerTask", pb.TriggerTaskReq(task_id=task_id, trigger_type=pb.TRIGGER_TYPE_MANUAL),
                    auth_key=token)
    assert queued.status == pb.EXECUTION_STATUS_PENDING and len(queued.execution_id) == 26
    from tests.devnet._helpers import wait_for

    wait_for(lambda: c.call("GetExecutionStatus", pb.ExecutionReq(task_id=task_id, execution_id=queued.execution_id),
                            auth_key=token).status == pb.EXECUTION_STATUS_SUCCESS, 30, "the queued run")


def test_api_run_refuses_a_chain_id_the_chain_does_not_have(net: Net, tmp_path: Path) -> None:
    (tmp_path / "api.toml").write_text(f'[api]\nport = 0\nchain_id = 5\nrpc_url = "{net.state.chain("l1").endpoint}"\n')
    from tests.devnet._helpers import failed

    error = failed(run(tmp_path, "api", "run", "--config", str(tmp_path / "api.toml")))
    assert "[api].chain_id is 5 but the chain at [api].rpc_url is" in error
