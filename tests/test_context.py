"""The recall view: what it contains, and that it stays bounded however long the history is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from msp._session.context import LAST_UPDATES, MAX_DECISIONS, MAX_SESSIONS, build_context, render_ai, render_markdown
from msp._session.manager import SessionManager
from msp._store.sqlite import SqliteStore

NOW = datetime(2024, 9, 30, 18, 0, tzinfo=UTC)


def _at(manager: SessionManager, when: datetime) -> SessionManager:
    return SessionManager(manager.store, None, default_project="proj", clock=lambda: when)


def test_contents(manager: SessionManager, store: SqliteStore) -> None:
    m = _at(manager, NOW - timedelta(days=2))
    first = m.start({"goal": "design the store", "progress": 10}).event.session_id
    m.decide({"text": "SQLite in WAL mode", "rationale": "one file, several writers",
              "alternatives": ["PostgreSQL"], "impact": "high"})
    m.block({"text": "need a review of the schema"})
    m.update({"text": "schema drafted", "progress": 35})
    m.end({"summary": "schema drafted, review pending"})
    m = _at(manager, NOW - timedelta(hours=3))
    second = m.start({"goal": "migrations"}).event.session_id
    for i in range(LAST_UPDATES + 2):
        m.update({"text": f"step {i}", "progress": 40 + i})

    ctx = build_context(store, "proj", 7, NOW)
    assert [s["id"] for s in ctx["sessions"]] == [second, first]
    assert ctx["sessions"][1]["duration_minutes"] == 0 and ctx["sessions"][0]["duration_minutes"] == 180
    stopped = ctx["where_we_stopped"]
    assert stopped["id"] == second and stopped["status"] == "active" and stopped["progress"] == 40 + LAST_UPDATES + 1
    assert [u["text"] for u in stopped["last_updates"]] == [f"step {i}" for i in range(2, LAST_UPDATES + 2)]
    assert ctx["decisions"] == [{"session": first, "at": ctx["decisions"][0]["at"], "text": "SQLite in WAL mode",
                                 "rationale": "one file, several writers", "alternatives": ["PostgreSQL"],
                                 "impact": "high"}]
    assert [b["text"] for b in ctx["open_blockers"]] == ["need a review of the schema"]
    assert ctx["progress_trend"] == [[10, 35], [35, 40 + LAST_UPDATES + 1]]

    md = render_markdown(ctx)
    for needle in ["## Where the last session stopped", "still active", "- step 6 [46%]", "## Open blockers",
                   "need a review of the schema", "- SQLite in WAL mode", "  - why: one file, several writers",
                   "  - instead of: PostgreSQL", "## Recent sessions", "goal: migrations",
                   "Progress trend (oldest first): 35 -> 46"]:
        assert needle in md, needle
    assert render_ai(ctx).endswith(md) and render_ai(ctx).startswith("You are resuming work")


def test_window_and_project(manager: SessionManager, store: SqliteStore) -> None:
    for days, project in [(30, "proj"), (3, "other"), (1, "proj")]:
        m = _at(manager, NOW - timedelta(days=days))
        m.start({"project": project, "goal": f"{project} {days}"})
        m.block({"text": f"blocker of {project} {days}"})
        m.end()
    ctx = build_context(store, "proj", 7, NOW)
    assert [s["goal"] for s in ctx["sessions"]] == ["proj 1"]
    # Open blockers are open whatever their age.
    assert sorted(b["text"] for b in ctx["open_blockers"]) == ["blocker of proj 1", "blocker of proj 30"]
    assert [s["goal"] for s in build_context(store, "proj", 60, NOW)["sessions"]] == ["proj 1", "proj 30"]
    everyone = build_context(store, None, 7, NOW)
    assert [s["goal"] for s in everyone["sessions"]] == ["proj 1", "other 3"]
    assert len(everyone["open_blockers"]) == 3
    assert build_context(store, "nobody", 7, NOW)["where_we_stopped"] is None


def test_an_active_session_older_than_the_window_still_shows(manager: SessionManager, store: SqliteStore) -> None:
    m = _at(manager, NOW - timedelta(days=20))
    sid = m.start({"goal": "forgotten"}).event.session_id
    ctx = build_context(store, "proj", 7, NOW)
    assert ctx["where_we_stopped"]["id"] == sid


def test_it_shows_a_bounded_amount(manager: SessionManager, store: SqliteStore) -> None:
    for n in range(MAX_SESSIONS + 5):
        m = _at(manager, NOW - timedelta(hours=2 * (MAX_SESSIONS + 5 - n)))
        m.start({})
        for k in range(3):
            m.decide({"text": f"decision {n}.{k}"})
        m.end()
    ctx = build_context(store, "proj", 7, NOW)
    assert len(ctx["sessions"]) == MAX_SESSIONS
    assert len(ctx["decisions"]) == MAX_DECISIONS
    newest = MAX_SESSIONS + 4
    assert ctx["decisions"][0]["text"] == f"decision {newest}.2"  # newest first
