"""Building an AVS project's performer image (``[performer].runtime = "docker"``) against a local dockerd.

The project's Dockerfile builds ``FROM`` the local base image of
:mod:`hourglass_cli.executor.runtimes.docker_base` and installs offline from ``.hourglass/docker/`` in the
project: ``wheels/`` (a wheelhouse for the image's Python: the SDK's requirements and the project's
dependencies, pinned to the versions installed here) and ``sdk/`` (the hourglass-cli wheel, installed
without its dependencies). This module stages both, makes sure the base image exists and runs the build.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from hourglass_cli.config import ProjectConfig
from hourglass_cli.errors import HourglassError, ToolNotFoundError

STAGE_DIR = Path(".hourglass") / "docker"
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")


def default_image_tag(project_name: str) -> str:
    """``hourglass-performer/<project>:latest``."""
    return f"hourglass-performer/{project_name}:latest"


def docker_client(host: str = "") -> Any:
    """A docker SDK client for `host` (else ``$DOCKER_HOST``, else the default socket) that answered a ping."""
    import docker

    try:
        client = docker.DockerClient(base_url=host) if host else docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no dockerd there"
        where = host or os.environ.get("DOCKER_HOST") or "the default docker socket"
        raise ToolNotFoundError(f"cannot reach dockerd at {where}: {exc}",
                                hint="start dockerd, set DOCKER_HOST or [performer].docker_host, or use "
                                     "[performer].runtime = \"process\", which needs no Docker") from None
    return client


def project_requirements(project_dir: Path) -> list[str]:
    """The image's requirements: the SDK's plus the project's dependencies (hourglass-cli itself excluded),
    each pinned to the version installed here when it is installed, as written otherwise."""
    from hourglass_cli.executor.runtimes.docker_image import SDK_REQUIREMENTS

    declared: list[str] = []
    pyproject = project_dir / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise HourglassError(f"{pyproject}: cannot read it: {exc}") from None
        declared = [str(d) for d in data.get("project", {}).get("dependencies", [])]
    specs: dict[str, str] = {}
    for requirement in [*SDK_REQUIREMENTS, *declared]:
        match = _REQUIREMENT_NAME.match(requirement.split(";", 1)[0])
        if match is None:
            continue
        name, extras = match.group(1), match.group(2) or ""
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key == "hourglass-cli" or key in specs:
            continue
        try:
            specs[key] = f"{name}{extras}=={importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            specs[key] = requirement.strip()
    return sorted(specs.values())


def _sdk_wheel(dest: Path) -> Path:
    """Our wheel: built from the source checkout, or downloaded (this version, no dependencies) when installed."""
    from hourglass_cli import __version__
    from hourglass_cli.executor.runtimes.docker_image import ImageBuildError, sdk_wheel, source_checkout

    if source_checkout() is not None:
        return sdk_wheel(dest)
    dest.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--only-binary=:all:", "--dest", str(dest), f"hourglass-cli=={__version__}"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wheels = sorted(dest.glob("hourglass_cli-*.whl"))
    if done.returncode != 0 or not wheels:
        raise ImageBuildError(f"cannot get the hourglass-cli {__version__} wheel for the image:\n{done.stderr[-2000:]}",
                              hint="put it in .hourglass/docker/sdk/ yourself, or build from a source checkout")
    return wheels[-1]


def stage_build_inputs(project_dir: Path) -> Path:
    """Fill ``.hourglass/docker/`` with ``wheels/`` and ``sdk/``; returns that folder."""
    from hourglass_cli.executor.runtimes.docker_image import wheelhouse

    stage = project_dir / STAGE_DIR
    wheels, sdk = stage / "wheels", stage / "sdk"
    source = wheelhouse(project_requirements(project_dir))
    shutil.rmtree(wheels, ignore_errors=True)
    shutil.copytree(source, wheels)
    shutil.rmtree(sdk, ignore_errors=True)
    _sdk_wheel(sdk)
    return stage


def build_performer_image(project_dir: Path, config: ProjectConfig, *, log_path: Path,
                          client: Any = None) -> tuple[str, str]:
    """Build the project's performer image; returns (tag, image id). Needs a reachable dockerd."""
    from hourglass_cli.executor.runtimes.docker_base import ensure_base_image
    from hourglass_cli.executor.runtimes.docker_image import ImageBuildError, build_image

    dockerfile = config.performer.dockerfile or "Dockerfile"
    if not (project_dir / dockerfile).is_file():
        raise ImageBuildError(f"no Dockerfile at {project_dir / dockerfile}",
                              hint="set [performer].dockerfile, or restore the Dockerfile `hourglass avs init` made")
    own_client = client is None
    client = client or docker_client(config.performer.docker_host)
    try:
        ensure_base_image(client)
        stage_build_inputs(project_dir)
        tag = config.performer.image or default_image_tag(config.project.name)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as out:
            # No build labels: the classic builder adds them as one more step, which copies the whole
            # filesystem under the vfs storage driver.
            image_id = build_image(client, project_dir, dockerfile, tag, log_file=out)
        return tag, image_id
    finally:
        if own_client:
            client.close()
