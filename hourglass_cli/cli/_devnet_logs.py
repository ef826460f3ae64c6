"""`hourglass devnet logs`: list, print and follow the devnet's per-component log files."""

from __future__ import annotations

import os
import select
import sys
from pathlib import Path

from hourglass_cli.errors import HourglassError, UsageError

FOLLOW_INTERVAL_S = 0.2  # how often a followed file is re-read while the supervisor runs


def _logs_dir(root: Path) -> Path:
    from hourglass_cli.devnet.state import devnet_dir

    return devnet_dir(root) / "logs"


def _performer_names(root: Path) -> dict[str, str]:
    """The executors' performer logs are named after the operator's address: map them to the executor."""
    from hourglass_cli.devnet.state import devnet_dir, load_state

    try:
        state = load_state(devnet_dir(root))
    except HourglassError:
        return {}
    operators = (state.operators or {}).get("operators", []) if state is not None else []
    return {f"hourglass-performer-{op['address'].lower()[2:10]}": f"{op['name']}.performer" for op in operators}


def _names(root: Path) -> dict[str, Path]:
    """Log name -> file: chain, executor-1, executor-1.performer, supervisor, …"""
    folder = _logs_dir(root)
    if not folder.is_dir():
        return {}
    aliases = _performer_names(root)
    return dict(sorted((aliases.get(p.stem, p.stem), p) for p in folder.glob("*.log")))


def list_logs(root: Path) -> None:
    names = _names(root)
    if not names:
        print(f"no devnet logs in {_logs_dir(root)}")
        return
    width = max(len(n) for n in names)
    for name, path in names.items():
        print(f"{name:<{width}}  {path.stat().st_size:>9,} B  {path}")
    print("show one with `hourglass devnet logs NAME`, follow all with `hourglass devnet logs -f`")


def pick_log(root: Path, name: str) -> Path:
    """The log called `name`, or the only one whose name starts with it."""
    names = _names(root)
    if name in names:
        return names[name]
    matches = [n for n in names if n.startswith(name)]
    if len(matches) == 1:
        return names[matches[0]]
    known = ", ".join(names) or "none yet"
    what = "matches several logs" if matches else "is not a devnet log"
    raise UsageError(f"{name!r} {what}", hint=f"logs: {known}")


def _tail_lines(data: bytes, lines: int) -> bytes:
    if not lines:
        return data
    return b"".join(data.splitlines(keepends=True)[-lines:])


def print_log(path: Path, lines: int = 0) -> None:
    sys.stdout.buffer.write(_tail_lines(path.read_bytes(), lines))
    sys.stdout.flush()


def _supervisor_pidfd(root: Path) -> tuple[int | None, bool]:
    """(a pidfd of the running supervisor or None, whether a supervisor runs)."""
    from hourglass_cli.devnet.state import devnet_dir, load_state

    state = load_state(devnet_dir(root))
    if state is None or not state.is_running():
        return None, False
    try:
        return os.pidfd_open(state.supervisor_pid), True
    except (AttributeError, OSError):
        return None, True


def follow_logs(root: Path, paths: list[Path] | None, lines: int = 0) -> None:
    """Print new lines as they are written (prefixed by the log's name when following several) until the
    devnet's supervisor exits or Ctrl-C. Without `paths`, every log, including ones that appear later."""
    out = sys.stdout.buffer
    prefix = paths is None
    offsets: dict[Path, int] = {}
    labels: dict[Path, str] = {}

    def label(path: Path) -> str:
        if path not in labels:
            labels.update({p: n for n, p in _names(root).items()})
        return labels.get(path, path.stem)

    partial: dict[Path, bytes] = {}

    def pump(first: bool) -> None:
        current = list(_names(root).values()) if paths is None else paths
        for path in current:
            try:
                with path.open("rb") as f:
                    f.seek(offsets.get(path, 0))
                    data = f.read()
                    offsets[path] = f.tell()
            except OSError:
                continue
            if first:
                data = _tail_lines(data, lines)
            data = partial.pop(path, b"") + data
            complete, _, rest = data.rpartition(b"\n")
            if rest:
                partial[path] = rest
            if complete:
                for line in (complete + b"\n").splitlines(keepends=True):
                    out.write((f"{label(path):>20} | ".encode() if prefix else b"") + line)
        out.flush()

    pidfd, running = _supervisor_pidfd(root)
    try:
        pump(first=True)
        while running:
            # wait on the supervisor's exit (pidfd); re-read the files every FOLLOW_INTERVAL_S meanwhile
            ready, _, _ = select.select([pidfd] if pidfd is not None else [], [], [], FOLLOW_INTERVAL_S)
            pump(first=False)
            if ready or (pidfd is None and not _supervisor_pidfd(root)[1]):
                break
        for path, rest in partial.items():  # a last line without newline
            out.write((f"{label(path):>20} | ".encode() if prefix else b"") + rest + b"\n")
        out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        if pidfd is not None:
            os.close(pidfd)
