"""`hourglass avs …`: create an AVS project from a template and check/build it."""

from __future__ import annotations

from pathlib import Path

import typer

from hourglass_cli.cli._app import make_app

app = make_app()


@app.callback()
def _group() -> None:
    """Create an AVS project (performer, tests, contracts, Dockerfile) and build it."""


@app.command()
def init(
    name: str = typer.Argument(..., metavar="NAME", help="Project name: lowercase letters, digits and '-', starting with a letter."),
    template: str = typer.Option("python", "--template", "-t", help="The project template."),
    directory: Path | None = typer.Option(None, "--dir", file_okay=False,
                                          help="Where to create the project (default: ./NAME)."),
    force: bool = typer.Option(False, "--force",
                               help="Write into an existing non-empty folder: the template's files are "
                                    "overwritten, every other file is kept."),
) -> None:
    """Create a new AVS project: a performer with tests, hourglass.toml, contracts/ and a Dockerfile."""
    import os
    import shlex

    from rich.markup import escape

    from hourglass_cli.cli._output import console
    from hourglass_cli.scaffold.init import create_project

    result = create_project(name, directory, template, force)
    out = console()
    out.print(f"[bold green]created[/] {escape(name)} in {escape(str(result.path))} (template {escape(template)})",
              highlight=False, soft_wrap=True)
    replaced = set(result.overwritten)
    for rel in result.files:
        mark = "[yellow]overwrote[/]" if rel in replaced else "[green]+[/]"
        out.print(f"  {mark} {escape(rel)}", highlight=False, soft_wrap=True)
    where = os.path.relpath(result.path)
    where = where if not where.startswith("..") else str(result.path)
    out.print("\n[bold]next steps[/]", highlight=False, soft_wrap=True)
    for line in NEXT_STEPS(shlex.quote(where)):
        out.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    package = result.names.package if result.names else name
    note = (f"run them in the Python environment hourglass is installed in: executors start `python -m {package}` "
            "from PATH (README.md has the details)")
    out.print(f"[dim]{escape(note)}[/]", highlight=False, soft_wrap=True)


def NEXT_STEPS(where: str) -> tuple[str, ...]:  # noqa: N802 - a table, named like one
    """The journey after `avs init`: the same as the README's quickstart and the project README's."""
    return (f"cd {where}",
            'pip install -e ".[test]"',
            "python -m pytest",
            "hourglass avs build",
            "hourglass devnet start --detach",
            'hourglass task submit --signature "(uint256)" --args "(5)" --result-abi "(uint256)"',
            "hourglass devnet status",
            "hourglass devnet stop")


@app.command()
def build(
    project: Path | None = typer.Option(None, "--project", "-C", "-p", file_okay=False,
                                        help="The project folder (default: the nearest one with hourglass.toml)."),
    force: bool = typer.Option(False, "--force", help="Recompile the contracts even when they are up to date."),
) -> None:
    """Check the performer imports and serves, compile contracts/src, build the image (docker runtime)."""
    from rich.markup import escape

    from hourglass_cli.cli._output import console
    from hourglass_cli.scaffold.build import Step, build_project

    out = console()

    def show(step: Step) -> None:
        mark = "[dim]–[/]" if step.skipped else "[green]✓[/]"
        first, *rest = step.detail.splitlines() or [""]
        out.print(f"{mark} [bold]{step.name:<9}[/] {escape(first)}", highlight=False, soft_wrap=True)
        for line in rest:
            out.print(f"            [yellow]{escape(line)}[/]", highlight=False, soft_wrap=True)

    report = build_project(project, force=force, on_step=show)
    perf = report.config.performer
    out.print(f"[bold green]built[/] {escape(report.config.project.name)} ({escape(str(report.project_dir))})",
              highlight=False, soft_wrap=True)
    if report.image and not perf.image:
        hint = f'set image = "{report.image}" in [performer] of hourglass.toml so executors run this image'
        out.print(f"[dim]{escape(hint)}[/]", highlight=False, soft_wrap=True)
    out.print("[dim]next: hourglass devnet start --detach[/]", highlight=False, soft_wrap=True)
