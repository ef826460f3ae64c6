"""Where the JavaScript libraries CUSTOM_CODE can `require()` come from, and `hourglass devnet install js-libs`.

They are npm packages (never copies kept in this repo), looked for in order in ``$HOURGLASS_JS_LIBS`` (a folder laid
out like ``node_modules``), the source checkout's ``node_modules`` (`make tools` / `npm install` fill it from
package.json), then ``~/.hourglass/tools/node_modules`` (``$HOURGLASS_TOOLS_DIR``), where the install command puts
them for a pip-installed hourglass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

INSTALL_COMMAND = "hourglass devnet install js-libs"


@dataclass(frozen=True)
class JsLib:
    """One library: its npm name and pinned version, and the UMD/CJS build inside the package that is loaded."""

    name: str
    version: str
    build: str


# The versions AvaProtocol's aggregator embeds (core/taskengine/modules/libs at v2.12.0), lodash at the patch release
# that fixes the _.unset/_.omit prototype pollution of 4.17.21; package.json pins the same (a test checks).
JS_LIBS: dict[str, JsLib] = {
    "lodash": JsLib("lodash", "4.17.23", "lodash.min.js"),
    "dayjs": JsLib("dayjs", "1.11.13", "dayjs.min.js"),
    "uuid": JsLib("uuid", "8.3.2", "dist/umd/uuid.min.js"),
}


def search_dirs() -> list[Path]:
    """The node_modules-like folders looked in, first match wins per library."""
    from hourglass_cli.compiler.artifacts import repo_root
    from hourglass_cli.npm_tools import tools_dir

    dirs: list[Path] = []
    env = os.environ.get("HOURGLASS_JS_LIBS")
    if env:
        dirs.append(Path(env).expanduser())
    root = repo_root()
    if root is not None:
        dirs.append(root / "node_modules")
    dirs.append(tools_dir() / "node_modules")
    return list(dict.fromkeys(dirs))


def find_libs(dirs: list[Path] | None = None) -> dict[str, Path]:
    """The build file of each library that is installed, by name (a missing library is absent)."""
    found: dict[str, Path] = {}
    for base in dirs if dirs is not None else search_dirs():
        for lib in JS_LIBS.values():
            path = base / lib.name / lib.build
            if lib.name not in found and path.is_file():
                found[lib.name] = path
    return found


def missing_message(name: str) -> str:
    """What a `require()` of a known but uninstalled library says."""
    return (f"the JavaScript library {name} is not installed on this server: run `{INSTALL_COMMAND}` "
            f"(or `npm install` in a source checkout)")


def install_js_libs(target: Path | None = None) -> dict[str, Path]:
    """`npm install` the pinned lodash, dayjs and uuid into the tools folder; returns where each build now is."""
    from hourglass_cli.npm_tools import ToolInstallError, npm_install, tools_dir

    base = target or tools_dir()
    for lib in JS_LIBS.values():
        npm_install(lib.name, lib.version, base, needed_for=f"the CUSTOM_CODE library {lib.name}")
    found = find_libs([base / "node_modules"])
    missing = sorted(set(JS_LIBS) - set(found))
    if missing:
        raise ToolInstallError(f"npm finished but {', '.join(missing)} is not in {base / 'node_modules'}")
    return found
