"""Run rnnpipe as a service on this machine: ``rnnpipe up`` and ``rnnpipe down``.

``up`` starts a Prefect server on 127.0.0.1 with its SQLite database in the
project's ``.prefect`` folder. It then creates the work pools, applies
``prefect.yaml`` (see ``rnnpipe.deploy``) and starts a worker for the ``cpu``
pool, and one for the ``gpu`` pool when requested. Each process runs in the
background with its process id in ``.prefect/pids/`` and its output in
``.prefect/logs/``. ``down`` stops exactly those processes, and the flow runs
that their workers started, by process id.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from rnnpipe import deploy
from rnnpipe.environment import PREFECT_DEFAULTS
from rnnpipe.errors import RnnpipeError

logger = logging.getLogger(__name__)

PROJECT_DIR_VARIABLE = "RNNPIPE_PROJECT_DIR"
HOST = "127.0.0.1"
DEFAULT_PORT = 4200
STARTUP_TIMEOUT_SECONDS = 300.0
STOP_TIMEOUT_SECONDS = 20.0
SERVER = "server"


class ServiceError(RnnpipeError):
    """A server or worker that could not be started or stopped."""


def project_directory() -> Path:
    """Return the rnnpipe checkout: ``$RNNPIPE_PROJECT_DIR``, else the one rnnpipe is installed from."""
    configured = os.environ.get(PROJECT_DIR_VARIABLE)
    if configured:
        directory = Path(configured).expanduser().resolve()
        if not (directory / deploy.PREFECT_FILE).is_file():
            raise ServiceError(
                f"{PROJECT_DIR_VARIABLE}={configured} has no {deploy.PREFECT_FILE}. Point it at the "
                "rnnpipe checkout on this machine."
            )
        return directory
    installed_from = Path(__file__).resolve().parents[1]
    if (installed_from / deploy.PREFECT_FILE).is_file():
        return installed_from
    raise ServiceError(
        f"rnnpipe is installed from {installed_from}, which has no {deploy.PREFECT_FILE}. Install "
        f"it from a checkout with 'pip install -e .', or set {PROJECT_DIR_VARIABLE} to the checkout."
    )


def set_project_directory() -> dict[str, str]:
    """Change into the rnnpipe checkout. This is the pull step of every deployment in ``prefect.yaml``.

    A worker starts each flow run in a temporary folder, and the deployment's
    entrypoints (``flows/compare.py``) are relative to the checkout.
    """
    directory = project_directory()
    os.chdir(directory)
    return {"directory": str(directory)}


@dataclass(frozen=True)
class Service:
    """Locations of one checkout's service: its Prefect home (database, process ids, logs) and port."""

    project_dir: Path
    prefect_home: Path
    port: int = DEFAULT_PORT
    host: str = HOST

    @classmethod
    def for_project(cls, project_dir: Path, port: int = DEFAULT_PORT, prefect_home: Path | None = None) -> Service:
        project_dir = Path(project_dir).resolve()
        return cls(project_dir, Path(prefect_home or project_dir / ".prefect").resolve(), port)

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.ui_url}/api"

    @property
    def pid_dir(self) -> Path:
        return self.prefect_home / "pids"

    @property
    def log_dir(self) -> Path:
        return self.prefect_home / "logs"

    def environment(self) -> dict[str, str]:
        """Return the environment of the server, the workers and the ``prefect`` commands."""
        # The settings of `rnnpipe run` (analytics off, quiet TensorFlow); values set
        # in the environment win.
        environment = {**PREFECT_DEFAULTS, **os.environ}
        environment.update(
            {
                "PREFECT_HOME": str(self.prefect_home),
                "PREFECT_API_URL": self.api_url,
                PROJECT_DIR_VARIABLE: str(self.project_dir),
            }
        )
        return environment


# --- up ------------------------------------------------------------------------------


def up(service: Service, gpu_worker: bool = False, gpu_worker_limit: int = 2) -> list[dict]:
    """Start the server, apply the deployments and start the workers, skipping what already runs.

    Returns:
        The deployments as the server returns them.
    """
    service.pid_dir.mkdir(parents=True, exist_ok=True)
    service.log_dir.mkdir(parents=True, exist_ok=True)
    prefect = deploy.prefect_executable()

    server_pid = running_pid(service, SERVER)
    if server_pid is None:
        start_server(service, prefect)
    else:
        _check_same_port(service, server_pid)
        logger.info("the Prefect server of %s is already running (pid %d)", service.prefect_home, server_pid)
    wait_until_healthy(service)

    deployments = deploy.deploy_project(
        service.api_url, service.project_dir, prefect, service.environment(), service.log_dir / "deploy.log"
    )

    start_worker(service, prefect, "cpu")
    if gpu_worker:
        start_worker(service, prefect, "gpu", limit=gpu_worker_limit)
    return deployments


def _check_same_port(service: Service, server_pid: int) -> None:
    command = json.loads(_pid_path(service, SERVER).read_text(encoding="utf-8"))["command"]
    port = int(command[command.index("--port") + 1])
    if port != service.port:
        raise ServiceError(
            f"The Prefect server of {service.prefect_home} already runs on port {port} (pid "
            f"{server_pid}), not {service.port}. Use that port (make up PORT={port}), or stop it "
            "first with 'make down'."
        )


def start_server(service: Service, prefect: Path) -> int:
    """Start ``prefect server start`` on the service's loopback port in the background."""
    if not port_is_free(service.host, service.port):
        raise ServiceError(
            f"Port {service.port} on {service.host} is already in use, so the Prefect server cannot "
            "start there. Stop what listens on it, or choose another port: make up PORT=4300."
        )
    command = [str(prefect), "server", "start", "--host", service.host, "--port", str(service.port)]
    pid = _start_background(service, SERVER, command)
    logger.info("started the Prefect server on %s (pid %d, log %s)", service.ui_url, pid, _log_path(service, SERVER))
    return pid


def wait_until_healthy(service: Service, timeout_seconds: float = STARTUP_TIMEOUT_SECONDS) -> None:
    """Wait for the server's health check; raise with the end of its log when it exits or times out."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            deploy.check_server(service.api_url)
            return
        except deploy.ServerUnreachableError:
            pass
        if running_pid(service, SERVER) is None:
            raise ServiceError(f"The Prefect server exited during start-up. End of its log:\n{_log_tail(service, SERVER)}")
        if time.monotonic() >= deadline:
            raise ServiceError(
                f"The Prefect server at {service.api_url} did not pass its health check within {timeout_seconds:.0f} s. "
                f"End of its log:\n{_log_tail(service, SERVER)}"
            )
        time.sleep(1.0)


def start_worker(service: Service, prefect: Path, pool: str, name: str | None = None, limit: int | None = None) -> int:
    """Start a process worker that polls ``pool``, unless this service already runs one for it."""
    process_name = f"worker-{pool}"
    existing = running_pid(service, process_name)
    if existing is not None:
        logger.info("a worker for work pool '%s' is already running (pid %d)", pool, existing)
        return existing
    worker_name = name or f"{pool}-{socket.gethostname()}"
    command = [
        str(prefect), "worker", "start",
        "--pool", pool,
        "--type", "process",
        "--name", worker_name,
        "--install-policy", "never",
        "--no-create-pool-if-not-found",
    ]  # fmt: skip
    if limit is not None:
        command += ["--limit", str(limit)]
    pid = _start_background(service, process_name, command)
    logger.info("started worker %s for work pool '%s' (pid %d, log %s)", worker_name, pool, pid, _log_path(service, process_name))
    return pid


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _start_background(service: Service, process_name: str, command: list[str]) -> int:
    log = open(_log_path(service, process_name), "ab")
    try:
        # A new session, so that the process outlives `rnnpipe up` and a Ctrl-C in
        # the terminal that ran it.
        process = subprocess.Popen(
            command,
            cwd=service.project_dir,
            env=service.environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()
    record = {"pid": process.pid, "command": command}
    _pid_path(service, process_name).write_text(json.dumps(record) + "\n", encoding="utf-8")
    return process.pid


# --- down ----------------------------------------------------------------------------


def down(service: Service) -> list[str]:
    """Stop the workers, then the server, that ``up`` started for this service.

    Returns:
        One line per stopped process.
    """
    if not service.pid_dir.is_dir():
        return []
    names = sorted(path.stem for path in service.pid_dir.glob("*.pid"))
    # Workers first, so that no worker reports a lost server while it shuts down.
    ordered = [name for name in names if name != SERVER] + [name for name in names if name == SERVER]
    stopped = []
    for name in ordered:
        pid = running_pid(service, name)
        if pid is not None:
            stop_process_tree(pid)
            stopped.append(f"stopped {name} (pid {pid})")
        _pid_path(service, name).unlink(missing_ok=True)
    return stopped


def running_pid(service: Service, process_name: str) -> int | None:
    """Return the id of the process that ``up`` recorded under ``process_name`` if it still runs."""
    path = _pid_path(service, process_name)
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    pid = int(record["pid"])
    if not _is_alive(pid):
        return None
    # A process id can be reused after the recorded process exited; only a
    # process that still runs the recorded command is ours.
    command_line = _command_line(pid)
    if command_line is not None and not _runs_command(command_line, record["command"]):
        return None
    return pid


def _runs_command(command_line: list[str], command: list[str]) -> bool:
    # A console script such as `prefect` runs as `python .../bin/prefect ...`, so
    # the recorded command is looked for anywhere in the command line.
    width = len(command)
    return any(command_line[start : start + width] == command for start in range(len(command_line) - width + 1))


def stop_process_tree(pid: int, timeout_seconds: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop ``pid`` and every process it started: SIGTERM first, SIGKILL after ``timeout_seconds``.

    The descendants are looked up before the signal, because a worker starts each
    flow run in a session of its own, which a signal to the worker's process group
    does not reach.
    """
    tree = [pid, *_descendants(pid)]
    _signal_group_or_process(pid, signal.SIGTERM)
    for child in tree[1:]:
        _signal(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout_seconds
    while any(_is_alive(member) for member in tree) and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = [member for member in tree if _is_alive(member)]
    for member in survivors:
        logger.warning("process %d did not stop within %.0f s of SIGTERM; sending SIGKILL", member, timeout_seconds)
        _signal(member, signal.SIGKILL)


def _signal_group_or_process(pid: int, signal_number: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal_number)
            return
    except ProcessLookupError:
        return
    _signal(pid, signal_number)


def _signal(pid: int, signal_number: int) -> None:
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        pass


def _is_alive(pid: int) -> bool:
    # Reap the process if it is a child of this one. Otherwise it lingers as a
    # zombie, which signal 0 still reports as alive.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _process_state(pid) != "Z"


def _process_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _command_line(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _descendants(pid: int) -> list[int]:
    """Return the ids of every process below ``pid``, read from /proc; empty where there is none."""
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        # NOTE: without /proc (macOS) only the recorded process itself is stopped.
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    queue = list(children.get(pid, []))
    while queue:
        child = queue.pop()
        found.append(child)
        queue.extend(children.get(child, []))
    return found


def _pid_path(service: Service, process_name: str) -> Path:
    return service.pid_dir / f"{process_name}.pid"


def _log_path(service: Service, process_name: str) -> Path:
    return service.log_dir / f"{process_name}.log"


def _log_tail(service: Service, process_name: str, characters: int = 3000) -> str:
    path = _log_path(service, process_name)
    return path.read_text(encoding="utf-8", errors="replace")[-characters:] if path.is_file() else "(no log)"
