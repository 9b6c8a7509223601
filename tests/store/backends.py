"""The store backends the conformance suite runs against, and helpers its tests share."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msp._store import is_store_url, open_store
from msp._store.interface import PlannedAction, Store

if TYPE_CHECKING:
    import pytest

    from tests.store.postgres_server import PostgresServer

#: The variable the PostgreSQL backend's projects name in ``[store] url_env``.
URL_ENV = "MSP_TEAM_STORE_URL"


@dataclass
class Backend:
    """One store backend under test."""

    name: str
    tmp: Path
    server: PostgresServer | None = None
    monkeypatch: pytest.MonkeyPatch | None = None
    _specs: dict[str, str] = field(default_factory=dict)

    def spec(self, label: str = "store") -> str:
        """Where a fresh store of this backend lives (what ``open_store`` and the writer take):
        a SQLite path, or the URL of a new database with the msp schema."""
        if self.server is None:
            return str(self.tmp / f"{label}.db")
        if label not in self._specs:
            self._specs[label] = self.server.create_database()
        return self._specs[label]

    def project_spec(self, project_dir: Path) -> str:
        """The store a project's CLI commands use."""
        if self.server is None:
            return str(project_dir / ".msp" / "msp.db")
        return self.use_for_project(project_dir)

    def use_for_project(self, project_dir: Path) -> str:
        """Point the project at a fresh team store: ``[store] url_env`` in its config, the URL
        in that variable (seen by the CLI processes the test starts)."""
        key = f"project:{project_dir}"
        if key not in self._specs:
            assert self.server is not None and self.monkeypatch is not None
            url = self._specs[key] = self.server.create_database()
            self.monkeypatch.setenv(URL_ENV, url)
            config = project_dir / ".msp" / "config.toml"
            text = config.read_text()
            line = f'url_env = "{URL_ENV}"\n'
            config.write_text(text.replace("[store]\n", "[store]\n" + line, 1) if "[store]\n" in text
                              else text + "\n[store]\n" + line)
        return self._specs[key]

    def open(self, spec: str, **options: Any) -> Store:
        return open_store(spec if is_store_url(spec) else Path(spec), **{"synchronous": "normal", **options})

    def check_sound(self, spec: str) -> None:
        """The backend's own check that nothing is torn or out of step (beyond the interface)."""
        if self.server is not None:
            _check_postgres(spec)
            return
        con = sqlite3.connect(spec)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for sid, count, last_seq in con.execute("SELECT id, event_count, last_seq FROM sessions").fetchall():
                n, top = con.execute("SELECT count(*), max(seq) FROM events WHERE session_id = ?", (sid,)).fetchone()
                assert (count, last_seq) == (n, top)
            for (data,) in con.execute("SELECT data FROM events"):
                json.loads(data)  # no torn rows
        finally:
            con.close()


def _check_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url) as con:
        for sid, count, last_seq in con.execute("SELECT id, event_count, last_seq FROM sessions").fetchall():
            row = con.execute("SELECT count(*), max(seq) FROM events WHERE session_id = %s", (sid,)).fetchone()
            assert row is not None and (count, last_seq) == (row[0], row[1])
        for (data,) in con.execute("SELECT data FROM events"):
            json.loads(data)  # no torn rows
        # Every action sits in a lane order the rules can use.
        assert con.execute("SELECT count(*) FROM actions WHERE order_key IS NULL").fetchone() == (0,)


def planned(key: str, *, integration: str = "hook", session: str | None = "s1", kind: str = "http",
            held: bool = False, event: str = "e1", payload: dict[str, Any] | None = None) -> PlannedAction:
    """A planned action with a payload that says which it is."""
    return PlannedAction(key, event, integration, 0, kind, session, payload or {"key": key}, held)
