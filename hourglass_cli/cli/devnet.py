"""`hourglass devnet …`: start, stop, inspect and reset the local devnet of a project."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from hourglass_cli.cli._app import make_app

app = make_app()

_PROJECT = typer.Option(None, "--project", "-C", "-p", file_okay=False,
                        help="The project folder (default: the nearest hourglass.toml, else the current folder).")


@app.callback()
def _group() -> None:
    """Start, stop, inspect and reset the local devnet (chain, contracts, operators, executors)."""


def _root(project: Path | None) -> Path:
    from hourglass_cli.devnet.state import project_root

    return project_root(project or ".")


@app.command()
def start(
    chain: str | None = typer.Option(None, "--chain", help="auto | anvil | embedded (default: hourglass.toml)."),
    curve: str | None = typer.Option(None, "--curve", help="bn254 | ecdsa: the operator sets' curve."),
    operators: int | None = typer.Option(None, "--operators", min=1, max=64, help="Executor operators."),
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help="The L1 chain's port (0 = free one)."),
    chain_id: str | None = typer.Option(
        None, "--chain-id", metavar="N",
        help="The L1 chain's id, 1 to 2^53-1 (default: hourglass.toml, else 31337), e.g. 11155111 for Sepolia's; "
             "with --l2 the L2 chain's is N+1 (N-1 for the largest N)."),
    l2: bool | None = typer.Option(None, "--l2/--no-l2", help="Also start a second chain with the mailbox."),
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background; return once ready."),
    as_json: bool = typer.Option(False, "--json", help="With --detach: print the state as JSON."),
    project: Path | None = _PROJECT,
) -> None:
    """Bring the devnet up and supervise it (Ctrl-C stops everything), or in the background with --detach."""
    from hourglass_cli.cli._output import console
    from hourglass_cli.cli._devnet_view import summary
    from hourglass_cli.devnet.options import resolve_options
    from hourglass_cli.errors import UsageError

    if chain is not None and chain not in ("auto", "anvil", "embedded"):
        raise UsageError(f"unknown --chain {chain!r}", hint="use auto, anvil or embedded")
    if curve is not None and curve not in ("bn254", "ecdsa"):
        raise UsageError(f"unknown --curve {curve!r}", hint="use bn254 or ecdsa")
    options = resolve_options(_root(project), chain=chain, curve=curve, operators=operators, port=port, l2=l2,
                              chain_id=chain_id)
    if detach:
        from hourglass_cli.devnet.control import start_detached

        state = start_detached(options)
        if as_json:
            typer.echo(json.dumps(state.to_json(), indent=2))
        else:
            console().print(f"[green]devnet ready[/] in {state.timings.get('total', 0):.1f} s "
                            f"(supervisor pid {state.supervisor_pid})")
            console().print(summary(state))
        return
    _foreground(options)


LIVE_REFRESH = 0.25  # seconds between frames of the foreground view (as `task watch`)


def _foreground(options: object) -> None:
    from rich.live import Live

    from hourglass_cli.cli._devnet_view import LiveTasks, live_view, summary
    from hourglass_cli.cli._output import console
    from hourglass_cli.devnet.control import preflight, run_supervisor
    from hourglass_cli.devnet.supervisor import StopRequested

    out = console()
    preflight(options)  # type: ignore[arg-type]
    live: list[Live] = []
    tasks: list[LiveTasks] = []

    def frame(state: object) -> object:
        # below the components as many tasks as the terminal has lines for (3 to 10)
        spare = out.height - len(state.records()) - 12 if out.is_terminal else 10  # type: ignore[attr-defined]
        return live_view(state, tasks[0] if tasks else None, out.width, max(3, min(10, spare)))  # type: ignore

    def on_event(text: str) -> None:
        out.print(f"[green]✓[/] {text}", highlight=False)

    def on_ready(state: object) -> None:
        out.print(summary(state))  # type: ignore[arg-type]
        try:
            tasks.append(LiveTasks.of(state))  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - without the aggregator's store the view shows the components only
            pass
        view = Live(frame(state), console=out, auto_refresh=False,  # type: ignore[arg-type]
                    redirect_stdout=False, redirect_stderr=False)
        view.start(refresh=True)
        live.append(view)

    def on_tick(state: object) -> None:
        if live:
            live[0].update(frame(state), refresh=True)  # type: ignore[arg-type]

    try:
        run_supervisor(options, on_event=on_event, on_ready=on_ready, on_tick=on_tick,  # type: ignore[arg-type]
                       refresh_s=LIVE_REFRESH)
    except StopRequested as exc:
        out.print(f"[yellow]stopped while starting ({exc}); everything started was stopped[/]")
        raise typer.Exit(1) from None
    finally:
        if live:
            live[0].stop()
            if not out.is_terminal:
                out.line()
    out.print("[green]devnet stopped[/]")


@app.command()
def stop(project: Path | None = _PROJECT) -> None:
    """Stop the devnet: its supervisor, then anything it left running; checks the ports are free."""
    from hourglass_cli.cli._output import console
    from hourglass_cli.devnet.control import stop_devnet
    from hourglass_cli.devnet.state import devnet_dir, load_state

    root = _root(project)
    before = load_state(devnet_dir(root))
    was_running = before is not None and (before.is_running() or bool(before.leftover_pids()))
    state = stop_devnet(root)
    if state is None:
        console().print(f"no devnet here ({root})", highlight=False)
    elif not was_running:
        console().print("the devnet was not running (nothing to stop)", highlight=False)
    else:
        console().print("[green]devnet stopped[/]")


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
    project: Path | None = _PROJECT,
) -> None:
    """Every component with its health checked now; exit 1 if the devnet is not running."""
    from hourglass_cli.cli._devnet_view import status_view
    from hourglass_cli.cli._output import console
    from hourglass_cli.devnet.control import devnet_status

    doc = devnet_status(_root(project))
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
    elif doc["running"]:
        console().print(status_view(doc))
    else:
        note = f" (last start failed: {doc['error']})" if doc.get("error") else ""
        console().print(f"no devnet is running{note}")
        if doc.get("leftover_pids"):
            console().print(f"[yellow]processes left behind: {doc['leftover_pids']}; run `hourglass devnet stop`[/]")
    if not doc["running"]:
        raise typer.Exit(1)


@app.command()
def logs(
    name: str | None = typer.Argument(None, metavar="NAME", help="chain, executor-1, supervisor, … (default: list them)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until the devnet stops."),
    lines: int = typer.Option(0, "--lines", "-n", min=0, help="Only the last N lines (0 = all)."),
    project: Path | None = _PROJECT,
) -> None:
    """Print (or follow) a component's log; without NAME list the logs (with -f: all of them, prefixed)."""
    from hourglass_cli.cli._devnet_logs import follow_logs, list_logs, pick_log, print_log

    root = _root(project)
    if name is None and not follow:
        list_logs(root)
        return
    paths = [pick_log(root, name)] if name is not None else None
    if follow:
        follow_logs(root, paths, lines)
    else:
        print_log(paths[0], lines)  # type: ignore[index]


@app.command()
def reset(project: Path | None = _PROJECT) -> None:
    """Stop the devnet if it runs and delete .hourglass/devnet (state, logs, keys, stores)."""
    from hourglass_cli.cli._output import console
    from hourglass_cli.devnet.control import reset_devnet
    from hourglass_cli.devnet.state import devnet_dir

    root = _root(project)
    for note in reset_devnet(root):
        console().print(f"[yellow]note:[/] {note}")
    console().print(f"removed {devnet_dir(root)}")


@app.command("chain")
def chain_command(
    port: int = typer.Option(8545, "--port", min=0, max=65535, help="Port to serve on (0 = a free one)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    chain_id: str | None = typer.Option(None, "--chain-id", metavar="N",
                                        help="The chain's id, 1 to 2^53-1 (default 31337), e.g. 11155111 for "
                                             "Sepolia's."),
) -> None:
    """Serve the embedded chain (py-evm over JSON-RPC) in the foreground until Ctrl-C."""
    from hourglass_cli.devnet.chains._process import choose_port
    from hourglass_cli.devnet.chains.chain_id import DEFAULT_CHAIN_ID, check_chain_id
    from hourglass_cli.devnet.chains.embedded.__main__ import main as serve_embedded

    number = DEFAULT_CHAIN_ID if chain_id is None else check_chain_id(chain_id)  # a usage error before the port
    port = choose_port(host, port)  # a taken port is an error with a hint, before anything starts
    code = serve_embedded(["--host", host, "--port", str(port), "--chain-id", str(number)])
    if code:
        raise typer.Exit(code)


@app.command()
def install(
    tool: str = typer.Argument(..., metavar="TOOL", help="The tool to install: anvil, solc or js-libs."),
    version: str | None = typer.Option(None, "--version", help="The version (default: the one hourglass pins)."),
) -> None:
    """Install a devnet tool from npm into ~/.hourglass/tools ($HOURGLASS_TOOLS_DIR): anvil (@foundry-rs/anvil),
    solc (npm solc, which compiles the project's contracts/src), or js-libs (lodash, dayjs and uuid, which
    CUSTOM_CODE steps can require())."""
    import re

    from hourglass_cli.cli._output import console
    from hourglass_cli.errors import UsageError

    if tool not in ("anvil", "solc", "js-libs"):
        raise UsageError(f"unknown tool {tool!r}", hint="`hourglass devnet install anvil`, `hourglass devnet install "
                                                        "solc` and `hourglass devnet install js-libs` are the ones "
                                                        "there are")
    if version is not None and tool == "js-libs":
        raise UsageError("js-libs takes no --version", hint="it installs the lodash, dayjs and uuid hourglass pins")
    if version is not None and not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise UsageError(f"--version {version!r} is not a release number", hint="give one like 0.8.30")
    if tool == "js-libs":
        from hourglass_cli.api.js_libs import JS_LIBS, install_js_libs

        found = install_js_libs()
        for name, path in found.items():
            console().print(f"{name} {JS_LIBS[name].version} installed: {path}")
        console().print("CUSTOM_CODE steps can require() them now")
    elif tool == "anvil":
        from hourglass_cli.devnet.chains.anvil import install_anvil

        path = install_anvil(version=version)
        console().print(f"anvil installed: {path}")
    else:
        from hourglass_cli.compiler.discovery import install_solc
        from hourglass_cli.compiler.settings import SOLC_VERSION

        solc = install_solc(version or SOLC_VERSION)
        console().print(f"solc {solc.version} installed: {solc.path} (solcjs on node {solc.node}); "
                        "`hourglass avs build` and the devnet compile the project's contracts with it")
    sys.stdout.flush()
