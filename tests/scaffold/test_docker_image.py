"""`hourglass avs build` with the docker runtime: the generated Dockerfile builds on the local base image against a
private dockerd, and the image serves tasks as the executor's docker runtime runs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hourglass_cli.scaffold.build import build_project, free_port
from tests.scaffold.conftest import NAME, set_performer, without_contracts

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("on_venv_path")]


@pytest.fixture(scope="module")
def docker_host() -> Iterator[str]:
    """A private dockerd (tests/docker_env.py); one that cannot start fails the test, it is never skipped."""
    from tests.docker_env import start_private_dockerd

    try:
        dockerd = start_private_dockerd()
    except Exception as exc:
        pytest.fail(f"cannot start the private dockerd: {exc}\ninstall it with scripts/install-docker.sh (as root)",
                    pytrace=False)
    yield dockerd.base_url
    dockerd.stop()


def test_the_image_builds_and_serves(project: Path, docker_host: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import docker
    from eth_abi import decode, encode

    from hourglass_cli.executor.runtimes.base import build_runtime_env
    from hourglass_cli.executor.runtimes.docker import DockerRuntime

    # The dockerd named in [performer].docker_host, as the devnet's executors use it (DOCKER_HOST unset; the
    # journey test in tests/docker covers $DOCKER_HOST).
    set_performer(project, runtime='"docker"', docker_host=f'"{docker_host}"')
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    report = build_project(without_contracts(project))
    tag = f"hourglass-performer/{NAME}:latest"
    assert report.image == tag and report.steps[-1].detail.startswith(f"built {tag} (sha256:")
    staged = project / ".hourglass" / "docker"
    assert (staged / "wheels" / "requirements.txt").is_file() and list((staged / "sdk").glob("hourglass_cli-*.whl"))

    client = docker.DockerClient(base_url=docker_host)
    runtime = DockerRuntime(tag, build_runtime_env(free_port()), tmp_path / "performer.log", base_url=docker_host)
    try:
        runtime.start(60)
        result = runtime.execute(b"0x" + b"cd" * 32, encode(["uint256"], [12]), timeout=30)
        assert decode(["uint256"], result) == (144,)
        listing = client.containers.run(tag, ["sh", "-c", "ls -A /app; ls /app/square_avs"], remove=True).decode()
        assert listing.split() == ["square_avs", "__init__.py", "__main__.py", "performer.py"]
    finally:
        runtime.close()
        client.images.remove(tag, force=True)
        client.images.prune(filters={"dangling": True})
        client.close()
