"""The client API driven by AvaProtocol's own JavaScript SDK (@avaprotocol/sdk-js 2.16.0, unchanged) on a devnet.

One devnet for the module (`avs init` + `devnet start --detach`: anvil, our EntryPoint and SimpleAccountFactory,
the aggregator serving the client API). Each scenario is one run of `tests/api/sdk/driver.mjs`, a Node script
that calls the SDK the way an app does and prints what it saw (values, and errors as the SDK hands them over);
the scenario runs once per module and the tests below assert on its document. REST_API nodes call a small HTTP
server this module runs on loopback, which records every request (the secret in a header is checked there);
writes from smart wallets are checked on chain.

CUSTOM_CODE, BRANCH and FILTER steps need the JavaScript sandbox (`hourglass_cli/api/jsbox.py`); the tests about
them fail (the step's error says why) until it is there.

    PYTHONPATH=. .venv/bin/python -m pytest -q tests/api/test_sdk.py      # ~12 s: one devnet, 8 Node runs
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from hourglass_cli.api.wallets import wallet_address
from tests.devnet._helpers import hourglass, ok, run, state_of

pytestmark = pytest.mark.slow

SDK_DIR = Path(__file__).parent / "sdk"
DRIVER = SDK_DIR / "driver.mjs"
REPO = Path(__file__).resolve().parents[2]
SDK_VERSION = "2.16.0"
NODE_DEADLINE = 120.0
SECRET_NAME = "api_token"
SECRET_VALUE = "s3cr3t-" + secrets.token_hex(4)


# ------------------------------------------------------------------ the parts


@dataclass
class Recorder:
    """A loopback HTTP server answering JSON and remembering each request's path and headers."""

    server: ThreadingHTTPServer
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def headers_for(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in list(self.requests) if p == path]


@pytest.fixture(scope="module")
def rest() -> Iterator[Recorder]:
    recorder: Recorder

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            headers = {k.lower(): v for k, v in self.headers.items()}
            recorder.requests.append((self.path, headers))
            path = urlparse(self.path).path
            code = int(path.rsplit("/", 1)[1]) if path.startswith("/status/") else 200
            body = json.dumps({"path": self.path, "apiKey": headers.get("x-api-key"),
                               "probe": headers.get("x-probe")}).encode()
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder = Recorder(server)
    thread = threading.Thread(target=server.serve_forever, name="sdk-rest", daemon=True)
    thread.start()
    yield recorder
    server.shutdown()
    server.server_close()


@dataclass
class Devnet:
    project: Path
    endpoint: str
    chain_id: int
    rpc_url: str
    factory: str
    entry_point: str


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    folder = tmp_path_factory.mktemp("sdk")
    ok(run(folder, "avs", "init", "sdk-avs"))
    project = folder / "sdk-avs"
    ok(run(project, "devnet", "start", "--detach"))
    try:
        state = state_of(project)
        assert state.api and state.deployment, "the devnet has no client API or wallet contracts"
        chain = state.chain("l1")
        yield Devnet(project, state.api["address"], int(state.api["chain_id"]), chain.endpoint,
                     state.deployment["wallet_factory"], state.deployment["entry_point"])
    finally:
        ok(run(project, "devnet", "stop", timeout=120))


@pytest.fixture(scope="module")
def node() -> str:
    binary = shutil.which("node")
    assert binary, "node is not on PATH (the SDK suite runs the Ava SDK under Node.js; `.ci/run` installs it)"
    manifest = REPO / "node_modules" / "@avaprotocol" / "sdk-js" / "package.json"
    assert manifest.is_file(), "the Ava SDK is not installed: run `make tools` (npm install)"
    assert json.loads(manifest.read_text())["version"] == SDK_VERSION
    return binary


@pytest.fixture(scope="module")
def sdk(node: str, devnet: Devnet, rest: Recorder):
    """`sdk(scenario, **params)`: run one scenario of driver.mjs and return its JSON document."""

    def call(scenario: str, **params: Any) -> dict[str, Any]:
        doc = {"endpoint": devnet.endpoint, "factory": devnet.factory, "chainId": devnet.chain_id,
               "restUrl": rest.url, **params}
        result = subprocess.run([node, str(DRIVER), scenario, json.dumps(doc)], capture_output=True, text=True,
                                timeout=NODE_DEADLINE, cwd=SDK_DIR, env={**os.environ, "NODE_NO_WARNINGS": "1"})
        assert result.returncode == 0, f"scenario {scenario} exited {result.returncode}:\n{result.stderr}"
        return json.loads(result.stdout)

    return call


@pytest.fixture(scope="module")
def w3(devnet: Devnet):
    from web3 import Web3

    return Web3(Web3.HTTPProvider(devnet.rpc_url))


@pytest.fixture(scope="module")
def deployer(w3):
    from hourglass_cli.devnet.accounts import derive_account

    return derive_account(0).sender(w3)


@pytest.fixture(scope="module")
def token(deployer):
    from hourglass_cli.chain.contracts import deploy

    return deploy(deployer, "DevnetERC20", "Sdk Token", "SDK")


def new_key() -> str:
    return "0x" + secrets.token_hex(32)


def address_of(key: str) -> str:
    return Account.from_key(key).address


def fresh_address() -> str:
    return to_checksum_address("0x" + secrets.token_hex(20))


def error(entry: dict[str, Any]) -> str:
    """The error message the SDK threw for a recorded call (fails when the call succeeded)."""
    assert "error" in entry, f"expected an error, the SDK returned {entry.get('value')!r}"
    return entry["error"]["message"]


def value(entry: dict[str, Any]) -> Any:
    assert "value" in entry, f"the SDK threw {entry.get('error')!r}"
    return entry["value"]


def api_keys(devnet: Devnet, *wanted: tuple[str, str]) -> list[dict[str, Any]]:
    """`hourglass api key create --subject S --role R --json` for each (S, R), the commands run side by side."""
    env = {**os.environ, "NO_COLOR": "1"}
    procs = [subprocess.Popen(hourglass("api", "key", "create", "--subject", subject, "--role", role, "--expires",
                                        "1h", "--json"), cwd=devnet.project, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for subject, role in wanted]
    keys = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        keys.append(json.loads(out))
    return keys


# ------------------------------------------------------------------ sign-in


@pytest.fixture(scope="module")
def auth(sdk) -> dict[str, Any]:
    key = new_key()
    return {"owner": address_of(key), **sdk("auth", key=key)}


def test_a_signed_message_from_get_signature_format_gives_a_token_for_the_signer(auth, devnet: Devnet) -> None:
    lines = auth["message"].split("\n")
    assert len(lines) == 9 and lines[1] == ""
    assert lines[3] == f"Chain ID: {devnet.chain_id}" and lines[7] == f"Wallet: {auth['owner']}"
    assert lines[8].startswith("Nonce: ")
    claims = auth["goodClaims"]
    assert claims["sub"] == auth["owner"] and claims["aud"] == [str(devnet.chain_id)]
    assert auth["keyValid"] is True
    assert [w["salt"] for w in value(auth["walletsWithKey"])] == ["0"]
    other = value(auth["otherWallets"])
    assert other[0]["address"] != value(auth["walletsWithKey"])[0]["address"]


def test_sign_in_refuses_a_wrong_signer_an_altered_or_foreign_message_and_a_replay(auth) -> None:
    assert error(auth["wrongSigner"]) == "User Auth key is invalid"
    value(auth["afterWrongSigner"])  # a refused signature does not use the message up
    assert "already used" in error(auth["replay"])
    assert "altered" in error(auth["altered"])
    assert "not issued by this server" in error(auth["notIssued"])
    assert "not issued by this server" in error(auth["forgedNonce"])
    assert error(auth["wrongChain"]).startswith("Invalid chainId: requested chainId 1 does not match")
    assert error(auth["badSignature"]) == "Unable to decode client's signature. Please check the message's format."
    assert error(auth["badWallet"]) == "Invalid Ethereum wallet address format"
    for name in ("wrongSigner", "replay", "altered", "notIssued"):
        assert auth[name]["error"]["code"] == 16, name  # UNAUTHENTICATED


def test_calls_without_a_valid_token_are_refused(auth) -> None:
    assert error(auth["noKey"]) == "User authentication error: missing auth header"
    assert error(auth["garbageKey"]).startswith("User authentication error: User Auth key is invalid")


@pytest.fixture(scope="module")
def keys(sdk, devnet: Devnet) -> dict[str, Any]:
    target, readonly_subject = fresh_address(), fresh_address()
    admin, readonly, revocable = api_keys(devnet, (fresh_address(), "admin"), (readonly_subject, "readonly"),
                                          (fresh_address(), "admin"))
    first = sdk("apikey", apiKey=admin["key"], readonlyKey=readonly["key"], readonlySubject=readonly_subject,
                revocableKey=revocable["key"], target=target)
    ok(run(devnet.project, "api", "key", "revoke", revocable["id"], timeout=60))
    token = (first["revocable"].get("value") or {}).get("authKey", "")
    after = sdk("apikey-revoked", apiKey=admin["key"], revocableKey=revocable["key"], revocableToken=token,
                target=target)
    return {"target": target, "readonlySubject": readonly_subject, "admin": admin, "first": first, "after": after}


def test_an_admin_api_key_signs_in_for_any_wallet(keys, devnet: Devnet, w3) -> None:
    first, target = keys["first"], keys["target"]
    assert first["adminClaims"]["sub"] == target
    wallets = value(first["adminWallets"])
    assert [(w["salt"], w["address"]) for w in wallets] == [("0", wallet_address(w3, devnet.factory, target, 0))]
    assert value(first["adminWallet1"])["address"] == wallet_address(w3, devnet.factory, target, 1)
    assert "already used" in error(first["adminReplay"])
    assert "API key is invalid" in error(first["tampered"])
    value(first["revocableWorks"])
    # the API key as the authkey itself acts as its own subject
    direct = value(first["direct"])
    assert direct[0]["address"] == wallet_address(w3, devnet.factory, keys["admin"]["subject"], 0)


def test_a_readonly_api_key_signs_in_only_for_its_subject(keys) -> None:
    first = keys["first"]
    assert error(first["readonlyOther"]) == "User authentication error: API key is invalid"
    value(first["readonlySelf"])
    assert first["readonlySelfClaims"]["sub"] == keys["readonlySubject"]


def test_a_revoked_api_key_and_the_tokens_it_minted_stop_working(keys) -> None:
    after = keys["after"]
    assert error(after["mint"]) == "User authentication error: API key is invalid"
    assert "revoked" in error(after["oldToken"])
    assert "revoked" in error(after["keyAsAuthKey"])
    value(after["admin"])


# ------------------------------------------------------------------ wallets


@pytest.fixture(scope="module")
def wallets(sdk) -> dict[str, Any]:
    key = new_key()
    return {"owner": address_of(key), **sdk("wallets", key=key)}


def test_the_default_wallet_is_listed_and_salts_derive_the_factorys_addresses(wallets, devnet: Devnet, w3) -> None:
    owner = wallets["owner"]
    expected = {salt: wallet_address(w3, devnet.factory, owner, salt) for salt in (0, 1, 2)}
    assert [(w["salt"], w["address"]) for w in value(wallets["initial"])] == [("0", expected[0])]
    for salt in (1, 2):
        got = value(wallets[f"salt{salt}"])
        assert (got["salt"], got["address"], got["factory"]) == (str(salt), expected[salt], devnet.factory)
        assert got["totalTaskCount"] == 0 and got["isHidden"] is False
    assert value(wallets["salt1Again"])["address"] == expected[1]
    assert value(wallets["salt0"])["address"] == expected[0]
    assert [(w["salt"], w["address"]) for w in value(wallets["listed"])] == [(str(s), expected[s]) for s in (0, 1, 2)]


def test_set_wallet_hides_and_unhides_and_bad_salts_are_refused(wallets) -> None:
    assert value(wallets["hide"])["isHidden"] is True
    assert {w["salt"]: w["isHidden"] for w in value(wallets["listedHidden"])} == {"0": False, "1": False, "2": True}
    assert value(wallets["unhide"])["isHidden"] is False
    assert not any(w["isHidden"] for w in value(wallets["listedUnhidden"]))
    assert error(wallets["negativeSalt"]) == "invalid salt value: must be a non-negative integer, got -1"
    assert error(wallets["wordSalt"]) == "invalid salt value: must be a non-negative integer, got abc"
    assert error(wallets["badFactory"]).startswith("invalid factory address")
    assert wallets["unknownSetWallet"]["error"]["code"] == 5  # NOT_FOUND


# ------------------------------------------------------------------ workflows


@pytest.fixture(scope="module")
def workflows(sdk) -> dict[str, Any]:
    key = new_key()
    return {"owner": address_of(key), **sdk("workflows", key=key, count=12)}


def test_workflows_page_newest_first_forward_and_back(workflows) -> None:
    created, pages = workflows["created"], workflows["pages"]
    assert len(created) == 12 and len(set(created)) == 12
    newest = created[::-1]
    assert value(workflows["count"]) == 12
    expected = {"page1": newest[0:5], "page2": newest[5:10], "page3": newest[10:12],
                "back2": newest[5:10], "back1": newest[0:5]}
    for name, ids in expected.items():
        assert pages[name]["error"] is None, pages[name]["error"]
        assert pages[name]["ids"] == ids, name
    flags = {name: (p["pageInfo"]["hasPreviousPage"], p["pageInfo"]["hasNextPage"]) for name, p in pages.items()}
    assert flags == {"page1": (False, True), "page2": (True, True), "page3": (True, False),
                     "back2": (True, True), "back1": (False, True)}
    assert value(workflows["defaultLimit"]) == 10  # the SDK asks for 10 when no limit is given
    assert value(workflows["withNodes"]) == {"nodes": 1, "edges": 1}
    assert workflows["firstListed"]["nodes"] == []  # without includeNodes
    assert error(workflows["badCursor"]).startswith("Invalid pagination cursor")
    assert error(workflows["negativeLimit"]).startswith("item per page is not valid")
    assert error(workflows["notMyWallet"]) == "invalid smart account address"


def test_a_workflow_reads_back_whole_and_is_disabled_enabled_and_deleted(workflows) -> None:
    got, wallet = value(workflows["got"]), workflows["wallet"]
    assert got["id"] == workflows["created"][0] and got["name"] == "wf00"
    assert (got["owner"], got["smartWalletAddress"], got["status"]) == (workflows["owner"], wallet, "enabled")
    assert got["maxExecution"] == 3 and got["executionCount"] == 0
    assert got["trigger"]["type"] == "manualTrigger" and got["trigger"]["data"]["data"] == {"n": 1}
    assert [(n["id"], n["name"], n["type"]) for n in got["nodes"]] == [("rest01", "fetch", "restApi")]
    assert got["edges"] == [{"id": "edge0", "source": "trigger01", "target": "rest01"}]
    assert got["inputVariables"]["settings"]["runner"] == wallet
    assert error(workflows["missing"]) == "task not found"

    disabled = value(workflows["disable"])
    assert (disabled["success"], disabled["status"], disabled["previousStatus"]) == (True, "disabled", "Enabled")
    assert value(workflows["statusDisabled"]) == "disabled"
    assert error(workflows["triggerDisabled"]).startswith("task cannot be executed")
    assert "already disabled" in value(workflows["disableAgain"])["message"]
    assert value(workflows["enable"])["status"] == "enabled"
    assert value(workflows["statusEnabled"]) == "enabled"
    unknown = value(workflows["enableUnknown"])
    assert (unknown["success"], unknown["status"]) == (False, "not_found")

    deleted = value(workflows["deleted"])
    assert (deleted["success"], deleted["status"], deleted["id"]) == (True, "deleted", workflows["created"][-1])
    assert error(workflows["getDeleted"]) == "task not found"
    again = value(workflows["deleteAgain"])
    assert (again["success"], again["status"]) == (False, "not_found")
    assert value(workflows["countAfterDelete"]) == 11
    assert value(workflows["countAll"]) == 11


def test_another_user_can_neither_see_nor_touch_a_workflow(workflows) -> None:
    assert error(workflows["strangerGet"]) == "task not found"
    assert value(workflows["strangerDelete"])["status"] == "not_found"
    assert value(workflows["strangerDisable"])["status"] == "not_found"
    assert error(workflows["strangerTrigger"]) == "task not found"
    assert error(workflows["strangerExecutions"]) == "task not found"
    assert error(workflows["strangerList"]) == "invalid smart account address"
    assert value(workflows["strangerCount"]) == 0
    assert value(workflows["stillThere"]) == "enabled"


def test_workflows_the_server_refuses(workflows) -> None:
    assert error(workflows["foreignRunner"]) == "invalid smart account address"
    assert error(workflows["expiresSoon"]).startswith("task expiration date is too close to current time")
    assert "is not a valid JavaScript identifier" in error(workflows["badNodeName"])
    assert error(workflows["noEdges"]) == "invalid: edges field cannot be an empty array"


@pytest.fixture(scope="module")
def trigger_kinds(sdk, token, deployer, w3) -> dict[str, Any]:
    holder = fresh_address()
    receipt = deployer.transact(token.functions.mint(holder, 5))
    transfer_topic = "0x" + bytes(receipt["logs"][0]["topics"][0]).hex()
    # topic 2 (the recipient) as a bare address: the server pads it to 32 bytes, as upstream does
    out = sdk("triggers", key=new_key(), token=token.address, transferTopic=transfer_topic, holderTopic=holder)
    return {"mintTx": "0x" + bytes(receipt["transactionHash"]).hex(), "transferTopic": transfer_topic, **out}


def test_every_trigger_kind_runs_now_and_reads_back_as_stored(trigger_kinds, w3, token) -> None:
    run_ = {name: value(entry) for name, entry in trigger_kinds["run"].items()}
    assert all(r["success"] for r in run_.values()), run_
    assert 0 < run_["block"]["data"]["blockNumber"] <= w3.eth.block_number
    assert abs(run_["cron"]["data"]["timestamp"] - run_["fixedTime"]["data"]["timestamp"]) < 60_000
    assert run_["event"]["data"]["transactionHash"] == trigger_kinds["mintTx"]
    stored = {name: value(entry) for name, entry in trigger_kinds["stored"].items()}
    assert stored["block"]["type"] == "blockTrigger" and stored["block"]["data"] == {"interval": 5}
    assert stored["cron"]["type"] == "cronTrigger" and stored["cron"]["data"] == {"schedules": ["*/5 * * * *"]}
    assert stored["fixedTime"]["type"] == "fixedTimeTrigger" and len(stored["fixedTime"]["data"]["epochsList"]) == 1
    assert stored["event"]["type"] == "eventTrigger"
    query = stored["event"]["data"]["queries"][0]
    assert query["addresses"] == [token.address] and query["topics"][0] == trigger_kinds["transferTopic"]
    manual = value(trigger_kinds["manualBlock"])
    assert manual["status"] == "success"
    assert (manual["trigger"]["type"], manual["trigger"]["output"]["blockNumber"]) == ("blockTrigger", 123)


# ------------------------------------------------------------------ executions and secrets


@pytest.fixture(scope="module")
def executions(sdk) -> dict[str, Any]:
    return sdk("executions", key=new_key(), secretName=SECRET_NAME, secretValue=SECRET_VALUE)


def test_a_blocking_trigger_returns_the_steps_and_the_rest_call_carries_the_secret(executions, rest: Recorder) -> None:
    blocking = value(executions["blocking"])
    assert blocking["status"] == "success" and blocking["workflowId"] == executions["workflowId"]
    assert [(s["id"], s["type"], s["success"]) for s in blocking["steps"]] == [
        ("trigger01", "TRIGGER_TYPE_MANUAL", True), ("rest01", "NODE_TYPE_REST_API", True)]
    assert blocking["endAt"] >= blocking["startAt"] > 0
    assert [h.get("x-api-key") for h in rest.headers_for("/exec?n=7")] == [SECRET_VALUE]


def test_a_non_blocking_trigger_is_pending_then_settles(executions, rest: Recorder) -> None:
    pending = value(executions["nonBlocking"])
    assert pending["status"] == "pending" and pending["executionId"]
    assert executions["settled"]["status"] == "success"
    execution = value(executions["execution"])
    assert (execution["id"], execution["status"], execution["index"]) == (pending["executionId"], "success", 1)
    trigger, step = execution["steps"]
    assert (trigger["type"], trigger["name"], trigger["output"]) == ("manualTrigger", "trigger", {"n": 8})
    assert (step["type"], step["name"], step["success"]) == ("restApi", "fetch", True)
    assert step["output"]["status"] == 200 and step["output"]["data"]["apiKey"] == SECRET_VALUE
    assert step["config"]["url"].endswith("/exec?n={{trigger.data.n}}")  # the node's config, as configured
    assert [h.get("x-api-key") for h in rest.headers_for("/exec?n=8")] == [SECRET_VALUE]


def test_executions_are_listed_counted_and_summed_up(executions) -> None:
    listed = value(executions["list"])
    ids = [e["id"] for e in listed["items"]]
    assert ids == [value(executions["nonBlocking"])["executionId"], value(executions["blocking"])["executionId"]]
    assert [e["index"] for e in listed["items"]] == [1, 0]
    page1, page2 = value(executions["listPage1"]), value(executions["listPage2"])
    assert [e["id"] for e in page1["items"]] + [e["id"] for e in page2["items"]] == ids
    assert page1["pageInfo"]["hasNextPage"] is True and page2["pageInfo"]["hasNextPage"] is False
    assert value(executions["count"]) == 2
    stats = value(executions["stats"])
    assert (stats["total"], stats["succeeded"], stats["failed"]) == (2, 2, 0) and stats["avgExecutionTime"] > 0
    both = value(executions["statsBoth"])
    assert (both["total"], both["succeeded"], both["failed"]) == (3, 2, 1)
    assert value(executions["countBoth"]) == 3
    assert error(executions["missingExecution"]) == "execution not found"
    assert error(executions["missingStatus"]) == "execution not found"
    after = value(executions["workflowAfter"])
    assert after["executionCount"] == 2 and after["lastRanAt"] > 0


def test_a_failing_step_fails_the_execution_and_a_run_limit_completes_the_workflow(executions) -> None:
    failing = value(executions["failing"])
    assert failing["status"] == "failed" and "HTTP 500" in failing["error"]
    assert [s["success"] for s in failing["steps"]] == [True, False]
    assert value(executions["onceFirst"])["status"] == "success"
    assert error(executions["onceSecond"]) == ("task cannot be executed: either reached max execution, expired, "
                                               "or not yet started")
    assert value(executions["onceStatus"]) == "completed"


def test_secrets_are_created_updated_listed_without_values_and_deleted(executions, rest: Recorder) -> None:
    assert value(executions["createSecret"])["status"] == "created"
    updated = value(executions["updateSecret"])
    assert (updated["status"], updated["scope"], updated["secretName"]) == ("updated", "user", SECRET_NAME)
    assert "already exists" in error(executions["createTwice"])
    assert "ap_" in error(executions["reserved"])
    assert error(executions["updateUnknown"]) == "secret not found"
    items = value(executions["secrets"])["items"]
    assert [(s["name"], s["secret"]) for s in items] == [(SECRET_NAME, None)]
    scoped = value(executions["workflowSecret"])
    assert (scoped["status"], scoped["scope"]) == ("created", "workflow")
    listed = value(executions["workflowSecrets"])["items"]
    assert [(s["name"], s["workflowId"]) for s in listed] == [("wf_secret", executions["workflowId"])]
    assert error(executions["foreignWorkflowSecret"]) == "task not found"
    assert items[0]["createdAt"] > 0 and items[0]["updatedAt"] >= items[0]["createdAt"]
    assert SECRET_VALUE not in json.dumps(executions["secrets"])
    assert value(executions["deleteSecret"])["status"] == "deleted"
    again = value(executions["deleteAgain"])
    assert (again["success"], again["status"]) == (False, "not_found")
    assert [s["name"] for s in value(executions["secretsAfter"])["items"]] == ["wf_secret"]  # only the user one went
    # the run after the deletion sends the header empty
    assert value(executions["afterDelete"])["status"] == "success"
    assert [h.get("x-api-key") for h in rest.headers_for("/exec?n=9")] == [""]


def test_custom_code_sees_the_secret_as_ap_context_config_vars(executions) -> None:
    run_ = value(executions["code"])
    assert run_["status"] == "success", run_.get("error")
    code_step = value(executions["codeExecution"])["steps"][1]
    assert code_step["type"] == "customCode"
    assert code_step["output"] == {"secret": SECRET_VALUE, "doubled": 42}


@pytest.fixture(scope="module")
def logic(sdk) -> dict[str, Any]:
    return sdk("logic", key=new_key())


def test_a_branch_runs_only_the_path_its_condition_takes(logic, rest: Recorder) -> None:
    high, low = value(logic["branchHigh"]), value(logic["branchLow"])
    assert high["status"] == "success", high["error"]
    assert [(s["name"], s["success"]) for s in high["steps"]] == [("trigger", True), ("decide", True),
                                                                  ("high", True)]
    assert high["steps"][1]["type"] == "branch"
    assert low["status"] == "success", low["error"]
    assert [s["name"] for s in low["steps"]] == ["trigger", "decide", "low"]
    assert len(rest.headers_for("/branch/high?n=9")) == 1 and len(rest.headers_for("/branch/low?n=2")) == 1
    assert rest.headers_for("/branch/low?n=9") == [] and rest.headers_for("/branch/high?n=2") == []


def test_a_filter_keeps_the_items_its_expression_accepts(logic) -> None:
    run_ = value(logic["filter"])
    assert run_["status"] == "success", run_["error"]
    assert run_["steps"][1]["type"] == "filter"
    assert run_["steps"][1]["output"] == [{"amount": 20}, {"amount": 50}]


# ------------------------------------------------------------------ tools


@pytest.fixture(scope="module")
def tools(sdk, token, deployer) -> dict[str, Any]:
    holder = fresh_address()
    deployer.transact(token.functions.mint(holder, 777))
    return {"holder": holder, **sdk("tools", key=new_key(), token=token.address, holder=holder)}


def test_run_node_with_inputs_runs_rest_api_and_contract_read(tools, rest: Recorder) -> None:
    rest_run = value(tools["restNode"])
    assert rest_run["success"] is True and rest_run["data"]["status"] == 200
    assert rest_run["data"]["data"] == {"path": "/run?x=5", "apiKey": None, "probe": "sdk"}
    assert [h.get("x-probe") for h in rest.headers_for("/run?x=5")] == ["sdk"]
    failing = value(tools["restNodeFailing"])
    assert failing["success"] is False and "404" in failing["error"]
    read = value(tools["readNode"])
    assert read["success"] is True, read["error"]
    assert read["data"] == {"symbol": "SDK", "balanceOf": "777"}
    assert [m["methodName"] for m in read["metadata"]] == ["symbol", "balanceOf"]


def test_run_node_with_inputs_runs_custom_code(tools) -> None:
    code = value(tools["codeNode"])
    assert code["success"] is True, code["error"]
    assert code["data"] == {"sum": 5, "words": "x-y"}


def test_run_trigger_and_simulate_workflow(tools, rest: Recorder) -> None:
    trigger = value(tools["trigger"])
    assert trigger["success"] is True and trigger["data"] == {"hello": "world", "n": 3}
    simulated = value(tools["simulateRest"])
    assert simulated["status"] == "success"
    assert [(s["type"], s["success"]) for s in simulated["steps"]] == [("manualTrigger", True), ("restApi", True)]
    assert simulated["steps"][1]["output"]["data"]["path"] == "/simulate?n=4"
    assert len(rest.headers_for("/simulate?n=4")) == 1
    assert error(tools["simulateNoNodes"]) == "invalid: nodes field cannot be an empty array"


def test_simulate_workflow_with_custom_code(tools) -> None:
    simulated = value(tools["simulateCode"])
    assert simulated["status"] == "success", simulated["error"]
    assert simulated["steps"][1]["output"] == 40


def test_token_metadata_of_a_deployed_erc20(tools, token) -> None:
    found = value(tools["token"])
    assert found["found"] is True
    assert found["token"] == {"id": token.address.lower(), "name": "Sdk Token", "symbol": "SDK", "decimals": 18}
    missing = value(tools["notToken"])
    assert (missing["found"], missing["token"]) == (False, None)
    assert "address" in error(tools["badAddress"])


def test_estimate_fees_prices_the_gas_of_the_writes(tools, devnet: Devnet) -> None:
    fees = value(tools["fees"])
    assert fees["success"] is True and fees["chainId"] == str(devnet.chain_id)
    assert fees["nativeToken"] == {"symbol": "ETH", "decimals": 18}
    gas = {c["nodeId"]: c for c in fees["cogs"] if c["costType"] == "gas"}
    assert set(gas) == {"eth01"} and int(gas["eth01"]["fee"]["amount"]) > 0 and int(gas["eth01"]["gasUnits"]) > 0
    assert {c["fee"]["unit"] for c in fees["cogs"]} == {"WEI"}  # upstream's unit names
    # the runner is not deployed yet: its first write deploys it
    assert any(c["costType"] == "wallet_creation" for c in fees["cogs"])


# ------------------------------------------------------------------ writes from a smart wallet


@pytest.fixture(scope="module")
def transfers(sdk, devnet: Devnet, w3, deployer, token) -> dict[str, Any]:
    key = new_key()
    wallet = wallet_address(w3, devnet.factory, address_of(key), 0)
    deployer.wait(deployer.transfer(wallet, 10**18))
    deployer.transact(token.functions.mint(wallet, 10_000))
    params = {"ethRecipient": fresh_address(), "ethAmount": "123456789", "tokenRecipient": fresh_address(),
              "tokenAmount": "1000", "withdrawRecipient": fresh_address(), "withdrawAmount": "5000",
              "withdrawTokenAmount": "250"}
    before = {name: w3.eth.get_balance(params[name]) for name in ("ethRecipient", "withdrawRecipient")}
    assert before == {"ethRecipient": 0, "withdrawRecipient": 0}
    out = sdk("transfers", key=key, token=token.address, **params)
    return {"walletAddress": wallet, "params": params, **out}


def test_eth_transfer_and_contract_write_steps_move_funds_from_the_smart_wallet(transfers, w3, token) -> None:
    p, wallet = transfers["params"], transfers["walletAddress"]
    assert transfers["wallet"] == wallet
    eth = transfers["ethTransfer"]
    assert value(eth["triggered"])["status"] == "success", value(eth["triggered"]).get("error")
    step = value(eth["execution"])["steps"][1]
    assert (step["type"], step["success"]) == ("ethTransfer", True)
    assert step["output"] == {"transfer": {"from": wallet, "to": p["ethRecipient"], "value": p["ethAmount"]}}
    assert int(step["totalGasCost"]) > 0 and step["metadata"]["totalGasCost"] == step["totalGasCost"]
    receipt = w3.eth.get_transaction_receipt(step["metadata"]["transactionHash"])
    assert receipt["status"] == 1
    assert w3.eth.get_balance(p["ethRecipient"]) == int(p["ethAmount"])

    write = transfers["contractWrite"]
    assert value(write["triggered"])["status"] == "success", value(write["triggered"]).get("error")
    step = value(write["execution"])["steps"][1]
    assert (step["type"], step["success"]) == ("contractWrite", True)
    # upstream's shape: the events the call emitted, by method; the per-call results with receipts as metadata
    assert step["output"] == {"transfer": {"from": wallet, "to": p["tokenRecipient"], "value": p["tokenAmount"]}}
    assert [(m["methodName"], m["success"]) for m in step["metadata"]] == [("transfer", True)]
    assert w3.eth.get_transaction_receipt(step["metadata"][0]["receipt"]["transactionHash"])["status"] == 1
    assert token.functions.balanceOf(p["tokenRecipient"]).call() == int(p["tokenAmount"])


def test_withdraw_funds_sends_eth_and_tokens_from_the_smart_wallet(transfers, w3, token) -> None:
    p, wallet = transfers["params"], transfers["walletAddress"]
    eth = value(transfers["withdrawEth"])
    assert (eth["success"], eth["status"], eth["smartWalletAddress"]) == (True, "confirmed", wallet)
    assert eth["message"] == "withdrawal transaction confirmed"
    assert w3.eth.get_transaction_receipt(eth["transactionHash"])["status"] == 1
    assert w3.eth.get_balance(p["withdrawRecipient"]) == int(p["withdrawAmount"])
    tok = value(transfers["withdrawToken"])
    assert (tok["success"], tok["token"]) == (True, token.address)
    assert token.functions.balanceOf(p["withdrawRecipient"]).call() == int(p["withdrawTokenAmount"])
    assert token.functions.balanceOf(wallet).call() == 10_000 - int(p["tokenAmount"]) - int(p["withdrawTokenAmount"])
    assert error(transfers["withdrawForeign"]) == "invalid smart account address"


def test_withdraw_funds_refuses_more_than_the_wallet_holds_before_sending(transfers, w3, token) -> None:
    p, wallet = transfers["params"], transfers["walletAddress"]
    left = w3.eth.get_balance(wallet)  # gas comes from the EntryPoint deposit, not from the wallet's ETH
    assert left == 10**18 - int(p["ethAmount"]) - int(p["withdrawAmount"])
    too_much = transfers["withdrawTooMuch"]
    assert error(too_much) == f"insufficient balance: requested {10**24} wei but wallet has {left} wei"
    assert too_much["error"]["code"] == 9  # FAILED_PRECONDITION
    tokens = token.functions.balanceOf(wallet).call()
    assert error(transfers["withdrawTooMuchToken"]) == (f"insufficient token balance: requested {10**24}, but "
                                                        f"wallet has {tokens}")
    assert error(transfers["withdrawZero"]).startswith("invalid amount: must be a positive integer or 'max'")
