"""JSON-lines logging with the event's context attached to every record.

Handlers run inside :func:`event_context`, which puts tracing id, task, schema,
provider, topic, partition and offset into a context variable; the formatter adds
them to each line, so a log search by ``tracing_id`` follows one manifest across
services.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonFormatter", "configure_logging", "event_context"]

_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "costpipe_log_context", default=None
)
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)))


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object per line."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "service": self._service,
            "message": record.getMessage(),
        }
        entry.update(_CONTEXT.get() or {})
        entry.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        )
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send JSON lines for ``service`` to standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "aiokafka",
        "faust",
        "mode",
        "botocore",
        "aiobotocore",
        "uvicorn.access",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextlib.contextmanager
def event_context(**fields: Any) -> Iterator[None]:
    """Attach ``fields`` to every log line written inside the block."""
    merged = {
        **(_CONTEXT.get() or {}),
        **{k: v for k, v in fields.items() if v is not None},
    }
    token = _CONTEXT.set(merged)
    try:
        yield
    finally:
        _CONTEXT.reset(token)
