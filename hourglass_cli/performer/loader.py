"""Find a performer from a ``MODULE:CLASS`` spec and serve it (what ``hourglass performer serve`` runs)."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from hourglass_cli.errors import HourglassError, UsageError
from hourglass_cli.performer.base import Performer

_SPEC_HINT = "write MODULE:CLASS, e.g. hourglass_cli.performer.examples.square:SquarePerformer"


def load_performer(spec: str) -> Performer:
    """Import ``MODULE``, take ``CLASS`` (dots allowed), instantiate it if it is a class.

    The current folder is put on ``sys.path`` first, as ``python -m`` does, so a project's own modules
    import without being installed. ``CLASS`` may also name a ready-made performer instance.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"expected MODULE:CLASS, got {spec!r}", hint=_SPEC_HINT)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise UsageError(f"no module named {module_name!r} (looked in {cwd} and the installed packages)",
                             hint="run from your project folder, or install the package that holds it") from None
        raise HourglassError(f"importing {module_name} failed: {exc}",
                             hint="install the missing package; --debug shows the traceback") from exc
    except Exception as exc:
        raise HourglassError(f"importing {module_name} failed: {type(exc).__name__}: {exc}",
                             hint="fix the error in your module; --debug shows the traceback") from exc
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise UsageError(f"{module_name} has no attribute {attr!r}", hint=_SPEC_HINT) from None
    if isinstance(target, type):
        try:
            target = target()
        except Exception as exc:
            raise HourglassError(f"creating {spec} failed: {type(exc).__name__}: {exc}",
                                 hint="the performer class must be constructible without arguments") from exc
    if not callable(getattr(target, "handle_task", None)):
        raise UsageError(f"{spec} is not a performer: it has no handle_task method",
                         hint="subclass hourglass_cli.performer.Performer and implement handle_task")
    return target  # type: ignore[no-any-return]


def serve_from_spec(spec: str, port: int | None = None, host: str = "127.0.0.1", **options: Any) -> None:
    """Load the performer named by ``spec`` and serve it until SIGTERM/SIGINT."""
    performer = load_performer(spec)
    from hourglass_cli.performer.server import serve

    serve(performer, port, host, **options)
