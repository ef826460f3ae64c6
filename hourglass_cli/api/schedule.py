"""Cron schedules of CRON triggers (``croniter``): checking them at CreateTask, the next fire times for watchers."""

from __future__ import annotations

from datetime import UTC, datetime


def check_cron(text: str) -> str | None:
    """None when `text` is a cron expression (5 fields, or 6 with seconds), else what is wrong."""
    from croniter import croniter

    fields = text.split()
    if len(fields) not in (5, 6):
        return f"a cron expression has 5 fields (minute hour day month weekday), this has {len(fields)}"
    if not croniter.is_valid(text):
        return "not a valid cron expression (e.g. '*/5 * * * *' = every 5 minutes)"
    return None


def next_fire(text: str, after_ms: int) -> int:
    """The next time (ms) at or after `after_ms` when `text` fires."""
    from croniter import croniter

    start = datetime.fromtimestamp(after_ms / 1000, UTC)
    return int(croniter(text, start).get_next(float) * 1000)
