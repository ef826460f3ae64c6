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


@app.command()
def deploy(
    rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of the chain to deploy to (e.g. http://127.0.0.1:8545)."),
    curve: str = typer.Option("bn254", "--curve", help="bn254 | ecdsa: the curve of both operator sets."),
    operators: int = typer.Option(4, "--operators", min=1, max=64, help="Executor operators to register."),
    mnemonic: str | None = typer.Option(
        None, "--key-from-mnemonic", envvar="HOURGLASS_DEPLOY_MNEMONIC", show_default=False,
        help="Mnemonic of the deployer, AVS and operator accounts (default: the public devnet mnemonic). "
             "Prefer the HOURGLASS_DEPLOY_MNEMONIC environment variable: arguments are visible to other users."),
    keys_dir: Path | None = typer.Option(None, "--keys-dir", file_okay=False,
                                         help="Where the operators' keystores go (default .hourglass/keys)."),
    base_port: int = typer.Option(9000, "--base-port", min=1, max=65000,
                                  help="Sockets registered: 127.0.0.1:<base-port> aggregator, +i executor i."),
    same_second: bool = typer.Option(
        True, "--same-second-results/--eigenlayer-timing",
        help="Whether the mailbox takes a result in its task's creation second (from the next block on); "
             "--eigenlayer-timing keeps EigenLayer's rule (a later second)."),
    as_json: bool = typer.Option(False, "--json", help="Print the deployment and operators as JSON."),
) -> None:
    """Deploy the core contracts and register operators on any chain (e.g. an anvil someone else runs)."""
    import json

    from hourglass_cli.cli._output import console, print_fields
    from hourglass_cli.errors import UsageError

    if curve not in ("bn254", "ecdsa"):
        raise UsageError(f"unknown --curve {curve!r}", hint="use bn254 or ecdsa")
    from hourglass_cli.chain.connection import connect
    from hourglass_cli.devnet.accounts import DEFAULT_MNEMONIC, devnet_accounts
    from hourglass_cli.devnet.deploy import deploy_core
    from hourglass_cli.devnet.operators import default_sockets, setup_operators
    from hourglass_cli.devnet.state import project_root

    w3 = connect(rpc)
    accounts = devnet_accounts(operators, mnemonic=mnemonic or DEFAULT_MNEMONIC)
    deployment = deploy_core(w3, accounts, curve=curve, same_second_results=same_second)
    keys = keys_dir or project_root() / ".hourglass" / "keys"
    ops = setup_operators(w3, deployment, accounts, keys, sockets=default_sockets(operators + 1, base_port=base_port))
    if as_json:
        typer.echo(json.dumps({"rpc_url": rpc, "deployment": deployment.to_json(), "operators": ops.to_json()},
                              indent=2))
        return
    from hourglass_cli.cli._devnet_view import contract_rows, workflow_row

    print_fields(f"deployed to {rpc} (chain id {deployment.chain_id})",
                 [*contract_rows(deployment.to_json()), *workflow_row(deployment.to_json()), ("AVS", deployment.avs),
                  ("curve", deployment.curve)])
    print_fields("operators", [(op.name, f"{op.address}  socket {op.socket}  keystore {op.keystore}")
                               for op in ops.operators])
    console().print("[dim]keystore password: the devnet's (hourglass-devnet); devnet keys only[/]")
