"""Performer runtimes: ``process`` (spawn the performer command), ``docker``, ``remote`` (someone else runs it).

:func:`runtime_class` loads ``hourglass_cli.executor.runtimes.<kind>`` and returns its
:class:`~hourglass_cli.executor.runtimes.base.PerformerRuntime` subclass (the one whose ``name`` is ``kind``).
"""

from __future__ import annotations

import importlib
import inspect

from hourglass_cli.errors import ConfigError
from hourglass_cli.executor.runtimes.base import PerformerRuntime

KINDS: tuple[str, ...] = ("process", "docker", "remote")


def runtime_class(kind: str) -> type[PerformerRuntime]:
    """The runtime class for ``kind``; ConfigError if unknown or its module cannot be imported."""
    if kind not in KINDS:
        raise ConfigError(f"unknown performer runtime {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
    try:
        module = importlib.import_module(f"hourglass_cli.executor.runtimes.{kind}")
    except ImportError as exc:
        raise ConfigError(f"the {kind!r} performer runtime is not available: {exc}",
                          hint="install its dependencies or choose another runtime") from exc
    for value in vars(module).values():
        if (inspect.isclass(value) and issubclass(value, PerformerRuntime) and not inspect.isabstract(value)
                and getattr(value, "name", None) == kind):
            return value
    raise ConfigError(f"hourglass_cli.executor.runtimes.{kind} defines no runtime named {kind!r}")
