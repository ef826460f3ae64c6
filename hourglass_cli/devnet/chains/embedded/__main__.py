"""``python -m hourglass_cli.devnet.chains.embedded --port N``: serve the embedded chain alone."""

from __future__ import annotations

import argparse
import logging
import sys

from hourglass_cli.devnet.chains.chain_id import CHAIN_ID_RULE, DEFAULT_CHAIN_ID, check_chain_id
from hourglass_cli.devnet.chains.embedded.accounts import DEFAULT_ACCOUNTS, DEFAULT_MNEMONIC
from hourglass_cli.errors import UsageError

READY_PREFIX = "hourglass embedded chain listening on "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hourglass_cli.devnet.chains.embedded", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8545, help="port (0 = any free port; default 8545)")
    parser.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS, help="funded dev accounts (default 10)")
    parser.add_argument("--mnemonic", default=DEFAULT_MNEMONIC, help="mnemonic of the dev accounts (anvil's default)")
    parser.add_argument("--gas-limit", type=int, default=None, help="gas per block (default 30,000,000, as anvil)")
    parser.add_argument("--chain-id", type=_chain_id, default=DEFAULT_CHAIN_ID,
                        help=f"the chain id: eth_chainId, CHAINID, what transactions must be signed for "
                             f"(default {DEFAULT_CHAIN_ID}; {CHAIN_ID_RULE})")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s", stream=sys.stderr
    )

    from hourglass_cli.devnet.chains.embedded import _lazy_bls

    _lazy_bls.install()  # ~0.3 s of start-up for precompiles our contracts never call
    from hourglass_cli.devnet.chains.embedded.server import serve

    def ready(url: str) -> None:
        print(READY_PREFIX + url, flush=True)

    try:
        extra = {} if args.gas_limit is None else {"gas_limit": args.gas_limit}
        serve(args.host, args.port, ready, mnemonic=args.mnemonic, accounts=args.accounts, chain_id=args.chain_id,
              **extra)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


def _chain_id(text: str) -> int:
    try:
        return check_chain_id(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(f"{exc.message} ({exc.hint})") from None


if __name__ == "__main__":
    sys.exit(main())
