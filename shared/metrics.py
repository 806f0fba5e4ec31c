"""Prometheus metrics of every service, one module so names stay consistent."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "DEAD_LETTERS",
    "EVENTS_HANDLED",
    "EVENTS_PRODUCED",
    "REPORT_DOWNLOAD_ATTEMPTS",
    "REPORT_ROWS",
    "TASK_SECONDS",
]

EVENTS_HANDLED = Counter(
    "costpipe_events_handled_total",
    "Events handled, by task and outcome.",
    ["task", "outcome"],
)
EVENTS_PRODUCED = Counter(
    "costpipe_events_produced_total", "Events produced.", ["topic"]
)
DEAD_LETTERS = Counter(
    "costpipe_dead_letters_total", "Events sent to the dead-letter topic.", ["reason"]
)
TASK_SECONDS = Histogram(
    "costpipe_task_duration_seconds", "Handler run time, by task.", ["task"]
)
REPORT_DOWNLOAD_ATTEMPTS = Counter(
    "costpipe_report_download_attempts_total",
    "Report files downloaded.",
    ["provider_type"],
)
REPORT_ROWS = Counter(
    "costpipe_report_rows_total", "Line items converted to Parquet.", ["provider_type"]
)
