"""The `hourglass` command: a thin typer app; each group lives in its own module.

Group modules import only typer and our light modules at import time; anything heavy (web3, eth-tester,
grpc, py_ecc) is imported inside the command that needs it, so `hourglass --help` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from hourglass_cli import __version__
from hourglass_cli.cli._app import make_app
from hourglass_cli.cli._output import console_err, render_error
from hourglass_cli.errors import HourglassError

# (module, help) per command group; a group is listed here once it works.
GROUPS: dict[str, tuple[str, str]] = {
    "avs": ("hourglass_cli.cli.avs", "Create an AVS project from a template; check and build it."),
    "config": ("hourglass_cli.cli.config", "Print the documented example hourglass.toml; check a project's."),
    "keys": ("hourglass_cli.cli.keys", "Create and inspect BN254 and ECDSA operator keystores."),
    "contracts": ("hourglass_cli.cli.contracts", "Compile, check and deploy the Hourglass contracts."),
    "task": ("hourglass_cli.cli.task", "Submit tasks and follow them to a verified result."),
    "devnet": ("hourglass_cli.cli.devnet", "Start, stop, inspect and reset the local devnet (chain, contracts, "
               "operators, aggregator, executors)."),
    "workflow": ("hourglass_cli.cli.workflow", "Register multi-phase workflows, start executions and follow them "
                 "phase by phase."),
    "performer": ("hourglass_cli.cli.performer", "Serve an AVS performer (gRPC PerformerService with health)."),
    "executor": ("hourglass_cli.cli.executor", "Run an operator's executor (gRPC ExecutorService)."),
    "automation": ("hourglass_cli.cli.automation", "Create, run and inspect client-API automations (triggers and "
                   "a graph of steps) and their executions."),
    "secret": ("hourglass_cli.cli.automation:secret_app", "Set, list and remove the secrets automations read."),
    "api": ("hourglass_cli.cli.api", "Run the client API (Ava SDK compatible) and manage its API keys."),
    "aggregator": ("hourglass_cli.cli.aggregator", "Run the AVS's aggregator: watch mailboxes, collect results, "
                   "submit certificates."),
}

_state = {"debug": False}

app = make_app(name="hourglass", help="Build, run and test EigenLayer Hourglass AVSs from Python.", add_completion=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hourglass {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Build, run and test EigenLayer Hourglass AVSs from Python."""
    _state["debug"] = debug


def _mount_groups() -> None:
    for name, (module, help_text) in GROUPS.items():
        module_name, _, attr = module.partition(":")
        app.add_typer(getattr(importlib.import_module(module_name), attr or "app"), name=name, help=help_text)


_mount_groups()


def main() -> None:
    """Console-script entry point: run the app, turning our errors into one red line plus a hint."""
    debug = _state["debug"] or "--debug" in sys.argv[1:]
    try:
        app()
    except HourglassError as exc:
        if debug:
            console_err().print_exception()
        render_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console_err().print("[red]interrupted[/red]")
        sys.exit(130)
    except Exception as exc:  # a bug of ours: still one line unless --debug asks for the traceback
        if debug:
            raise
        render_error(HourglassError(f"unexpected {exc.__class__.__name__}: {exc}",
                                    hint="this is a bug in hourglass; rerun with --debug and report the traceback"))
        sys.exit(1)
