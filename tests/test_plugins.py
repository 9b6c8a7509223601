"""The plugin host: discovery, guarded loading, isolation, config validation, dry runs,
plans and replays — through real entry points and the real CLI."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from plugin_site import activate, install

GOOD = '''
from msp import HttpRequest, hookimpl
name = "good"
config_schema = {"type": "object", "properties": {"base_url": {"type": "string"},
                 "limits": {"type": "object", "properties": {"n": {"type": "integer"}}}},
                 "additionalProperties": False}
@hookimpl
def msp_update(session, update, config):
    return HttpRequest(path="/u", json={"text": update.text, "session": session.id})
@hookimpl
def msp_session_start(session):
    return HttpRequest(path="/s", json={"id": session.id})
'''

RAISES = '''
from msp import hookimpl
@hookimpl
def msp_update(update):
    raise RuntimeError("boom in the plugin")
'''

GARBAGE = '''
from msp import hookimpl
@hookimpl
def msp_update(update):
    return {"not": "an action"}
'''

SLOW = '''
import time
from msp import hookimpl
@hookimpl
def msp_update(update):
    time.sleep(30)
'''

IMPORT_FAILS = '''
raise ImportError("missing dependency frobnicate")
'''

MISSPELT = '''
from msp import hookimpl
@hookimpl
def msp_updat(update):
    return None
'''

NOISY_IMPORT = '''
import os, pathlib
pathlib.Path(os.environ["MSP_TEST_MARKER"]).write_text("imported")
from msp import hookimpl
'''

WRONG_TYPES = '''
from msp import hookimpl
config_schema = "type: object"
@hookimpl
def msp_update(update):
    return None
'''

NOT_A_FACTORY = '''
create_integration = {"name": "x"}
'''

ALL = {"wrongtypes": WRONG_TYPES, "notafactory": NOT_A_FACTORY,
       "good": GOOD, "raises": RAISES, "garbage": GARBAGE, "slow": SLOW, "importfails": IMPORT_FAILS,
       "misspelt": MISSPELT, "noisy": NOISY_IMPORT}


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = install(tmp_path / "site", ALL)
    activate(path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(path), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MSP_TEST_MARKER", str(tmp_path / "marker"))
    yield path


def _configure(project_dir: Path, sections: str) -> None:
    cfg = project_dir / ".msp" / "config.toml"
    cfg.write_text(cfg.read_text() + "\n[plugins]\nhook_timeout_ms = 300\n" + sections)


def _count(project_dir: Path, table: str) -> int:
    with sqlite3.connect(project_dir / ".msp" / "msp.db") as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_only_enabled_integrations_are_imported(site: Path, tmp_path: Path) -> None:
    from msp._plugins.host import build_host

    host = build_host({"good": {}, "noisy": {"enabled": False}})
    assert list(host.integrations) == ["good"]
    assert not (tmp_path / "marker").exists(), "a disabled integration was imported"
    build_host({"noisy": {}})
    assert (tmp_path / "marker").exists()


def test_a_broken_plugin_is_a_warning_with_its_name(site: Path) -> None:
    from msp._plugins.host import build_host

    host = build_host({"good": {}, "importfails": {}, "nosuch": {}})
    assert list(host.integrations) == ["good"]
    errors = {b.name: b.error for b in host.broken}
    assert "missing dependency frobnicate" in errors["importfails"]
    assert "no installed integration provides 'nosuch'" in errors["nosuch"]


def test_a_misspelt_hook_is_an_error_not_silence(site: Path) -> None:
    from msp._plugins.host import build_host

    host = build_host({"misspelt": {}})
    assert not host.integrations
    assert "msp_updat" in host.broken[0].error


def test_declared_attributes_of_the_wrong_type_are_named(site: Path) -> None:
    from msp._plugins.host import build_host

    host = build_host({"wrongtypes": {}, "notafactory": {}, "good": {}})
    assert list(host.integrations) == ["good"]
    errors = {b.name: b.error for b in host.broken}
    assert errors["wrongtypes"] == "PluginError: config_schema is str, expected a dict (a JSON Schema)"
    assert errors["notafactory"].startswith("PluginError: create_integration is dict, expected a function")


def test_the_allowlist_narrows_what_loads(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from msp._plugins.host import build_host

    monkeypatch.setenv("MSP_LOAD_PLUGINS", "good")
    host = build_host({"good": {}, "raises": {}})
    assert list(host.integrations) == ["good"] and not host.broken
    monkeypatch.setenv("MSP_LOAD_PLUGINS", "")
    assert not build_host({"good": {}}).integrations


def test_cli_lists_broken_integrations(site: Path, project_dir: Path, msp_cli: Any) -> None:
    _configure(project_dir, "[integrations.good]\n[integrations.importfails]\n")
    r = msp_cli("integrations", "list", "--json")
    assert r.code == 0, r.err
    rows = {row["name"]: row for row in r.json()["integrations"]}
    assert rows["good"]["state"] == "enabled" and rows["good"]["hooks"] == ["msp_session_start", "msp_update"]
    assert rows["importfails"]["state"] == "broken" and "frobnicate" in rows["importfails"]["error"]
    assert rows["raises"]["state"] == "installed"
    text = msp_cli("integrations", "list")
    assert "broken" in text.out and "frobnicate" in text.out


def test_failing_hooks_are_contained_and_the_rest_commits(site: Path, project_dir: Path, msp_cli: Any) -> None:
    _configure(project_dir, "[integrations.good]\n[integrations.raises]\n[integrations.garbage]\n[integrations.slow]\n")
    assert msp_cli("start").code == 0
    r = msp_cli("update", "hello", "10")
    assert r.code == 0, r.err
    assert "'raises' failed in msp_update: RuntimeError: boom in the plugin" in r.err
    assert "'garbage' failed in msp_update: TypeError" in r.err
    assert "'slow' failed in msp_update: HookTimeout" in r.err
    assert "Traceback" not in r.err
    with sqlite3.connect(project_dir / ".msp" / "msp.db") as db:
        kinds = db.execute("SELECT integration, kind FROM actions ORDER BY id").fetchall()
        failures = db.execute("SELECT integration, hook FROM hook_failures ORDER BY integration").fetchall()
        updates = db.execute("SELECT count(*) FROM events WHERE type = 'progress_updated'").fetchone()[0]
    assert kinds == [("good", "http"), ("good", "http")]
    assert failures == [("garbage", "msp_update"), ("raises", "msp_update"), ("slow", "msp_update")]
    assert updates == 1
    doctor = msp_cli("integrations", "doctor", "--json")
    assert doctor.code != 0, "the doctor found problems: it must say so in its exit code"
    report = {e["name"]: e for e in doctor.json()["error"]["details"]["integrations"]}
    assert any("boom in the plugin" in p for p in report["raises"]["problems"])
    assert report["good"]["problems"] == []
    healthy = msp_cli("integrations", "doctor", "good")
    assert healthy.code == 0 and "good: ok" in healthy.out


def test_config_is_validated_naming_the_key_path(site: Path, project_dir: Path, msp_cli: Any) -> None:
    _configure(project_dir, '[integrations.good]\nbase_url = 3\nlimits = { n = "x" }\ncolour = "red"\n')
    r = msp_cli("config", "validate")
    assert r.code != 0
    assert "integrations.good.base_url: 3 is not of type 'string'" in r.err
    assert "integrations.good.limits.n: 'x' is not of type 'integer'" in r.err
    assert "integrations.good: unknown key(s) colour" in r.err
    # At start-up too: the command still records, with a warning naming the problem.
    r = msp_cli("start")
    assert r.code == 0 and "integrations.good.base_url" in r.err


def test_dry_run_prints_actions_and_stores_nothing(site: Path, project_dir: Path, msp_cli: Any) -> None:
    _configure(project_dir, "[integrations.good]\n")
    r = msp_cli("start", "--dry-run", "--json")
    assert r.code == 0 and r.json()["dry_run"] is True
    assert [a["path"] for a in r.json()["actions"]] == ["/s"]
    assert _count(project_dir, "events") == 0 and _count(project_dir, "actions") == 0
    assert msp_cli("start").code == 0
    before = (_count(project_dir, "events"), _count(project_dir, "actions"))
    r = msp_cli("update", "just looking", "--dry-run")
    assert r.code == 0 and "dry run" in r.out and '"text": "just looking"' in r.out
    assert (_count(project_dir, "events"), _count(project_dir, "actions")) == before


def test_plan_shows_the_active_sessions_actions(site: Path, project_dir: Path, msp_cli: Any) -> None:
    _configure(project_dir, "[integrations.good]\n")
    msp_cli("start")
    msp_cli("update", "one")
    r = msp_cli("plan", "--json")
    assert r.code == 0, r.err
    assert [a["path"] for a in r.json()["actions"]] == ["/s", "/u"]


def test_replay_backfills_once(site: Path, project_dir: Path, msp_cli: Any) -> None:
    msp_cli("start")
    msp_cli("update", "before the integration existed", "20")
    msp_cli("update", "second", "30")
    assert _count(project_dir, "actions") == 0
    _configure(project_dir, "[integrations.good]\n")
    first = msp_cli("replay", "--integration", "good", "--json")
    assert first.code == 0, first.err
    assert first.json()["new_actions"] == 3 and first.json()["events"] == 3
    second = msp_cli("replay", "--integration", "good", "--json")
    assert second.json()["new_actions"] == 0
    with sqlite3.connect(project_dir / ".msp" / "msp.db") as db:
        rows = db.execute("SELECT payload FROM actions WHERE kind='http' ORDER BY id")
        bodies = [json.loads(p)["json"] for (p,) in rows]
    assert [b.get("text") for b in bodies] == [None, "before the integration existed", "second"]


def test_replay_by_session_and_since(site: Path, project_dir: Path, msp_cli: Any) -> None:
    msp_cli("start")
    msp_cli("update", "first session")
    msp_cli("end")
    first = msp_cli("sessions", "--json").json()["sessions"][0]["id"]
    msp_cli("start")
    msp_cli("update", "second session")
    _configure(project_dir, "[integrations.good]\n")
    one = msp_cli("replay", "--integration", "good", "--session", first, "--json")
    assert one.code == 0, one.err
    assert one.json()["events"] == 3 and one.json()["new_actions"] == 2  # start + update; close plans nothing
    future = msp_cli("replay", "--integration", "good", "--since", "2099-01-01", "--json")
    assert future.json()["events"] == 0 and future.json()["new_actions"] == 0
    rest = msp_cli("replay", "--integration", "good", "--since", "1d", "--json")
    assert rest.json()["new_actions"] == 2  # only the second session's start and update are new
    unknown = msp_cli("replay", "--integration", "good", "--session", "nosuchsession")
    assert unknown.code != 0 and "no session" in unknown.err


def test_events_record_where_they_came_from(msp_cli: Any, project_dir: Path) -> None:
    from msp._session.manager import SessionManager
    from msp._store.sqlite import SqliteStore

    msp_cli("start")
    store = SqliteStore(project_dir / ".msp" / "msp.db")
    SessionManager(store).update({"text": "from python"})
    store.close()
    with sqlite3.connect(project_dir / ".msp" / "msp.db") as db:
        sources = [r[0] for r in db.execute("SELECT source FROM events ORDER BY seq")]
    assert sources == ["cli", "api"]


def test_schema_actions_covers_every_kind(msp_cli: Any, project_dir: Path) -> None:
    r = msp_cli("schema", "actions")
    assert r.code == 0
    schema = json.loads(r.out)
    kinds = set(schema["discriminator"]["mapping"])
    assert kinds == {"cypher", "graphql", "http", "file", "powershell"}
    outside = msp_cli("schema", "actions", cwd=project_dir.parent)  # no project: the core's kinds
    assert outside.code == 0 and set(json.loads(outside.out)["discriminator"]["mapping"]) == kinds


def test_hook_results_of_any_registered_model_and_dicts_are_accepted() -> None:
    from typing import Literal

    from msp import Action, HttpRequest
    from msp._model.actions import UnknownActionKind
    from msp._plugins.host import normalise

    class Todo(Action):
        kind: Literal["todo"] = "todo"
        title: str

    kinds = {"todo": Todo}
    assert normalise([Todo(title="a"), {"kind": "todo", "title": "b"}], kinds) == [Todo(title="a"), Todo(title="b")]
    asked: list[int] = []

    def table() -> dict[str, type[Action]]:
        asked.append(1)
        return kinds

    assert normalise(HttpRequest(path="/x"), table) and not asked, "built-in actions never build the table"
    with pytest.raises(UnknownActionKind, match="'todo' is not known: no installed plugin registers it"):
        normalise(Todo(title="a"))
    with pytest.raises(TypeError, match="expected an action"):
        normalise(Todo)


def test_idempotency_keys_are_deterministic() -> None:
    from msp._model.actions import idempotency_key

    assert idempotency_key("e1", "good", 0) == idempotency_key("e1", "good", 0)
    assert len({idempotency_key("e1", "good", 0), idempotency_key("e1", "good", 1),
                idempotency_key("e2", "good", 0), idempotency_key("e1", "other", 0)}) == 4
