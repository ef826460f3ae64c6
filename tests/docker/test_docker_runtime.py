"""The docker performer runtime against a real (private) dockerd and a locally built image of the example
square performer: health, ExecuteTask, limits and environment, restart after a kill, clean stop.

Under the vfs storage driver every container start copies the image's whole filesystem (twice), so the
tests share one running performer where they only look at it, in the order a performer lives.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode

from hourglass_cli.errors import ConfigError
from hourglass_cli.executor.runtimes import runtime_class
from hourglass_cli.executor.runtimes.base import (
    PerformerError,
    RuntimeContext,
    RuntimeMonitor,
    RuntimeStartError,
    build_runtime_env,
    check_health,
)
from hourglass_cli.executor.runtimes.docker import (
    MANAGED_LABEL,
    DockerRuntime,
    container_name,
    parse_memory,
    remove_managed_containers,
)
from hourglass_cli.ports import free_port

pytestmark = pytest.mark.slow

TASK_ID = ("0x" + "ab" * 32).encode("ascii")


def _word(n: int) -> bytes:
    return encode(["uint256"], [n])


def _ours(client: Any, name: str) -> list[Any]:
    return [c for c in client.containers.list(all=True, filters={"label": f"{MANAGED_LABEL}=true"})
            if c.name == name]


def _runtime(dockerd: Any, image: str, log_path: Path, **kwargs: Any) -> DockerRuntime:
    port = free_port()
    env = build_runtime_env(port, l1_rpc_url="http://127.0.0.1:8545", task_mailbox="0x" + "11" * 20,
                            contracts={"HelloWorldL2": "0x" + "22" * 20}, extra={"GREETING": "hi there"})
    kwargs.setdefault("container", container_name(f"hg-test-{log_path.stem}", port))
    return DockerRuntime(image, env, log_path, base_url=dockerd.base_url, **kwargs)


@pytest.fixture(scope="module")
def running(dockerd: Any, square_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerRuntime]:
    """One square performer with limits, started once for the tests that only look at it."""
    runtime = _runtime(dockerd, square_image, tmp_path_factory.mktemp("running") / "square.log",
                       cpus=0.5, memory="256m")
    runtime.start(60)
    yield runtime
    runtime.close()


def test_serves_health_and_executes_tasks(running: DockerRuntime) -> None:
    assert running.endpoint() == f"127.0.0.1:{running.env.port}"
    assert check_health(running.endpoint())
    assert running.execute(TASK_ID, _word(7), timeout=10) == _word(49)
    with pytest.raises(PerformerError) as info:
        running.execute(TASK_ID, b"\x01", timeout=10)
    assert info.value.code == "INTERNAL"
    assert "task is invalid" in info.value.message


def test_limits_env_and_host_network_are_applied(running: DockerRuntime, docker_client: Any) -> None:
    attrs = docker_client.containers.get(running.container_name).attrs
    host_config = attrs["HostConfig"]
    assert host_config["NetworkMode"] == "host"
    assert host_config["NanoCpus"] == 500_000_000
    assert host_config["Memory"] == 256 * 1024 * 1024
    env = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
    assert env["PORT"] == str(running.env.port)
    assert env["L1_RPC_URL"] == "http://127.0.0.1:8545"
    assert env["TASK_MAILBOX"] == "0x" + "11" * 20
    assert env["HELLO_WORLD_L2"] == "0x" + "22" * 20
    assert env["GREETING"] == "hi there"
    assert attrs["Config"]["Labels"][MANAGED_LABEL] == "true"
    assert attrs["State"]["Running"]
    # ... and the kernel enforces them: the container's own cgroup (v2 or v1 layout) says so.
    code, out = running.container.exec_run(["python", "-c", _CGROUP_LIMITS])
    assert code == 0, out
    assert out.decode().split() == [str(256 * 1024 * 1024), "0.5"]


_CGROUP_LIMITS = """
from pathlib import Path
root = Path('/sys/fs/cgroup')
if (root / 'memory.max').exists():
    memory = (root / 'memory.max').read_text().strip()
    quota, period = (root / 'cpu.max').read_text().split()
else:
    memory = (root / 'memory/memory.limit_in_bytes').read_text().strip()
    quota = (root / 'cpu/cpu.cfs_quota_us').read_text().strip()
    period = (root / 'cpu/cpu.cfs_period_us').read_text().strip()
print(memory, int(quota) / int(period))
"""


def test_image_has_python_311_and_only_the_performer_dependencies(running: DockerRuntime) -> None:
    # cp311 wheels from the host fit only if the image's Python is 3.11; the SDK and the square example must
    # not need web3, eth-tester, py_ecc or the CLI's dependencies, and none of them is installed.
    script = ("import importlib.util, sys; import hourglass_cli.performer.server, "
              "hourglass_cli.performer.examples.square; "
              "print('%d.%d' % sys.version_info[:2], [m for m in ('web3', 'eth_tester', 'py_ecc', 'docker', "
              "'typer', 'pip') if importlib.util.find_spec(m)])")
    code, out = running.container.exec_run(["python", "-c", script])
    assert code == 0, out
    assert out.decode().strip() == "3.11 []"


def test_container_output_goes_to_the_log_file(running: DockerRuntime) -> None:
    running.execute(TASK_ID, _word(3), timeout=10)
    wanted = f"task task_id={TASK_ID.decode()} status=ok"
    deadline = time.monotonic() + 10
    while wanted not in running.log_path.read_text():  # the log follower copies the stream as it comes
        assert time.monotonic() < deadline, running.log_path.read_text()
        running.exited.wait(0.05)
    assert "performer listening" in running.log_path.read_text()


def test_killed_container_is_restarted_and_the_next_task_succeeds(running: DockerRuntime,
                                                                  docker_client: Any) -> None:
    first = running.container.id
    monitor = RuntimeMonitor(running, initial_backoff=0.05, check_interval=0.5)
    monitor.start()
    try:
        docker_client.containers.get(first).kill()
        assert monitor.wait_for_restarts(1, timeout=60), "the monitor did not restart the killed performer"
        assert running.is_alive()
        assert running.container.id != first
        assert running.execute(TASK_ID, _word(12), timeout=10) == _word(144)
    finally:
        monitor.stop()
    # The killed container was removed by the restart, not left behind.
    assert [c.id for c in _ours(docker_client, running.container_name)] == [running.container.id]


def test_stop_leaves_no_container(running: DockerRuntime, docker_client: Any) -> None:
    running.stop()
    assert not running.is_alive()
    assert _ours(docker_client, running.container_name) == []
    running.stop()  # idempotent


def test_a_stale_container_is_replaced_and_a_performer_that_exits_fails_start(
        dockerd: Any, docker_client: Any, base_image: str, tmp_path: Path) -> None:
    # An executor that died left its container; the new one removes it. Its performer exits at once: start
    # fails with the performer's output and leaves no container behind.
    runtime = _runtime(dockerd, base_image, tmp_path / "exits.log",
                       command=["python3", "-c", "import sys; print('performer boom'); sys.exit(3)"])
    stale = docker_client.containers.create(base_image, ["true"], name=runtime.container_name,
                                            labels={MANAGED_LABEL: "true"}, network_mode="host")
    try:
        with pytest.raises(RuntimeStartError) as info:
            runtime.start(30)
        assert "performer boom" in info.value.message
        assert _ours(docker_client, runtime.container_name) == []
        assert stale.id not in [c.id for c in docker_client.containers.list(all=True)]
    finally:
        runtime.close()


def test_a_foreign_container_of_the_same_name_is_not_touched(dockerd: Any, docker_client: Any, base_image: str,
                                                              tmp_path: Path) -> None:
    runtime = _runtime(dockerd, base_image, tmp_path / "foreign.log")
    foreign = docker_client.containers.create(base_image, ["true"], name=runtime.container_name)
    try:
        with pytest.raises(RuntimeStartError, match="exists and is not ours"):
            runtime.start(10)
        foreign.reload()
    finally:
        foreign.remove(force=True)
        runtime.close()


def test_missing_image_is_built_from_the_project_dockerfile(dockerd: Any, docker_client: Any, square_image: str,
                                                            tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "cube.py").write_text(
        "from eth_abi import decode, encode\n"
        "from hourglass_cli.performer import Performer\n\n"
        "class Cube(Performer):\n"
        "    def handle_task(self, request):\n"
        "        (n,) = decode(['uint256'], request.payload)\n"
        "        return encode(['uint256'], [n ** 3])\n")
    (project / "Dockerfile").write_text(
        f'FROM {square_image}\nCMD ["python", "-m", "hourglass_cli.performer", "cube:Cube"]\nCOPY cube.py /app/\n')
    tag = "hourglass-test/cube:latest"
    if docker_client.images.list(name=tag):
        docker_client.images.remove(tag, force=True)
    port = free_port()
    context = RuntimeContext(env=build_runtime_env(port), log_path=tmp_path / "cube.log", name="executor-0x01",
                             workdir=project)
    cls = runtime_class("docker")
    assert cls is DockerRuntime
    runtime = cls.from_settings({"image": tag, "dockerfile": "Dockerfile", "docker_host": dockerd.base_url,
                                 "startup_timeout": 60}, context)
    try:
        assert runtime.container_name == f"executor-0x01-{port}"
        runtime.start(60)
        assert runtime.execute(TASK_ID, _word(3), timeout=10) == _word(27)
        assert "Successfully built" in (tmp_path / "cube.log").read_text()
    finally:
        runtime.close()
        docker_client.images.remove(tag, force=True)


def test_settings_are_checked() -> None:
    context = RuntimeContext(env=build_runtime_env(9000), log_path=Path(os.devnull), name="x",
                             where="hourglass.toml: [performer]")
    with pytest.raises(ConfigError, match=r"\[performer\]\.memory"):
        DockerRuntime.from_settings({"memory": "lots"}, context)
    with pytest.raises(ConfigError, match=r"\[performer\]\.cpus"):
        DockerRuntime.from_settings({"cpus": "two"}, context)
    runtime = DockerRuntime.from_settings({"cpus": 1.5, "memory": "1.5g"}, context)
    assert runtime.image == "hourglass-performer/x:latest"
    assert runtime.nano_cpus == 1_500_000_000
    assert runtime.mem_limit == parse_memory("1536m") == 1536 * 1024 * 1024


def test_unreachable_dockerd_is_a_clear_start_error(tmp_path: Path) -> None:
    runtime = DockerRuntime("anything:latest", build_runtime_env(free_port()), tmp_path / "x.log",
                            base_url=f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(RuntimeStartError, match="cannot reach dockerd"):
        runtime.start(5)


def test_no_managed_container_is_left(docker_client: Any) -> None:
    # Last in the module: every runtime above has been closed.
    leftovers = remove_managed_containers(docker_client)
    assert leftovers == 0
