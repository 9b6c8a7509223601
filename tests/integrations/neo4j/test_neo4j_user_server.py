"""The embedded graph server: one per user, a graph per project, a password only the user can
read, stopped by `msp graph stop` and after idle time.

Tests run as root, who reads every file: the password file's protection is checked by reading
it as another user (nobody, through setpriv), from a folder that user can reach.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from msp_neo4j import _server
from msp_neo4j._executor import project_graph
from neo4j_fixtures import *  # noqa: F403  (the FalkorDB fixtures)
from neo4j_graph import FIRST, falkordb_graph, graph_cli, node_counts, record

from msp.testing import drain, plan, write_project

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _as_nobody(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NOBODY, *cmd], capture_output=True, text=True, timeout=30)


@pytest.fixture
def reachable_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A user state folder whose parents nobody can walk through (pytest's own tmp folder is
    root's alone, which would make any read by nobody fail for the wrong reason)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to read files as another user")
    base = Path("/tmp") / f"msp-state-{os.getpid()}-{tmp_path.name}"
    base.mkdir(mode=0o755)
    monkeypatch.setenv("XDG_STATE_HOME", str(base))
    yield base
    _server.stop(_server.user_dir())
    shutil.rmtree(base, ignore_errors=True)


def test_the_password_is_the_users_alone_and_the_server_refuses_anyone_without_it(reachable_state: Path) -> None:
    server = _server.ensure(_server.user_dir())
    folder = _server.user_dir()
    secret = folder / _server.PASSWORD_FILE
    assert server.password and secret.read_text().strip() == server.password
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / _server.CONF_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    # The same read succeeds for a file nobody may read: the check itself works.
    control = reachable_state / "readable"
    control.write_text("x")
    control.chmod(0o644)
    assert _as_nobody("cat", str(control)).returncode == 0
    denied = _as_nobody("cat", str(secret))
    assert denied.returncode != 0 and server.password not in denied.stdout
    # Not on the command line either: the process table is world-readable.
    cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().decode(errors="replace")
    assert server.password not in cmdline

    import redis

    assert server.host == "127.0.0.1"
    with pytest.raises(redis.AuthenticationError), _server._client(server.port) as anonymous:
        anonymous.ping()
    with pytest.raises(redis.AuthenticationError), _server._client(server.port, secret="guess") as wrong:
        wrong.ping()
    with _server._client(server.port, secret=server.password) as allowed:
        assert allowed.ping()


def test_one_server_for_every_project_and_a_graph_each_even_with_the_same_name(tmp_path: Path) -> None:
    first = write_project(tmp_path / "a" / "shop", "neo4j", {})
    second = write_project(tmp_path / "b" / "shop", "neo4j", {})
    assert project_graph(first) != project_graph(second)
    assert project_graph(first).startswith("shop-")
    try:
        for root in (first, second):
            plan(root, "neo4j", None, lambda m: record(m, FIRST))
            report = drain(root)
            assert report["dead"] == 0 and report["retried"] == 0, report
        server = _server.status(_server.user_dir())
        assert server is not None
        code, out, _ = graph_cli(second, "status", "--json")
        assert code == 0, out
        info = json.loads(out)
        assert info["pid"] == server.pid and info["graph"] == project_graph(second)
        assert {project_graph(first), project_graph(second)} <= set(info["graphs"])
        for root in (first, second):  # each graph holds its own project's session, once
            with falkordb_graph(server.port, project_graph(root), server.password) as g:
                assert node_counts(g)["Session"] == 1
        assert not (first / ".msp" / "graph").exists()
    finally:
        _server.stop(_server.user_dir())


def test_stop_then_status_starts_nothing_and_idle_servers_are_stopped(tmp_path: Path) -> None:
    root = write_project(tmp_path / "proj", "neo4j", {"idle_stop_minutes": 5})
    folder = _server.user_dir()
    try:
        code, out, _ = graph_cli(root, "start", "--json")
        assert code == 0, out
        pid = json.loads(out)["pid"]
        code, out, _ = graph_cli(root, "stop")
        assert code == 0 and out.strip() == "stopped"
        assert _server.wait_dead(pid)
        code, out, _ = graph_cli(root, "status", "--json")
        assert code == 0 and json.loads(out)["running"] is False
        assert _server.status(folder) is None

        server = _server.ensure(folder)
        assert not _server.stop_if_idle(folder, 5)  # just used
        long_ago = time.time() - 10 * 60
        os.utime(folder / _server.LAST_USED_FILE, (long_ago, long_ago))
        code, out, _ = graph_cli(root, "status", "--json")  # the next command stops it
        info = json.loads(out)
        assert code == 0 and info["running"] is False and info["stopped_idle"] is True, out
        assert _server.wait_dead(server.pid)

        again = _server.ensure(folder)  # started on demand once more
        os.utime(folder / _server.LAST_USED_FILE, (long_ago, long_ago))
        assert not _server.stop_if_idle(folder, 0)  # 0: never
        # Any command that loads the integration stops an idle server too.
        msp = str(Path(sys.executable).with_name("msp"))
        done = subprocess.run([msp, "integrations", "list"], cwd=root, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert _server.wait_dead(again.pid)
    finally:
        _server.stop(folder)


def test_an_idle_server_stops_by_itself_though_no_msp_command_runs(reachable_state: Path) -> None:
    """The watcher started with the server stops it once unused for idle_stop_minutes, with no
    msp command running again, and never sooner. (0.02 minutes is 1.2 s.)"""
    folder = _server.user_dir()
    server = _server.ensure(folder, idle_stop_minutes=0.02)
    last_use = (folder / _server.LAST_USED_FILE).stat().st_mtime
    deadline = time.monotonic() + 30
    while _server.status(folder) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    stopped_by = time.time()
    assert _server.status(folder) is None, "still running 30 s after its 1.2 s idle limit"
    # The server stops answering as it begins to shut down and exits a moment later (sooner
    # or later on a loaded machine): its exit is waited for, not assumed.
    assert _server.wait_dead(server.pid, 30), "the server process never exited"
    assert stopped_by - last_use >= 1.2, "stopped before it had been idle for its limit"
