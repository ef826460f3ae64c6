"""The CUSTOM_CODE sandbox's cost per run: median ms for `return 1` and for a lodash-using script.

Rows: `run_code` end to end on a warm pool (a fresh QuickJS context per run in a worker process, IPC included),
back to back and one every 20 ms (then each worker has its next context, libraries loaded, ready); the same
from 8 threads at once (wall ms per run over all of them); and, for reference, the bare engine in this
process (a fresh quickjs-ng context, no prelude, no IPC).

Usage: .venv/bin/python benchmarks/jsbox.py [--runs 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hourglass_cli.api.js_libs import find_libs  # noqa: E402
from hourglass_cli.api.jsbox import JsPool, run_code  # noqa: E402

RETURN_1 = "return 1"
LODASH = ("const _ = require('lodash');\n"
          "return _.sortBy(_.range(100).map(i => ({i, v: (i * 7919) % 101})), 'v').slice(0, 3).map(o => o.i);")
VARIABLES = {"trigger": {"data": {"amount": 7}}}


def timed(fn, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def timed_paced(fn, runs: int, interval_s: float) -> tuple[float, float]:
    """Like timed, but one call per interval (requests arriving at a steady rate, not back to back)."""
    samples = []
    next_at = time.monotonic()
    for _ in range(runs):
        time.sleep(max(0.0, next_at - time.monotonic()))  # pacing the arrivals, not waiting for a condition
        next_at += interval_s
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def threaded(fn, threads: int, per_thread: int) -> float:
    def loop() -> None:
        for _ in range(per_thread):
            fn()
    workers = [threading.Thread(target=loop) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return (time.perf_counter() - start) * 1000 / (threads * per_thread)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    if set(find_libs()) != {"lodash", "dayjs", "uuid"}:
        sys.exit("lodash/dayjs/uuid are not installed: run `make tools` or `hourglass devnet install js-libs`")
    pool = JsPool()
    pool.warm(pool.size)
    rows = []
    for name, source in (("return 1", RETURN_1), ("lodash script", LODASH)):
        run_code(source, VARIABLES, pool=pool)
        med, low = timed(lambda s=source: run_code(s, VARIABLES, pool=pool), args.runs)
        rows.append((f"run_code {name}", med, low, args.runs, "warm pool, IPC included"))
        paced = timed_paced(lambda s=source: run_code(s, VARIABLES, pool=pool), max(10, args.runs // 4), 0.02)
        rows.append((f"run_code {name}, one every 20 ms", paced[0], paced[1], max(10, args.runs // 4),
                     "the worker's spare context is ready"))
        per = threaded(lambda s=source: run_code(s, VARIABLES, pool=pool), 8, max(1, args.runs // 8))
        rows.append((f"run_code {name}, 8 threads", per, per, 8 * max(1, args.runs // 8),
                     f"wall ms per run, {pool.size} workers"))
    pool.close()

    import quickjs

    lodash_src = find_libs()["lodash"].read_text()

    def bare_return_1() -> None:
        quickjs.Context().eval("(function() { return 1 })()")

    def bare_lodash() -> None:
        ctx = quickjs.Context()
        ctx.eval("var module = {exports: {}}; (function (module, exports) {" + lodash_src + "\n})(module, module.exports);"
                 "var _ = module.exports; _.sortBy(_.range(100), x => -x)[0]")

    for name, fn in (("bare context return 1", bare_return_1), ("bare context lodash load+script", bare_lodash)):
        med, low = timed(fn, args.runs)
        rows.append((name, med, low, args.runs, "in-process reference"))

    print(f"{'case':42s} {'median ms':>10s} {'min ms':>8s} {'runs':>5s}  note")
    for name, med, low, runs, note in rows:
        print(f"{name:42s} {med:10.2f} {low:8.2f} {runs:5d}  {note}")


if __name__ == "__main__":
    main()
