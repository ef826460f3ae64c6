"""DevKit's devnet accounts: the well-known "test … junk" mnemonic on m/44'/60'/0'/0/i.

deployer = 0, AVS = 1, app (task creator) = 2, operators = 3… (the aggregator's operator first, then the
executors); the smart-wallet controller (the client API's key that signs UserOps and bundles them) = 4337, far
past any operator. Past index 9 the chain may not have funded the account; `ensure_funded` tops it up from the
deployer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from web3 import Web3

    from hourglass_cli.chain.sender import TxSender

DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_PATH = "m/44'/60'/0'/0/{index}"
DEPLOYER_INDEX, AVS_INDEX, APP_INDEX, FIRST_OPERATOR_INDEX = 0, 1, 2, 3
CONTROLLER_INDEX = 4337  # the wallet controller: beyond the operators (at most 4333 of them fit below it)
PREFUNDED_ACCOUNTS = 10  # what anvil (and the embedded chain) fund from the mnemonic
DEFAULT_OPERATOR_FUNDING = 10 * 10**18
MIN_OPERATOR_BALANCE = 1 * 10**18


@dataclass(frozen=True)
class DevAccount:
    """One HD account. The private key is kept out of the repr."""

    index: int
    path: str
    address: str
    private_key: bytes = field(repr=False)

    def sender(self, w3: Web3, **kwargs: object) -> TxSender:
        """A nonce-safe TxSender signing with this account's key."""
        from hourglass_cli.chain.sender import TxSender

        return TxSender(w3, self.private_key, label=f"account {self.index}", **kwargs)  # type: ignore[arg-type]


@lru_cache(maxsize=256)
def derive_account(index: int, mnemonic: str = DEFAULT_MNEMONIC, path: str = DEFAULT_PATH) -> DevAccount:
    """Account `index` of `mnemonic` (eth-account's HD wallet, ~3 ms each; cached)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    account_path = path.format(index=index)
    account = Account.from_mnemonic(mnemonic, account_path=account_path)
    return DevAccount(index, account_path, account.address, bytes(account.key))


@dataclass(frozen=True)
class DevnetAccounts:
    """The roles of a devnet: deployer, AVS, app, and the operators' accounts (aggregator first)."""

    deployer: DevAccount
    avs: DevAccount
    app: DevAccount
    operators: tuple[DevAccount, ...]
    controller: DevAccount | None = None  # the smart wallets' controller (devnet_accounts always sets it)

    @property
    def aggregator(self) -> DevAccount:
        """The aggregator's operator account (the first operator, account 3)."""
        return self.operators[0]

    @property
    def executors(self) -> tuple[DevAccount, ...]:
        """The executor operators' accounts (4, 5, …)."""
        return self.operators[1:]

    def all(self) -> tuple[DevAccount, ...]:
        return (self.deployer, self.avs, self.app, *self.operators)

    @property
    def wallet_controller(self) -> DevAccount:
        """The controller every devnet smart wallet accepts signatures from (account 4337 unless set)."""
        return self.controller or derive_account(CONTROLLER_INDEX)


def devnet_accounts(executors: int = 4, mnemonic: str = DEFAULT_MNEMONIC, path: str = DEFAULT_PATH) -> DevnetAccounts:
    """Accounts for a devnet with one aggregator operator and `executors` executor operators."""
    if executors < 1:
        from hourglass_cli.errors import UsageError

        raise UsageError(f"a devnet needs at least one executor operator, got {executors}")
    if FIRST_OPERATOR_INDEX + executors >= CONTROLLER_INDEX:
        from hourglass_cli.errors import UsageError

        raise UsageError(f"{executors} executor operators would reach account {CONTROLLER_INDEX}, the wallet "
                         "controller's", hint=f"use fewer than {CONTROLLER_INDEX - FIRST_OPERATOR_INDEX} operators")
    ops = tuple(derive_account(FIRST_OPERATOR_INDEX + i, mnemonic, path) for i in range(executors + 1))
    return DevnetAccounts(
        derive_account(DEPLOYER_INDEX, mnemonic, path),
        derive_account(AVS_INDEX, mnemonic, path),
        derive_account(APP_INDEX, mnemonic, path),
        ops,
        derive_account(CONTROLLER_INDEX, mnemonic, path),
    )


def ensure_funded(
    deployer: TxSender,
    addresses: list[str],
    minimum: int = MIN_OPERATOR_BALANCE,
    amount: int = DEFAULT_OPERATOR_FUNDING,
) -> list[str]:
    """Send `amount` wei from `deployer` to every address holding less than `minimum`; returns those funded."""
    from hourglass_cli.chain.sender import wait_all

    w3 = deployer.w3
    poor = [a for a in addresses if int(w3.eth.get_balance(a)) < minimum]
    wait_all([deployer.transfer(a, amount) for a in poor])
    return poor
