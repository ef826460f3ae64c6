"""`hourglass config`: print the documented example hourglass.toml, check a project's."""

from __future__ import annotations

from pathlib import Path

import typer

from hourglass_cli.cli._app import make_app

app = make_app()

_PACKAGE_DIR = Path(__file__).resolve().parents[1]
EXAMPLE = "hourglass.toml.example"


def example_path() -> Path:
    """The example config: the wheel's copy, or the checkout's."""
    from hourglass_cli.errors import HourglassError

    for candidate in (_PACKAGE_DIR / "_data" / EXAMPLE, _PACKAGE_DIR.parent / EXAMPLE):
        if candidate.is_file():
            return candidate
    raise HourglassError(f"cannot find {EXAMPLE} in the hourglass-cli installation", hint="reinstall hourglass-cli")


@app.command()
def example() -> None:
    """Print an hourglass.toml with every key, its default and what is allowed."""
    typer.echo(example_path().read_text(encoding="utf-8"), nl=False)


@app.command()
def check(
    project: Path | None = typer.Option(None, "--project", "-C", "-p", file_okay=False,
                                        help="The project folder (default: the nearest one with hourglass.toml)."),
) -> None:
    """Validate the project's hourglass.toml (every key, type and range) without starting anything."""
    from rich.markup import escape

    from hourglass_cli.cli._output import console
    from hourglass_cli.config import CONFIG_FILENAME, find_config, load_config
    from hourglass_cli.errors import UsageError

    path = (project / CONFIG_FILENAME) if project is not None else find_config(Path.cwd())
    if path is None or not path.is_file():
        raise UsageError(f"no {CONFIG_FILENAME} {'in ' + str(project) if project else 'here or above'}",
                         hint="run it inside an AVS project (`hourglass avs init NAME` makes one), or give -C FOLDER")
    load_config(path)
    console().print(f"[green]ok[/] {escape(str(path))}", highlight=False, soft_wrap=True)
