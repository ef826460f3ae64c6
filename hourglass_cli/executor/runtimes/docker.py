"""The ``docker`` runtime: run the performer image through dockerd (docker SDK) with host networking.

The container shares the host's network namespace, so the performer listens on 127.0.0.1:``PORT`` exactly as
under the process runtime (no port publishing, no bridge needed: it also works with a dockerd started with
``--bridge=none --iptables=false``). It gets ``PORT`` and the chain/contract variables of WIRE.md §1, the
configured CPU and memory limits, a name unique per executor and labels to find it again; its output is
streamed to the runtime's log file. The image is built from the project's Dockerfile when it is missing.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from hourglass_cli.errors import ConfigError
from hourglass_cli.executor.runtimes.base import (
    PerformerRuntime,
    RuntimeContext,
    RuntimeEnv,
    RuntimeStartError,
    wait_for_health,
)

log = logging.getLogger("hourglass.executor.runtime")

MANAGED_LABEL = "org.hourglass.managed"
NAME_LABEL = "org.hourglass.performer"
RUNTIME_LABEL = "org.hourglass.runtime"
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kmg]?)$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_LOG_TAIL_BYTES = 4000


def parse_memory(text: str) -> int | None:
    """``"512m"`` → bytes (k/m/g are powers of 1024); empty → None (no limit)."""
    text = text.strip()
    if not text:
        return None
    match = _SIZE.match(text)
    if not match:
        raise ConfigError(f"memory limit {text!r} is not a number with an optional k/m/g suffix")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def container_name(name: str, port: int) -> str:
    """A valid container name for one executor's performer (the port tells executors' performers apart)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]+", "-", name).strip("-._") or "performer"
    return f"{cleaned}-{port}"


def _tail(path: Path, limit: int = _LOG_TAIL_BYTES) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            return fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


class DockerRuntime(PerformerRuntime):
    """Runs ``image`` with ``network_mode="host"``; the performer serves gRPC on 127.0.0.1:``env.port``."""

    name: ClassVar[str] = "docker"

    def __init__(
        self,
        image: str,
        env: RuntimeEnv,
        log_path: str | os.PathLike[str],
        *,
        container: str = "",
        base_url: str | None = None,
        build_context: str | os.PathLike[str] | None = None,
        dockerfile: str = "Dockerfile",
        command: Sequence[str] | None = None,
        cpus: float = 0.0,
        memory: str = "",
        labels: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        start_deadline_s: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__()
        if not image:
            raise ConfigError("the docker runtime needs an image tag")
        if cpus < 0:
            raise ConfigError(f"the CPU limit must be >= 0, got {cpus}")
        self.image = image
        self.env = env
        self.log_path = Path(log_path)
        self.container_name = container or container_name("hourglass-performer", env.port)
        self.base_url = base_url
        self.build_context = Path(build_context) if build_context is not None else None
        self.dockerfile = dockerfile
        self.command = list(command) if command else None
        self.nano_cpus = int(cpus * 1e9) if cpus else None
        self.mem_limit = parse_memory(memory)
        self.labels = {MANAGED_LABEL: "true", RUNTIME_LABEL: self.name, NAME_LABEL: self.container_name,
                       **(labels or {})}
        self.host = host
        self.start_deadline_s = start_deadline_s
        self.stop_timeout = stop_timeout
        self._client_obj: Any = None
        self._container: Any = None
        self._lock = threading.RLock()
        self._followers: list[threading.Thread] = []

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], context: RuntimeContext) -> DockerRuntime:
        """Keys: ``image`` (default ``hourglass-performer/<name>:latest``), ``build_context`` (the folder a
        missing image is built from; default the config file's folder), ``dockerfile`` (relative to it),
        ``cpus``, ``memory``, ``startup_timeout``, ``docker_host`` (default ``$DOCKER_HOST``)."""
        image = str(settings.get("image") or "")
        if not image:
            image = "hourglass-performer/" + (re.sub(r"[^a-z0-9_.-]+", "-", context.name.lower()).strip("-.")
                                              or "performer") + ":latest"
        dockerfile = str(settings.get("dockerfile") or "Dockerfile")
        try:
            cpus = float(settings.get("cpus", 0.0) or 0.0)
        except (TypeError, ValueError):
            raise ConfigError(f"{context.where}.cpus must be a number, got {settings.get('cpus')!r}") from None
        memory = str(settings.get("memory", "") or "")
        try:
            parse_memory(memory)
        except ConfigError as exc:
            raise ConfigError(f"{context.where}.memory: {exc.message}") from None
        build_context = Path(context.workdir)
        if settings.get("build_context"):
            build_context = build_context / Path(str(settings["build_context"])).expanduser()
        return cls(image, context.env, context.log_path, container=container_name(context.name, context.env.port),
                   base_url=settings.get("docker_host") or None, build_context=build_context,
                   dockerfile=dockerfile, cpus=cpus, memory=memory,
                   start_deadline_s=float(settings.get("startup_timeout", 60.0)))

    # -- docker --

    def client(self) -> Any:
        """The docker SDK client (``base_url``, else ``$DOCKER_HOST``, else the default socket)."""
        with self._lock:
            if self._client_obj is None:
                import docker

                try:
                    client = (docker.DockerClient(base_url=self.base_url) if self.base_url
                              else docker.from_env())
                    client.ping()
                except Exception as exc:
                    where = self.base_url or os.environ.get("DOCKER_HOST") or "the default docker socket"
                    raise RuntimeStartError(f"cannot reach dockerd at {where}: {exc}",
                                            hint="start dockerd, or set DOCKER_HOST / [performer].docker_host") \
                        from None
                self._client_obj = client
            return self._client_obj

    def ensure_image(self) -> str:
        """The image id of ``image``; builds it from ``build_context``/``dockerfile`` when it is missing."""
        import docker.errors

        client = self.client()
        try:
            return str(client.images.get(self.image).id)
        except docker.errors.ImageNotFound:
            pass
        if self.build_context is None or not (self.build_context / self.dockerfile).is_file():
            where = (self.build_context / self.dockerfile) if self.build_context else "no build context"
            raise RuntimeStartError(f"the performer image {self.image!r} is not in dockerd and there is no "
                                    f"Dockerfile to build it ({where})",
                                    hint="build it (`hourglass avs build`) or set [performer].image")
        from hourglass_cli.executor.runtimes.docker_image import build_image

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log.info("performer image build image=%s context=%s", self.image, self.build_context)
        with self.log_path.open("a") as out:
            return build_image(client, self.build_context, self.dockerfile, self.image,
                               labels={MANAGED_LABEL: "true"}, log_file=out)

    def _remove_stale(self) -> None:
        """A container with our name left by an executor that died: remove it if it is ours (labelled)."""
        import docker.errors

        try:
            stale = self.client().containers.get(self.container_name)
        except docker.errors.NotFound:
            return
        if (stale.labels or {}).get(MANAGED_LABEL) != "true":
            raise RuntimeStartError(f"a container named {self.container_name!r} exists and is not ours",
                                    hint="remove it, or give this executor another name")
        log.info("performer stale container removed container=%s", self.container_name)
        stale.remove(force=True)

    def _run(self) -> Any:
        import docker.errors

        options: dict[str, Any] = {}
        if self.nano_cpus:
            options["nano_cpus"] = self.nano_cpus
        if self.mem_limit:
            options["mem_limit"] = self.mem_limit
        try:
            return self.client().containers.run(
                self.image, self.command, detach=True, name=self.container_name, network_mode="host",
                environment=dict(self.env.env), labels=self.labels, auto_remove=False, stdin_open=False,
                **options)
        except docker.errors.APIError as exc:
            raise RuntimeStartError(f"dockerd refused to run {self.image}: {exc.explanation or exc}") from None

    def _follow(self, container: Any) -> None:
        """Copy the container's output to the log file until it exits, then wake the monitor if unexpected."""
        try:
            with self.log_path.open("ab") as out:
                for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                    out.write(chunk)
                    out.flush()
        except Exception as exc:  # dockerd went away or the container was removed under us
            log.debug("performer log stream ended container=%s error=%s", container.short_id, exc)
        if self._container is container:
            try:
                code = container.wait(timeout=5).get("StatusCode")
            except Exception:
                code = None
            if self._container is container:
                log.warning("performer exited runtime=docker container=%s exit_code=%s", container.short_id, code)
                self.exited.set()

    # -- PerformerRuntime --

    def endpoint(self) -> str:
        return f"{self.host}:{self.env.port}"

    @property
    def container(self) -> Any:
        """The running container object (None when stopped)."""
        return self._container

    def is_alive(self) -> bool:
        container = self._container
        if container is None:
            return False
        try:
            container.reload()
        except Exception:  # gone, or dockerd unreachable: the monitor will try to restart
            return False
        return container.status == "running"

    def start(self, deadline_s: float) -> None:
        """Build the image if missing, replace a stale container of our name, run, wait ``deadline_s`` for
        SERVING (an image build is not counted in it)."""
        with self._lock:
            if self.is_alive():
                return
            self.ensure_image()
            self._remove_stale()
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            container = self._run()
            self._container = container
            self.exited.clear()
            follower = threading.Thread(target=self._follow, args=(container,), daemon=True,
                                        name=f"performer-logs-{container.short_id}")
            follower.start()
            self._followers = [t for t in self._followers if t.is_alive()] + [follower]
        log.info("performer started runtime=docker container=%s name=%s image=%s endpoint=%s log=%s",
                 container.short_id, self.container_name, self.image, self.endpoint(), self.log_path)
        try:
            wait_for_health(self.endpoint(), deadline_s, alive=self.is_alive)
        except RuntimeStartError as exc:
            status = self._container.status if self._container is not None else "gone"
            self.stop(timeout=2.0)
            tail = _tail(self.log_path).strip()
            raise RuntimeStartError(f"{exc.message} (container {status})"
                                    + (f"; last output:\n{tail}" if tail else ""),
                                    hint=f"see {self.log_path}") from None

    def stop(self, timeout: float | None = None) -> None:
        import docker.errors

        with self._lock:
            container, self._container = self._container, None
        if container is None:
            return
        wait = self.stop_timeout if timeout is None else timeout
        try:
            container.stop(timeout=max(0, int(round(wait))))  # SIGTERM, then SIGKILL after ``wait`` seconds
        except docker.errors.NotFound:
            pass
        except Exception as exc:
            log.warning("performer stop failed container=%s error=%s; removing it", container.short_id, exc)
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except Exception as exc:  # dockerd gone or busy: a later start removes it as a stale container
            log.warning("performer remove failed container=%s error=%s", container.short_id, exc)
        for follower in self._followers:
            follower.join(timeout=5)
        self._followers = [t for t in self._followers if t.is_alive()]
        log.info("performer stopped runtime=docker container=%s", container.short_id)

    def close(self) -> None:
        """Stop the container, close the channel and the docker client."""
        try:
            super().close()
        finally:
            with self._lock:
                client, self._client_obj = self._client_obj, None
            if client is not None:
                client.close()


def remove_managed_containers(client: Any, name: str | None = None) -> int:
    """Remove containers this runtime created (all of them, or the one performer ``name``); returns the count."""
    filters = {"label": [f"{MANAGED_LABEL}=true"] + ([f"{NAME_LABEL}={name}"] if name else [])}
    removed = 0
    for container in client.containers.list(all=True, filters=filters):
        container.remove(force=True)
        removed += 1
    return removed
