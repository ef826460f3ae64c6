"""The devnet with `runtime = "docker"`: every executor runs the image `hourglass avs build` tagged
(hourglass-performer/<project>:latest) on the configured dockerd, a task is verified, stop leaves no container."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hourglass_cli.chain.connection import connect
from hourglass_cli.devnet.deploy import CoreDeployment
from hourglass_cli.executor.runtimes.docker import MANAGED_LABEL
from hourglass_cli.scaffold.build import build_project
from hourglass_cli.scaffold.init import init_project
from tests.devnet._helpers import ok, run, state_of, wait_for
from tests.docker_env import PrivateDockerd
from tests.scaffold.conftest import python_env, set_performer

NAME = "docker-avs"
TAG = f"hourglass-performer/{NAME}:latest"


def _managed(client: Any) -> list[Any]:
    return client.containers.list(all=True, filters={"label": f"{MANAGED_LABEL}=true"})


def test_devnet_runs_the_projects_image(dockerd: PrivateDockerd, docker_client: Any, base_image: str,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eth_abi import decode, encode

    from hourglass_cli.chain import avs as calls
    from hourglass_cli.devnet.accounts import derive_account

    project = init_project(NAME, tmp_path / NAME)
    set_performer(project, runtime='"docker"', docker_host=f'"{dockerd.base_url}"')
    monkeypatch.setenv("PATH", python_env()["PATH"])
    monkeypatch.setenv("DOCKER_HOST", dockerd.base_url)  # `avs build` uses $DOCKER_HOST
    try:
        assert build_project(project).image == TAG
        monkeypatch.delenv("DOCKER_HOST")  # the devnet must find dockerd through [performer].docker_host
        ok(run(project, "devnet", "start", "--detach", "--chain", "embedded", "--operators", "2"))
        try:
            state = state_of(project)
            assert "performer_image" in state.timings
            containers = _managed(docker_client)
            assert len(containers) == 2 and {c.image.tags[0] for c in containers} == {TAG}
            deployment = CoreDeployment.from_json(state.deployment or {})
            w3 = connect(state.chains[0].endpoint)
            mailbox = deployment.bind(w3).task_mailbox
            task_hash, _ = calls.create_task(derive_account(2).sender(w3), mailbox, deployment.avs, 1,
                                             encode(["uint256"], [21]), gas=3_000_000)
            wait_for(lambda: mailbox.functions.getTaskStatus(task_hash).call() == 2, 90, "TaskVerified")
            assert decode(["uint256"], mailbox.functions.getTaskResult(task_hash).call()) == (441,)
            supervisor_log = (project / ".hourglass" / "devnet" / "logs" / "supervisor.log").read_text()
            assert f"performer image {TAG} (cached)" in supervisor_log
        finally:
            ok(run(project, "devnet", "stop", timeout=90))
        assert _managed(docker_client) == []
        # no per-executor image was built next to the project's
        assert not [t for i in docker_client.images.list() for t in i.tags if t.startswith("hourglass-performer/")
                    and t != TAG]
    finally:
        dockerd.remove_all_containers()
        docker_client.images.remove(TAG, force=True)
        docker_client.images.prune(filters={"dangling": True})
