"""`hourglass avs build`: check an AVS project's performer imports and serves, compile its contracts, build its
performer image when it runs under Docker.

The checks run the performer the way executors do: the module is imported by the interpreter of
``[performer].command`` (found on PATH like the executor finds it), then the command itself is started
with ``PORT`` set, as a :class:`~hourglass_cli.executor.runtimes.process.ProcessRuntime`, until its gRPC
health reports SERVING (within ``[performer].startup_timeout``), and stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hourglass_cli.config import CONFIG_FILENAME, ProjectConfig, find_config, load_config
from hourglass_cli.errors import HourglassError
from hourglass_cli.ports import free_port

BUILD_DIR = Path(".hourglass") / "build"
_MARK = "@@hourglass-import-check@@"
# Run by the performer's interpreter: import MODULE (and MODULE.__main__ for a package, as `python -m` runs
# it), report the outcome as one marked JSON line.
_IMPORT_CHECK = r"""
import importlib, importlib.util, json, os, sys, traceback
root, name, mark = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, root)
def report(**fields):
    print(mark + json.dumps(fields), flush=True)
try:
    module = importlib.import_module(name)
    if hasattr(module, "__path__") and importlib.util.find_spec(name + ".__main__") is not None:
        module = importlib.import_module(name + ".__main__")
except BaseException as exc:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.isfile(f.filename)
              and os.path.abspath(f.filename).startswith(os.path.abspath(root) + os.sep)]
    trace = [(os.path.relpath(f.filename, root), f.lineno, (f.line or "").strip()) for f in frames]
    if isinstance(exc, SyntaxError) and exc.filename and os.path.isfile(exc.filename):
        trace.append((os.path.relpath(exc.filename, root), exc.lineno, (exc.text or "").strip()))
    where = f"{trace[-1][0]}:{trace[-1][1]}" if trace else ""
    report(ok=False, type=type(exc).__name__, error=str(exc), missing=getattr(exc, "name", None) or "",
           where=where, trace="\n".join(f"  {file}:{line}: {text}" for file, line, text in trace[-8:]))
    sys.exit(1)
report(ok=True, file=getattr(module, "__file__", None) or "", python=sys.executable)
"""


class ProjectBuildError(HourglassError):
    """A check of `hourglass avs build` failed."""


@dataclass
class Step:
    """One thing `build_project` checked or built."""

    name: str
    detail: str
    skipped: bool = False


@dataclass
class BuildReport:
    """What `build_project` did, in order."""

    project_dir: Path
    config: ProjectConfig
    steps: list[Step] = field(default_factory=list)
    image: str = ""
    artifacts: list[str] = field(default_factory=list)


def find_project(start: str | os.PathLike[str] | None = None) -> Path:
    """The project folder: ``start`` if given, else the nearest folder at or above the cwd with hourglass.toml."""
    if start is not None:
        return Path(start).expanduser().resolve()
    found = find_config(Path.cwd())
    return found.parent if found is not None else Path.cwd()


def performer_module(command: Sequence[str]) -> str | None:
    """The Python module a performer command serves: ``python -m X`` → X, and the module of a
    ``MODULE:CLASS`` given to ``-m hourglass_cli.performer`` or ``hourglass performer serve``; else None."""
    args = list(command)
    spec: str | None = None
    if "-m" in args[:-1]:
        module = args[args.index("-m") + 1]
        if module not in ("hourglass_cli.performer", "hourglass_cli"):
            return module
        spec = next((a for a in args[args.index("-m") + 2:] if ":" in a and not a.startswith("-")), None)
    elif args and Path(args[0]).name == "hourglass" and "serve" in args:
        spec = next((a for a in args[args.index("serve") + 1:] if ":" in a and not a.startswith("-")), None)
    if spec and ":" in spec:
        return spec.split(":", 1)[0] or None
    return None


def _interpreter(command: Sequence[str], project_dir: Path) -> str:
    """The Python that runs ``command``: its program when that is a python, else this one."""
    program = command[0]
    if not Path(program).name.startswith("python"):
        return sys.executable
    if os.sep in program:
        path = Path(program) if os.path.isabs(program) else project_dir / program
        if not path.exists():
            raise ProjectBuildError(f"the performer command's interpreter {program!r} does not exist",
                                    hint=f"fix [performer].command in {CONFIG_FILENAME}")
        return str(path)
    found = shutil.which(program)
    if found is None:
        raise ProjectBuildError(f"the performer command's interpreter {program!r} is not on PATH",
                                hint="activate the project's virtualenv, or write the interpreter's full path "
                                     f"in [performer].command of {CONFIG_FILENAME}")
    return found


def check_import(project_dir: Path, module: str, python: str, timeout: float) -> str:
    """Import ``module`` with ``python`` in a subprocess, the project folder first on sys.path; returns its file."""
    try:
        done = subprocess.run([python, "-c", _IMPORT_CHECK, str(project_dir), module, _MARK], cwd=project_dir,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProjectBuildError(f"importing the performer module {module} did not finish within {timeout:g} s",
                                hint=f"does {module} start serving when imported? keep that under "
                                     "`if __name__ == \"__main__\":`") from None
    line = next((ln for ln in reversed(done.stdout.splitlines()) if ln.startswith(_MARK)), None)
    if line is None:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise ProjectBuildError(f"importing the performer module {module} with {python} failed "
                                f"(exit code {done.returncode}){': ' + tail if tail else ''}")
    outcome: dict[str, Any] = json.loads(line[len(_MARK):])
    if outcome["ok"]:
        return str(outcome["file"])
    missing = outcome.get("missing", "")
    if outcome["type"] == "ModuleNotFoundError" and (missing == module or module.startswith(missing + ".")):
        raise ProjectBuildError(f"the performer module {module} does not exist in {project_dir}",
                                hint=f"[performer].command runs module {module}: fix the command in "
                                     f"{CONFIG_FILENAME} or create the module")
    where = f" at {outcome['where']}" if outcome.get("where") else ""
    hint = "fix the error; the lines above are the import path through the project's files"
    if outcome["type"] == "ModuleNotFoundError":
        hint = (f"install the project's dependencies for {python} (`pip install -e .` in the project's "
                "virtualenv), or point [performer].command at the right interpreter")
    raise ProjectBuildError(f"importing the performer module {module} failed{where}: "
                            f"{outcome['type']}: {outcome['error']}\n{outcome.get('trace', '').rstrip()}", hint=hint)


def check_serves(project_dir: Path, command: Sequence[str], deadline_s: float, log_path: Path) -> int:
    """Start ``command`` like an executor does (PORT set), wait for health SERVING, stop it; returns the port."""
    from hourglass_cli.executor.runtimes.base import RuntimeStartError, build_runtime_env
    from hourglass_cli.executor.runtimes.process import ProcessRuntime

    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")
    port = free_port()
    runtime = ProcessRuntime(command, build_runtime_env(port), log_path, cwd=project_dir, start_deadline_s=deadline_s)
    try:
        runtime.start(deadline_s)
    except RuntimeStartError as exc:
        raise ProjectBuildError(f"the performer command {' '.join(command)} did not serve: {exc.message}",
                                hint=f"its output is in {log_path}; it must serve gRPC health on $PORT") from None
    finally:
        runtime.close()
    return port


def _sets_command(config_file: Path) -> bool:
    """Whether hourglass.toml sets [performer].command (the typed config cannot tell it from the default)."""
    import tomllib

    try:
        raw = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    table = raw.get("performer", {})
    return isinstance(table, dict) and "command" in table


def _contracts_dir(project_dir: Path) -> Path | None:
    contracts = project_dir / "contracts"
    return contracts if any((contracts / "src").rglob("*.sol")) else None


def build_project(project_dir: str | os.PathLike[str] | None = None, *, force: bool = False,
                  on_step: Callable[[Step], None] | None = None) -> BuildReport:
    """Check and build the project in ``project_dir``; ProjectBuildError (or a more specific error) on failure."""
    root = find_project(project_dir)
    config = load_config(root / CONFIG_FILENAME)
    report = BuildReport(project_dir=root, config=config)

    def done(step: Step) -> None:
        report.steps.append(step)
        if on_step is not None:
            on_step(step)

    perf = config.performer
    if perf.runtime == "remote":
        done(Step("performer", f"runtime remote: {perf.address} is run by someone else", skipped=True))
    elif perf.runtime == "docker" and not _sets_command(root / CONFIG_FILENAME):
        done(Step("performer", "runtime docker without [performer].command: the image is built but not run on "
                               "this host (set command to check the performer here too)", skipped=True))
    else:
        command = list(perf.command)
        module = performer_module(command)
        if module is None:
            done(Step("import", f"{' '.join(command)} names no Python module", skipped=True))
        else:
            python = _interpreter(command, root)
            where = check_import(root, module, python, timeout=max(perf.startup_timeout, 10.0))
            shown = os.path.relpath(where, root) if where.startswith(str(root)) else where
            done(Step("import", f"{module} imports ({shown}, {python})"))
        port = check_serves(root, command, perf.startup_timeout, root / BUILD_DIR / "performer.log")
        done(Step("serve", f"{' '.join(command)} reported SERVING on 127.0.0.1:{port}, then stopped"))

    contracts = _contracts_dir(root)
    if contracts is None:
        from hourglass_cli.scaffold.contracts import prune_stale_artifacts, stale_note

        removed = prune_stale_artifacts(root / "contracts")
        done(Step("contracts", stale_note(removed) + " (the devnet uses the default task hook)" if removed
                  else "no contracts/src/*.sol", skipped=True))
    else:
        from hourglass_cli.scaffold.contracts import compile_project_contracts

        result = compile_project_contracts(contracts, force=force)
        report.artifacts = result.artifacts
        out = os.path.relpath(result.out_dir, root)
        what = (f"compiled {', '.join(result.artifacts) or 'no contracts'} with {result.compiler} in "
                f"{result.seconds:.1f} s → {out}" if result.compiled
                else f"up to date: {', '.join(result.artifacts) or 'no contracts'} in {out}")
        done(Step("contracts", what + "".join(f"\nwarning: {w}" for w in result.warnings)))

    if perf.runtime == "docker":
        from hourglass_cli.scaffold.docker import build_performer_image

        tag, image_id = build_performer_image(root, config, log_path=root / BUILD_DIR / "docker-build.log")
        report.image = tag
        done(Step("image", f"built {tag} ({image_id[:19]})"))
    else:
        done(Step("image", f"runtime {perf.runtime}: no image to build", skipped=True))
    return report
