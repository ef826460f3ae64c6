"""`hourglass contracts …`: build the Solidity contracts and check the committed artifacts."""

from __future__ import annotations

from pathlib import Path

import typer

from hourglass_cli.cli._app import make_app

app = make_app()


@app.command()
def build(
    check: bool = typer.Option(False, "--check", help="Only verify contracts/out is up to date; exit 1 if not."),
    force: bool = typer.Option(False, "--force", help="Compile even when the manifest says nothing changed."),
    contracts_dir: Path | None = typer.Option(
        None, "--contracts-dir", help="The contracts folder (default: this checkout's contracts/)."
    ),
) -> None:
    """Compile contracts/src with the pinned solc into contracts/out (skipped when nothing changed)."""
    from hourglass_cli.cli._output import console, console_err
    from hourglass_cli.compiler import build as builder

    if check:
        freshness = builder.check_fresh(contracts_dir)
        if not freshness.fresh:
            names = ", ".join(freshness.stale_artifacts)
            reasons = "; ".join(freshness.reasons[:20])
            raise builder.StaleArtifactsError(f"stale artifacts: {names} ({reasons})")
        console().print("contracts/out is up to date")
        return
    result = builder.build(contracts_dir, force=force)
    if not result.compiled:
        console().print(f"contracts up to date: {len(result.artifacts)} artifacts in {result.out_dir}")
        return
    for warning in result.warnings:
        console_err().print(f"[yellow]{warning}[/yellow]", highlight=False)
    console().print(f"compiled {len(result.artifacts)} artifacts with {result.compiler} "
                    f"in {result.seconds:.1f} s → {result.out_dir}")
