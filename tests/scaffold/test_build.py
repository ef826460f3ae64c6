"""`build_project`: the performer imports and serves (for real, on loopback), contracts compile, clear failures."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from hourglass_cli.errors import CompilerError, ConfigError, ToolNotFoundError
from hourglass_cli.scaffold.build import ProjectBuildError, Step, build_project, performer_module
from tests.scaffold.conftest import PACKAGE, set_performer, without_contracts

pytestmark = pytest.mark.usefixtures("on_venv_path")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_build_checks_the_performer_and_compiles_the_hook(built_project: Path) -> None:
    seen: list[Step] = []
    report = build_project(built_project, on_step=seen.append)
    assert [s.name for s in seen] == ["import", "serve", "contracts", "image"] == [s.name for s in report.steps]
    assert [s.skipped for s in seen] == [False, False, False, True]
    assert f"{PACKAGE} imports ({PACKAGE}/__main__.py" in seen[0].detail
    assert "reported SERVING" in seen[1].detail
    port = int(seen[1].detail.split("127.0.0.1:")[1].split(",")[0])
    assert port_is_free(port)  # the performer was stopped
    assert seen[2].detail.startswith("compiled SquareAvsTaskHook with ")
    assert report.artifacts == ["SquareAvsTaskHook"]

    out = built_project / "contracts" / "out"
    artifact = json.loads((out / "SquareAvsTaskHook.json").read_text())
    assert set(artifact["methodIdentifiers"]) >= {"calculateTaskFee((address,(address,uint32),bytes))",
                                                  "handlePostTaskCreation(bytes32)"}
    assert len(artifact["bytecode"]) > 100
    manifest = json.loads((out / "manifest.json").read_text())
    assert "@hourglass/interfaces/IAVSTaskHook.sol" in manifest["sources"]
    assert sorted(manifest["artifacts"]) == ["SquareAvsTaskHook"]  # none of hourglass's own contracts


def test_a_second_build_does_not_recompile(built_project: Path) -> None:
    report = build_project(built_project)
    assert report.steps[2].detail.startswith("up to date: SquareAvsTaskHook")


def test_the_compiled_hook_runs_on_a_chain(built_project: Path) -> None:
    from eth_abi import encode
    from eth_tester.exceptions import TransactionFailed
    from eth_utils import function_signature_to_4byte_selector
    from web3 import Web3

    artifact = json.loads((built_project / "contracts/out/SquareAvsTaskHook.json").read_text())
    w3 = Web3(Web3.EthereumTesterProvider())
    w3.eth.default_account = w3.eth.accounts[0]
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"]).constructor().transact())
    hook = w3.eth.contract(address=receipt.contractAddress, abi=artifact["abi"])
    operator_set = (w3.eth.accounts[1], 1)
    hook.functions.validatePreTaskCreation(w3.eth.accounts[2], (w3.eth.accounts[2], operator_set,
                                                                 encode(["uint256"], [5]))).call()
    with pytest.raises(TransactionFailed) as reverted:
        hook.functions.validatePreTaskCreation(w3.eth.accounts[2], (w3.eth.accounts[2], operator_set, b"\x05")).call()
    error = function_signature_to_4byte_selector("InvalidPayloadLength(uint256)") + encode(["uint256"], [1])
    assert repr(error) in str(reverted.value)


def append_line(path: Path, line: str) -> int:
    """Append ``line`` to ``path``; returns its line number."""
    text = path.read_text() + line + "\n"
    path.write_text(text)
    return len(text.splitlines())


def test_a_performer_that_raises_at_import_names_the_module(project: Path) -> None:
    line = append_line(project / PACKAGE / "performer.py", 'raise RuntimeError("boom: no API key")')
    with pytest.raises(ProjectBuildError) as err:
        build_project(without_contracts(project))
    message = err.value.message
    assert message.startswith(f"importing the performer module {PACKAGE} failed at {PACKAGE}/performer.py:{line}: "
                              "RuntimeError: boom: no API key\n"), message
    # the import path through the project's own files, nothing of importlib
    assert message.splitlines()[1:] == [
        f"  {PACKAGE}/__main__.py:13: from {PACKAGE}.performer import SquareAvsPerformer",
        f"  {PACKAGE}/performer.py:{line}: raise RuntimeError(\"boom: no API key\")",
    ]


def test_a_syntax_error_points_at_its_line(project: Path) -> None:
    line = append_line(project / PACKAGE / "performer.py", "def broken(:")
    with pytest.raises(ProjectBuildError, match=f"failed at {PACKAGE}/performer.py:{line}: SyntaxError"):
        build_project(without_contracts(project))


def test_a_missing_dependency_says_what_to_install(project: Path) -> None:
    append_line(project / PACKAGE / "performer.py", "import surely_not_installed_dep")
    with pytest.raises(ProjectBuildError, match="ModuleNotFoundError: No module named 'surely_not_installed_dep'") \
            as err:
        build_project(without_contracts(project))
    assert "pip install -e ." in (err.value.hint or "")


def test_a_command_naming_a_missing_module(project: Path) -> None:
    set_performer(project, command='["python", "-m", "no_such_performer"]')
    with pytest.raises(ProjectBuildError, match=f"the performer module no_such_performer does not exist in {project}"):
        build_project(without_contracts(project))


def test_a_performer_that_imports_but_does_not_serve(project: Path) -> None:
    (project / PACKAGE / "__main__.py").write_text(
        "import sys\nif __name__ == '__main__':\n    print('missing setting FOO', file=sys.stderr)\n    sys.exit(3)\n")
    with pytest.raises(ProjectBuildError) as err:
        build_project(without_contracts(project))
    message = err.value.message
    assert message.startswith(f"the performer command python -m {PACKAGE} did not serve:"), message
    assert "(exit code 3)" in message and "missing setting FOO" in message
    assert "performer.log" in (err.value.hint or "")


def test_an_interpreter_not_on_path(project: Path) -> None:
    set_performer(project, command='["python-nope3", "-m", "x"]')
    with pytest.raises(ProjectBuildError, match="interpreter 'python-nope3' is not on PATH"):
        build_project(without_contracts(project))


def test_docker_runtime_without_dockerd_is_a_clear_error(project: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    set_performer(project, runtime='"docker"')
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-dockerd.sock")
    steps: list[Step] = []
    with pytest.raises(ToolNotFoundError, match=f"cannot reach dockerd at unix://{tmp_path}/no-dockerd.sock") as err:
        build_project(without_contracts(project), on_step=steps.append)
    assert [s.name for s in steps] == ["import", "serve", "contracts"]  # the performer is checked first
    assert "start dockerd" in (err.value.hint or "")


def test_docker_runtime_without_a_command_skips_the_host_checks(project: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    set_performer(project, runtime='"docker"', command="[]")
    path = project / "hourglass.toml"
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith("command")))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-dockerd.sock")
    steps: list[Step] = []
    with pytest.raises(ToolNotFoundError, match="cannot reach dockerd"):
        build_project(without_contracts(project), on_step=steps.append)
    assert [(s.name, s.skipped) for s in steps] == [("performer", True), ("contracts", True)]
    assert "without [performer].command" in steps[0].detail


def test_remote_runtime_checks_no_performer(project: Path) -> None:
    set_performer(project, runtime='"remote"', address='"127.0.0.1:9"')
    report = build_project(without_contracts(project))
    assert [(s.name, s.skipped) for s in report.steps] == [("performer", True), ("contracts", True),
                                                           ("image", True)]


def test_contract_errors_are_reported(project: Path) -> None:
    (project / PACKAGE / "__main__.py").write_text("")  # not reached: contracts fail after the performer checks
    src = project / "contracts" / "src"
    (src / "Broken.sol").write_text('pragma solidity ^0.8.27;\nimport {X} from "@hourglass/interfaces/INope.sol";\n')
    with pytest.raises(CompilerError, match="Broken.sol imports '@hourglass/interfaces/INope.sol'"):
        from hourglass_cli.scaffold.contracts import compile_project_contracts

        compile_project_contracts(project / "contracts")
    (src / "Broken.sol").write_text("pragma solidity ^0.8.27;\ncontract Broken { function f( }\n")
    with pytest.raises(CompilerError, match=r"solc reported 1 error\(s\):\nParserError") as err:
        compile_project_contracts(project / "contracts")
    assert "Broken.sol" in err.value.message


def test_no_config_points_at_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file") as err:
        build_project(tmp_path)
    assert "hourglass avs init" in (err.value.hint or "")


@pytest.mark.parametrize("command, module", [
    (["python", "-m", "my_avs"], "my_avs"),
    (["/usr/bin/python3", "-u", "-m", "pkg.main", "--flag"], "pkg.main"),
    (["python", "-m", "hourglass_cli.performer", "--port", "1", "my_avs.performer:P"], "my_avs.performer"),
    (["hourglass", "performer", "serve", "--workers", "2", "a.b:C"], "a.b"),
    (["./run.sh"], None),
    (["python", "-m"], None),
])
def test_performer_module(command: list[str], module: str | None) -> None:
    assert performer_module(command) == module


def test_image_requirements_are_the_sdk_and_the_project_dependencies(project: Path) -> None:
    from hourglass_cli.executor.runtimes.docker_image import SQUARE_REQUIREMENTS, pinned
    from hourglass_cli.scaffold.docker import project_requirements

    # the example needs what the example square performer image has: the same cached wheelhouse serves both
    assert project_requirements(project) == sorted(pinned(SQUARE_REQUIREMENTS))
    pyproject = project / "pyproject.toml"
    extra = '"not-installed-pkg>=1.2; python_version >= \'3.11\'", "Eth_Hash[pycryptodome]",'
    pyproject.write_text(pyproject.read_text().replace('"eth-abi>=5",', '"eth-abi>=5", ' + extra))
    requirements = project_requirements(project)
    assert "not-installed-pkg>=1.2; python_version >= '3.11'" in requirements
    assert any(r.startswith("Eth_Hash[pycryptodome]==") for r in requirements)
    assert not any(r.lower().startswith("hourglass") for r in requirements)


def test_build_after_deleting_the_hook_removes_its_old_artifact(project: Path) -> None:
    build_project(project)
    out = project / "contracts" / "out"
    assert (out / "SquareAvsTaskHook.json").is_file()
    (project / "contracts" / "src" / "SquareAvsTaskHook.sol").unlink()
    step = build_project(project).steps[2]
    assert step.name == "contracts" and step.skipped
    assert "removed SquareAvsTaskHook left in contracts/out" in step.detail and "default task hook" in step.detail
    assert not (out / "SquareAvsTaskHook.json").exists() and not (out / "manifest.json").exists()
