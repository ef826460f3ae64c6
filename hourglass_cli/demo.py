"""The README's main job (`make demo`), as far as the project reaches today.

Generates operator keystores through the real CLI, signs a task result's BN254 certificate digest with
each operator's key as an executor does, aggregates the signatures and verifies the certificate with the
same γ-randomised pairing check the Solidity verifier runs. It grows into `avs init` → `devnet start` →
`task submit` as those land.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OPERATORS = 4
PASSWORD_ENV = "HOURGLASS_KEYSTORE_PASSWORD"


def _cli(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "hourglass_cli", *args], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def main() -> int:
    from eth_abi import encode
    from eth_utils import keccak
    from rich.console import Console

    from hourglass_cli.crypto import bn254
    from hourglass_cli.crypto.digests import bn254_certificate_digest, message_hash
    from hourglass_cli.crypto.keystore import load_keystore

    console = Console()
    console.print("[bold]hourglass demo[/bold]: operator keys → result signatures → certificate check")
    with tempfile.TemporaryDirectory(prefix="hourglass-demo-") as tmp:
        keys_dir = Path(tmp)
        env = {**os.environ, PASSWORD_ENV: "demo-devnet-password"}
        t0 = time.perf_counter()
        for i in range(1, OPERATORS + 1):
            _cli("keys", "generate", "--curve", "bn254", "--out", str(keys_dir / f"operator{i}.json"),
                 "--light-kdf", env=env)
        subprocess.run([sys.executable, "-m", "hourglass_cli", "keys", "list", str(keys_dir)], check=True, env=env)
        keys = [load_keystore(keys_dir / f"operator{i}.json", env[PASSWORD_ENV]).bn254_private_key()
                for i in range(1, OPERATORS + 1)]
        console.print(f"generated and reloaded {OPERATORS} BN254 keystores in {time.perf_counter() - t0:.2f} s")

        payload = encode(["uint256"], [5])
        result = encode(["uint256"], [5 * 5])
        task_hash = keccak(b"demo task" + payload)
        reference_timestamp = int(time.time())
        digest = bn254_certificate_digest(reference_timestamp, message_hash(task_hash, result))

        t1 = time.perf_counter()
        signatures = [k.sign(digest) for k in keys]
        signature = bn254.aggregate_g1(signatures)
        apk_g1 = bn254.aggregate_g1([k.public_g1() for k in keys])
        apk_g2 = bn254.aggregate_g2([k.public_g2() for k in keys])
        t2 = time.perf_counter()
        ok = bn254.verify(digest, signature, apk_g1, apk_g2)
        t3 = time.perf_counter()
        forged = bn254.verify(digest, bn254.aggregate_g1(signatures[:-1]), apk_g1, apk_g2)

    console.print(f"task result: square(5) = {int.from_bytes(result, 'big')}")
    console.print(f"signed by {OPERATORS} operators and aggregated in {(t2 - t1) * 1e3:.1f} ms")
    console.print(f"certificate check (Solidity's pairing equation): "
                  f"{'[green]verified[/green]' if ok else '[red]REJECTED[/red]'} in {(t3 - t2) * 1e3:.1f} ms")
    console.print(f"the same certificate missing one signature: "
                  f"{'[red]ACCEPTED[/red]' if forged else '[green]rejected[/green]'}")
    return 0 if ok and not forged else 1


if __name__ == "__main__":
    sys.exit(main())
