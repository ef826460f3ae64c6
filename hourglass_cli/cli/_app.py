"""One factory for every typer app of the CLI, so all groups share the same settings."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup


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
        "cls": _Group,
    }
    settings.update(kwargs)
    return _Typer(**settings)


class _Group(TyperGroup):
    """Lists commands with their whole first sentence, wrapped (click cuts it at ~45 characters with '...')."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _Command(TyperCommand):
    """Usage lines in the usual form: `hourglass task status [OPTIONS] TASK_HASH`, optional ones in brackets
    (typer writes `{task_hash}`)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = (param.metavar or param.name or "").upper()
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


class _Typer(typer.Typer):
    """Every command of ours is a `_Command`."""

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or _Command, **kwargs)
