"""One factory for every typer app of the CLI, so all groups share the same settings."""

from __future__ import annotations

from typing import Any

import typer


def make_app(**kwargs: Any) -> typer.Typer:
    """A typer app with our defaults.

    Help is rendered by click's plain formatter (`rich_markup_mode=None`): typer's rich help imports
    rich.markdown and markdown-it, which doubles `hourglass --help`'s start-up time. Command output still
    uses rich.
    """
    settings: dict[str, Any] = {
        "no_args_is_help": True,
        "add_completion": False,
        "pretty_exceptions_enable": False,
        "rich_markup_mode": None,
        "context_settings": {"help_option_names": ["-h", "--help"]},
    }
    settings.update(kwargs)
    return typer.Typer(**settings)
