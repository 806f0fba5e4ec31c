"""Start and stop the local stack and the service processes, as ``make run`` and tests do."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["REPO_ROOT", "ServiceGroup", "read_stack_env", "start_stack", "stop_stack"]

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_SCRIPT = REPO_ROOT / "deploy" / "stack" / "stack.py"
ALL_SERVICES = (
    "downloader",
    "summarizer",
    "sources",
    "costmodel",
    "hcs",
    "subs",
    "scheduler",
)


def stack_dir() -> Path:
    return Path(os.environ.get("COSTPIPE_STACK_DIR", REPO_ROOT / ".stack"))


def start_stack() -> dict[str, str]:
    """Start the broker, PostgreSQL and the S3 server; return their settings."""
    # The stack's status lines go to standard error, so standard output stays data.
    subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(STACK_SCRIPT), "start"], check=True, stdout=sys.stderr
    )
    return read_stack_env()


def stop_stack(*, purge: bool = False) -> None:
    """Stop the local stack; ``purge`` also deletes its data."""
    command = [
        sys.executable,
        str(STACK_SCRIPT),
        "stop",
        *(["--purge"] if purge else []),
    ]
    subprocess.run(command, check=False, stdout=sys.stderr)  # noqa: S603 - our own script


def read_stack_env() -> dict[str, str]:
    """Return the KEY=VALUE settings that the stack script wrote."""
    path = stack_dir() / "env"
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ServiceGroup:
    """Service processes sharing one environment, each with its own admin port and log."""

    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def start(
        self,
        names: tuple[str, ...] = ALL_SERVICES,
        extra: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            port = free_port()
            env = {
                **os.environ,
                **self.env,
                "COSTPIPE_ADMIN_PORT": str(port),
                **(extra or {}).get(name, {}),
            }
            log = (self.log_dir / f"{name}.log").open("ab")
            self.processes[name] = subprocess.Popen(  # noqa: S603 - our own module
                [sys.executable, "-m", f"services.{name}"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.ports[name] = port

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Wait until every service returns 200 on ``/readyz``; raise naming the ones that do not."""
        deadline = time.monotonic() + timeout_s
        pending = set(self.processes)
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                if self.processes[name].poll() is not None:
                    raise RuntimeError(
                        f"service {name} exited; see {self.log_dir / (name + '.log')}"
                    )
                try:
                    response = httpx.get(
                        f"http://127.0.0.1:{self.ports[name]}/readyz", timeout=2.0
                    )
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    pending.discard(name)
            time.sleep(0.5)
        if pending:
            raise TimeoutError(
                f"services not ready after {timeout_s:.0f} s: {', '.join(sorted(pending))}"
            )

    def kill(self, name: str) -> None:
        """End one service at once (SIGKILL), as a crash would."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self, timeout_s: float = 20.0) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in self.processes.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                process.wait(remaining)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()
