"""The docker runtime's performer image on the devnet: made sure of once, by the supervisor, before any executor.

Every executor runs the project's image (``[performer].image``, default the tag `hourglass avs build` gives,
``hourglass-performer/<project>:latest``). When dockerd does not have it, the supervisor builds it once from the
project folder the way `hourglass avs build` does (local base image, staged wheelhouse); executors then find it
instead of each building their own.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hourglass_cli.errors import DevnetError, HourglassError

if TYPE_CHECKING:
    from hourglass_cli.devnet.supervisor import Supervisor


def docker_client(host: str = "") -> Any:
    """`avs build`'s docker client (same dockerd rules), failing as a devnet error."""
    from hourglass_cli.errors import ToolNotFoundError
    from hourglass_cli.scaffold.docker import docker_client as reach

    try:
        return reach(host)
    except ToolNotFoundError as exc:
        raise DevnetError(exc.message, hint=exc.hint) from None


def ensure_performer_image(sup: Supervisor) -> None:
    """Build the project's performer image if dockerd lacks it (docker runtime only)."""
    perf = sup.options.performer
    if perf.get("runtime") != "docker":
        return
    import docker.errors

    t = time.monotonic()
    image = str(perf["image"])
    client = docker_client(str(perf.get("docker_host") or ""))
    try:
        try:
            client.images.get(image)
            sup.step(f"performer image {image} (cached)", "performer_image", t)
            return
        except docker.errors.ImageNotFound:
            pass
        from hourglass_cli.config import ProjectConfig, load_config
        from hourglass_cli.scaffold.docker import build_performer_image

        o = sup.options
        config = load_config(o.config_file) if o.config_file else ProjectConfig()
        log_path = sup.logs / "performer-image.log"
        try:
            tag, _ = build_performer_image(Path(o.project_dir), config, log_path=log_path, client=client)
        except HourglassError as exc:
            raise DevnetError(f"building the performer image {image} failed: {exc.message}",
                              hint=f"see {log_path}, or run `hourglass avs build`") from None
        if tag != image:
            raise DevnetError(f"the project's image is tagged {tag}, the executors expect {image}")
        sup.step(f"performer image {image} built", "performer_image", t)
    finally:
        client.close()
