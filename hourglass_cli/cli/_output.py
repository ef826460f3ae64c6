"""Shared rendering for CLI commands: consoles, errors, key/value tables."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from hourglass_cli.errors import HourglassError


@lru_cache(maxsize=1)
def console() -> Console:
    from rich.console import Console

    return Console()


@lru_cache(maxsize=1)
def console_err() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def render_error(exc: HourglassError) -> None:
    """One red line with the message, then the hint (if any) dimmed."""
    from rich.markup import escape

    err = console_err()
    err.print(f"[bold red]error:[/bold red] {escape(exc.message)}", highlight=False, soft_wrap=True)
    if exc.hint:
        err.print(f"[dim]hint: {escape(exc.hint)}[/dim]", highlight=False, soft_wrap=True)


def print_fields(title: str, rows: list[tuple[str, str]]) -> None:
    """A two-column table of labelled values."""
    from rich.table import Table

    table = Table(title=title, show_header=False, title_justify="left", box=None, pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    console().print(table)
