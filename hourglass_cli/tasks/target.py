"""Where tasks go: the running devnet (from its state file) or any chain given by URL and addresses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from hourglass_cli.errors import DevnetError, UsageError

APP_ACCOUNT = 2  # DevKit's devnet account that creates tasks


@dataclass(frozen=True)
class Target:
    """A mailbox to create tasks on, the account that pays, and (on a devnet) the aggregator's store."""

    rpc_url: str
    mailbox: str
    avs: str
    key: bytes = field(repr=False)
    store_path: Path | None = None
    chain: str = "l1"  # the aggregator's name for this chain in its store
    operators: dict[str, str] = field(default_factory=dict)  # executor address → name
    project_dir: Path | None = None
    set_sizes: dict[int, int] = field(default_factory=dict)  # executor set id → its executors (devnet)

    def executors_of(self, set_id: int) -> int:
        """How many executors serve operator set `set_id` (all known executors when unknown)."""
        return self.set_sizes.get(int(set_id), len(self.operators))

    def name_of(self, address: str) -> str:
        """'executor-3' for a known operator address, else the address."""
        return self.operators.get(address.lower(), address)


def devnet_target(project: str | Path = ".", with_key: bool = True) -> Target:
    """The devnet running in the project at or above `project` (DevnetError if there is none).

    `with_key=False` leaves the key empty (reading tasks needs none): deriving it imports eth-account.
    """
    from hourglass_cli.devnet.state import devnet_dir, load_state, project_root

    root = project_root(project)
    state = load_state(devnet_dir(root))
    if state is None or not state.is_running() or state.deployment is None:
        raise DevnetError(f"no devnet is running in {root}",
                          hint="start one with `hourglass devnet start --detach`, or give --rpc, --mailbox, --avs "
                               "and --key-env for another chain")
    chain = state.chain("l1")
    if chain is None or not chain.endpoint:
        raise DevnetError(f"the devnet state in {root} names no chain", hint="run `hourglass devnet reset`")
    operators = executor_names(state)
    return Target(rpc_url=chain.endpoint, mailbox=state.deployment["task_mailbox"], avs=state.deployment["avs"],
                  key=_app_key() if with_key else b"", store_path=store_of(state),
                  operators=operators, project_dir=root, set_sizes=set_sizes(state))


def _app_key() -> bytes:
    from hourglass_cli.devnet.accounts import derive_account

    return derive_account(APP_ACCOUNT).private_key


def executor_names(state: object) -> dict[str, str]:
    """Executor address (lower case) → its devnet name, from the devnet state's operators."""
    operators = getattr(state, "operators", None) or {}
    return {str(op["address"]).lower(): str(op["name"]) for op in operators.get("operators", [])
            if op.get("role") == "executor"}


def set_sizes(state: object) -> dict[int, int]:
    """Executor set id → how many executors the devnet runs for it (from the state's operators)."""
    operators = getattr(state, "operators", None) or {}
    sizes: dict[int, int] = {}
    for op in operators.get("operators", []):
        if op.get("role") == "executor" and op.get("operator_set_id") is not None:
            sizes[int(op["operator_set_id"])] = sizes.get(int(op["operator_set_id"]), 0) + 1
    return sizes


def store_of(state: object) -> Path | None:
    """The aggregator's SQLite file, from its config file recorded in the state."""
    record = state.record("aggregator")  # type: ignore[attr-defined]
    if record is None or not record.config:
        return None
    try:
        from hourglass_cli.aggregator.config import load_aggregator_config

        config = load_aggregator_config(record.config)
        return config.resolve(config.aggregator.store)
    except Exception:  # noqa: BLE001 - without the store we still see the chain; timings are then partial
        return Path(record.config).parent / "aggregator.db"


def explicit_target(rpc: str, mailbox: str | None, avs: str | None, key_env: str | None,
                    store: str | None = None, chain: str = "l1") -> Target:
    """A chain someone else runs: the key comes from the environment variable `key_env` (never a flag)."""
    from eth_utils import is_address, to_checksum_address

    missing = [name for name, value in (("--mailbox", mailbox), ("--avs", avs)) if not value]
    if missing:
        raise UsageError(f"--rpc needs {' and '.join(missing)} too",
                         hint="--rpc URL --mailbox ADDR --avs ADDR --key-env VAR")
    for name, value in (("--mailbox", mailbox), ("--avs", avs)):
        if not is_address(value):
            raise UsageError(f"{name} {value!r} is not a 20-byte 0x address")
    key = b""
    if key_env:
        secret = os.environ.get(key_env, "").strip()
        if not secret:
            raise UsageError(f"the environment variable {key_env} is empty or unset",
                             hint=f"export {key_env}=0x<private key of the account that creates tasks>")
        try:
            key = bytes.fromhex(secret[2:] if secret.startswith("0x") else secret)
        except ValueError:
            raise UsageError(f"{key_env} does not hold a hex private key") from None
    return Target(rpc_url=rpc, mailbox=to_checksum_address(str(mailbox)), avs=to_checksum_address(str(avs)), key=key,
                  store_path=Path(store) if store else None, chain=chain)
