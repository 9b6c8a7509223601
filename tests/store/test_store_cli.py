"""``msp store migrate`` and ``msp store status`` through the CLI, on each backend: the team
store on the real PostgreSQL the suite starts, named by ``[store] url_env`` as a team sets it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from msp._store.postgres import SCHEMA_VERSION as PG_VERSION
from msp._store.postgres import migrations
from msp._store.sqlite import SCHEMA_VERSION as SQLITE_VERSION
from tests.store.backends import URL_ENV, Backend
from tests.store.postgres_server import PostgresServer


def _json(result: Any) -> dict[str, Any]:
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def test_status_names_the_backend_its_schema_and_what_it_holds(backend: Backend, project_dir: Path,
                                                               msp_cli: Any) -> None:
    assert msp_cli("start", "--goal", "status").code == 0
    assert msp_cli("update", "halfway", "50").code == 0
    status = _json(msp_cli("store", "status", "--json"))
    assert status["backend"] == backend.name
    assert status["events"] == 2 and status["sessions"] == {"total": 1, "active": 1}
    assert status["actions"] == {}  # no integration configured: nothing queued
    assert msp_cli("end").code == 0
    after = _json(msp_cli("store", "status", "--json"))
    assert after["events"] == 3 and after["sessions"] == {"total": 1, "active": 0}
    text = msp_cli("store", "status")
    assert text.code == 0 and f"backend:  {backend.name}" in text.out and "events:   3" in text.out
    if backend.server is None:
        assert status["schema_version"] == status["msp_schema_version"] == SQLITE_VERSION
        assert status["path"] == str(project_dir / ".msp" / "msp.db")
    else:
        assert status["schema_version"] == status["msp_schema_version"] == PG_VERSION
        # The URL is shown, its password never.
        assert status["url"].startswith("postgresql://postgres:***@127.0.0.1:")
        assert backend.server.password not in text.out + text.err + json.dumps(status)


def test_status_counts_actions_by_status(backend: Backend, project_dir: Path, msp_cli: Any) -> None:
    """Actions queued by a webhook integration show up by status, as the queue sees them."""
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text() + '\n[integrations.webhook]\nurl = "http://127.0.0.1:9/hook"\n')
    assert msp_cli("start", "--goal", "queued").code == 0
    assert msp_cli("update", "one", "10").code == 0
    status = _json(msp_cli("store", "status", "--json"))
    queue = _json(msp_cli("queue", "list", "--all", "--json"))
    by_status: dict[str, int] = {}
    for row in queue["actions"]:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    assert status["actions"] == by_status and status["actions"].get("pending", 0) >= 2


def test_migrate_on_sqlite_says_the_store_migrates_itself(project_dir: Path, msp_cli: Any) -> None:
    result = msp_cli("store", "migrate")
    assert result.code == 0, result.err
    assert "SQLite" in result.out and "apply when it is opened" in result.out
    data = _json(msp_cli("store", "migrate", "--json"))
    assert data == {"backend": "sqlite", "path": str(project_dir / ".msp" / "msp.db"), "before": SQLITE_VERSION,
                    "after": SQLITE_VERSION, "applied": []}


def test_migrate_brings_a_new_team_store_up_to_date(pg_server: PostgresServer, project_dir: Path, msp_cli: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg_server.create_database(migrated=False)
    monkeypatch.setenv(URL_ENV, url)
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text().replace("[store]\n", f'[store]\nurl_env = "{URL_ENV}"\n'))
    refused = msp_cli("store", "status")
    assert refused.code != 0 and "msp store migrate" in refused.err
    first = _json(msp_cli("store", "migrate", "--json"))
    assert (first["before"], first["after"]) == (0, PG_VERSION)
    assert first["applied"] == [f"{m.version:04d}_{m.name}" for m in migrations()]
    again = msp_cli("store", "migrate")
    assert again.code == 0 and f"up to date (schema version {PG_VERSION})" in again.out
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (PG_VERSION,)
    assert msp_cli("start", "--goal", "after the migration").code == 0
    assert _json(msp_cli("store", "status", "--json"))["events"] == 1
    outputs = json.dumps(first) + again.out + again.err + refused.err
    assert pg_server.password not in outputs


def test_migrate_with_a_wrong_password_says_so_without_it(pg_server: PostgresServer, project_dir: Path,
                                                         msp_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg_server.create_database(migrated=False)
    monkeypatch.setenv(URL_ENV, url.replace(f":{pg_server.password}@", ":Wr0ng-Pass@"))
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text().replace("[store]\n", f'[store]\nurl_env = "{URL_ENV}"\n'))
    result = msp_cli("store", "migrate")
    assert result.code != 0 and "password" in result.err
    assert "Wr0ng-Pass" not in result.out + result.err and "Traceback" not in result.err
