"""Tasks laid out for the terminal's width: `task list`, `task watch` and the devnet's live view.

Status and hash come first and are never cut, then the stages and the time; the reason gets what is left of the
line and is cut with "…" (the full text: `hourglass task status HASH`, which takes the short hash shown here).
Below WIDE columns the block is left out and the stages are abbreviated; from FULL_HASH on the whole hash shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import RenderableType

    from hourglass_cli.tasks.client import Outcome
    from hourglass_cli.tasks.progress import Progress

STYLE = {"verified": "green", "completed": "yellow", "processing": "cyan", "pending": "cyan", "created": "cyan",
         "failed": "red", "expired": "red", "cancelled": "yellow", "unknown": "dim"}
WIDE = 100  # from this width on: the block column and the stages spelled out
FULL_HASH = 160  # from this width on: the whole task hash
MIN_REASON = 12  # a reason column narrower than this is left out (the footnote points to `task status`)
GAP = 2  # spaces between columns


def short_hash(task_hash: str) -> str:
    """`0x1a2b3c4d…ef01`: what `task status` takes back (resolved in the aggregator's store)."""
    return task_hash[:10] + "…" + task_hash[-4:]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def stages_text(row: Progress, wide: bool) -> str:
    """`distributed → 3/4 → certificate → verified`; narrow: `3/4 → cert → verified`."""
    words = {"responses": f"{row.responses_ok}/{row.operators}", "certificate": "certificate" if wide else "cert"}
    parts = [words.get(stage, stage) for stage in row.stages]
    if not wide and len(parts) > 1 and parts[0] == "distributed":
        parts = parts[1:]
    return " → ".join(parts) or "-"


def one_line(text: str) -> str:
    return " ".join(text.split())


def task_table(rows: list[Progress], width: int, title: str | None = None) -> RenderableType:
    """The rows as a table exactly `width` columns wide at most, with a footnote when a reason was cut."""
    from rich.cells import cell_len as length
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    wide = width >= WIDE
    hashes = [r.task_hash if width >= FULL_HASH else short_hash(r.task_hash) for r in rows]
    columns: list[tuple[str, list[str]]] = [
        ("status", [r.status for r in rows]),
        ("task", hashes),
        ("block", ["-" if r.block is None else str(r.block) for r in rows]),
        ("stages", [stages_text(r, wide) for r in rows]),
        ("time", [duration(r.seconds) for r in rows]),
    ]
    if not wide:
        columns = [c for c in columns if c[0] != "block"]
    reasons = [one_line(r.reason) for r in rows]

    def room(cols: list[tuple[str, list[str]]]) -> int:
        fixed = sum(max([length(name), *map(length, cells)]) for name, cells in cols)
        return width - fixed - GAP * len(cols)

    show_reason = any(reasons)
    if show_reason and room(columns) < MIN_REASON and any(c[0] == "block" for c in columns):
        columns = [c for c in columns if c[0] != "block"]
    reason_width = room(columns)
    if reason_width < MIN_REASON:
        show_reason = False
    cut = [i for i, reason in enumerate(reasons) if reason and (not show_reason or length(reason) > reason_width)]

    table = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False, header_style="bold", expand=False)
    for name, cells in columns:
        table.add_column(name, width=max([length(name), *map(length, cells)]), no_wrap=True,
                         justify="right" if name in ("block", "time") else "left")
    if show_reason:
        table.add_column("reason", width=max(length("reason"), min(reason_width, max(map(length, reasons)))),
                         no_wrap=True, overflow="ellipsis")
    for i, row in enumerate(rows):
        cells: list[Text | str] = [Text(row.status, style=STYLE.get(row.status, "")), *[c[i] for _, c in columns[1:]]]
        if show_reason:
            cells.append(Text(reasons[i], no_wrap=True, overflow="ellipsis"))
        table.add_row(*cells)
    parts: list[RenderableType] = []
    if title:
        parts.append(Text(title, style="bold"))
    parts.append(table)
    if cut:
        what = "reasons cut to fit" if show_reason else "reasons left out to fit"
        parts.append(Text(f"{what}; the full text: hourglass task status {short_hash(rows[cut[0]].task_hash)}",
                          style="dim", overflow="fold"))
    return Group(*parts)


def timing_text(out: Outcome) -> str:
    """`first response +12 ms · 4/4 responses +40 ms · certificate +45 ms · verified +60 ms (since …)`."""
    labels = {"first_response": "first response", "last_response": f"{out.responses_ok}/{out.operators} responses",
              "certificate": "certificate", "verified": "verified", "ended": out.word}
    shown = [(labels[key], seconds) for key, seconds in out.timings.items()
             if seconds is not None and key in labels and not (key == "ended" and out.timings.get("verified"))]
    if not shown:
        return ""
    origin = "since the aggregator saw the task" if out.timings_from != "sent" else "since createTask was sent"
    return " · ".join(f"{label} +{seconds * 1e3:.0f} ms" for label, seconds in shown) + f" ({origin})"


def outcome_fields(out: Outcome, decoded: str, names: dict[str, str]) -> RenderableType:
    """`task submit`/`task status`: what happened and why first, then the result, the task and its timings."""
    from rich.table import Table
    from rich.text import Text

    word = out.word
    rows: list[tuple[str, Text]] = [("status", Text(word, style=f"bold {STYLE.get(word, '')}".strip()))]
    if out.reason:
        rows.append(("reason", Text(out.reason)))
    if out.result is not None:
        rows.append(("result", Text("0x" + out.result.hex() + decoded)))
    rows.append(("task", Text(out.task_hash)))
    chain = out.status
    if out.status == "CREATED" and word in ("failed", "expired", "cancelled"):
        chain += " (no result; the mailbox reports EXPIRED once the task's deadline passes)"
    rows.append(("on chain", Text(chain)))
    if out.view is not None:
        t = out.view.task
        rows.append(("aggregator", Text(f"{t.status} (task seen in block {t.block_number})")))
        rows.append(("responses", Text(out.responses)))
        for r in out.view.responses:
            if r.outcome != "ok" and (r.detail or "") not in out.reason:  # the reason names most already
                rows.append((names.get(r.operator, r.operator), Text(f"{r.outcome}: {r.detail}")))
    timing = timing_text(out)
    if timing:
        rows.append(("timings", Text(timing)))
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table
