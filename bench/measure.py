"""Timing statistics, peak memory of processes and facts about the machine (Linux /proc)."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Stats", "load_average", "machine_facts", "peak_rss_bytes"]


@dataclass(frozen=True)
class Stats:
    """Median, minimum and maximum of repeated measurements, with their count."""

    median: float
    minimum: float
    maximum: float
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Stats:
        if not values:
            raise ValueError("statistics need at least one measurement")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def peak_rss_bytes(pid: int | str = "self") -> int:
    """Return the peak resident set size of a process since it started (VmHWM).

    Raises ``FileNotFoundError`` when the process no longer exists.
    """
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM line; is this Linux?")


def load_average() -> tuple[float, float, float]:
    """Return the 1, 5 and 15 minute load averages."""
    return os.getloadavg()


def _meminfo_bytes(field: str) -> int:
    for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/meminfo has no {field} line")


def _cpu_model() -> str:
    for line in (
        Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    ):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_facts() -> dict[str, Any]:
    """Return cores, memory, CPU model, kernel and Python version of this machine."""
    return {
        "cores": os.cpu_count(),
        "memory_bytes": _meminfo_bytes("MemTotal"),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
