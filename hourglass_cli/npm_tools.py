"""The tools folder and `npm install` into it: where `hourglass devnet install anvil|solc` put npm packages.

The folder is ``$HOURGLASS_TOOLS_DIR`` or ``~/.hourglass/tools``; the packages land in its ``node_modules``,
where the anvil backend and the compiler discovery look for them (after PATH and a source checkout's own
``node_modules``). Only the npm registry is needed (npm's own client, its configured registry).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hourglass_cli.errors import HourglassError, ToolNotFoundError

INSTALL_TIMEOUT_S = 900


class ToolInstallError(HourglassError):
    """npm could not install a tool."""

    default_hint = "check access to the npm registry (`npm config get registry`) and retry"


def tools_dir() -> Path:
    """Where `hourglass devnet install …` puts npm tools: $HOURGLASS_TOOLS_DIR or ~/.hourglass/tools."""
    env = os.environ.get("HOURGLASS_TOOLS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".hourglass" / "tools"


def npm_install(package: str, version: str, target: Path | None = None, *, needed_for: str = "") -> Path:
    """`npm install --prefix <target> <package>@<version>`; returns the target folder (default: `tools_dir()`)."""
    target = target or tools_dir()
    npm = shutil.which("npm")
    if npm is None:
        raise ToolNotFoundError(f"npm not found (needed to install {needed_for or package})",
                                hint="install Node.js, which brings npm, and run the command again")
    target.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(target), "--no-audit", "--no-fund", "--loglevel=error",
           f"{package}@{version}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ToolInstallError(f"`{' '.join(cmd)}` did not finish within {INSTALL_TIMEOUT_S // 60} minutes") from None
    if proc.returncode != 0:
        raise ToolInstallError(f"npm could not install {package}@{version}: "
                               f"{(proc.stderr or proc.stdout).strip()[-1500:]}")
    return target
