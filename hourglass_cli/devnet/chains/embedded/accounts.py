"""The devnet's funded accounts: anvil's defaults, so both backends use identical addresses."""

from __future__ import annotations

DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_PATH = "m/44'/60'/0'/0/{index}"
DEFAULT_ACCOUNTS = 10
DEFAULT_BALANCE_WEI = 10_000 * 10**18

# The first ten keys of DEFAULT_MNEMONIC on DEFAULT_PATH (anvil's well-known dev keys). Kept as a
# table because deriving them imports eth_account and runs PBKDF2 on every chain start; a test
# checks the table against the derivation.
_DEFAULT_KEYS = (
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)


def derive_keys(mnemonic: str, count: int, path: str = DEFAULT_PATH) -> list[bytes]:
    """BIP-39/BIP-32 private keys `path.format(index=i)` for i < count."""
    from eth_account.hdaccount import key_from_seed, seed_from_mnemonic

    seed = seed_from_mnemonic(mnemonic, "")
    return [bytes(key_from_seed(seed, path.format(index=i))) for i in range(count)]


def dev_keys(mnemonic: str = DEFAULT_MNEMONIC, count: int = DEFAULT_ACCOUNTS) -> list[bytes]:
    """The private keys of the funded dev accounts."""
    if mnemonic == DEFAULT_MNEMONIC and count <= len(_DEFAULT_KEYS):
        return [bytes.fromhex(k) for k in _DEFAULT_KEYS[:count]]
    return derive_keys(mnemonic, count)
