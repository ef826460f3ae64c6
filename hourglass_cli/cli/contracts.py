"""`hourglass contracts …`: build the Solidity contracts and check the committed artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Build the Hourglass contracts (contracts/src → contracts/out) and check the artifacts.")


@app.callback()
def _contracts() -> None:
    """Build the Hourglass contracts and check the committed artifacts."""


@app.command()
def build(
    check: bool = typer.Option(False, "--check", help="Only verify contracts/out is up to date; exit 1 if not."),
    force: bool = typer.Option(False, "--force", help="Compile even when the manifest says nothing changed."),
    contracts_dir: Optional[Path] = typer.Option(
        None, "--contracts-dir", help="The contracts folder (default: this checkout's contracts/)."
    ),
) -> None:
    """Compile contracts/src with the pinned solc into contracts/out (skipped when nothing changed)."""
    from hourglass_cli.compiler import build as builder
    from hourglass_cli.errors import HourglassError

    try:
        if check:
            _check(builder, contracts_dir)
            return
        result = builder.build(contracts_dir, force=force)
    except HourglassError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        if exc.hint:
            typer.echo(f"hint: {exc.hint}", err=True)
        raise typer.Exit(exc.exit_code) from None

    if not result.compiled:
        typer.echo(f"contracts up to date: {len(result.artifacts)} artifacts in {result.out_dir}")
        return
    for warning in result.warnings:
        typer.secho(warning, fg=typer.colors.YELLOW, err=True)
    typer.echo(
        f"compiled {len(result.artifacts)} artifacts with {result.compiler} "
        f"in {result.seconds:.1f} s → {result.out_dir}"
    )


def _check(builder: object, contracts_dir: Optional[Path]) -> None:
    freshness = builder.check_fresh(contracts_dir)  # type: ignore[attr-defined]
    if freshness.fresh:
        typer.echo("contracts/out is up to date")
        return
    names = ", ".join(freshness.stale_artifacts)
    reasons = "; ".join(freshness.reasons[:20])
    raise builder.StaleArtifactsError(f"stale artifacts: {names} ({reasons})")  # type: ignore[attr-defined]
