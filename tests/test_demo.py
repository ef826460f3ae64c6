"""The README's main-job command runs the user journey end to end and prints the verified results."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

@pytest.mark.slow
def test_demo_runs_the_journey_and_every_task_is_verified() -> None:
    out = subprocess.run([sys.executable, "-m", "hourglass_cli.demo"], capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    for step in ("$ hourglass avs init demo-avs", "$ hourglass avs build",
                 "$ hourglass devnet start --detach --chain embedded",
                 '$ hourglass task submit --signature "(uint256)" --args "(5)" --result-abi "(uint256)"',
                 "$ hourglass devnet stop"):
        assert step in text, text
    assert "solc for contracts/src/DemoAvsTaskHook.sol: solc" in text, text
    assert "compiled DemoAvsTaskHook with solc" in text, text
    assert "DemoAvsTaskHook (task hook)" in text  # the devnet's summary
    assert "the template's task hook DemoAvsTaskHook is the AVS's task hook (0x" in text, text
    assert "no solc" not in text and "NOT deployed" not in text
    for n in (5, 7, 12):
        assert f"VERIFIED, square({n}) = {n * n} (correct)" in text, text
    assert re.search(r"verified \+\d+ ms", text) and "certificate +" in text
    assert "TaskMailbox.createTask reverted: DemoAvsTaskHook.InvalidPayloadLength(length=64)" in text, text
    assert "devnet stopped" in text
    assert "3/3 tasks verified on chain with the right result, the template's task hook DemoAvsTaskHook deployed " \
           "and refusing a bad payload" in text and text.rstrip().endswith("OK")


def test_the_demo_installs_a_solc_where_there_is_none(no_compilers: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`make demo` on a machine with npm but no solc (no `make tools`): it installs one for the template's hook."""
    from hourglass_cli import demo
    from hourglass_cli.compiler.settings import SOLC_VERSION
    from hourglass_cli.scaffold.init import init_project

    project = init_project("demo-avs", tmp_path / "demo-avs")
    assert demo.ensure_solc(project)
    text = capsys.readouterr().out
    package = no_compilers / "node_modules" / "solc"
    assert "no solc installed here compiles the template's task hook" in text
    assert "$ hourglass devnet install solc" in text and f"solc {SOLC_VERSION} installed: {package}" in text
    assert f"solc for contracts/src/DemoAvsTaskHook.sol: solcjs {SOLC_VERSION} ({package}" in text, text
    assert demo.ensure_solc(project)  # found this time: nothing installed again
    assert "devnet install" not in capsys.readouterr().out
