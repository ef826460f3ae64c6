"""The ``aggregator.Aggregator`` service: every RPC of AvaProtocol's client API (v2.12.0 behaviour, v2.13.1 API keys)
plus the legacy CancelTask. Each method takes the request message and the gRPC context and returns the
response message, or aborts with upstream's status code and text (INVALID_ARGUMENT messages name the field).

Automations ("tasks" on this wire) are stored as Task protobufs; executions as Execution protobufs. An execution
is written PENDING (with the task's execution count, last run and a pending-trigger entry) in one transaction before
any step runs, marked started before its first step, and written again when it ends. After a restart a run that
never started is run; one whose steps had started is FAILED ("interrupted by a restart") rather than run a second
time — a step may have sent a transaction.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from eth_utils import is_hex_address, to_checksum_address
from google.protobuf import json_format, wrappers_pb2
from ulid import ULID

from hourglass_cli.api.auth import AuthError, Authenticator, RateLimiter, User
from hourglass_cli.api.config import ApiConfig
from hourglass_cli.api.engine import (
    FIELD_TO_TYPE,
    NODE_FIELDS,
    TRIGGER_FIELDS,
    TYPE_TO_TRIGGER,
    Engine,
    RunContext,
    StepError,
    execution_status,
    from_value,
    now_ms,
    to_value,
    trigger_step,
)
from hourglass_cli.api.runners import NodeServices, run_node
from hourglass_cli.api.secrets import SecretBox
from hourglass_cli.api.store import SecretRow, SqliteApiStore, WalletRow
from hourglass_cli.wire.gen import avs_pb2 as pb

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
TASK_NOT_FOUND = "task not found"
EXECUTION_NOT_FOUND = "execution not found"
INVALID_WALLET = "invalid smart account address"
NOT_RUNNABLE = "task cannot be executed: either reached max execution, expired, or not yet started"
_JS_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_JS_RESERVED = frozenset(
    "break case catch class const continue debugger default delete do else export extends false finally for "
    "function if import in instanceof new null return super switch this throw true try typeof var void while "
    "with yield let static enum await implements package protected interface private public".split())
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_STATUS_NAME = {v: k for k, v in pb.TaskStatus.items()}
QUORUM_KEY = "__hourglass_quorum"  # in a queued run's trigger input: the operators whose reports started it
log = logging.getLogger("hourglass.api")


class Abort(Exception):
    """Stop an RPC with a status code (a grpc.StatusCode) and message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def invalid(message: str) -> Abort:
    return Abort(grpc.StatusCode.INVALID_ARGUMENT, message)


def new_id() -> str:
    return str(ULID())


def _cursor(position: str) -> str:
    return base64.b64encode(json.dumps({"d": "next", "p": position}, separators=(",", ":")).encode()).decode()


def _parse_cursor(text: str) -> str:
    try:
        data = json.loads(base64.b64decode(text, validate=True))
        position = data["p"]
        if not isinstance(position, str) or not position:
            raise ValueError
        return position
    except (ValueError, KeyError, TypeError):
        raise invalid("Invalid pagination cursor: pass back a start_cursor or end_cursor from page_info") from None


def _page_args(before: str, after: str, limit: int) -> tuple[str | None, str | None, int]:
    if limit < 0:
        raise invalid("item per page is not valid: limit must be 0 (the default, 50) or more")
    if limit > MAX_LIMIT:
        raise invalid(f"item per page is not valid: limit must be at most {MAX_LIMIT}")
    after_id = _parse_cursor(after) if after else None
    before_id = _parse_cursor(before) if before and not after else None
    return before_id, after_id, limit or DEFAULT_LIMIT


def _page_info(ids: list[str], more: bool, before: str | None, after: str | None) -> pb.PageInfo:
    info = pb.PageInfo()
    if ids:
        info.start_cursor, info.end_cursor = _cursor(ids[0]), _cursor(ids[-1])
    if before is not None:
        info.has_next_page, info.has_previous_page = True, more
    else:
        info.has_next_page, info.has_previous_page = more, after is not None
    return info


def _salt(text: str) -> str:
    if text == "":
        return "0"
    if not text.isdigit() or int(text) >= 2**256:
        raise invalid(f"invalid salt value: must be a non-negative integer, got {text}")
    return str(int(text))


def _value_dict(values) -> dict[str, Any]:
    from hourglass_cli.api.engine import ints

    return {k: ints(json_format.MessageToDict(v)) for k, v in values.items()}


class ApiService:
    """The client API over a store, an authenticator and an engine."""

    def __init__(self, config: ApiConfig, *, chain: Any = None, hourglass: Any = None,
                 store: SqliteApiStore | None = None) -> None:
        api = config.api
        self.config = config
        self.store = store or SqliteApiStore(config.store_path)
        self.auth = Authenticator(self.store, secret=config.jwt_secret(), chain_id=api.chain_id,
                                  issuer=api.token_issuer, max_lifetime=api.max_token_lifetime,
                                  message_lifetime=api.signature_message_lifetime, uri=api.message_uri)
        self.box = SecretBox(config.secrets_keys())
        self.limiter = RateLimiter(api.requests_per_second, api.burst)
        self.chain = chain
        if chain is not None:
            chain.wallet_lookup = self._wallet_of
        self.services = NodeServices(js_timeout=api.js_timeout, js_memory_mb=api.js_memory_mb,
                                     http_timeout=api.http_timeout, allow_private_http=api.allow_private_http,
                                     chain=chain, hourglass=hourglass)
        self.engine = Engine(run_node, workers=api.engine_workers, step_timeout=api.step_timeout)
        self.background = ThreadPoolExecutor(max_workers=max(2, api.engine_workers), thread_name_prefix="api-run")
        self._task_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self.node: Any = None  # the aggregator.Node service (triggers watched by operators), when served
        self._recover()

    def close(self) -> None:
        self.background.shutdown(wait=False, cancel_futures=True)
        self.engine.close()
        self.store.close()

    # -- plumbing -----------------------------------------------------------------------------------------

    def _recover(self) -> None:
        """After a restart: runs queued and never started are run now; runs whose steps had started are FAILED
        (a step may have sent a transaction: nothing is done twice). Executions PENDING without a queue entry
        (written by an older version) are failed the same way."""
        pending = {row[0]: row for row in self.store.pending_triggers()}
        for execution_id, task_id, data in self.store.pending_executions():
            row = pending.get(execution_id)
            execution = pb.Execution.FromString(data)
            record = self.store.execution(execution_id)
            owner = record[1] if record else ""
            if row is not None and row[5] is None:
                task_row = self.store.task(task_id)
                if task_row is not None:
                    task = pb.Task.FromString(task_row[1])
                    output, extra = json.loads(row[3]), json.loads(row[4])
                    self.background.submit(self._background, task, User(owner), execution, output, extra)
                    continue
            execution.status = pb.EXECUTION_STATUS_FAILED
            execution.error = ("interrupted by a restart of the API server after its steps started (they were not "
                               "run again: a step may have sent a transaction)")
            execution.end_at = execution.end_at or now_ms()
            self.store.put_execution(execution_id, task_id, owner, execution.index, execution.status,
                                     execution.start_at, execution.end_at, execution.SerializeToString(), done=True)

    def _changed(self, task: pb.Task, *, deleted: bool = False) -> None:
        """Tell the operators (aggregator.Node) what became of a task's trigger."""
        if self.node is not None:
            self.node.task_changed(task, deleted=deleted)

    def _wallet_of(self, owner: str, address: str) -> tuple[str, int] | None:
        row = self.store.wallet_by_address(owner, address)
        return (row.factory, int(row.salt)) if row else None

    def _lock_for(self, task_id: str) -> threading.Lock:
        with self._locks_lock:
            return self._task_locks.setdefault(task_id, threading.Lock())

    def user(self, context: grpc.ServicerContext, *, create_task: bool = False) -> User:
        token = next((v for k, v in context.invocation_metadata() if k == "authkey"), None)
        try:
            user = self.auth.verify(token)
        except AuthError as exc:
            message = exc.message
            if create_task:
                message = message.replace("User authentication error: ", "", 1)
                if not message.startswith("User Auth key is invalid"):
                    message = f"User Auth key is invalid: {message}"
            raise Abort(grpc.StatusCode.UNAUTHENTICATED, message) from None
        if not self.limiter.allow(user.address):
            raise Abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"too many requests from {user.address}: at most "
                        f"{self.config.api.requests_per_second:g}/s (burst {self.config.api.burst}); slow down")
        return user

    def _factory(self, text: str) -> str:
        if text == "":
            if not self.config.api.wallet_factory:
                raise Abort(grpc.StatusCode.FAILED_PRECONDITION,
                            "no default wallet factory is configured ([api].wallet_factory); pass factory_address")
            return to_checksum_address(self.config.api.wallet_factory)
        if not is_hex_address(text):
            raise invalid("invalid factory address: factory_address must be 0x followed by 40 hex digits")
        if int(text, 16) == 0:
            raise invalid("Factory address cannot be the zero address")
        return to_checksum_address(text)

    def _derive(self, owner: str, factory: str, salt: str) -> str:
        if self.chain is None:
            raise Abort(grpc.StatusCode.UNAVAILABLE, "cannot determine smart wallet address: [api].rpc_url is not set")
        try:
            return self.chain.wallet_address(factory, owner, int(salt))
        except Exception as exc:  # noqa: BLE001 - the chain's error, reported
            raise Abort(grpc.StatusCode.UNAVAILABLE,
                        f"cannot determine smart wallet address: {type(exc).__name__}: {exc}") from None

    def _wallet_resp(self, row: WalletRow) -> pb.GetWalletResp:
        counts = self.store.task_counts(row.owner, row.address)
        return pb.GetWalletResp(
            address=row.address, salt=row.salt, factory_address=row.factory, is_hidden=row.is_hidden,
            total_task_count=sum(counts.values()), enabled_task_count=counts.get(pb.Enabled, 0),
            completed_task_count=counts.get(pb.Completed, 0), failed_task_count=counts.get(pb.Failed, 0),
            disabled_task_count=counts.get(pb.Disabled, 0))

    def _ensure_default_wallet(self, owner: str) -> WalletRow | None:
        if not self.config.api.wallet_factory or self.chain is None:
            return None
        factory = to_checksum_address(self.config.api.wallet_factory)
        row = self.store.wallet(owner, factory, "0")
        if row is None:
            row = WalletRow(owner, factory, "0", self._derive(owner, factory, "0"), False)
            self.store.add_wallet(row, cap=10**9)  # the default wallet is always kept
        return row

    def _owned_wallet(self, user: User, address: str) -> str:
        if not address or not is_hex_address(address):
            raise invalid(INVALID_WALLET)
        wallet = to_checksum_address(address)
        if self.store.wallet_by_address(user.address, wallet) is None:
            default = self._ensure_default_wallet(user.address)
            if default is None or default.address != wallet:
                raise invalid(INVALID_WALLET)
        return wallet

    def _task(self, user: User, task_id: str) -> pb.Task:
        if not task_id:
            raise invalid("Missing task id in request: id is required")
        if not _ULID.match(task_id):
            raise invalid("invalid task id: a task id is a 26-character ULID")
        row = self.store.task(task_id)
        if row is None or row[0] != user.address:
            raise Abort(grpc.StatusCode.NOT_FOUND, TASK_NOT_FOUND)
        return pb.Task.FromString(row[1])

    def _refresh_status(self, task: pb.Task) -> bool:
        """Completed when the run count or the expiry says so (True when it changed)."""
        if task.status in (pb.Completed, pb.Failed):
            return False
        done = (task.max_execution > 0 and task.execution_count >= task.max_execution) or \
               (task.expired_at > 0 and task.expired_at <= now_ms())
        if done:
            task.status = pb.Completed
            task.completed_at = task.completed_at or now_ms()
        return done

    def _secrets_for(self, user: User, task_id: str) -> dict[str, str]:
        values: dict[str, str] = {}
        rows = self.store.secrets(user.address)
        for row in rows:  # workflow secrets first, user secrets override them
            if row.workflow_id and row.workflow_id == task_id and not row.org_id:
                values[row.name] = self.box.open(row)
        for row in rows:
            if not row.workflow_id and not row.org_id:
                values[row.name] = self.box.open(row)
        return values

    # -- auth ---------------------------------------------------------------------------------------------

    def _peer_limit(self, context) -> None:
        """The rate limit of calls before sign-in, per client address (each GetSignatureFormat stores a nonce)."""
        peer = context.peer() or ""
        host = peer.rsplit(":", 1)[0] if peer.count(":") >= 2 else peer
        if not self.limiter.allow("peer:" + host):
            raise Abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"too many sign-in requests from {host}: at most {self.config.api.requests_per_second:g}/s; "
                        "slow down")

    def GetSignatureFormat(self, request: pb.GetSignatureFormatReq, context) -> pb.GetSignatureFormatResp:
        self._peer_limit(context)
        try:
            return pb.GetSignatureFormatResp(message=self.auth.signature_format(request.wallet))
        except AuthError as exc:
            raise Abort(getattr(grpc.StatusCode, exc.code), exc.message) from None

    def GetKey(self, request: pb.GetKeyReq, context) -> pb.KeyResp:
        self._peer_limit(context)
        if len(request.message) > 4096 or len(request.signature) > 8192:
            raise invalid("message or signature too long (a signed message is ~400 characters)")
        try:
            key = self.auth.get_key(request.message, request.signature)
        except AuthError as exc:
            raise Abort(getattr(grpc.StatusCode, exc.code), exc.message) from None
        return pb.KeyResp(key=key)

    # -- wallets ------------------------------------------------------------------------------------------

    def GetWallet(self, request: pb.GetWalletReq, context) -> pb.GetWalletResp:
        user = self.user(context)
        factory, salt = self._factory(request.factory_address), _salt(request.salt)
        row = self.store.wallet(user.address, factory, salt)
        if row is None:
            row = WalletRow(user.address, factory, salt, self._derive(user.address, factory, salt), False)
            cap = self.config.api.max_wallets_per_owner
            if salt != "0" or factory != to_checksum_address(self.config.api.wallet_factory or factory):
                outcome = self.store.add_wallet(row, cap)
            else:
                outcome = self.store.add_wallet(row, 10**9)
            if outcome == "full":
                raise Abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"max smart wallet count reached for owner (limit={cap})")
        return self._wallet_resp(row)

    def SetWallet(self, request: pb.SetWalletReq, context) -> pb.GetWalletResp:
        user = self.user(context)
        if request.factory_address and not is_hex_address(request.factory_address):
            raise invalid(f"Invalid factory address format: {request.factory_address}")
        factory = self._factory(request.factory_address)
        if not request.salt.isdigit():
            raise invalid(f"Invalid salt format: {request.salt}")
        salt = str(int(request.salt))
        if salt == "0":
            self._ensure_default_wallet(user.address)
        if not self.store.set_wallet_hidden(user.address, factory, salt, request.is_hidden):
            raise Abort(grpc.StatusCode.NOT_FOUND, "Wallet not found for the specified salt and factory.")
        return self._wallet_resp(self.store.wallet(user.address, factory, salt))

    def ListWallets(self, request: pb.ListWalletReq, context) -> pb.ListWalletResp:
        user = self.user(context)
        self._ensure_default_wallet(user.address)
        items = []
        for row in self.store.wallets(user.address):
            if request.factory_address and row.factory.lower() != request.factory_address.lower():
                continue
            if request.salt and row.salt != request.salt:
                continue
            items.append(pb.SmartWallet(address=row.address, salt=row.salt, factory=row.factory,
                                        is_hidden=row.is_hidden))
        return pb.ListWalletResp(items=items)

    def GetNonce(self, request: pb.NonceRequest, context) -> pb.NonceResp:
        self.user(context)
        if not is_hex_address(request.owner):
            raise invalid("owner must be 0x followed by 40 hex digits (a smart wallet or its owner)")
        if self.chain is None:
            raise Abort(grpc.StatusCode.UNAVAILABLE, "cannot determine nonce for smart wallet: no chain configured")
        owner = to_checksum_address(request.owner)
        # Upstream asks the EntryPoint for the owner's nonce; the nonce that matters is the wallet's. Given an
        # owner, we answer for its default (salt 0) wallet; given a wallet address, for that wallet.
        wallet = owner
        if self.config.api.wallet_factory and not self.chain.has_code(owner):
            factory = to_checksum_address(self.config.api.wallet_factory)
            known = self.store.wallet_by_address(owner, owner)
            wallet = known.address if known else self._derive(owner, factory, "0")
        try:
            return pb.NonceResp(nonce=str(self.chain.nonce(wallet)))
        except Exception as exc:  # noqa: BLE001
            raise Abort(grpc.StatusCode.UNAVAILABLE, f"cannot determine nonce for smart wallet: {exc}") from None

    def WithdrawFunds(self, request: pb.WithdrawFundsReq, context) -> pb.WithdrawFundsResp:
        user = self.user(context)
        if not request.recipient_address:
            raise invalid("recipient_address is required")
        if not is_hex_address(request.recipient_address):
            raise invalid("recipient_address must be 0x followed by 40 hex digits")
        if not request.amount:
            raise invalid("amount is required (wei or the token's smallest unit, or \"max\")")
        amount = request.amount.strip().lower()
        if amount != "max" and (not amount.isdigit() or int(amount) == 0):
            raise invalid("invalid amount: must be a positive integer or 'max' (wei, or the token's smallest unit)")
        if not request.smart_wallet_address:
            raise invalid("smart_wallet_address is required")
        wallet = self._owned_wallet(user, request.smart_wallet_address)
        token = request.token or "ETH"
        if token.upper() != "ETH" and not is_hex_address(token):
            raise invalid("token must be \"ETH\" or an ERC-20 contract address")
        if self.chain is None or not self.chain.can_write:
            raise Abort(grpc.StatusCode.FAILED_PRECONDITION,
                        "withdrawals need [api].rpc_url, entry_point, wallet_factory and a controller key")
        self._check_withdrawable(wallet, amount, token)
        try:
            outcome = self.chain.withdraw(user.address, wallet, to_checksum_address(request.recipient_address),
                                          amount, token)
        except StepError as exc:
            return pb.WithdrawFundsResp(success=False, status="failed", message=exc.message,
                                        smart_wallet_address=wallet, recipient_address=request.recipient_address,
                                        amount=request.amount, token=token)
        return pb.WithdrawFundsResp(success=outcome["success"], status="confirmed" if outcome["success"] else "failed",
                                    message="withdrawal transaction confirmed" if outcome["success"] else
                                    outcome.get("message", ""), user_op_hash=outcome["userOpHash"],
                                    transaction_hash=outcome["transactionHash"], submitted_at=now_ms(),
                                    smart_wallet_address=wallet, recipient_address=request.recipient_address,
                                    amount=str(outcome.get("amount", request.amount)), token=token)

    def _check_withdrawable(self, wallet: str, amount: str, token: str) -> None:
        """Upstream's pre-flight: refuse what the wallet does not hold before a UserOp is built (a reverting one
        would still cost gas)."""
        try:
            balance = self.chain.balance(wallet, token)
        except Exception as exc:  # noqa: BLE001 - the chain's error, reported
            raise Abort(grpc.StatusCode.UNAVAILABLE, f"failed to get wallet balance: {exc}") from None
        eth = token.upper() == "ETH"
        if amount == "max":
            if balance == 0:
                raise invalid("wallet has zero balance" if eth else "token balance is zero")
        elif int(amount) > balance:
            if eth:
                raise Abort(grpc.StatusCode.FAILED_PRECONDITION,
                            f"insufficient balance: requested {amount} wei but wallet has {balance} wei")
            raise invalid(f"insufficient token balance: requested {amount}, but wallet has {balance}")

    # -- tasks --------------------------------------------------------------------------------------------

    def _validate_graph(self, trigger: pb.TaskTrigger, nodes, edges, where: str = "") -> None:
        limits = self.config.api
        if len(nodes) > limits.max_nodes:
            raise invalid(f"{where}nodes: {len(nodes)} nodes; at most {limits.max_nodes}")
        names: set[str] = set()
        ids: set[str] = {trigger.id} if trigger.id else set()
        if trigger.name:
            if not _JS_IDENT.match(trigger.name) or trigger.name in _JS_RESERVED:
                raise invalid(f"trigger name validation failed: {trigger.name!r} is not a valid JavaScript "
                              "identifier (letters, digits, _ and $, not starting with a digit)")
            names.add(trigger.name)
        for i, node in enumerate(nodes):
            if not node.id:
                raise invalid(f"{where}nodes[{i}].id is required")
            if node.id in ids:
                raise invalid(f"{where}nodes[{i}].id {node.id!r} is used twice")
            ids.add(node.id)
            if not node.name or not _JS_IDENT.match(node.name) or node.name in _JS_RESERVED:
                raise invalid(f"node name validation failed: node '{node.id}' validation failed: name "
                              f"{node.name!r} is not a valid JavaScript identifier")
            if len(node.name) > 255 or len(node.id) > 255:
                raise invalid(f"{where}nodes[{i}]: name and id must be at most 255 characters")
            if node.name in names:
                raise invalid(f"{where}nodes[{i}].name {node.name!r} is used twice")
            size = node.ByteSize()
            if size > limits.max_code_bytes:
                raise invalid(f"{where}nodes[{i}] ({node.name}): its configuration is {size} bytes; at most "
                              f"{limits.max_code_bytes} for code, bodies and expressions ([api].max_code_bytes)")
            names.add(node.name)
            which = node.WhichOneof("task_type")
            if which is None:
                raise invalid(f"{where}nodes[{i}] ({node.name}): no node configuration (custom_code, rest_api …)")
            if node.type != pb.NODE_TYPE_UNSPECIFIED and NODE_FIELDS.get(node.type, (None,))[0] != which:
                raise invalid(f"{where}nodes[{i}] ({node.name}): type {pb.NodeType.Name(node.type)} does not match "
                              f"its {which} configuration")
        for i, edge in enumerate(edges):
            if edge.target not in ids or edge.target == trigger.id:
                raise invalid(f"{where}edges[{i}].target {edge.target!r} is not a node id")
            if edge.source.partition(".")[0] not in ids:
                raise invalid(f"{where}edges[{i}].source {edge.source!r} is not the trigger or a node id")

    def CreateTask(self, request: pb.CreateTaskReq, context) -> pb.CreateTaskResp:
        user = self.user(context, create_task=True)
        if not request.HasField("trigger"):
            raise invalid("trigger is required")
        if not request.edges:
            raise invalid("invalid: edges field cannot be an empty array")
        if not request.nodes:
            raise invalid("invalid: nodes field cannot be an empty array")
        if request.expired_at > 0 and request.expired_at - now_ms() < 3600_000:
            minutes = (request.expired_at - now_ms()) / 60_000
            raise invalid("task expiration date is too close to current time. The task must expire at least 1 hour "
                          f"from now. Current remaining time: {minutes:.1f} minutes")
        for key, value in (("start_at", request.start_at), ("expired_at", request.expired_at),
                           ("max_execution", request.max_execution)):
            if value < 0 or value >= 2**53:
                raise invalid(f"{key} must be between 0 and 2^53")
        inputs = _value_dict(request.input_variables)
        settings = inputs.get("settings")
        if not isinstance(settings, dict):
            raise invalid("invalid task argument: inputVariables.settings is required")
        name = settings.get("name") or request.name
        if not isinstance(name, str) or not name:
            raise invalid("invalid task argument: inputVariables.settings.name is required")
        runner = settings.get("runner") or request.smart_wallet_address
        if not isinstance(runner, str) or not runner:
            raise invalid("invalid task argument: inputVariables.settings.runner is required")
        if not is_hex_address(runner):
            raise invalid("invalid task argument: inputVariables.settings.runner must be a valid hex address")
        trigger = request.trigger
        which = trigger.WhichOneof("trigger_type")
        if which is None:
            raise invalid("trigger: no trigger configuration (manual, fixed_time, cron, block or event)")
        expected = TRIGGER_FIELDS[which][0]
        if trigger.type not in (pb.TRIGGER_TYPE_UNSPECIFIED, expected):
            raise invalid(f"trigger.type {pb.TriggerType.Name(trigger.type)} does not match its {which} configuration")
        self._check_trigger(trigger, which)
        self._validate_graph(trigger, request.nodes, request.edges)
        wallet = self._owned_wallet(user, runner)
        if self.store.count_tasks(user.address) >= self.config.api.max_tasks_per_owner:
            raise Abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"{user.address} has {self.config.api.max_tasks_per_owner} automations, the most allowed; "
                        "delete some first")
        task_id = new_id()
        settings = dict(settings, name=name, runner=wallet)
        settings.setdefault("chain_id", self.config.api.chain_id)
        inputs["settings"] = settings
        task = pb.Task(id=task_id, owner=user.address, smart_wallet_address=wallet, name=name,
                       start_at=request.start_at, expired_at=request.expired_at, max_execution=request.max_execution,
                       status=pb.Enabled, nodes=list(request.nodes), edges=list(request.edges))
        task.trigger.CopyFrom(trigger)
        if task.trigger.type == pb.TRIGGER_TYPE_UNSPECIFIED:
            task.trigger.type = expected
        for key, value in inputs.items():
            task.input_variables[key].CopyFrom(to_value(value))
        self.store.put_task(task_id, user.address, wallet, task.status, task.SerializeToString())
        self._changed(task)
        return pb.CreateTaskResp(id=task_id)

    @staticmethod
    def _check_trigger(trigger: pb.TaskTrigger, which: str) -> None:
        if which == "block" and trigger.block.config.interval <= 0:
            raise invalid("trigger.block.config.interval must be greater than 0")
        if which == "cron":
            schedules = list(trigger.cron.config.schedules)
            if not schedules:
                raise invalid("trigger.cron.config.schedules must list at least one cron expression")
            from hourglass_cli.api.schedule import check_cron

            for i, text in enumerate(schedules):
                problem = check_cron(text)
                if problem:
                    raise invalid(f"trigger.cron.config.schedules[{i}] {text!r}: {problem}")
        if which == "fixed_time":
            epochs = list(trigger.fixed_time.config.epochs)
            if not epochs or any(e <= 0 or e >= 2**53 for e in epochs):
                raise invalid("trigger.fixed_time.config.epochs must list positive millisecond timestamps")
        if which == "event":
            queries = list(trigger.event.config.queries)
            if not queries:
                raise invalid("trigger.event.config.queries must have at least one query")
            for i, query in enumerate(queries):
                for address in query.addresses:
                    if not is_hex_address(address):
                        raise invalid(f"trigger.event.config.queries[{i}].addresses: {address!r} is not an address")

    def GetTask(self, request: pb.IdReq, context) -> pb.Task:
        user = self.user(context)
        task = self._task(user, request.id)
        if self._refresh_status(task):
            self.store.put_task(task.id, task.owner, task.smart_wallet_address, task.status, task.SerializeToString())
            self._changed(task)
        return task

    def ListTasks(self, request: pb.ListTasksReq, context) -> pb.ListTasksResp:
        user = self.user(context)
        if not request.smart_wallet_address:
            raise invalid("Missing smart_wallet_address")
        wallets = [self._owned_wallet(user, w) for w in request.smart_wallet_address]
        before, after, limit = _page_args(request.before, request.after, request.limit)
        rows, more = self.store.page_tasks(user.address, wallets, before=before, after=after, limit=limit)
        items = []
        for data in rows:
            task = pb.Task.FromString(data)
            self._refresh_status(task)
            if not request.include_nodes:
                del task.nodes[:]
            if not request.include_edges:
                del task.edges[:]
            items.append(task)
        return pb.ListTasksResp(items=items, page_info=_page_info([t.id for t in items], more, before, after))

    def SetTaskEnabled(self, request: pb.SetTaskEnabledReq, context) -> pb.SetTaskEnabledResp:
        user = self.user(context)
        row = self.store.task(request.id) if request.id else None
        if row is None or row[0] != user.address:
            return pb.SetTaskEnabledResp(success=False, status="not_found", message="Task not found", id=request.id)
        with self._lock_for(request.id):
            task = pb.Task.FromString(self.store.task(request.id)[1])
            self._refresh_status(task)
            old = _STATUS_NAME.get(task.status, str(task.status))
            if task.status in (pb.Completed, pb.Failed):
                return pb.SetTaskEnabledResp(success=False, status="error", id=task.id, previous_status=old,
                                             message=f"Cannot toggle task from terminal status: {old}")
            want = pb.Enabled if request.enabled else pb.Disabled
            word = "enabled" if request.enabled else "disabled"
            if task.status == want:
                return pb.SetTaskEnabledResp(success=True, status=word, message=f"Task is already {word}",
                                             id=task.id, previous_status=old, updated_at=now_ms())
            task.status = want
            self.store.put_task(task.id, task.owner, task.smart_wallet_address, task.status, task.SerializeToString())
        self._changed(task)
        return pb.SetTaskEnabledResp(success=True, status=word, message=f"Task {word} successfully", id=task.id,
                                     previous_status=old, updated_at=now_ms())

    def CancelTask(self, request: pb.IdReq, context) -> wrappers_pb2.BoolValue:
        user = self.user(context)
        task = self._task(user, request.id)
        with self._lock_for(task.id):
            task = pb.Task.FromString(self.store.task(task.id)[1])
            if task.status in (pb.Completed, pb.Failed, pb.Disabled):
                return wrappers_pb2.BoolValue(value=False)
            task.status = pb.Disabled
            self.store.put_task(task.id, task.owner, task.smart_wallet_address, task.status, task.SerializeToString())
        self._changed(task)
        return wrappers_pb2.BoolValue(value=True)

    def DeleteTask(self, request: pb.IdReq, context) -> pb.DeleteTaskResp:
        user = self.user(context)
        row = self.store.task(request.id) if request.id else None
        if row is None or row[0] != user.address:
            return pb.DeleteTaskResp(success=False, status="not_found", message="Task not found", id=request.id)
        task = pb.Task.FromString(row[1])
        old = _STATUS_NAME.get(task.status, str(task.status))
        if task.status == pb.Running:
            return pb.DeleteTaskResp(success=False, status="cannot_delete", id=task.id, previous_status=old,
                                     message="Only non executing task can be deleted")
        self.store.delete_task(task.id)
        self._changed(task, deleted=True)
        return pb.DeleteTaskResp(success=True, status="deleted", message="Task deleted successfully",
                                 deleted_at=now_ms(), id=task.id, previous_status=old)

    def GetWorkflowCount(self, request: pb.GetWorkflowCountReq, context) -> pb.GetWorkflowCountResp:
        user = self.user(context)
        tasks = self.store.tasks_of(user.address)
        if request.addresses:
            for address in request.addresses:
                if not is_hex_address(address):
                    raise invalid(f"addresses: {address!r} is not an address")
            wanted = {to_checksum_address(a) for a in request.addresses}
            tasks = [t for t in tasks if t[1] in wanted]
        return pb.GetWorkflowCountResp(total=len(tasks))

    # -- executions ---------------------------------------------------------------------------------------

    def _runnable(self, task: pb.Task) -> bool:
        now = now_ms()
        return (task.status == pb.Enabled and (task.start_at == 0 or task.start_at <= now)
                and (task.expired_at == 0 or task.expired_at > now)
                and (task.max_execution == 0 or task.execution_count < task.max_execution))

    def _trigger_output(self, task: pb.Task, request: pb.TriggerTaskReq) -> Any:
        which = request.WhichOneof("trigger_output")
        if which is not None:
            return from_value(getattr(request, which).data) if getattr(request, which).HasField("data") else {}
        if task.trigger.HasField("manual") and task.trigger.manual.config.HasField("data"):
            return from_value(task.trigger.manual.config.data)
        return {}

    def _variables(self, task: pb.Task, user: User, trigger_output: Any, extra: dict[str, Any]) -> dict[str, Any]:
        variables: dict[str, Any] = _value_dict(task.input_variables)
        variables.update(extra)
        trigger_name = task.trigger.name or "trigger"
        variables[trigger_name] = {"data": trigger_output, "input": variables.get(trigger_name, {}).get("input")
                                   if isinstance(variables.get(trigger_name), dict) else None}
        variables["apContext"] = {"configVars": self._secrets_for(user, task.id)}
        variables["workflowContext"] = {"id": task.id, "name": task.name, "owner": task.owner,
                                        "runner": task.smart_wallet_address, "eoaAddress": task.owner,
                                        "chainId": self.config.api.chain_id}
        return variables

    def _run(self, task: pb.Task, user: User, execution: pb.Execution, trigger_output: Any,
             extra: dict[str, Any]) -> pb.Execution:
        extra = dict(extra)
        quorum = extra.pop(QUORUM_KEY, None)
        variables = self._variables(task, user, trigger_output, extra)
        first = trigger_step(task.trigger, trigger_output, execution.start_at)
        if quorum is not None:  # who reported the trigger (operators watching it)
            first.metadata.CopyFrom(to_value({"quorum": quorum}))

        def ctx() -> RunContext:
            return RunContext(variables, task.owner, task.smart_wallet_address, task.id, execution.id, self.services)

        steps, _ = self.engine.run_graph(task.trigger, list(task.nodes), list(task.edges), ctx)
        execution.steps.extend([first, *steps])
        execution.status, execution.error = execution_status(list(execution.steps))
        execution.end_at = now_ms()
        return execution

    def _finish(self, task_id: str, owner: str, execution: pb.Execution) -> None:
        self.store.put_execution(execution.id, task_id, owner, execution.index, execution.status,
                                 execution.start_at, execution.end_at, execution.SerializeToString(), done=True)

    def _background(self, task: pb.Task, user: User, execution: pb.Execution, trigger_output: Any,
                    extra: dict[str, Any]) -> None:
        if not self.store.start_pending(execution.id):
            return  # another worker has it
        try:
            done = self._run(task, user, execution, trigger_output, extra)
        except Exception as exc:  # noqa: BLE001 - recorded on the execution
            done = execution
            done.status, done.error, done.end_at = pb.EXECUTION_STATUS_FAILED, f"engine error: {exc}", now_ms()
        self._finish(task.id, user.address, done)

    def fire_trigger(self, task_id: str, request_id: str, trigger_output: Any, quorum: dict[str, Any],
                     event_time: int) -> tuple[str, str]:
        """Start one execution for a trigger hit a quorum of operators reported. Returns (outcome, execution id):
        "fired", or why not ("duplicate", "cooldown", "not_runnable:<status>", "unknown_task"). The dedup key is
        recorded with the execution in one transaction, so a key starts at most one execution, across restarts."""
        import sqlite3

        with self._lock_for(task_id):
            fired = self.store.fire_of(request_id)
            if fired is not None:
                return "duplicate", fired[1]
            row = self.store.task(task_id)
            if row is None:
                return "unknown_task", ""
            owner, task = row[0], pb.Task.FromString(row[1])
            if self._refresh_status(task):
                self.store.put_task(task.id, task.owner, task.smart_wallet_address, task.status,
                                    task.SerializeToString())
                self._changed(task)
            reporters = json.dumps(quorum, sort_keys=True)
            if not self._runnable(task):
                outcome = f"not_runnable:{_STATUS_NAME.get(task.status, task.status)}"
                if task.start_at and task.start_at > now_ms():
                    outcome = "not_runnable:not_started"
                self.store.add_fire(request_id, task_id, outcome, reporters, event_time)
                return outcome, ""
            if task.trigger.HasField("event"):
                config = task.trigger.event.config
                cooldown = config.cooldown_seconds if config.HasField("cooldown_seconds") else \
                    (self.node.settings.default_cooldown if self.node is not None else 300)
                last = self.store.last_fired_event_time(task_id)
                if cooldown and last is not None and event_time < last + cooldown * 1000:
                    self.store.add_fire(request_id, task_id, "cooldown", reporters, event_time)
                    return "cooldown", ""
            execution = pb.Execution(id=new_id(), start_at=now_ms(), status=pb.EXECUTION_STATUS_PENDING,
                                     index=task.execution_count)
            task.execution_count += 1
            task.last_ran_at = execution.start_at
            self._refresh_status(task)
            extra = {QUORUM_KEY: quorum}
            queued = (json.dumps(trigger_output), json.dumps(extra), False)
            try:
                self.store.put_execution(execution.id, task.id, owner, execution.index, execution.status,
                                         execution.start_at, 0, execution.SerializeToString(),
                                         task=(task.status, task.SerializeToString()), queued=queued,
                                         fire=(request_id, reporters, event_time))
            except sqlite3.IntegrityError:  # fired meanwhile (another process on this store)
                return "duplicate", ""
        if task.status != pb.Enabled:
            self._changed(task)
        self.background.submit(self._background, task, User(owner), execution, trigger_output, extra)
        return "fired", execution.id

    def disable_task(self, task_id: str, reason: str) -> bool:
        """Disable an automation (an event flood reported by a quorum); False when it was not enabled."""
        with self._lock_for(task_id):
            row = self.store.task(task_id)
            if row is None:
                return False
            task = pb.Task.FromString(row[1])
            if task.status != pb.Enabled:
                return False
            task.status = pb.Disabled
            self.store.put_task(task.id, task.owner, task.smart_wallet_address, task.status, task.SerializeToString())
        log.warning("automation %s disabled: %s", task_id, reason)
        self._changed(task)
        return True

    def complete_ended(self) -> list[pb.Task]:
        """Mark enabled automations that expired (or ran out) Completed; returns them."""
        ended = []
        for data in self.store.enabled_tasks():
            task = pb.Task.FromString(data)
            if task.max_execution == 0 and (task.expired_at == 0 or task.expired_at > now_ms()):
                continue
            with self._lock_for(task.id):
                row = self.store.task(task.id)
                if row is None:
                    continue
                task = pb.Task.FromString(row[1])
                if not self._refresh_status(task):
                    continue
                self.store.put_task(task.id, task.owner, task.smart_wallet_address, task.status,
                                    task.SerializeToString())
            self._changed(task)
            ended.append(task)
        return ended

    def TriggerTask(self, request: pb.TriggerTaskReq, context) -> pb.TriggerTaskResp:
        user = self.user(context)
        if not request.task_id:
            raise invalid("Missing task id in request: task_id is required")
        if request.trigger_type not in pb.TriggerType.values():
            raise invalid(f"trigger_type {request.trigger_type} is not a TriggerType")
        extra = _value_dict(request.trigger_input)
        with self._lock_for(request.task_id):
            task = self._task(user, request.task_id)
            self._refresh_status(task)
            if not self._runnable(task):
                raise Abort(grpc.StatusCode.FAILED_PRECONDITION, NOT_RUNNABLE)
            execution = pb.Execution(id=new_id(), start_at=now_ms(), status=pb.EXECUTION_STATUS_PENDING,
                                     index=task.execution_count)
            task.execution_count += 1
            task.last_ran_at = execution.start_at
            self._refresh_status(task)
            trigger_output = self._trigger_output(task, request)
            queued = (json.dumps(trigger_output), json.dumps(extra), request.is_blocking)
            self.store.put_execution(execution.id, task.id, user.address, execution.index, execution.status,
                                     execution.start_at, 0, execution.SerializeToString(),
                                     task=(task.status, task.SerializeToString()), queued=queued)
        if task.status != pb.Enabled:
            self._changed(task)
        resp = pb.TriggerTaskResp(execution_id=execution.id, workflow_id=task.id, start_at=execution.start_at)
        if request.is_blocking:
            done = self._run(task, user, execution, trigger_output, extra)
            self._finish(task.id, user.address, done)
            resp.status, resp.end_at = done.status, done.end_at
            if done.error:
                resp.error = done.error
            resp.steps.extend(done.steps)
            return resp

        self.background.submit(self._background, task, user, execution, trigger_output, extra)
        resp.status = pb.EXECUTION_STATUS_PENDING
        return resp

    def _execution(self, user: User, task_id: str, execution_id: str) -> pb.Execution:
        if not task_id:
            raise invalid("Missing task id in request: task_id is required")
        if not execution_id:
            raise invalid("execution_id is required")
        self._task(user, task_id)
        row = self.store.execution(execution_id)
        if row is None or row[0] != task_id or row[1] != user.address:
            raise Abort(grpc.StatusCode.NOT_FOUND, EXECUTION_NOT_FOUND)
        return pb.Execution.FromString(row[2])

    def GetExecution(self, request: pb.ExecutionReq, context) -> pb.Execution:
        user = self.user(context)
        return self._execution(user, request.task_id, request.execution_id)

    def GetExecutionStatus(self, request: pb.ExecutionReq, context) -> pb.ExecutionStatusResp:
        user = self.user(context)
        return pb.ExecutionStatusResp(status=self._execution(user, request.task_id, request.execution_id).status)

    def _own_task_ids(self, user: User, ids) -> list[str]:
        mine = {t[0] for t in self.store.tasks_of(user.address)}
        if not ids:
            return sorted(mine)
        for task_id in ids:
            if not _ULID.match(task_id):
                raise invalid(f"invalid task id: {task_id!r} is not a 26-character ULID")
        return [t for t in ids if t in mine]

    def ListExecutions(self, request: pb.ListExecutionsReq, context) -> pb.ListExecutionsResp:
        user = self.user(context)
        if not request.task_ids:
            raise invalid("task_ids: at least one task id is required")
        for task_id in request.task_ids:
            self._task(user, task_id)
        before, after, limit = _page_args(request.before, request.after, request.limit)
        rows, more = self.store.page_executions(list(request.task_ids), before=before, after=after, limit=limit)
        items = [pb.Execution.FromString(r) for r in rows]
        return pb.ListExecutionsResp(items=items, page_info=_page_info([e.id for e in items], more, before, after))

    def GetExecutionCount(self, request: pb.GetExecutionCountReq, context) -> pb.GetExecutionCountResp:
        user = self.user(context)
        ids = self._own_task_ids(user, request.workflow_ids)
        return pb.GetExecutionCountResp(total=self.store.count_executions(ids) if ids else 0)

    def GetExecutionStats(self, request: pb.GetExecutionStatsReq, context) -> pb.GetExecutionStatsResp:
        user = self.user(context)
        if request.days < 0 or request.days > 3650:
            raise invalid("days must be between 0 (the default, 7) and 3650")
        ids = self._own_task_ids(user, request.workflow_ids)
        since = now_ms() - (request.days or 7) * 86_400_000
        rows = self.store.execution_stats(ids, since) if ids else []
        ok = [r for r in rows if r[0] == pb.EXECUTION_STATUS_SUCCESS]
        failed = [r for r in rows if r[0] in (pb.EXECUTION_STATUS_FAILED, pb.EXECUTION_STATUS_PARTIAL_SUCCESS)]
        durations = [r[2] - r[1] for r in rows if r[2] >= r[1] > 0 and r[0] != pb.EXECUTION_STATUS_PENDING]
        return pb.GetExecutionStatsResp(total=len(rows), succeeded=len(ok), failed=len(failed),
                                        avg_execution_time=sum(durations) / len(durations) if durations else 0.0)

    # -- secrets ------------------------------------------------------------------------------------------

    @staticmethod
    def _check_secret_name(name: str) -> None:
        if not name:
            raise invalid("name is required")
        if len(name) > 255:
            raise invalid("name must be at most 255 characters")
        if name.lower().startswith("ap_"):
            raise invalid("name must not start with ap_ (reserved for the system)")

    def _secret_scope(self, user: User, workflow_id: str, org_id: str) -> str:
        if workflow_id:
            self._task(user, workflow_id)
            return "workflow"
        return "org" if org_id else "user"

    def _put_secret(self, request: pb.CreateOrUpdateSecretReq, context, *, create: bool) -> tuple[bool, str, int]:
        user = self.user(context)
        self._check_secret_name(request.name)
        if len(request.secret.encode()) > 64 * 1024:
            raise invalid("secret must be at most 64 KiB")
        scope = self._secret_scope(user, request.workflow_id, request.org_id)
        now = now_ms()
        key, nonce, sealed = self.box.seal(user.address, request.name, request.workflow_id, request.org_id,
                                           request.secret)
        ok = self.store.put_secret(SecretRow(user.address, request.name, request.workflow_id, request.org_id, key,
                                             nonce, sealed, now, now, user.address), create=create)
        return ok, scope, now

    def CreateSecret(self, request: pb.CreateOrUpdateSecretReq, context) -> pb.CreateSecretResp:
        ok, scope, now = self._put_secret(request, context, create=True)
        if not ok:
            raise Abort(grpc.StatusCode.ALREADY_EXISTS,
                        f"secret {request.name!r} already exists in this scope; use UpdateSecret to change it")
        return pb.CreateSecretResp(success=True, status="created", message="Secret created successfully",
                                   created_at=now, secret_name=request.name, scope=scope)

    def UpdateSecret(self, request: pb.CreateOrUpdateSecretReq, context) -> pb.UpdateSecretResp:
        ok, scope, now = self._put_secret(request, context, create=False)
        if not ok:
            raise Abort(grpc.StatusCode.NOT_FOUND, "secret not found")
        return pb.UpdateSecretResp(success=True, status="updated", message="Secret updated successfully",
                                   updated_at=now, secret_name=request.name, scope=scope)

    def DeleteSecret(self, request: pb.DeleteSecretReq, context) -> pb.DeleteSecretResp:
        user = self.user(context)
        self._check_secret_name(request.name)
        scope = "workflow" if request.workflow_id else ("org" if request.org_id else "user")
        if not self.store.delete_secret(user.address, request.name, request.workflow_id, request.org_id):
            return pb.DeleteSecretResp(success=False, status="not_found", message="Secret not found",
                                       secret_name=request.name, scope=scope)
        return pb.DeleteSecretResp(success=True, status="deleted", message="Secret deleted successfully",
                                   deleted_at=now_ms(), secret_name=request.name, scope=scope)

    def ListSecrets(self, request: pb.ListSecretsReq, context) -> pb.ListSecretsResp:
        user = self.user(context)
        rows = self.store.secrets(user.address)
        if request.workflow_id:
            rows = [r for r in rows if r.workflow_id == request.workflow_id]
        keyed = [(f"{r.name}\x00{r.workflow_id}\x00{r.org_id}", r) for r in rows]
        keyed.sort(key=lambda kr: kr[0])
        before, after, limit = _page_args(request.before, request.after, request.limit)
        if after is not None:
            keyed = [kr for kr in keyed if kr[0] > after]
            page, more = keyed[:limit], len(keyed) > limit
        elif before is not None:
            keyed = [kr for kr in keyed if kr[0] < before]
            page, more = keyed[-limit:], len(keyed) > limit
        else:
            page, more = keyed[:limit], len(keyed) > limit
        items = []
        for _, r in page:
            item = pb.Secret(name=r.name, scope="workflow" if r.workflow_id else ("org" if r.org_id else "user"),
                             workflow_id=r.workflow_id, org_id=r.org_id)
            if request.include_timestamps:
                item.created_at, item.updated_at = r.created_at, r.updated_at
            if request.include_created_by:
                item.created_by = r.created_by
            items.append(item)
        info = pb.PageInfo()
        if page:
            info.start_cursor, info.end_cursor = _cursor(page[0][0]), _cursor(page[-1][0])
        info.has_next_page = more if before is None else True
        info.has_previous_page = after is not None if before is None else more
        return pb.ListSecretsResp(items=items, page_info=info)

    # -- tools --------------------------------------------------------------------------------------------

    def RunNodeWithInputs(self, request: pb.RunNodeWithInputsReq, context) -> pb.RunNodeWithInputsResp:
        user = self.user(context)
        if not request.HasField("node"):
            raise invalid("node is required")
        node = request.node
        which = node.WhichOneof("task_type")
        if which is None:
            raise invalid("node: no node configuration (custom_code, rest_api …)")
        variables = _value_dict(request.input_variables)
        settings = variables.get("settings") if isinstance(variables.get("settings"), dict) else {}
        runner = settings.get("runner", "") if isinstance(settings, dict) else ""
        if runner:
            runner = self._owned_wallet(user, runner)
        variables["apContext"] = {"configVars": self._secrets_for(user, "")}
        node_copy = pb.TaskNode()
        node_copy.CopyFrom(node)
        node_copy.id = node_copy.id or "node"
        node_copy.name = node_copy.name or "node"
        step = self.engine.run_node(node_copy, RunContext(variables, user.address, runner, "", "", self.services))
        resp = pb.RunNodeWithInputsResp(success=step.success, error=step.error, error_code=step.error_code)
        out_field = NODE_FIELDS.get(FIELD_TO_TYPE.get(which, pb.NODE_TYPE_UNSPECIFIED), (None, None))[1]
        if step.success and out_field and step.HasField(out_field):
            getattr(resp, out_field if out_field != "hourglass_task" else "custom_code").data.CopyFrom(
                getattr(step, out_field).data)
        if step.HasField("metadata"):
            resp.metadata.CopyFrom(step.metadata)
        return resp

    def RunTrigger(self, request: pb.RunTriggerReq, context) -> pb.RunTriggerResp:
        self.user(context)
        if not request.HasField("trigger"):
            raise invalid("trigger is required")
        which = request.trigger.WhichOneof("trigger_type") or TYPE_TO_TRIGGER.get(request.trigger.type)
        if which is None:
            raise invalid("trigger: no trigger configuration (manual, fixed_time, cron, block or event)")
        try:
            data = self._trigger_sample(request.trigger, which, _value_dict(request.trigger_input))
        except StepError as exc:
            return pb.RunTriggerResp(success=False, error=exc.message, error_code=exc.code)
        resp = pb.RunTriggerResp(success=True)
        getattr(resp, TRIGGER_FIELDS[which][1]).data.CopyFrom(to_value(data))
        return resp

    def _trigger_sample(self, trigger: pb.TaskTrigger, which: str, inputs: dict[str, Any]) -> Any:
        """What the trigger would output now (upstream's RunTrigger)."""
        now = now_ms()
        if which == "manual":
            config = trigger.manual.config
            data = from_value(config.data) if config.HasField("data") else inputs.get("data")
            return {"data": data, "headers": dict(config.headers), "pathParams": dict(config.pathParams)} \
                if config.headers or config.pathParams else data
        if which in ("fixed_time", "cron"):
            from hourglass_cli.api.auth import iso_ms

            return {"timestamp": now, "timestampIso": iso_ms(now / 1000)}
        if which == "block":
            if self.chain is None:
                raise StepError("block triggers need [api].rpc_url", pb.RPC_NODE_ERROR)
            return self.chain.block_info()
        if which == "event":
            if self.chain is None:
                raise StepError("event triggers need [api].rpc_url", pb.RPC_NODE_ERROR)
            return self.chain.latest_event(trigger.event.config)
        raise StepError(f"{which} triggers are not supported", pb.INVALID_TRIGGER_CONFIG)

    def SimulateTask(self, request: pb.SimulateTaskReq, context) -> pb.Execution:
        user = self.user(context)
        if not request.HasField("trigger"):
            raise invalid("trigger is required")
        if not request.nodes:
            raise invalid("invalid: nodes field cannot be an empty array")
        self._validate_graph(request.trigger, request.nodes, request.edges)
        which = request.trigger.WhichOneof("trigger_type") or TYPE_TO_TRIGGER.get(request.trigger.type)
        if which is None:
            raise invalid("trigger: no trigger configuration (manual, fixed_time, cron, block or event)")
        inputs = _value_dict(request.input_variables)
        try:
            output = self._trigger_sample(request.trigger, which, inputs)
        except StepError as exc:
            raise Abort(grpc.StatusCode.FAILED_PRECONDITION, exc.message) from None
        settings = inputs.get("settings") if isinstance(inputs.get("settings"), dict) else {}
        runner = settings.get("runner", "")
        task = pb.Task(id="", owner=user.address, smart_wallet_address=self._owned_wallet(user, runner)
                       if runner else "", name=str(settings.get("name", "simulation")), nodes=list(request.nodes),
                       edges=list(request.edges))
        task.trigger.CopyFrom(request.trigger)
        for key, value in inputs.items():
            task.input_variables[key].CopyFrom(to_value(value))
        execution = pb.Execution(id=new_id(), start_at=now_ms(), status=pb.EXECUTION_STATUS_PENDING)
        return self._run(task, user, execution, output, {})

    def GetTokenMetadata(self, request: pb.GetTokenMetadataReq, context) -> pb.GetTokenMetadataResp:
        self.user(context)
        if not request.address:
            raise invalid("address is required")
        if not is_hex_address(request.address):
            raise invalid("address must be 0x followed by 40 hex digits")
        if self.chain is None:
            raise Abort(grpc.StatusCode.UNAVAILABLE, "token metadata needs [api].rpc_url")
        meta = self.chain.token_metadata(to_checksum_address(request.address))
        if meta is None:
            return pb.GetTokenMetadataResp(found=False, source="")
        token = pb.TokenMetadata(id=meta["address"].lower(), name=meta["name"], symbol=meta["symbol"],
                                 decimals=meta["decimals"])
        return pb.GetTokenMetadataResp(token=token, found=True, source=meta["source"])

    def EstimateFees(self, request: pb.EstimateFeesReq, context) -> pb.EstimateFeesResp:
        self.user(context)
        if self.chain is None:
            raise Abort(grpc.StatusCode.UNAVAILABLE, "fee estimates need [api].rpc_url")
        from hourglass_cli.api.fees import estimate_fees

        return estimate_fees(self, request)


def wrap(method: Callable[[Any, grpc.ServicerContext], Any], log: Callable[[str], None] | None = None):
    """A method as a grpc behaviour: Abort → its status; any other error → INTERNAL (logged, service stays up)."""

    def behaviour(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(request, context)
        except Abort as exc:
            context.abort(exc.code, exc.message)
        except grpc.RpcError:
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary: report, keep serving
            if log is not None:
                log(f"{method.__name__}: {type(exc).__name__}: {exc}")
            context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method.__name__}: {type(exc).__name__}")

    return behaviour

