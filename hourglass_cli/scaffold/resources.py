"""Where the project templates live, in a source checkout or an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

from hourglass_cli.errors import HourglassError

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_REPO_ROOT = _PACKAGE_DIR.parent
TEMPLATES_ENV = "HOURGLASS_TEMPLATES_DIR"


class TemplatesNotFoundError(HourglassError):
    """The templates folder of hourglass-cli cannot be found."""

    default_hint = "reinstall hourglass-cli, or set HOURGLASS_TEMPLATES_DIR to a folder of templates"


def templates_dir() -> Path:
    """The templates folder: $HOURGLASS_TEMPLATES_DIR, the wheel's data, or the checkout's `templates/`."""
    override = os.environ.get(TEMPLATES_ENV)
    if override:
        return Path(override)
    packaged = _PACKAGE_DIR / "_data" / "templates"
    if packaged.is_dir():
        return packaged
    checkout = _REPO_ROOT / "templates"
    if (_REPO_ROOT / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    raise TemplatesNotFoundError("cannot find the project templates of hourglass-cli")


def available_templates(base: Path | None = None) -> list[str]:
    """Names of the templates: every folder of the templates directory."""
    root = base or templates_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def template_path(name: str, base: Path | None = None) -> Path:
    """The folder of template ``name``; UsageError listing the available ones if there is none."""
    from hourglass_cli.errors import UsageError

    root = base or templates_dir()
    names = available_templates(root)
    if name not in names:
        listed = ", ".join(names) or "none"
        raise UsageError(f"unknown template {name!r}; available templates: {listed}",
                         hint=f"pass --template with one of: {listed}")
    return root / name
