"""anvil as a chain backend: find it (PATH, node_modules, the tools folder), install it from npm, run it.

npm's `@foundry-rs/anvil` ships the binary as a per-platform optional dependency
(`@foundry-rs/anvil-linux-amd64`, ...); its postinstall only falls back to downloading that same
package's tarball from the npm registry, so an install needs nothing but the registry.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from hourglass_cli.devnet.chains.base import ANVIL_NOT_FOUND_HINT, LOCALHOST, ChainBackend, ChainHandle
from hourglass_cli.errors import DevnetError, ToolNotFoundError
from hourglass_cli.npm_tools import npm_install, tools_dir

ANVIL_NPM_PACKAGE = "@foundry-rs/anvil"
#: Pinned like package.json's devDependency (a test keeps them equal); used where no checkout exists.
ANVIL_VERSION = "1.7.1"
#: Same rules as the embedded chain (py-evm's newest fork); see embedded/evm.py.
HARDFORK = "prague"
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNTS = 10
DEV_BALANCE_ETH = 10_000

_NPM_PLATFORMS = {
    ("linux", "x86_64"): "linux-amd64",
    ("linux", "amd64"): "linux-amd64",
    ("linux", "aarch64"): "linux-arm64",
    ("linux", "arm64"): "linux-arm64",
    ("darwin", "x86_64"): "darwin-amd64",
    ("darwin", "arm64"): "darwin-arm64",
    ("win32", "amd64"): "win32-amd64",
}


def pinned_version() -> str:
    """The anvil version our package.json pins (ANVIL_VERSION where there is no checkout)."""
    from hourglass_cli.compiler.artifacts import repo_root

    root = repo_root()
    if root is not None:
        try:
            pins = json.loads((root / "package.json").read_text())
            return str(pins["devDependencies"][ANVIL_NPM_PACKAGE])
        except (OSError, ValueError, KeyError):
            pass
    return ANVIL_VERSION


def _node_modules_binaries(base: Path) -> list[Path]:
    """anvil under base/node_modules: the platform binary first (no node wrapper in between)."""
    modules = base / "node_modules"
    exe = "anvil.exe" if sys.platform == "win32" else "anvil"
    out = []
    plat = _NPM_PLATFORMS.get((sys.platform, platform.machine().lower()))
    if plat:
        out.append(modules / "@foundry-rs" / f"anvil-{plat}" / "bin" / exe)
    out.append(modules / "@foundry-rs" / "anvil" / exe)  # where the postinstall fallback writes it
    out.append(modules / ".bin" / "anvil")  # npm's node wrapper: forwards signals to the binary
    return out


def candidate_paths(extra_dirs: list[Path] | None = None) -> list[Path]:
    """Every place find_anvil looks, in order (PATH is searched before these)."""
    from hourglass_cli.compiler.artifacts import repo_root

    bases: list[Path] = list(extra_dirs or [])
    root = repo_root()
    if root is not None:
        bases.append(root)
    bases += [Path.cwd(), tools_dir()]
    out: list[Path] = []
    for base in dict.fromkeys(bases):
        out += _node_modules_binaries(base)
    return out


def find_anvil(extra_dirs: list[Path] | None = None) -> Path | None:
    """anvil on PATH, else in <checkout or cwd>/node_modules, else in the tools folder; None if absent."""
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    for candidate in candidate_paths(extra_dirs):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def anvil_version(binary: Path) -> str | None:
    """`anvil --version`'s version number, or None if it does not run."""
    try:
        proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for token in proc.stdout.split():
        if token[:1].isdigit() and token.count(".") >= 2:
            return token.split("-")[0]
    return None


def install_anvil(target: Path | None = None, version: str | None = None) -> Path:
    """`npm install --prefix <target> @foundry-rs/anvil@<pinned>`; the installed binary's path."""
    version = version or pinned_version()
    target = npm_install(ANVIL_NPM_PACKAGE, version, target, needed_for="anvil")
    for candidate in _node_modules_binaries(target):
        if candidate.is_file() and anvil_version(candidate):
            return candidate
    raise DevnetError(
        f"npm installed {ANVIL_NPM_PACKAGE}@{version} into {target} but no runnable anvil was found there",
        hint="this platform may not be one @foundry-rs/anvil ships a binary for; use `--chain embedded`",
    )


_KEY_LINE = re.compile(rb"(\(\d+\) 0x)([0-9a-fA-F]{64})")
_MNEMONIC_LINE = re.compile(rb"(Mnemonic:\s+)([^\n]+)")


def redact_banner(log_path: Path, limit: int = 64 * 1024) -> None:
    """Blank the private keys and the mnemonic anvil prints at start-up in its log (each byte for a '*', in place:
    anvil appends to the same file, so nothing it writes later moves)."""
    try:
        with open(log_path, "r+b") as log:
            head = log.read(limit)
            cut = head.find(b"Listening on")
            if cut < 0:
                return
            banner = head[:cut]
            clean = _KEY_LINE.sub(lambda m: m.group(1) + b"*" * len(m.group(2)), banner)
            clean = _MNEMONIC_LINE.sub(lambda m: m.group(1) + b"*" * len(m.group(2)), clean)
            if clean != banner:
                log.seek(0)
                log.write(clean)
    except OSError:
        pass  # the log is ours to tidy, not a reason to fail the start


class AnvilBackend(ChainBackend):
    """anvil with the devnet's chain id, accounts, mnemonic and hardfork; optional state files."""

    name = "anvil"
    ready_deadline_s = 30.0

    def __init__(
        self,
        binary: Path | str | None = None,
        load_state: Path | None = None,
        dump_state: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        found = Path(binary) if binary is not None else find_anvil()
        if found is None:
            raise ToolNotFoundError("anvil not found", hint=ANVIL_NOT_FOUND_HINT)
        self.binary = found
        self.load_state = load_state
        self.dump_state = dump_state
        self.extra_args = tuple(extra_args)

    def start(self, port: int | None = None, log_path: Path | None = None, host: str = LOCALHOST) -> ChainHandle:
        handle = super().start(port, log_path, host)
        redact_banner(handle.log_path)
        return handle

    def with_state(self, load: Path | None = None, dump: Path | None = None) -> AnvilBackend:
        """Start from a state file anvil dumped earlier (`--load-state`) and/or dump on exit."""
        self.load_state, self.dump_state = load, dump
        return self

    def command(self, host: str, port: int) -> list[str]:
        argv = [
            str(self.binary),
            "--host", host,
            "--port", str(port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(DEV_ACCOUNTS),
            "--balance", str(DEV_BALANCE_ETH),
            "--mnemonic", DEV_MNEMONIC,
            "--hardfork", HARDFORK,
        ]  # fmt: skip
        if self.load_state is not None:
            argv += ["--load-state", str(self.load_state)]
        if self.dump_state is not None:
            argv += ["--dump-state", str(self.dump_state)]
        if self.block_gas_limit is not None:
            argv += ["--gas-limit", str(self.block_gas_limit)]
        return argv + list(self.extra_args)
