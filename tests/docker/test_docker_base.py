"""Base image and image-build helpers that need no dockerd: apt sources, mirror choice, cache keys, the
generated performer Dockerfile, pinned requirements."""

from __future__ import annotations

from pathlib import Path

import pytest

from hourglass_cli.executor.runtimes.docker_base import (
    BASE_PACKAGES,
    AptSource,
    BaseImageError,
    apt_sources,
    debian_mirror,
    rootfs_key,
)
from hourglass_cli.executor.runtimes.docker_image import SDK_REQUIREMENTS, performer_dockerfile, pinned

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main
"""


def _etc_apt(tmp_path: Path, sources_list: str = "", **parts: str) -> Path:
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list").write_text(sources_list)
    for name, text in parts.items():
        (etc / "sources.list.d" / name.replace("__", ".")).write_text(text)
    return etc


def test_deb822_and_one_line_sources_are_read(tmp_path: Path) -> None:
    etc = _etc_apt(tmp_path, "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n",
                   debian__sources=DEB822, off__sources="Types: deb\nURIs: http://off.example\nSuites: x\n"
                   "Components: main\nEnabled: no\n", ignored__disabled="deb http://no.example/debian bookworm main\n")
    sources = apt_sources(etc)
    assert sources[0] == AptSource("http://one.example/debian", ("bookworm",), ("main",), "/k.gpg")
    assert [s.uri for s in sources] == ["http://one.example/debian", "http://mirror.example/debian",
                                        "http://security.example/debian-security"]
    assert sources[1].suites == ("bookworm", "bookworm-updates")
    assert sources[1].signed_by == "/usr/share/keyrings/debian-archive-keyring.gpg"


def test_the_mirror_is_a_main_archive_not_security(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOURGLASS_DEBIAN_MIRROR", raising=False)
    etc = _etc_apt(tmp_path, "deb http://security.example/debian-security bookworm-security main\n",
                   debian__sources=DEB822)
    assert debian_mirror(etc).uri == "http://mirror.example/debian"
    monkeypatch.setenv("HOURGLASS_DEBIAN_MIRROR", "http://override.example/debian/")
    assert debian_mirror(etc).uri == "http://override.example/debian"


def test_no_debian_archive_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOURGLASS_DEBIAN_MIRROR", raising=False)
    etc = _etc_apt(tmp_path, "deb https://packages.example/apt cloud-sdk-bookworm main\n")
    with pytest.raises(BaseImageError) as info:
        debian_mirror(etc)
    assert "HOURGLASS_DEBIAN_MIRROR" in (info.value.hint or "")


def test_the_host_apt_config_names_a_mirror() -> None:
    # The machine the tests run on is the one the base image is built on.
    assert debian_mirror().uri.startswith(("http://", "https://"))


def test_rootfs_key_covers_every_input() -> None:
    mirror = AptSource("http://a.example/debian", ("bookworm",), ("main",))
    key = rootfs_key(mirror, "bookworm", "amd64", BASE_PACKAGES)
    assert key == rootfs_key(mirror, "bookworm", "amd64", tuple(reversed(BASE_PACKAGES)))
    assert key != rootfs_key(AptSource("http://b.example/debian", (), ()), "bookworm", "amd64", BASE_PACKAGES)
    assert key != rootfs_key(mirror, "trixie", "amd64", BASE_PACKAGES)
    assert key != rootfs_key(mirror, "bookworm", "arm64", BASE_PACKAGES)
    assert key != rootfs_key(mirror, "bookworm", "amd64", (*BASE_PACKAGES, "curl"))


def test_performer_dockerfile_installs_offline_in_few_steps() -> None:
    text = performer_dockerfile(["python", "-m", "hourglass_cli.performer", "m:C"], base="base:1")
    lines = text.splitlines()
    assert lines[0] == "FROM base:1"
    assert lines[1] == 'CMD ["python", "-m", "hourglass_cli.performer", "m:C"]'
    assert len(lines) == 6  # FROM, CMD, COPY wheels, RUN deps, COPY payload, RUN sdk+app
    assert all("--no-index" in line for line in lines if "pip\" install" in line)
    assert "rm -rf /opt/hourglass/wheels" in lines[3]


def test_requirements_are_pinned_to_the_installed_versions() -> None:
    import grpc

    specs = pinned([*SDK_REQUIREMENTS, "surely-not-installed-dist"])
    assert f"grpcio=={grpc.__version__}" in specs
    assert specs[-1] == "surely-not-installed-dist"
