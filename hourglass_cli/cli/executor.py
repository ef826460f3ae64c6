"""`hourglass executor`: run an operator's executor (gRPC ExecutorService in front of the AVS's performer)."""

from __future__ import annotations

from pathlib import Path

import typer

from hourglass_cli.cli._app import make_app

app = make_app()


@app.callback()
def _group() -> None:
    """Run an operator's executor (gRPC ExecutorService in front of the AVS's performer)."""


@app.command()
def run(
    config: Path = typer.Option(..., "--config", "-c", help="The executor's TOML config file.", dir_okay=False),
    grace: float = typer.Option(10.0, "--grace", min=0.0,
                                help="Seconds in-flight tasks get to finish after SIGTERM/Ctrl-C."),
) -> None:
    """Serve ExecutorService until SIGTERM or Ctrl-C: check the aggregator's signature, run the performer,
    sign the result."""
    from hourglass_cli.executor.config import load_executor_config
    from hourglass_cli.executor.server import run_executor

    run_executor(load_executor_config(config), grace=grace)
