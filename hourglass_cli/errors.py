"""The error hierarchy: every user-facing error carries a hint that says what to do next."""

from __future__ import annotations


class HourglassError(Exception):
    """Base of every error the CLI reports as one red line plus a hint (no traceback)."""

    exit_code: int = 1
    default_hint: str | None = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return self.message


class UsageError(HourglassError):
    """The command was called with arguments that cannot work."""

    exit_code = 2


class ConfigError(HourglassError):
    """`hourglass.toml` (or another config file) is missing, unreadable or invalid."""

    default_hint = "`hourglass config example` prints every key, its default and what is allowed"


class CryptoError(HourglassError):
    """A key, signature or point is malformed or does not verify."""


class InvalidSignatureError(CryptoError):
    """A signature is well formed but does not verify."""


class KeystoreError(CryptoError):
    """A keystore file is unreadable, malformed or uses an unsupported scheme."""

    default_hint = "check the file is an EIP-2335 (BN254) or Web3 Secret Storage v3 (ECDSA) keystore"


class WrongPasswordError(KeystoreError):
    """The keystore's checksum does not match the given password."""

    default_hint = (
        "check the password; it can come from the prompt, --password-file or the "
        "HOURGLASS_KEYSTORE_PASSWORD environment variable"
    )


class ToolNotFoundError(HourglassError):
    """An external tool (solc, anvil, docker) is needed and not installed."""


class CompilerError(HourglassError):
    """solc failed or reported errors."""


class ChainError(HourglassError):
    """The chain did not answer, or answered with an error."""


class DevnetError(HourglassError):
    """The devnet could not start, stop or be read."""
