"""The README's main job (`make demo`): the user journey, unattended, through the real CLI.

In a temporary folder: `hourglass avs init demo-avs` → a solc for the template's task hook (the one installed
that its pragma allows, else `hourglass devnet install solc`) → `avs build` → `devnet start --detach --chain
embedded` (which deploys the template's hook as the AVS's task hook) → three `task submit --signature "(uint256)"
--args "(n)"` → print each verified result and where the time went → one task the hook refuses (a 64-byte
payload), its custom error shown by name → `devnet stop` (always). Exit 0 only if the hook was deployed, every
task was verified with n² and the refused one was refused by the hook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NUMBERS = (5, 7, 12)
PROJECT = "demo-avs"
HOOK = "DemoAvsTaskHook"  # the template's hook, contracts/src/DemoAvsTaskHook.sol
REFUSED = f"{HOOK}.InvalidPayloadLength(length=64)"  # what the hook answers two uint256s with
# `python -m hourglass_cli`, with the task group mounted even where cli/__init__.py does not list it yet.
_CLI = ("from hourglass_cli import cli\n"
        "if 'task' not in cli.GROUPS:\n"
        "    import hourglass_cli.cli.task as group\n"
        "    cli.app.add_typer(group.app, name='task')\n"
        "cli.main()\n")


def _say(text: str) -> None:
    print(text, flush=True)


def _run(cwd: Path, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    """Run `hourglass ARGS…` in `cwd`, printing the command and (unless --json) its output."""
    _say(f"$ hourglass {' '.join(_quote(a) for a in args)}")
    # as in the activated virtualenv the README's quickstart runs in: `avs build` runs the performer's `python`
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": os.environ.get("COLUMNS", "120"), "PATH": path}
    done = subprocess.run([sys.executable, "-c", _CLI, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if "--json" not in args:
        for line in (done.stdout + done.stderr).rstrip().splitlines():
            _say(f"  {line}")
    elif done.returncode != 0:
        _say("  " + (done.stderr.strip() or done.stdout.strip()))
    return done


def _quote(arg: str) -> str:
    return f'"{arg}"' if any(c in arg for c in ' ()",') else arg


def _solc_for(project: Path) -> str | None:
    """The compiler `avs build` would use for the project's contracts, described; None when none is installed."""
    from hourglass_cli.errors import ToolNotFoundError
    from hourglass_cli.scaffold.contracts import find_project_solc

    try:
        return str(find_project_solc(project / "contracts").describe())
    except ToolNotFoundError:
        return None


def ensure_solc(project: Path) -> bool:
    """A solc for the template's task hook: one installed that its pragma allows, else `devnet install solc`."""
    found = _solc_for(project)
    if found is None:
        _say("no solc installed here compiles the template's task hook (contracts/src): installing one")
        if _run(project, "devnet", "install", "solc", timeout=900).returncode != 0:
            return False
        found = _solc_for(project)
        if found is None:
            _say("  the installed solc is not found: the devnet would use the default task hook")
            return False
    _say(f"solc for contracts/src/{HOOK}.sol: {found}")
    return True


def hook_deployed(project: Path) -> bool:
    """Whether the running devnet configured the template's hook as the AVS's task hook; says which, and why not."""
    from hourglass_cli.devnet.state import devnet_dir, load_state

    state = load_state(devnet_dir(project))
    own = (state.project_contracts.get("l1", {}) if state else {}).get(HOOK)
    hook = ((state.deployment or {}) if state else {}).get("avs_task_hook")
    if own and own == hook:
        _say(f"the template's task hook {HOOK} is the AVS's task hook ({own}): it refuses payloads that are not "
             "one uint256")
        return True
    why = "; ".join(state.warnings) if state and state.warnings else "the devnet's state does not name it"
    _say(f"the template's task hook {HOOK} was NOT deployed (the default hook is used): {why}")
    return False


def main() -> int:
    started = time.perf_counter()
    verified = 0
    with tempfile.TemporaryDirectory(prefix="hourglass-demo-") as tmp:
        _say("hourglass demo: scaffold an AVS, start a devnet, submit tasks, wait for their certificates on chain\n")
        if _run(Path(tmp), "avs", "init", PROJECT).returncode != 0:
            return 1
        project = Path(tmp) / PROJECT
        _say(f"$ cd {PROJECT}")
        has_solc = ensure_solc(project)
        if has_solc and _run(project, "avs", "build").returncode != 0:
            return 1
        hooked = refused = False
        try:
            t0 = time.perf_counter()
            if _run(project, "devnet", "start", "--detach", "--chain", "embedded").returncode != 0:
                return 1
            _say(f"devnet up in {time.perf_counter() - t0:.1f} s")
            hooked = hook_deployed(project)
            _say("")
            for n in NUMBERS:
                t1 = time.perf_counter()
                done = _run(project, "task", "submit", "--signature", "(uint256)", "--args", f"({n})",
                            "--result-abi", "(uint256)", "--json", "--timeout", "90")
                if done.returncode != 0:
                    continue
                doc = json.loads(done.stdout)
                wall = time.perf_counter() - t1
                result = (doc.get("decoded") or [None])[0]
                good = doc.get("status") == "VERIFIED" and result == n * n
                verified += good
                stages = "  ".join(f"{k.replace('_', ' ')} +{v * 1e3:.0f} ms"
                                   for k, v in doc.get("timings", {}).items() if v is not None and k not in ("seen", "ended"))
                answers = doc.get("responses") or {}
                _say(f"  task {doc['task_hash']}: {doc['status']}, square({n}) = {result} "
                     f"{'(correct)' if good else f'(WRONG: expected {n * n})'}, "
                     f"{answers.get('ok')}/{answers.get('total')} responses")
                _say(f"  {stages} (since the aggregator saw the task; command wall time {wall:.2f} s)")
            if hooked:
                _say("\na task the hook refuses (two uint256s: 64 bytes), named by its custom error:")
                done = _run(project, "task", "submit", "--signature", "(uint256,uint256)", "--args", "(1,2)",
                            "--timeout", "30")
                refused = done.returncode != 0 and REFUSED in " ".join((done.stdout + done.stderr).split())
        finally:
            _say("")
            _run(project, "devnet", "stop", timeout=120)
    total = time.perf_counter() - started
    ok = verified == len(NUMBERS) and hooked and refused
    hook = (f"the template's task hook {HOOK} deployed and refusing a bad payload" if hooked and refused
            else f"the template's task hook {HOOK} {'NOT deployed' if not hooked else 'did NOT refuse the bad payload'}")
    _say(f"\n{verified}/{len(NUMBERS)} tasks verified on chain with the right result, {hook}, in {total:.1f} s: "
         f"{'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
