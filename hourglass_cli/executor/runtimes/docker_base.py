"""The performer base image, built locally: a Debian ``minbase`` rootfs from ``debootstrap``, imported into
dockerd as ``hourglass/python-base:bookworm`` (no Docker registry needed).

The mirror is the one this machine's apt uses (``/etc/apt/sources.list`` and ``sources.list.d``), or
``$HOURGLASS_DEBIAN_MIRROR``. The rootfs tarball is cached under :func:`cache_dir` keyed by the sha256 of
every input (mirror, suite, architecture, packages, recipe), so a fresh dockerd data root re-imports it in
seconds instead of running debootstrap again. Building images on top: :mod:`.docker_image`.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hourglass_cli.errors import HourglassError

log = logging.getLogger("hourglass.executor.docker")

BASE_REPOSITORY = "hourglass/python-base"
BASE_SUITE = "bookworm"
BASE_TAG = f"{BASE_REPOSITORY}:{BASE_SUITE}"
BASE_PYTHON = "3.11"
"""bookworm's python3: host cp311 wheels fit the image (see :mod:`.docker_image`)."""
BASE_PACKAGES: tuple[str, ...] = ("python3", "python3-venv")
"""minbase + these give ``python3 -m venv`` with pip (python3.11-venv ships the pip and setuptools wheels)."""
KEY_LABEL = "org.hourglass.base-key"
PERFORMER_VENV = "/opt/performer"
IMAGE_CHANGES: tuple[str, ...] = (
    # Set at import so performer Dockerfiles need no ENV/WORKDIR steps: under the vfs storage driver every
    # build step copies the whole filesystem, twice or more.
    "ENV LANG=C.UTF-8",
    f"ENV PATH={PERFORMER_VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV PYTHONUNBUFFERED=1",
    "WORKDIR /app",
    'CMD ["python3"]',
)
"""The image config of the base: the performer venv first on PATH, unbuffered output, ``/app`` as cwd."""
_RECIPE = 1  # bump when the way the rootfs is made changes: it is part of the cache key
_SLIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info",
         "usr/share/locale", "var/log")
_MNT_DETACH = 2


class BaseImageError(HourglassError):
    """The base image could not be built (no mirror, debootstrap failed, import failed)."""

    default_hint = "run scripts/install-docker.sh (as root) to install debootstrap and dockerd"


def cache_dir() -> Path:
    """``$HOURGLASS_CACHE_DIR``, else ``$XDG_CACHE_HOME/hourglass``, else ``~/.cache/hourglass``."""
    explicit = os.environ.get("HOURGLASS_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "hourglass"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- where the Debian packages come from -----------------------------------------------------------------


@dataclass(frozen=True)
class AptSource:
    """One ``deb`` entry of the apt configuration."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str = ""


def _one_line_sources(text: str) -> Iterator[AptSource]:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        signed_by = ""
        options = re.match(r"deb\s+\[([^\]]*)\]\s*", line)
        if options:
            for option in options.group(1).split():
                name, _, value = option.partition("=")
                if name == "signed-by":
                    signed_by = value
            rest = line[options.end():].split()
        else:
            rest = line.split()[1:]
        if len(rest) >= 2:
            yield AptSource(rest[0].rstrip("/"), (rest[1],), tuple(rest[2:]), signed_by)


def _deb822_sources(text: str) -> Iterator[AptSource]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0].isspace() and key:  # continuation (e.g. an inline Signed-By key)
                fields[key] += "\n" + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        signed_by = fields.get("signed-by", "")
        for uri in fields.get("uris", "").split():
            yield AptSource(uri.rstrip("/"), tuple(fields.get("suites", "").split()),
                            tuple(fields.get("components", "").split()), signed_by)


def apt_sources(etc_apt: Path = Path("/etc/apt")) -> list[AptSource]:
    """Every enabled ``deb`` source apt reads: ``sources.list``, ``sources.list.d/*.list`` and ``*.sources``."""
    found: list[AptSource] = []
    files = [etc_apt / "sources.list"] + sorted((etc_apt / "sources.list.d").glob("*"))
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.name == "sources.list" or path.suffix == ".list":
            found.extend(_one_line_sources(text))
        elif path.suffix == ".sources":
            found.extend(_deb822_sources(text))
    return found


def debian_mirror(etc_apt: Path = Path("/etc/apt")) -> AptSource:
    """The Debian archive apt uses here (a ``main`` source with a release suite, not security/updates).

    ``$HOURGLASS_DEBIAN_MIRROR`` overrides it. BaseImageError if apt knows no Debian archive.
    """
    override = os.environ.get("HOURGLASS_DEBIAN_MIRROR")
    if override:
        return AptSource(override.rstrip("/"), (BASE_SUITE,), ("main",))
    sources = apt_sources(etc_apt)
    for source in sources:
        release_suites = [s for s in source.suites if "-" not in s and "/" not in s]
        if ("main" in source.components and release_suites and source.uri.startswith(("http://", "https://"))
                and "security" not in source.uri):
            return source
    raise BaseImageError(
        f"no Debian archive in the apt sources of {etc_apt} (found: {[s.uri for s in sources] or 'none'})",
        hint="set HOURGLASS_DEBIAN_MIRROR to a Debian mirror URL, e.g. http://deb.debian.org/debian")


def dpkg_architecture() -> str:
    """This machine's Debian architecture (``amd64``, ``arm64``)."""
    try:
        return subprocess.run(["dpkg", "--print-architecture"], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BaseImageError(f"cannot ask dpkg for the architecture: {exc}",
                             hint="the base image is built on Debian/Ubuntu hosts") from None


# --- rootfs ---------------------------------------------------------------------------------------------


def unmount_under(root: Path) -> list[str]:
    """Detach every mount at or below ``root`` (deepest first); returns the mount points detached."""
    prefix = str(root.resolve())
    points: list[str] = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    umount2 = ctypes.CDLL(None, use_errno=True).umount2
    for point in sorted(set(points), key=len, reverse=True):
        if umount2(point.encode(), _MNT_DETACH) != 0:
            log.warning("umount failed point=%s errno=%d", point, ctypes.get_errno())
    return points


def remove_tree(path: Path) -> None:
    """Unmount anything below ``path``, then delete it."""
    if path.exists():
        unmount_under(path)
        shutil.rmtree(path, ignore_errors=True)


def _tail(path: Path, limit: int = 3000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", errors="replace")


def rootfs_key(mirror: AptSource, suite: str, arch: str, packages: Sequence[str]) -> str:
    """sha256 of every input of the rootfs."""
    inputs = {"mirror": mirror.uri, "suite": suite, "arch": arch, "packages": sorted(packages), "recipe": _RECIPE}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def rootfs_tarball(
    *,
    suite: str = BASE_SUITE,
    packages: Sequence[str] = BASE_PACKAGES,
    mirror: AptSource | None = None,
    cache: Path | None = None,
) -> tuple[Path, str]:
    """The cached minbase rootfs tarball and its key; runs ``debootstrap`` (as root) when it is missing."""
    mirror = mirror or debian_mirror()
    arch = dpkg_architecture()
    key = rootfs_key(mirror, suite, arch, packages)
    folder = (cache or cache_dir()) / "docker-base"
    tarball = folder / f"rootfs-{suite}-{arch}-{key[:16]}.tar"
    with file_lock(folder / ".lock"):
        if tarball.is_file():
            return tarball, key
        debootstrap = shutil.which("debootstrap") or ("/usr/sbin/debootstrap"
                                                      if os.path.exists("/usr/sbin/debootstrap") else None)
        if debootstrap is None:
            raise BaseImageError("debootstrap is not installed")
        if os.geteuid() != 0:
            raise BaseImageError("debootstrap must run as root to build the base image",
                                 hint="run the build as root once; the tarball is cached afterwards")
        work = folder / f"build-{os.getpid()}"
        remove_tree(work)
        target = work / "rootfs"
        target.mkdir(parents=True)
        log_path = folder / "debootstrap.log"
        argv = [debootstrap, "--variant=minbase", f"--arch={arch}", f"--include={','.join(packages)}"]
        if mirror.signed_by.startswith("/") and os.path.isfile(mirror.signed_by):
            argv.append(f"--keyring={mirror.signed_by}")
        argv += [suite, str(target), mirror.uri]
        log.info("debootstrap start suite=%s mirror=%s packages=%s", suite, mirror.uri, ",".join(packages))
        try:
            with log_path.open("wb") as out:
                code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                      env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}).returncode
            unmount_under(target)  # debootstrap mounts proc/sys in the target; never leave them behind
            if code != 0:
                raise BaseImageError(f"debootstrap failed (exit {code}); last output:\n{_tail(log_path)}",
                                     hint=f"full log: {log_path}; check the mirror {mirror.uri}")
            for rel in _SLIM:
                for child in (target / rel).glob("*"):
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    elif child.name not in ("lock", "partial"):
                        child.unlink()
            partial = tarball.with_suffix(".tar.part")
            subprocess.run(["tar", "--numeric-owner", "-C", str(target), "-cf", str(partial),
                            "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "."], check=True)
            os.replace(partial, tarball)
        finally:
            remove_tree(work)
        log.info("debootstrap done tarball=%s bytes=%d", tarball, tarball.stat().st_size)
        return tarball, key


# --- the image ------------------------------------------------------------------------------------------


def image_key_for(rootfs: str) -> str:
    """The base image's key: its rootfs key and its config."""
    return hashlib.sha256(json.dumps([rootfs, IMAGE_CHANGES]).encode()).hexdigest()


def image_key(client: Any, tag: str) -> str | None:
    """The base key label of the image ``tag`` (None if there is no such image)."""
    import docker.errors

    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    return (image.labels or {}).get(KEY_LABEL, "")


def ensure_base_image(
    client: Any,
    tag: str = BASE_TAG,
    *,
    suite: str = BASE_SUITE,
    packages: Sequence[str] = BASE_PACKAGES,
    mirror: AptSource | None = None,
    cache: Path | None = None,
) -> str:
    """Make sure ``tag`` exists in dockerd (import the cached ``suite`` rootfs, debootstrapping it if needed).

    An image already tagged ``tag`` is kept when its key label matches the current inputs (or when no mirror
    can be determined, e.g. on a machine without apt: then whatever is there is used). Returns the image id.
    """
    repository, _, version = tag.rpartition(":")
    existing = image_key(client, tag)
    old_id = str(client.images.get(tag).id) if existing is not None else None
    try:
        mirror = mirror or debian_mirror()
        key = image_key_for(rootfs_key(mirror, suite, dpkg_architecture(), packages))
    except BaseImageError:
        if old_id is not None:
            return old_id
        raise
    if existing == key and old_id is not None:
        return old_id
    tarball, _ = rootfs_tarball(suite=suite, packages=packages, mirror=mirror, cache=cache)
    changes = [*IMAGE_CHANGES, f"LABEL {KEY_LABEL}={key}"]
    log.info("base image import tag=%s tarball=%s", tag, tarball)
    try:
        client.api.import_image_from_file(str(tarball), repository=repository, tag=version, changes=changes)
    except Exception as exc:  # docker.errors.APIError, requests errors
        raise BaseImageError(f"importing {tarball} as {tag} failed: {exc}") from None
    if image_key(client, tag) != key:
        raise BaseImageError(f"dockerd did not keep the imported image {tag}")
    new_id = str(client.images.get(tag).id)
    if old_id is not None and old_id != new_id:
        with contextlib.suppress(Exception):  # still used by images built on it: then it stays
            client.images.remove(old_id)
    return new_id
