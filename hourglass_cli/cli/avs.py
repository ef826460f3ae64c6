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


# -- DevKit's spellings of the workflow commands (`hourglass workflow …` is the native form) --

_WF_PROJECT = typer.Option(None, "--project", "-C", "-p", file_okay=False,
                           help="The project folder (default: the nearest one with hourglass.toml).")


@app.command()
def call(
    workflow: str = typer.Option(..., "--workflow", help="register or start (DevKit: `avs call --workflow …`)."),
    name: str | None = typer.Argument(None, metavar="NAME", help="The workflow's name (start: its name or id)."),
    file: Path | None = typer.Option(None, "--file", dir_okay=False, help="register: the definition file."),
    input_hex: str | None = typer.Option(None, "--input", help="start: the input payload as 0x-hex."),
    wait: bool = typer.Option(False, "--wait", help="start: follow the phases until the execution ends."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    project: Path | None = _WF_PROJECT,
) -> None:
    """DevKit's `avs call --workflow register NAME --file F` and `--workflow start NAME`."""
    from hourglass_cli.cli import workflow as wf
    from hourglass_cli.errors import UsageError

    if workflow == "register":
        if file is None:
            raise UsageError("--workflow register needs --file FILE")
        from hourglass_cli.workflows.definition import load_definition

        if name is not None and load_definition(file).name != name:
            raise UsageError(f"{file} defines workflow {load_definition(file).name!r}, not {name!r}")
        wf.register(file, as_json, None, None, None, project)
    elif workflow == "start":
        if name is None:
            raise UsageError("--workflow start needs the workflow's NAME (or id)")
        wf.start(name, input_hex, None, wait, 600.0, as_json, None, None, None, project)
    else:
        raise UsageError(f"--workflow {workflow!r}: use register or start",
                         hint="the other workflow commands are under `hourglass workflow`")


@app.command()
def logs(
    workflow_id: str = typer.Option(..., "--workflow-id", help="The execution id (DevKit's --workflow-id)."),
    phase: str | None = typer.Option(None, "--phase", help="Only this phase (its index or name)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the execution ends."),
    project: Path | None = _WF_PROJECT,
) -> None:
    """DevKit's `avs logs --workflow-id ID [--phase N]`: an execution's story by phase."""
    from hourglass_cli.cli import workflow as wf

    wf.logs(workflow_id, phase, follow, 600.0, False, None, None, project)


@app.command()
def status(
    execution_id: str = typer.Option(..., "--execution-id", help="The execution id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    project: Path | None = _WF_PROJECT,
) -> None:
    """DevKit's `avs status --execution-id ID`: an execution and its phases."""
    from hourglass_cli.cli import workflow as wf

    wf.status(execution_id, as_json, None, None, project)


@app.command()
def debug(
    timeout_analysis: bool = typer.Option(False, "--timeout-analysis", help="Analyse open phases' timeouts."),
    execution_id: str | None = typer.Option(None, "--execution-id", help="One execution (default: all running)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    project: Path | None = _WF_PROJECT,
) -> None:
    """DevKit's `avs debug --timeout-analysis [--execution-id ID]`: what each open phase waits on."""
    from hourglass_cli.cli import workflow as wf
    from hourglass_cli.errors import UsageError

    if not timeout_analysis:
        raise UsageError("give --timeout-analysis (the only analysis there is)")
    wf.debug(execution_id, as_json, None, None, project)
