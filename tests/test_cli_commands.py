"""The commands of issue 2 through the real ``msp`` binary: --json everywhere, start's defaults,
recover, sessions' filters and the context view."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from msp._session.manager import SessionManager

CORE_COMMANDS = {
    "init", "start", "update", "decide", "entity", "block", "resolve", "end", "status", "sessions",
    "show", "context", "recover", "config show", "config validate", "config set",
}


def _json(msp_cli: Any, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    r = msp_cli(*args, "--json", cwd=cwd)
    assert r.code == 0, (args, r.err)
    doc = json.loads(r.out)  # the whole of stdout is one document
    assert isinstance(doc, dict) and doc["ok"] is True
    assert "Traceback" not in r.err
    return doc


def _commands() -> dict[str, Any]:
    from typer.main import get_command

    from msp._cli.main import app, load_commands

    load_commands()  # every command, as `msp --help` lists them
    found: dict[str, Any] = {}

    def walk(cmd: Any, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = cmd

    walk(get_command(app), [])
    return found


def test_every_core_command_has_a_json_option() -> None:
    commands = _commands()
    assert set(commands) >= CORE_COMMANDS
    for name in CORE_COMMANDS:
        opts = {o for p in commands[name].params for o in getattr(p, "opts", [])}
        assert "--json" in opts, name


def test_every_command_prints_exactly_one_json_document(msp_cli: Any, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert _json(msp_cli, "init", cwd=fresh)["created"] is True
    assert (fresh / ".msp" / "config.toml").exists() and (fresh / ".msp" / "msp.db").exists()
    assert _json(msp_cli, "init", cwd=fresh)["created"] is False

    started = _json(msp_cli, "start", "--goal", "g", "--issue", "ENG-1", "--progress", "5")
    sid = started["event"]["session_id"]
    assert started["session"]["status"] == "active"
    assert _json(msp_cli, "update", "did a thing", "40", "--tag", "x")["event"]["data"]["progress"] == 40
    _json(msp_cli, "decide", "use sqlite", "--rationale", "embedded", "--alternative", "postgres",
          "--impact", "high", "--category", "architecture")
    _json(msp_cli, "entity", "msp._store.sqlite", "--type", "module", "--path", "msp/_sqlite.py", "--description", "d")
    bid = _json(msp_cli, "block", "CI is red", "--category", "technical", "--severity", "high")["event"]["data"]["id"]
    assert _json(msp_cli, "resolve", bid, "--solution", "fixed")["event"]["data"]["blocker_id"] == bid
    status = _json(msp_cli, "status")
    assert status["active"]["id"] == sid and status["active"]["progress"] == 40
    assert _json(msp_cli, "update", "dry", "--dry-run")["dry_run"] is True
    ended = _json(msp_cli, "end", "--summary", "done", "--progress", "60")
    assert ended["progress_delta"] == 55 and ended["duration_seconds"] >= 0
    assert _json(msp_cli, "status")["active"] is None
    assert [s["id"] for s in _json(msp_cli, "sessions")["sessions"]] == [sid]
    shown = _json(msp_cli, "show", sid[:-2])["session"]  # a unique prefix is enough
    assert shown["id"] == sid and len(shown["updates"]) == 1  # the dry run stored nothing
    assert _json(msp_cli, "context")["context"]["where_we_stopped"]["id"] == sid
    assert _json(msp_cli, "recover", "--list")["sessions"] == []
    assert _json(msp_cli, "config", "show")["config"]["store"]["synchronous"] == "normal"
    assert _json(msp_cli, "config", "validate")["integrations"] == []
    assert _json(msp_cli, "config", "set", "session.timeout_hours", "6")["value"] == 6
    assert _json(msp_cli, "config", "show")["config"]["session"]["timeout_hours"] == 6


def test_end_prints_duration_and_progress_delta(msp_cli: Any) -> None:
    assert msp_cli("start", "--progress", "10").code == 0
    assert msp_cli("update", "x", "35").code == 0
    r = msp_cli("end")
    assert r.code == 0
    assert "10% -> 35% (+25)" in r.out and "after under a minute" in r.out


def test_start_defaults_progress_to_where_the_project_stopped(msp_cli: Any) -> None:
    first = _json(msp_cli, "start")
    assert first["event"]["data"]["progress"] == 0
    assert msp_cli("update", "x", "45").code == 0
    assert msp_cli("end").code == 0
    assert _json(msp_cli, "start")["session"]["start_progress"] == 45
    assert msp_cli("end", "--progress", "70").code == 0
    assert _json(msp_cli, "start")["session"]["start_progress"] == 70
    assert msp_cli("end").code == 0
    # Another project starts from its own history, and an explicit value wins.
    assert _json(msp_cli, "start", "--project", "other")["session"]["start_progress"] == 0
    assert msp_cli("end").code == 0
    assert _json(msp_cli, "start", "--progress", "12")["session"]["start_progress"] == 12


def test_start_project_defaults_to_config_then_directory_name(msp_cli: Any, project_dir: Path) -> None:
    assert _json(msp_cli, "start")["session"]["project"] == project_dir.name
    assert msp_cli("end").code == 0
    config = project_dir / ".msp" / "config.toml"
    config.write_text("# my notes\n[store]\nsynchronous = \"normal\"  # fast\n\n[project]\n# name = \"x\"\n")
    assert msp_cli("config", "set", "project.name", "alpha").code == 0
    text = config.read_text()
    assert "# my notes" in text and "# fast" in text and 'name = "alpha"' in text  # comments kept
    assert _json(msp_cli, "start")["session"]["project"] == "alpha"
    assert msp_cli("end").code == 0
    assert _json(msp_cli, "start", "--project", "beta")["session"]["project"] == "beta"


def _past(manager: SessionManager, when: datetime) -> SessionManager:
    return SessionManager(manager.store, None, default_project="proj", clock=lambda: when)


def test_recover_list_resume_and_close(msp_cli: Any, manager: SessionManager) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=2)
    old = _past(manager, long_ago)
    sid = old.start({"goal": "left open by a crash"}).event.session_id
    old.update({"text": "last thing before the crash", "progress": 30})

    listing = _json(msp_cli, "recover", "--list")["sessions"]
    assert [(s["id"], s["stale"]) for s in listing] == [(sid, True)]
    text = msp_cli("recover")
    assert sid in text.out and "older than the timeout" in text.out

    closed = _json(msp_cli, "recover", sid, "--close")
    assert closed["session"]["status"] == "closed"
    # Closed at the moment it was really left, not now.
    assert closed["event"]["data"]["reason"] == "recovered"
    assert closed["session"]["ended_at"] == closed["event"]["at"]
    assert datetime.fromisoformat(closed["event"]["at"]) < long_ago + timedelta(minutes=1)
    assert _json(msp_cli, "recover", "--list")["sessions"] == []
    assert msp_cli("recover", sid, "--close").code != 0  # already closed

    resumed = _json(msp_cli, "recover", sid, "--resume")
    assert resumed["session"]["status"] == "active"
    assert _json(msp_cli, "update", "carrying on", "50")["session"]["id"] == sid
    shown = _json(msp_cli, "show", sid)["session"]
    assert [u["text"] for u in shown["updates"]] == ["last thing before the crash", "carrying on"]

    # Resuming while another session is active names the active one.
    assert msp_cli("end").code == 0
    other = _json(msp_cli, "start")["event"]["session_id"]
    r = msp_cli("recover", sid, "--resume")
    assert r.code != 0 and other in r.err
    r = msp_cli("recover", sid)
    assert r.code != 0 and "--resume or --close" in r.err


def test_recover_lists_fresh_active_sessions_as_not_stale(msp_cli: Any) -> None:
    sid = _json(msp_cli, "start")["event"]["session_id"]
    assert [(s["id"], s["stale"]) for s in _json(msp_cli, "recover", "--list")["sessions"]] == [(sid, False)]


def _history(manager: SessionManager) -> list[str]:
    """Four closed sessions, 20, 10, 3 and 1 days ago; two projects."""
    now = datetime.now(UTC)
    ids = []
    for days, project in [(20, "proj"), (10, "other"), (3, "proj"), (1, "proj")]:
        m = _past(manager, now - timedelta(days=days))
        ids.append(m.start({"project": project, "goal": f"{days} days ago"}).event.session_id)
        m.update({"text": f"work {days}", "progress": 100 - days})
        m.end({"summary": f"summary {days}"})
    return ids


def test_sessions_filters(msp_cli: Any, manager: SessionManager) -> None:
    d20, d10, d3, d1 = _history(manager)
    listed = [s["id"] for s in _json(msp_cli, "sessions")["sessions"]]
    assert listed == [d1, d3, d10, d20]  # newest first
    assert [s["id"] for s in _json(msp_cli, "sessions", "--project", "other")["sessions"]] == [d10]
    assert [s["id"] for s in _json(msp_cli, "sessions", "--since", "5d")["sessions"]] == [d1, d3]
    since = (datetime.now(UTC) - timedelta(days=15)).strftime("%Y-%m-%d")
    assert [s["id"] for s in _json(msp_cli, "sessions", "--since", since)["sessions"]] == [d1, d3, d10]
    assert [s["id"] for s in _json(msp_cli, "sessions", "--limit", "2")["sessions"]] == [d1, d3]
    both = _json(msp_cli, "sessions", "--project", "proj", "--since", "30d", "--limit", "2")["sessions"]
    assert [s["id"] for s in both] == [d1, d3]
    assert _json(msp_cli, "sessions", "--project", "nobody")["sessions"] == []
    assert "No sessions." in msp_cli("sessions", "--project", "nobody").out


def test_context_formats_and_filters(msp_cli: Any, manager: SessionManager) -> None:
    d20, _d10, d3, d1 = _history(manager)
    now = datetime.now(UTC)
    m = _past(manager, now - timedelta(hours=2))
    live = m.start({"goal": "today"}).event.session_id
    m.decide({"text": "use WAL", "rationale": "several writers at once", "alternatives": ["rollback journal"]})
    m.block({"text": "waiting on the security review"})
    m.update({"text": "stopped here: half of the migration done", "progress": 99})

    ctx = _json(msp_cli, "context", "--format", "json")["context"]
    assert [s["id"] for s in ctx["sessions"]] == [live, d1, d3]  # 7 days, this project
    assert ctx["where_we_stopped"]["id"] == live
    assert ctx["where_we_stopped"]["last_updates"][-1]["text"] == "stopped here: half of the migration done"
    assert ctx["decisions"][0]["rationale"] == "several writers at once"
    assert [b["text"] for b in ctx["open_blockers"]] == ["waiting on the security review"]
    assert ctx["progress_trend"] == [[80, 97], [97, 99], [99, 99]]

    wide = _json(msp_cli, "context", "--days", "30")["context"]
    assert [s["id"] for s in wide["sessions"]] == [live, d1, d3, d20]
    other = _json(msp_cli, "context", "--project", "other", "--days", "30")["context"]
    assert other["where_we_stopped"]["summary"] == "summary 10"
    assert other["open_blockers"] == []

    for fmt in ("ai", "markdown"):
        r = msp_cli("context", "--format", fmt)
        assert r.code == 0, r.err
        text = r.out
        assert "Where the last session stopped" in text and live in text
        assert "stopped here: half of the migration done" in text
        assert "use WAL" in text and "several writers at once" in text and "rollback journal" in text
        assert "waiting on the security review" in text
        assert "Progress trend" in text and "97 -> 99 -> 99" in text
        assert (fmt == "ai") == ("You are resuming work" in text)
    # The plain JSON format is the same data, one document.
    assert json.loads(msp_cli("context", "--format", "json").out)["where_we_stopped"]["id"] == live


def test_context_on_an_empty_project(msp_cli: Any) -> None:
    r = msp_cli("context", "--format", "markdown")
    assert r.code == 0
    assert "No sessions in the last 7 days." in r.out and "None." in r.out


def test_status_shows_the_active_session(msp_cli: Any) -> None:
    assert "No active session" in msp_cli("status").out
    assert msp_cli("start", "--goal", "the goal", "--progress", "10").code == 0
    assert msp_cli("update", "a", "20").code == 0
    assert msp_cli("block", "b").code == 0
    out = msp_cli("status").out
    assert "Goal: the goal" in out and "10% -> 20%" in out and "1 open blocker," in out  # singular


def test_walking_up_from_a_subdirectory_and_msp_dir_override(msp_cli: Any, project_dir: Path, tmp_path: Path) -> None:
    deep = project_dir / "src" / "pkg" / "deeper"
    deep.mkdir(parents=True)
    sid = _json(msp_cli, "start", cwd=deep)["event"]["session_id"]
    assert _json(msp_cli, "status")["active"]["id"] == sid  # same project from its root
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = msp_cli("status", "--json", cwd=elsewhere, env={"MSP_DIR": str(project_dir / ".msp")})
    assert r.code == 0 and r.json()["active"]["id"] == sid
    # The override wins over the walk, even inside another project.
    other = tmp_path / "other"
    other.mkdir()
    assert msp_cli("init", cwd=other).code == 0
    r = msp_cli("status", "--json", cwd=other, env={"MSP_DIR": str(project_dir / ".msp")})
    assert r.json()["active"]["id"] == sid
    assert _json(msp_cli, "status", cwd=other)["active"] is None
