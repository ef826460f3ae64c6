"""Building performer images: a generic :func:`build_image` (any context and Dockerfile) and the pieces of a
performer image made without any registry inside the build — a wheelhouse downloaded on the host for the
image's Python, our SDK's wheel, and a generated Dockerfile (:func:`performer_context`).

The image's Python is bookworm's 3.11 on the host's architecture, so the wheelhouse holds cp311 manylinux
wheels (pinned to the versions installed here, which the committed gRPC stubs were checked against) and the
image installs them with ``pip install --no-index --find-links``.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from hourglass_cli.errors import HourglassError
from hourglass_cli.executor.runtimes.docker_base import (
    BASE_PYTHON,
    BASE_TAG,
    PERFORMER_VENV as VENV,
    cache_dir,
    dpkg_architecture,
    file_lock,
)

log = logging.getLogger("hourglass.executor.docker")

SDK_REQUIREMENTS: tuple[str, ...] = ("grpcio", "grpcio-health-checking", "protobuf")
"""What ``hourglass_cli.performer`` imports besides the standard library (no web3, no eth-tester)."""
SQUARE_REQUIREMENTS: tuple[str, ...] = (*SDK_REQUIREMENTS, "eth-abi")
"""The example square performer's needs: the SDK plus eth-abi."""
_ARCH_TAGS = {"amd64": "x86_64", "arm64": "aarch64"}
_GLIBC_MINOR = 36  # bookworm's glibc 2.36: any manylinux_2_{17..36} wheel runs in the image
_WHEELHOUSE_RECIPE = 1


class ImageBuildError(HourglassError):
    """An image could not be built (Dockerfile error, missing wheel, dockerd refused)."""

    default_hint = "see the build log; the build runs without network access to any registry"


def pinned(names: Iterable[str]) -> list[str]:
    """``name==<installed version>`` for each distribution (unpinned if it is not installed here)."""
    specs = []
    for name in names:
        try:
            specs.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            specs.append(name)
    return specs


def _platform_args(arch: str) -> list[str]:
    machine = _ARCH_TAGS.get(arch, arch)
    args = [f"--platform=manylinux_2_{minor}_{machine}" for minor in range(_GLIBC_MINOR, 16, -1)]
    args.append(f"--platform=manylinux2014_{machine}")
    return args


def wheelhouse(requirements: Sequence[str], *, cache: Path | None = None, python: str = BASE_PYTHON) -> Path:
    """A folder of wheels (plus ``requirements.txt``) for ``requirements`` and their dependencies, built for
    the image's CPython ``python`` on Linux; cached by the sha256 of the requirements and target."""
    arch = dpkg_architecture()
    abi = "cp" + python.replace(".", "")
    key = hashlib.sha256(json.dumps({"req": sorted(requirements), "py": python, "arch": arch,
                                     "recipe": _WHEELHOUSE_RECIPE}).encode()).hexdigest()[:16]
    root = (cache or cache_dir()) / "wheelhouse"
    folder = root / f"{abi}-{arch}-{key}"
    with file_lock(root / ".lock"):
        if (folder / "requirements.txt").is_file():
            return folder
        partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
        argv = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                "--only-binary=:all:", f"--python-version={python}", "--implementation=cp", f"--abi={abi}",
                "--abi=abi3", "--abi=none", *_platform_args(arch), "--dest", str(partial), *requirements]
        log.info("wheelhouse download requirements=%s", " ".join(requirements))
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise ImageBuildError(f"pip download for the image (cp{python}, {arch}) failed:\n{done.stderr[-3000:]}",
                                  hint="each requirement needs a wheel for Linux and this Python on PyPI")
        (partial / "requirements.txt").write_text("\n".join(requirements) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)
        return folder


def source_checkout() -> Path | None:
    """The repository holding this ``hourglass_cli`` (None when it is installed from a wheel)."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() and (root / "hourglass_cli").is_dir() else None


def sdk_wheel(dest: Path) -> Path:
    """Build our own wheel (no dependencies) from the source checkout into ``dest``; returns its path."""
    root = source_checkout()
    if root is None:
        raise ImageBuildError("building the performer SDK wheel needs the hourglass source checkout",
                              hint="give the image a Dockerfile that installs hourglass-cli itself")
    dest.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                           "--no-deps", "--wheel-dir", str(dest), str(root)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wheels = sorted(dest.glob("hourglass_cli-*.whl"))
    if done.returncode != 0 or not wheels:
        raise ImageBuildError(f"pip wheel {root} failed:\n{done.stderr[-3000:]}")
    return wheels[-1]


def performer_dockerfile(command: Sequence[str], *, base: str = BASE_TAG, with_sdk: bool = True) -> str:
    """A Dockerfile for :func:`performer_context`'s layout, in as few steps as possible.

    Under the vfs storage driver each step copies the whole filesystem several times, so: PATH, cwd and
    unbuffered output come from the base image; the rarely changing steps (command, dependencies) come first
    and are cached; the SDK and the app arrive in one COPY and one RUN; the wheels are deleted in the step
    that installs them; the venv has no pip (the base's bundled pip wheel installs into it).
    """
    pip = (f"{VENV}/bin/python \"$(ls /usr/share/python-wheels/pip-*.whl)/pip\" install --quiet --no-cache-dir "
           "--disable-pip-version-check --no-index")
    install = [f"{pip} --find-links /opt/hourglass/payload/sdk --no-deps /opt/hourglass/payload/sdk/*.whl"] \
        if with_sdk else []
    lines = [
        f"FROM {base}",
        "CMD " + json.dumps(list(command)),
        "COPY wheels/ /opt/hourglass/wheels/",
        f"RUN python3 -m venv --without-pip {VENV} && {pip} --find-links /opt/hourglass/wheels "
        "-r /opt/hourglass/wheels/requirements.txt && rm -rf /opt/hourglass/wheels",
        "COPY payload/ /opt/hourglass/payload/",
        "RUN " + " && ".join([*install, "mkdir -p /app", "cp -a /opt/hourglass/payload/app/. /app/",
                              "rm -rf /opt/hourglass/payload"]),
    ]
    return "\n".join(lines) + "\n"


def performer_context(
    dest: Path,
    command: Sequence[str],
    *,
    requirements: Sequence[str] = SDK_REQUIREMENTS,
    app_dir: Path | None = None,
    include_sdk: bool = True,
    base: str = BASE_TAG,
    cache: Path | None = None,
) -> Path:
    """Assemble a build context in ``dest``: ``wheels/`` (pinned ``requirements``), ``payload/sdk/`` (our
    wheel), ``payload/app/`` (a copy of ``app_dir``, the container's cwd) and a ``Dockerfile`` running
    ``command``. Returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(wheelhouse(pinned(requirements), cache=cache), dest / "wheels", dirs_exist_ok=True)
    if include_sdk:
        sdk_wheel(dest / "payload" / "sdk")
    app = dest / "payload" / "app"
    if app_dir is not None:
        shutil.copytree(app_dir, app, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".git", ".venv", ".hourglass"))
    else:
        app.mkdir(parents=True, exist_ok=True)
    (dest / "Dockerfile").write_text(performer_dockerfile(command, base=base, with_sdk=include_sdk))
    return dest


def build_image(
    client: Any,
    context_dir: str | os.PathLike[str],
    dockerfile: str = "Dockerfile",
    tag: str = "",
    *,
    buildargs: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    log_file: IO[str] | None = None,
    timeout: float | None = 1800,
) -> str:
    """``docker build`` of ``context_dir`` with ``dockerfile`` (relative to it), tagged ``tag``; returns the
    image id. The build output goes to ``log_file`` line by line; ImageBuildError carries its tail."""
    context = Path(context_dir)
    if not (context / dockerfile).is_file():
        raise ImageBuildError(f"no Dockerfile at {context / dockerfile}")
    tail: list[str] = []
    image_id = ""
    try:
        stream = client.api.build(path=str(context), dockerfile=dockerfile, tag=tag or None, rm=True,
                                  forcerm=True, pull=False, decode=True, buildargs=dict(buildargs or {}),
                                  labels=dict(labels or {}), timeout=timeout)
        for chunk in stream:
            text = chunk.get("stream") or chunk.get("status") or ""
            if "error" in chunk:
                text = f"ERROR: {chunk['error']}\n"
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            if text:
                tail = (tail + [text])[-40:]
                if log_file is not None:
                    log_file.write(text)
                    log_file.flush()
            if "error" in chunk:
                raise ImageBuildError(f"building {tag or context} failed: {chunk['error'].strip()}\n"
                                      + "".join(tail).strip())
    except ImageBuildError:
        raise
    except Exception as exc:  # docker.errors.APIError, requests errors
        raise ImageBuildError(f"building {tag or context} failed: {exc}\n" + "".join(tail).strip()) from None
    if not image_id:
        image_id = client.images.get(tag).id if tag else ""
    if not image_id:
        raise ImageBuildError(f"building {context} produced no image id:\n" + "".join(tail).strip())
    return str(image_id)
