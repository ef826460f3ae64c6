"""``python -m hourglass_cli.performer MODULE:CLASS [--port N] [--host H]``: serve a performer.

The same as ``hourglass performer serve`` without the CLI around it (what a performer's Dockerfile can run).
"""

from __future__ import annotations

import argparse
import sys

from hourglass_cli.errors import HourglassError
from hourglass_cli.performer.server import DEFAULT_GRACE_SECONDS, DEFAULT_HOST, DEFAULT_WORKERS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hourglass_cli.performer", description=__doc__.splitlines()[0])
    parser.add_argument("spec", metavar="MODULE:CLASS", help="the performer class, e.g. my_avs.performer:MyPerformer")
    parser.add_argument("--port", type=int, default=None, help="port to listen on (default: $PORT, else 8080)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to listen on (default 127.0.0.1; 0.0.0.0 to accept other machines/containers)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="tasks handled at once")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_SECONDS,
                        help="seconds in-flight tasks get to finish after SIGTERM")
    args = parser.parse_args(argv)
    from hourglass_cli.performer.loader import serve_from_spec

    try:
        serve_from_spec(args.spec, args.port, args.host, max_workers=args.workers, grace_period=args.grace)
    except HourglassError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
