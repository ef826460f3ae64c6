"""``python -m hourglass_cli.devnet supervise --options JSON [--ready-fd N]``: the detached devnet supervisor.

`hourglass devnet start --detach` runs this in its own session with output to logs/supervisor.log; it
writes "ready" to the inherited pipe `N` once the devnet is up, and if it cannot start prints the error as
one marked JSON line (the parent reads it back from the log) and as text.
"""

from __future__ import annotations

import argparse
import json
import sys

from hourglass_cli.errors import HourglassError

ERROR_MARKER = "hourglass-devnet-error "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hourglass_cli.devnet", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sup = sub.add_parser("supervise", help="run the devnet supervisor in the foreground (no UI)")
    sup.add_argument("--options", required=True, help="DevnetOptions as JSON")
    sup.add_argument("--ready-fd", type=int, default=None, help="pipe to write 'ready' to once the devnet is up")
    args = parser.parse_args(argv)

    from hourglass_cli.devnet.control import run_supervisor
    from hourglass_cli.devnet.options import DevnetOptions

    try:
        run_supervisor(DevnetOptions.from_json(json.loads(args.options)), ready_fd=args.ready_fd, detached=True)
    except HourglassError as exc:
        report_error(exc.message, exc.hint)
        return exc.exit_code
    except BaseException as exc:  # a StopRequested/KeyboardInterrupt during start: already rolled back
        if type(exc).__name__ in ("StopRequested", "KeyboardInterrupt"):
            report_error(f"the devnet was stopped while starting ({exc})", None)
            return 1
        raise
    return 0


def report_error(message: str, hint: str | None) -> None:
    """One marked JSON line the parent (`start --detach`) reads back from the log; readable text too."""
    print(f"{ERROR_MARKER}{json.dumps({'message': message, 'hint': hint})}", flush=True)
    print(f"error: {message}" + (f"\nhint: {hint}" if hint else ""), flush=True)


if __name__ == "__main__":
    sys.exit(main())
