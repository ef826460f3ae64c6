"""`hourglass performer`: run an AVS performer (the gRPC server the executor sends tasks to)."""

from __future__ import annotations

import typer

from hourglass_cli.cli._app import make_app

app = make_app()


@app.callback()
def _group() -> None:
    """Run an AVS performer (the gRPC server the executor sends tasks to)."""


@app.command()
def serve(
    spec: str = typer.Argument(..., metavar="MODULE:CLASS",
                               help="The performer class, e.g. my_avs.performer:MyPerformer (the current "
                                    "folder is importable)."),
    port: int | None = typer.Option(None, "--port", "-p", min=0, max=65535,
                                    help="Port to listen on. Default: $PORT, else 8080."),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to listen on; 0.0.0.0 accepts other machines and containers."),
    workers: int = typer.Option(16, "--workers", min=1, help="Tasks handled at the same time."),
    grace: float = typer.Option(30.0, "--grace", min=0.0,
                                help="Seconds in-flight tasks get to finish after SIGTERM/Ctrl-C."),
) -> None:
    """Serve a performer over gRPC (PerformerService + grpc.health.v1) until SIGTERM or Ctrl-C."""
    from hourglass_cli.performer.loader import serve_from_spec

    serve_from_spec(spec, port, host, max_workers=workers, grace_period=grace)
