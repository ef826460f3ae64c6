"""The README journey with the docker runtime, as a user runs it: the `hourglass` console script as subprocesses
against the private dockerd (DOCKER_HOST), on the embedded chain and on anvil.

`avs init` → hourglass.toml switched to `runtime = "docker"` and the image uncommented, as the generated
README says → `avs build` (the image, FROM the locally built base image, no registry) → `devnet start
--detach --chain BACKEND` (every executor runs that image) → `task submit … --json` for several numbers (decoded
n² checked) → `devnet stop` (no container left). The image is built once and serves both chains.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hourglass_cli.executor.runtimes.docker import MANAGED_LABEL
from tests.devnet._helpers import ok, wait_for
from tests.docker_env import PrivateDockerd

pytestmark = pytest.mark.slow

NAME = "journey-docker-avs"
TAG = f"hourglass-performer/{NAME}:latest"
OPERATORS = 4
HOURGLASS = Path(sys.executable).parent / "hourglass"


@dataclass
class Project:
    path: Path
    env: dict[str, str]


def hg(project: Project, *args: str, cwd: Path | None = None, timeout: float = 180.0
       ) -> subprocess.CompletedProcess[str]:
    """`hourglass ARGS…` as a user runs it from the project's activated virtualenv."""
    return subprocess.run([str(HOURGLASS), *args], cwd=cwd or project.path, env=project.env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _managed(client: Any) -> list[Any]:
    return client.containers.list(all=True, filters={"label": f"{MANAGED_LABEL}=true"})


def _use_docker(toml: Path) -> None:
    """What the generated README says to do: `runtime = "docker"` and the image line uncommented."""
    text = toml.read_text()
    runtime, image = 'runtime = "process"', f'# image = "{TAG}"'
    assert runtime in text and image in text, text
    toml.write_text(text.replace(runtime, 'runtime = "docker"').replace(image, image[2:]))


@pytest.fixture(scope="module")
def built(dockerd: PrivateDockerd, docker_client: Any, base_image: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """`avs init`, the docker runtime switched on, `avs build`: the project and its image, for the module."""
    assert HOURGLASS.is_file(), f"no hourglass console script next to {sys.executable}"
    folder = tmp_path_factory.mktemp("journey-docker")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "DOCKER_HOST": dockerd.base_url,
           "PATH": os.pathsep.join([str(HOURGLASS.parent), os.environ.get("PATH", "")])}
    project = Project(folder / NAME, env)
    try:
        ok(hg(project, "avs", "init", NAME, cwd=folder))
        _use_docker(project.path / "hourglass.toml")
        out = ok(hg(project, "avs", "build", timeout=600)).stdout
        assert TAG in out, out
        assert docker_client.images.get(TAG).attrs["Config"]["Cmd"][-1] == NAME.replace("-", "_")
        yield project
    finally:
        dockerd.remove_all_containers()
        try:
            docker_client.images.remove(TAG, force=True)
        except Exception:  # noqa: BLE001 - the build may have failed before tagging it
            pass
        docker_client.images.prune(filters={"dangling": True})


@dataclass
class Devnet:
    project: Project
    backend: str


@pytest.fixture(params=["embedded", "anvil"])
def devnet(request: pytest.FixtureRequest, built: Project, docker_client: Any) -> Iterator[Devnet]:
    """`devnet start --detach --chain BACKEND` in the built project; stopped whatever the test did."""
    started = hg(built, "devnet", "start", "--detach", "--chain", request.param, timeout=300)
    try:
        ok(started)
        yield Devnet(built, request.param)
    finally:
        stopped = hg(built, "devnet", "stop", timeout=120)
        dockerd_left = _managed(docker_client)
        for container in dockerd_left:  # never leave one for the next parametrization
            container.remove(force=True)
    ok(stopped)
    assert dockerd_left == [], f"devnet stop left containers: {[c.name for c in dockerd_left]}"


def test_docker_journey_verifies_several_tasks(devnet: Devnet, docker_client: Any) -> None:
    from hourglass_cli.devnet.chains._process import rpc_call

    project = devnet.project
    status = json.loads(ok(hg(project, "devnet", "status", "--json", timeout=60)).stdout)
    assert status["running"] and status["healthy"], status
    chains = [c for c in status["components"] if c["kind"] == "chain"]
    assert len(chains) == 1, status["components"]
    client_version = str(rpc_call(chains[0]["endpoint"], "web3_clientVersion"))
    assert client_version.startswith("anvil" if devnet.backend == "anvil" else "hourglass-embedded"), client_version

    def running() -> list[Any] | None:
        containers = [c for c in _managed(docker_client) if c.status == "running"]
        return containers if len(containers) == OPERATORS else None

    containers = wait_for(running, 30, f"{OPERATORS} performer containers running")  # one per executor
    assert {c.image.tags[0] for c in containers} == {TAG}, [(c.name, c.image.tags) for c in containers]
    supervisor_log = (project.path / ".hourglass" / "devnet" / "logs" / "supervisor.log").read_text()
    assert f"performer image {TAG} (cached)" in supervisor_log  # `avs build` made it, the devnet reused it

    for container in containers:  # what the performer was started with: ours and the AVS's, no secret
        env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
        assert env["PORT"] and env["TASK_MAILBOX"] and env["L1_RPC_URL"], env
        assert not [k for k in env if k.startswith("HOURGLASS_")], sorted(env)
        assert "hourglass-devnet" not in env.values()

    for n in (5, 12, 2**64 + 3):
        doc = json.loads(ok(hg(project, "task", "submit", "--signature", "(uint256)", "--args", f"({n})",
                               "--result-abi", "(uint256)", "--json", "--timeout", "90", timeout=150)).stdout)
        assert doc["status"] == "VERIFIED" and doc["decoded"] == [n * n], doc
        assert doc["result"] == "0x" + (n * n).to_bytes(32, "big").hex()
        assert doc["responses"]["total"] == OPERATORS and doc["responses"]["ok"] >= 3, doc
