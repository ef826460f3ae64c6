"""Project names: the `[project].name` rule of hourglass.toml, and the Python/Solidity names derived from it."""

from __future__ import annotations

import dataclasses
import keyword
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from hourglass_cli.config import ProjectSection
from hourglass_cli.errors import UsageError

_NAME_FIELD = next(f for f in dataclasses.fields(ProjectSection) if f.name == "name")
NAME_PATTERN: re.Pattern[str] = _NAME_FIELD.metadata["pattern"]
NAME_RULE: str = _NAME_FIELD.metadata["rule"]

# Package names that would shadow something the project needs: its own test folder and our package.
_RESERVED = frozenset({"tests", "test", "hourglass_cli", "contracts"})


@dataclass(frozen=True)
class ProjectNames:
    """The names a template is rendered with."""

    name: str
    """The project name, as in hourglass.toml (``my-avs``)."""
    package: str
    """The Python package (``my_avs``)."""
    class_prefix: str
    """A CamelCase prefix for classes and contracts (``MyAvs``)."""


def package_name(name: str) -> str:
    """``my-avs`` → ``my_avs``."""
    return name.replace("-", "_")


def class_prefix(name: str) -> str:
    """``my-avs`` → ``MyAvs``; ``avs2-x`` → ``Avs2X``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("-") if part)


def _suggestion(name: str) -> str:
    text = re.sub(r"[^a-z0-9-]+", "-", name.strip().lower().replace("_", "-"))
    text = re.sub(r"-{2,}", "-", text).strip("-")
    text = text.lstrip("0123456789-")[:63]
    return text if text and text != name and NAME_PATTERN.match(text) else ""


def _installed_module(package: str, dest: Path | None) -> str | None:
    """The distribution that installs a top-level module ``package`` here, unless that module lives in ``dest``
    (the project itself, installed in development mode)."""
    import importlib.metadata
    import importlib.util

    dists = importlib.metadata.packages_distributions().get(package)
    if not dists:
        return None
    if dest is not None:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        places = [spec.origin, *(spec.submodule_search_locations or [])] if spec is not None else []
        if any(place and Path(place).resolve().is_relative_to(dest.resolve()) for place in places):
            return None
    return dists[0]


def validate_name(name: str, dest: Path | None = None) -> ProjectNames:
    """Check ``name`` against hourglass.toml's rule and that its package shadows nothing; UsageError if not.

    ``dest`` is the project folder: a package installed from there is the project itself, not a clash.
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        suggestion = _suggestion(name) if isinstance(name, str) else ""
        hint = f"try {suggestion!r}" if suggestion else "e.g. `hourglass avs init my-avs`"
        raise UsageError(f"invalid project name {name!r}: use {NAME_RULE} (at most 63 characters)", hint=hint)
    package = package_name(name)
    clash = ""
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        clash = f"{package!r} is a Python keyword"
    elif package in sys.stdlib_module_names:
        clash = f"the package {package!r} would shadow Python's standard module {package!r}"
    elif package in _RESERVED:
        clash = f"the package {package!r} would clash with the project's own folders or with hourglass_cli"
    else:
        dist = _installed_module(package, dest)
        if dist is not None:
            clash = f"the package {package!r} would shadow the installed module {package!r} (from {dist})"
    if clash:
        raise UsageError(f"cannot use the project name {name!r}: {clash}",
                         hint=f"choose another name, e.g. {name + '-avs'!r}")
    return ProjectNames(name=name, package=package, class_prefix=class_prefix(name))
