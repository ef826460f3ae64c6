"""Prometheus metrics of the aggregator in the text exposition format (0.0.4), without a dependency.

Counters, gauges and histograms with labels, thread-safe; `Metrics.render()` is what GET /metrics returns.
(`prometheus_client` would do the same; this keeps the install to what pyproject already has.)
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 120.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(str(v))}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, doc: str, labels: Sequence[str] = ()) -> None:
        self.name, self.doc, self.label_names = name, doc, tuple(labels)
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    """A monotonically increasing value per label set."""

    kind = "counter"

    def __init__(self, name: str, doc: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, doc, labels)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, *labels: str) -> float:
        with self._lock:
            return self._values.get(labels, 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.label_names, k)} {_num(v)}" for k, v in items]


class Gauge(Counter):
    """A value that is set (or read from a callback at render time)."""

    kind = "gauge"

    def __init__(self, name: str, doc: str, labels: Sequence[str] = (),
                 read: Callable[[], dict[tuple[str, ...], float]] | None = None) -> None:
        super().__init__(name, doc, labels)
        self._read = read

    def set(self, *labels: str, value: float) -> None:
        with self._lock:
            self._values[labels] = value

    def lines(self) -> list[str]:
        if self._read is not None:
            try:
                values = self._read()
            except Exception:  # noqa: BLE001 - a metrics scrape never fails the aggregator
                values = {}
            with self._lock:
                self._values = dict(values)
        return super().lines()


class Histogram(_Metric):
    """Observations in cumulative buckets, with their sum and count, per label set."""

    kind = "histogram"

    def __init__(self, name: str, doc: str, labels: Sequence[str] = (),
                 buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        super().__init__(name, doc, labels)
        self.buckets = tuple(sorted(buckets)) + (math.inf,)
        self._data: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            counts, total = self._data.setdefault(labels, ([0] * len(self.buckets), [0.0]))
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[i] += 1
                    break
            total[0] += value

    def count(self, *labels: str) -> int:
        with self._lock:
            found = self._data.get(labels)
            return sum(found[0]) if found else 0

    def lines(self) -> list[str]:
        out = []
        with self._lock:
            items = sorted((k, (list(c), t[0])) for k, (c, t) in self._data.items())
        for key, (counts, total) in items:
            running = 0
            for bound, n in zip(self.buckets, counts):
                running += n
                le = _labels(self.label_names, key, f'le="{_num(bound)}"')
                out.append(f"{self.name}_bucket{le} {running}")
            out.append(f"{self.name}_sum{_labels(self.label_names, key)} {_num(total)}")
            out.append(f"{self.name}_count{_labels(self.label_names, key)} {running}")
        return out


class Metrics:
    """Every metric the aggregator exports."""

    def __init__(self, task_counts: Callable[[], dict[str, int]] | None = None,
                 pairings: Callable[[], tuple[int, int]] | None = None) -> None:
        ns = "hourglass_aggregator"

        def tasks() -> dict[tuple[str, ...], float]:
            return {(s,): float(n) for s, n in (task_counts() if task_counts else {}).items()}

        def pairing_counts() -> dict[tuple[str, ...], float]:
            checks, pairs = pairings() if pairings else (0, 0)
            return {("checks",): float(checks), ("pairs",): float(pairs)}

        self.tasks = Gauge(f"{ns}_tasks", "Tasks in the store by status.", ["status"], read=tasks)
        self.task_outcomes = Counter(f"{ns}_task_outcomes_total", "Tasks finished by this process, by status.",
                                     ["chain", "status"])
        self.stage_seconds = Histogram(f"{ns}_stage_seconds", "Time per task stage.", ["stage"])
        self.responses = Counter(f"{ns}_responses_total", "Executor answers by operator and outcome.",
                                 ["operator", "outcome"])
        self.response_seconds = Histogram(f"{ns}_response_seconds", "From the aggregator seeing a task to an executor's "
                                          "valid answer, by operator.", ["operator"])
        self.submissions = Counter(f"{ns}_submissions_total", "submitResult attempts by outcome.",
                                   ["chain", "outcome"])
        self.blocks = Gauge(f"{ns}_scanned_block", "Highest block scanned per chain.", ["chain"])
        self.reorgs = Counter(f"{ns}_reorgs_total", "Reorgs detected per chain.", ["chain"])
        self.pairings = Gauge(f"{ns}_pairing_work", "BN254 pairing checks and Miller-loop pairs computed.",
                              ["kind"], read=pairing_counts)
        self.in_flight = Gauge(f"{ns}_sessions_in_flight", "Task sessions running now.")
        self.workflow_actions = Counter(f"{ns}_workflow_actions_total",
                                        "Workflow driver actions (task, update, complete, timeout) by outcome.",
                                        ["chain", "action", "outcome"])
        self.workflow_open_phases = Gauge(f"{ns}_workflow_open_phases", "Workflow phases the driver watches.",
                                          ["chain"])
        self.workflow_blocks = Gauge(f"{ns}_workflow_scanned_block", "Highest block the workflow driver scanned.",
                                     ["chain"])
        self.workflow_errors = Counter(f"{ns}_workflow_errors_total",
                                       "Workflow driver failures (a look at the chain, a phase it could not handle).",
                                       ["chain", "kind"])

    def all(self) -> list[_Metric]:
        return [self.tasks, self.task_outcomes, self.stage_seconds, self.responses, self.response_seconds,
                self.submissions, self.blocks, self.reorgs, self.pairings, self.in_flight, self.workflow_actions,
                self.workflow_open_phases, self.workflow_blocks, self.workflow_errors]

    def render(self) -> str:
        lines: list[str] = []
        for metric in self.all():
            lines += metric.header() + metric.lines()
        return "\n".join(lines) + "\n"
