"""`hourglass aggregator`: run the AVS's aggregator (watch mailboxes, collect executor results, submit certificates)."""

from __future__ import annotations

from pathlib import Path

import typer

from hourglass_cli.cli._app import make_app

app = make_app()


@app.callback()
def _group() -> None:
    """Run the AVS's aggregator (watch mailboxes, collect executor results, submit certificates)."""


@app.command()
def run(
    config: Path = typer.Option(..., "--config", "-c", help="The aggregator's TOML config file.", dir_okay=False),
) -> None:
    """Watch every configured TaskMailbox, send each task to the executors, and submit the certificate once
    enough stake signed one result; GET /healthz and /metrics on [aggregator].metrics_port. Stops on SIGTERM."""
    from hourglass_cli.aggregator.config import load_aggregator_config
    from hourglass_cli.aggregator.server import run_aggregator

    run_aggregator(load_aggregator_config(config))
