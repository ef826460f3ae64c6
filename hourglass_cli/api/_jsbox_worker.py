"""The JavaScript worker process (QuickJS) and the frames it speaks over its stdin/stdout pipes.

One request at a time, each in a fresh QuickJS context (its own runtime and heap), so its CPU clock is the run's
and nothing survives a run. Run as ``python -m hourglass_cli.api._jsbox_worker``; the pool starts it.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from pathlib import Path
from typing import Any

PRELUDE_PATH = Path(__file__).with_name("jsbox_prelude.js")
# User code starts at this line, past every line of the libraries and the prelude: a stack frame further down
# than this is the user's code, and its line number minus this (and the wrapper's lines) is the user's line.
LINE_OFFSET = 10000
KNOWN_LIBS = ("lodash", "dayjs", "uuid")

_LEN = struct.Struct(">I")


def encode_frame(header: dict[str, Any], parts: list[bytes] | None = None) -> bytes:
    """A frame: total length, header length, the header's JSON, then the raw parts the header lists the sizes of."""
    parts = parts or []
    head = json.dumps({**header, "parts": [len(p) for p in parts]}).encode()
    body = _LEN.pack(len(head)) + head + b"".join(parts)
    return _LEN.pack(len(body)) + body


def decode_frame(body: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """The header and parts of a frame's body (without its leading total length)."""
    (n,) = _LEN.unpack_from(body)
    header = json.loads(body[4:4 + n])
    parts, pos = [], 4 + n
    for size in header.pop("parts"):
        parts.append(body[pos:pos + size])
        pos += size
    return header, parts


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Context:
    """A fresh QuickJS context with the prelude evaluated and maybe libraries loaded; it serves exactly one run."""

    def __init__(self, engine: _Engine, libs: tuple[str | None, ...], limits: tuple[int, int, float],
                 preload: list[str]) -> None:
        self.libs = libs
        self.ctx = engine.quickjs.Context()
        self.set_limits(limits)
        cfg = json.dumps({"lineOffset": LINE_OFFSET, "known": list(KNOWN_LIBS)})
        self.hg = None
        setup = self.ctx.eval(engine.prelude)
        self.hg = setup(cfg, os.urandom(32).hex(), *(engine.lib_text(path) for path in libs))
        if preload:
            self.hg("preload", json.dumps(preload))

    def set_limits(self, limits: tuple[int, int, float]) -> None:
        memory, stack, time_s = limits
        self.ctx.set_memory_limit(memory)
        self.ctx.set_max_stack_size(stack)
        self.ctx.set_time_limit(time_s)


class _Engine:
    """Runs requests, each in a context of its own. After answering, while no request waits, it prepares the
    next one's context (prelude evaluated, the libraries the last run required already loaded): a spare no code
    has run in, so the isolation is the same and a lodash step does not pay lodash's ~8 ms load."""

    def __init__(self) -> None:
        import quickjs

        self.quickjs = quickjs
        self.prelude = PRELUDE_PATH.read_text()
        self._libs: dict[str, tuple[float, str]] = {}
        self._spare: _Context | None = None
        self._last: tuple[tuple[str | None, ...], tuple[int, int, float], list[str]] | None = None

    def lib_text(self, path: str | None) -> str | None:
        if path is None:
            return None
        try:
            mtime = os.stat(path).st_mtime
            cached = self._libs.get(path)
            if cached is None or cached[0] != mtime:
                cached = (mtime, Path(path).read_text(encoding="utf-8"))
                self._libs[path] = cached
            return cached[1]
        except OSError:
            return None

    def prepare_spare(self) -> None:
        """Make the next run's context now (called while idle)."""
        if self._last is not None and self._spare is None:
            try:
                self._spare = _Context(self, *self._last)
            except self.quickjs.JSException:
                self._spare = None  # the next run makes its own and reports what fails

    def handle(self, req: dict[str, Any], parts: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        quickjs = self.quickjs
        texts = [p.decode() for p in parts]
        run_cfg = json.dumps({"maxOutput": req["max_output"], "maxLog": req["max_log"], "missing": req["missing"]})
        libs = tuple(req["libs"].get(name) for name in KNOWN_LIBS)
        limits = (req["memory"], req["stack"], req["time_s"])
        start = time.perf_counter()
        context, self._spare = self._spare, None
        if context is not None and context.libs != libs:
            context = None
        hg = None
        try:
            if context is None:
                context = _Context(self, libs, limits, [])
            else:
                context.set_limits(limits)
            hg = context.hg
            hg("begin", texts[1], run_cfg)
            if req["op"] == "run":
                envelope = hg("run", texts[0])
            elif req["op"] == "exprs":
                envelope = hg("exprs", texts[0])
            else:
                envelope = hg("filter", texts[0], texts[2], bool(req["wrap_body"]))
            return {"ms": (time.perf_counter() - start) * 1000}, [envelope.encode()]
        except quickjs.JSException as exc:  # StackOverflow is one too
            logs = "[]"
            if hg is not None:
                try:
                    logs = hg("logs")
                except quickjs.JSException:
                    pass
            usage = context.ctx.memory() if context is not None else {}
            return ({"ms": (time.perf_counter() - start) * 1000, "exc": str(exc),
                     "stack_overflow": isinstance(exc, quickjs.StackOverflow),
                     "near_memory_limit": usage.get("malloc_size", 0) > 0.9 * req["memory"]}, [logs.encode()])
        finally:
            loaded: list[str] = []
            if hg is not None:
                try:
                    loaded = json.loads(hg("loaded"))
                except quickjs.JSException:
                    pass
            self._last = (libs, limits, loaded)
            del hg, context


def main() -> None:
    """Serve requests on stdin/stdout until stdin closes.

    Not PR_SET_PDEATHSIG: that fires when the *thread* that started the worker ends, and the pool starts workers
    from whichever caller thread needs one. A dead parent closes the pipe; a run in progress ends by its time limit.
    """
    out = os.dup(1)
    os.dup2(2, 1)  # anything printed by accident goes to stderr, never into the frames
    try:
        engine = _Engine()
        from importlib.metadata import version

        hello = {"ready": True, "engine": f"quickjs-ng {version('quickjs-ng')}"}
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it with a hint
        _write_all(out, encode_frame({"ready": False, "error": f"{type(exc).__name__}: {exc}"}))
        return
    _write_all(out, encode_frame(hello))
    while True:
        head = _read_exact(0, 4)
        if head is None:
            return
        body = _read_exact(0, _LEN.unpack(head)[0])
        if body is None:
            return
        req, parts = decode_frame(body)
        header, out_parts = engine.handle(req, parts)
        _write_all(out, encode_frame(header, out_parts))
        if not select.select([0], [], [], 0)[0]:  # nothing waiting: make the next run's context now
            engine.prepare_spare()


if __name__ == "__main__":
    main()
