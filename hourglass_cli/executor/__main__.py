"""``python -m hourglass_cli.executor --config FILE``: run an executor (``hourglass executor run`` without the CLI)."""

from __future__ import annotations

import argparse
import sys

from hourglass_cli.errors import HourglassError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hourglass_cli.executor", description=__doc__.splitlines()[0])
    parser.add_argument("--config", "-c", required=True, help="the executor's TOML config file")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds in-flight tasks get after SIGTERM")
    args = parser.parse_args(argv)
    from hourglass_cli.executor.config import load_executor_config
    from hourglass_cli.executor.server import run_executor

    try:
        run_executor(load_executor_config(args.config), grace=args.grace)
    except HourglassError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
