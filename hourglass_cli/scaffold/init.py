"""`hourglass avs init`: render a project template into a new folder.

A template is a folder of ``templates/``: files ending in ``.j2`` are rendered with jinja2 (undefined
variables are errors), others are copied as they are; path parts may hold ``{{package}}``/``{{Package}}``
and a leading ``dot-`` becomes ``.`` (so ``dot-gitignore`` neither hides itself nor ignores files here).
Everything is rendered into a temporary folder beside the destination first, then moved into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hourglass_cli.errors import HourglassError, UsageError
from hourglass_cli.scaffold.names import ProjectNames, validate_name
from hourglass_cli.scaffold.resources import template_path

DEFAULT_TEMPLATE = "python"
_SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache"})
_SKIP_SUFFIXES = (".pyc", ".pyo")


class TemplateError(HourglassError):
    """A template could not be rendered (a bug in the template, not in the user's input)."""

    default_hint = "this is a bug in the template; report it with the message above"


@dataclass
class InitResult:
    """What `init_project` wrote: the project folder, its files (relative, posix) and which it replaced."""

    path: Path
    files: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    names: ProjectNames | None = None


def template_variables(names: ProjectNames) -> dict[str, Any]:
    """The variables every template is rendered with."""
    from hourglass_cli import __version__
    from hourglass_cli.executor.runtimes.docker_base import BASE_TAG, PERFORMER_VENV

    return {
        "name": names.name,
        "package": names.package,
        "Package": names.class_prefix,
        "hourglass_version": __version__,
        "base_image": BASE_TAG,
        "venv": PERFORMER_VENV,
    }


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def _render_text(env: Any, text: str, variables: dict[str, Any], where: str) -> str:
    import jinja2

    try:
        return env.from_string(text).render(**variables)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"cannot render {where}: {type(exc).__name__}: {exc}") from None


def _out_name(env: Any, part: str, variables: dict[str, Any], where: str) -> str:
    name = _render_text(env, part, variables, where) if "{" in part else part
    if name.startswith("dot-"):
        name = "." + name[len("dot-"):]
    if not name or name in (".", "..") or "/" in name or os.sep in name:
        raise TemplateError(f"{where} renders to an invalid file name {name!r}")
    return name


def render_template(template: Path, variables: dict[str, Any]) -> dict[str, tuple[bytes, int]]:
    """Every output file of ``template``: relative posix path → (content, permission bits)."""
    env = _environment()
    files: dict[str, tuple[bytes, int]] = {}
    for source in sorted(template.rglob("*")):
        rel = source.relative_to(template)
        if source.is_dir() or any(p in _SKIP_DIRS for p in rel.parts) or source.name.endswith(_SKIP_SUFFIXES):
            continue
        where = f"template file {rel.as_posix()}"
        parts = [_out_name(env, part, variables, where) for part in rel.parts]
        mode = source.stat().st_mode & 0o777
        if parts[-1].endswith(".j2"):
            parts[-1] = parts[-1][: -len(".j2")]
            content = _render_text(env, source.read_text(encoding="utf-8"), variables, where).encode("utf-8")
        else:
            content = source.read_bytes()
        out = "/".join(parts)
        if out in files:
            raise TemplateError(f"two template files render to {out}")
        files[out] = (content, mode)
    if not files:
        raise TemplateError(f"the template {template} has no files")
    return files


def _check_destination(dest: Path, files: dict[str, tuple[bytes, int]], force: bool) -> list[str]:
    """Refuse what cannot or must not be written; returns the template files that already exist."""
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a folder", hint="choose another --dir or NAME")
    if not dest.exists():
        return []
    entries = sorted(p.name for p in dest.iterdir())
    if entries and not force:
        shown = ", ".join(entries[:5]) + (", …" if len(entries) > 5 else "")
        raise UsageError(f"{dest} already exists and is not empty ({shown})",
                         hint="choose another --dir, or pass --force to write the template's files into it "
                              "(its other files are kept)")
    existing = []
    for rel in files:
        target = dest / rel
        for parent in list(reversed(Path(rel).parents))[1:]:
            if (dest / parent).exists() and not (dest / parent).is_dir():
                raise UsageError(f"{dest / parent} is a file, but the template puts a folder there",
                                 hint="move it away, or choose another --dir")
        if target.is_dir():
            raise UsageError(f"{target} is a folder, but the template puts a file there",
                             hint="move it away, or choose another --dir")
        if target.exists() or target.is_symlink():
            existing.append(rel)
    return existing


def _umask() -> int:
    """The process umask, read without changing it (Linux); 022 elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _write_tree(root: Path, files: dict[str, tuple[bytes, int]]) -> None:
    for rel, (content, mode) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.chmod(path, mode)


def create_project(name: str, dest_dir: str | os.PathLike[str] | None = None, template: str = DEFAULT_TEMPLATE,
                   force: bool = False) -> InitResult:
    """Render ``template`` for project ``name`` into ``dest_dir`` (default ``./name``); see :func:`init_project`."""
    dest = Path(dest_dir if dest_dir is not None else name).expanduser().absolute()
    names = validate_name(name, dest)
    source = template_path(template)
    files = render_template(source, template_variables(names))
    overwritten = _check_destination(dest, files, force)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.init-", dir=dest.parent))
    try:
        _write_tree(staging, files)
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp made it private
        if not dest.exists():
            os.rename(staging, dest)  # the whole project appears at once
        else:
            for rel in files:
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / rel, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return InitResult(path=dest, files=sorted(files), overwritten=sorted(overwritten), names=names)


def init_project(name: str, dest_dir: str | os.PathLike[str] | None = None, template: str = DEFAULT_TEMPLATE,
                 force: bool = False) -> Path:
    """Create the project ``name`` in ``dest_dir`` from ``template``; returns the project folder.

    Refuses an existing non-empty folder unless ``force``; with ``force`` only the template's files are
    (over)written and nothing else is touched.
    """
    return create_project(name, dest_dir, template, force).path
