"""`hourglass keys`: generate, show and list operator keystores (BN254 EIP-2335, ECDSA v3)."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hourglass_cli.cli._app import make_app
from hourglass_cli.config import DEFAULT_PASSWORD_ENV as PASSWORD_ENV
from hourglass_cli.errors import UsageError

if TYPE_CHECKING:
    from hourglass_cli.crypto.keystore import KeystoreInfo

app = make_app()


class Curve(str, Enum):
    bn254 = "bn254"
    ecdsa = "ecdsa"


def read_password(password_file: Path | None, *, confirm: bool, purpose: str) -> str:
    """The password from --password-file, the environment, or a hidden prompt (never echoed)."""
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read password file {password_file}: {exc.strerror or exc}") from None
        return text.splitlines()[0] if text else ""
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise UsageError(f"a password is needed to {purpose} and there is no terminal to ask on",
                         hint=f"pass --password-file FILE or set {PASSWORD_ENV}")
    return typer.prompt(f"Password to {purpose}", hide_input=True, confirmation_prompt=confirm,
                        default="", show_default=False)


@app.command()
def generate(
    curve: Curve = typer.Option(Curve.bn254, "--curve", help="Key type: bn254 (BLS) or ecdsa (secp256k1)."),
    out: Path = typer.Option(..., "--out", "-o", help="Keystore file to write."),
    password_file: Path | None = typer.Option(None, "--password-file", help="Read the password from this file."),
    light_kdf: bool = typer.Option(False, "--light-kdf",
                                   help="Cheap scrypt parameters: for devnet keys only, never for real stake."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Generate a new random key and write it as an encrypted keystore."""
    from hourglass_cli.cli._output import console, print_fields
    from hourglass_cli.crypto import keystore

    if out.exists() and not force:
        raise UsageError(f"{out} already exists", hint="choose another --out, or pass --force to overwrite it")
    password = read_password(password_file, confirm=True, purpose="encrypt the new key")
    kdf = keystore.KdfParams.light() if light_kdf else keystore.KdfParams.standard()
    if curve is Curve.bn254:
        from hourglass_cli.crypto.bn254 import PrivateKey

        keystore.save_bn254_keystore(out, PrivateKey.generate(), password, kdf=kdf, overwrite=force)
    else:
        keystore.save_ecdsa_keystore(out, os.urandom(32), password, kdf=kdf, overwrite=force)
    info = keystore.inspect_keystore(out)
    console().print(f"[green]wrote[/green] {out}")
    print_fields("", _info_rows(info))


@app.command()
def show(
    file: Path = typer.Argument(..., metavar="FILE", help="Keystore file."),
    verify: bool = typer.Option(False, "--verify", help="Ask for the password and check that it decrypts."),
    password_file: Path | None = typer.Option(None, "--password-file", help="Password file, with --verify."),
) -> None:
    """Show a keystore's curve, public key and address (the password is needed only with --verify)."""
    from hourglass_cli.cli._output import console, print_fields
    from hourglass_cli.crypto import keystore

    info = keystore.inspect_keystore(file)
    print_fields(str(file), _info_rows(info))
    if verify:
        password = read_password(password_file, confirm=False, purpose=f"decrypt {file.name}")
        keystore.load_keystore(file, password)
        console().print("[green]password ok[/green]: the keystore decrypts and matches its public key")


@app.command("list")
def list_(directory: Path = typer.Argument(Path("."), metavar="FOLDER", help="Folder to scan for *.json keystores.")) -> None:
    """List the keystores in a folder with their curve and public key or address."""
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a folder")
    from rich.markup import escape
    from rich.table import Table

    from hourglass_cli.cli._output import console
    from hourglass_cli.crypto import keystore
    from hourglass_cli.errors import KeystoreError

    table = Table("file", "curve", "format", "public key / address")
    # An address is never cut (a user copies it); the file name folds instead.
    table.columns[0].overflow = "fold"
    table.columns[3].no_wrap, table.columns[3].min_width = True, 42
    found, skipped = 0, []
    for path in sorted(directory.glob("*.json")):
        try:
            info = keystore.inspect_keystore(path)
        except KeystoreError as exc:
            skipped.append((path.name, exc.message.split(": ", 1)[-1]))  # other JSON files: said, not fatal
            continue
        found += 1
        ident = info.public_key if info.curve == "ecdsa" else _short(info.public_key)
        table.add_row(path.name, info.curve, info.format, ident or "")
    out = console()
    if found:
        out.print(table)
    else:
        out.print(f"no keystores in {directory}", highlight=False)
    for name, why in skipped:
        out.print(f"[dim]skipped {escape(name)}: not a keystore ({escape(why)})[/]", highlight=False, soft_wrap=True)


def _short(hex_str: str | None, keep: int = 18) -> str:
    if not hex_str:
        return ""
    return hex_str if len(hex_str) <= 2 * keep else f"{hex_str[:keep]}…{hex_str[-8:]}"


def _info_rows(info: KeystoreInfo) -> list[tuple[str, str]]:
    rows = [("curve", str(info.curve)), ("format", str(info.format)), ("kdf", info.kdf)]
    if info.public_key:
        rows.append(("address" if info.curve == "ecdsa" else "public key (G2)", info.public_key))
    return rows
