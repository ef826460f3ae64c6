"""The README's main job (`make demo`): the user journey, unattended, through the real CLI.

In a temporary folder: `hourglass avs init demo-avs` → `devnet start --detach --chain embedded` → three
`task submit --signature "(uint256)" --args "(n)"` → print each verified result and where the time went →
`devnet stop` (always). Exit 0 only if every task was verified with n².
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
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": os.environ.get("COLUMNS", "120")}
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


def main() -> int:
    started = time.perf_counter()
    verified = 0
    with tempfile.TemporaryDirectory(prefix="hourglass-demo-") as tmp:
        _say("hourglass demo: scaffold an AVS, start a devnet, submit tasks, wait for their certificates on chain\n")
        if _run(Path(tmp), "avs", "init", "demo-avs").returncode != 0:
            return 1
        project = Path(tmp) / "demo-avs"
        _say("$ cd demo-avs")
        try:
            t0 = time.perf_counter()
            if _run(project, "devnet", "start", "--detach", "--chain", "embedded").returncode != 0:
                return 1
            _say(f"devnet up in {time.perf_counter() - t0:.1f} s\n")
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
        finally:
            _say("")
            _run(project, "devnet", "stop", timeout=120)
    total = time.perf_counter() - started
    ok = verified == len(NUMBERS)
    _say(f"\n{verified}/{len(NUMBERS)} tasks verified on chain with the right result in {total:.1f} s: "
         f"{'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
