"""Fixtures for the docker runtime tests: a private dockerd (session), the locally built base image and an
image of the example square performer. Nothing is skipped: a dockerd that cannot start fails the tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.docker_env import PrivateDockerd, start_private_dockerd

SQUARE_TAG = "hourglass-test/square:latest"
SQUARE_SPEC = "hourglass_cli.performer.examples.square:SquarePerformer"
_timings: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _timings:
        text = " ".join(f"{name}={seconds:.1f}s" for name, seconds in _timings.items())
        terminalreporter.write_line(f"docker setup: {text}")


@pytest.fixture(scope="session")
def dockerd() -> Iterator[PrivateDockerd]:
    started = time.monotonic()
    try:
        env = start_private_dockerd()
    except Exception as exc:
        pytest.fail(f"cannot start the private dockerd: {exc}\n"
                    "install it with scripts/install-docker.sh (as root); these tests must not be skipped",
                    pytrace=False)
    _timings["dockerd_start"] = time.monotonic() - started
    yield env
    env.stop()


@pytest.fixture(scope="session")
def docker_client(dockerd: PrivateDockerd) -> Iterator[Any]:
    client = dockerd.client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    """``hourglass/python-base:bookworm``: imported from the cached rootfs, debootstrapped if there is none."""
    from hourglass_cli.executor.runtimes.docker_base import BASE_TAG, ensure_base_image

    started = time.monotonic()
    ensure_base_image(docker_client)
    _timings["base_image"] = time.monotonic() - started
    return BASE_TAG


@pytest.fixture(scope="session")
def square_image(docker_client: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example square performer on the base image: wheelhouse + our SDK wheel + a generated Dockerfile."""
    from hourglass_cli.executor.runtimes.docker_image import SQUARE_REQUIREMENTS, build_image, performer_context

    started = time.monotonic()
    context = performer_context(tmp_path_factory.mktemp("square-context"),
                                ["python", "-m", "hourglass_cli.performer", SQUARE_SPEC],
                                requirements=SQUARE_REQUIREMENTS, base=base_image)
    build_log = tmp_path_factory.mktemp("square-build") / "build.log"  # not in the context: it is sent to dockerd
    with build_log.open("w") as out:
        build_image(docker_client, context, "Dockerfile", SQUARE_TAG, log_file=out)
    # The image this tag had before (our SDK wheel changes with every edit) would stay in the cached data root
    # as a dangling full copy per layer under vfs: drop it.
    docker_client.images.prune(filters={"dangling": True})
    _timings["square_image"] = time.monotonic() - started
    return SQUARE_TAG
