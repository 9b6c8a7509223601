"""``msp store copy``: a history moved between stores with its ids and times, idempotently, the
projections rebuilt on the target and the outbox left behind; each direction on each backend."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from msp._session.manager import SessionManager
from msp._store import open_store
from msp._store.copy import CopyReport, copy_events
from msp._store.interface import Store
from msp._store.postgres import SCHEMA_VERSION as PG_VERSION
from tests.store.backends import URL_ENV, Backend, planned
from tests.store.postgres_server import PostgresServer


def _history(store: Store) -> None:
    """Two sessions with what makes projections interesting: a blocker raised in one and
    resolved in the other, decisions, entities, a closed and an active session."""
    clock = iter(datetime(2024, 1, 2, 9, tzinfo=UTC) + timedelta(minutes=i) for i in range(1000))
    manager = SessionManager(store, None, default_project="proj", source="api", clock=lambda: next(clock))
    first = manager.start({"goal": "first"})
    manager.update({"text": "mapped the flow", "progress": 30})
    raised = manager.block({"text": "waiting for access"})
    manager.decide({"text": "use the queue", "rationale": "fewer moving parts"})
    manager.end({"summary": "done for now"})
    manager.start({"goal": "second", "issue": "ENG-7"})
    manager.resolve({"blocker": raised.event.data["id"]})
    manager.block({"text": "still open"})
    manager.entity({"name": "billing-service", "type": "service"})
    manager.update({"text": "halfway", "progress": 50})
    assert first.session is not None
    with store.write() as tx:
        tx.add_actions([planned("k1", session=first.session.id)])


def _picture(store: Store) -> dict[str, Any]:
    """Everything a reader of the store sees, positions aside."""
    with store.read() as tx:
        events = [(e.id, e.type, e.session_id, e.at, e.source, e.data) for e in tx.events_since(0, limit=10_000)]
        sessions = [s.to_dict() for s in tx.list_sessions()]
        views = {s["id"]: tx.hook_session(s["id"], 5).model_dump(exclude={"started_seq", "last_seq"})
                 for s in sessions}
        folded = {s["id"]: tx.load_session(s["id"]).model_dump(exclude={"started_seq", "last_seq"})
                  for s in sessions}
        blockers = [(b.id, b.session_id, b.text) for b in tx.open_blockers("proj")]
    return {"events": events, "sessions": sessions, "views": views, "folded": folded, "blockers": blockers}


@pytest.mark.parametrize("direction", ["local_to_target", "target_to_local"])
def test_a_copy_keeps_ids_times_and_projections_and_a_second_copies_nothing(backend: Backend, tmp_path: Path,
                                                                             direction: str) -> None:
    local = open_store(tmp_path / "local.db", synchronous="normal")
    other = backend.open(backend.spec("other"))
    source, target = (local, other) if direction == "local_to_target" else (other, local)
    try:
        _history(source)
        seen: list[int] = []
        report = copy_events(source, target, batch=3, progress=lambda r: seen.append(r.seen))
        with source.read() as tx:
            total = tx.count_events()
        assert (report.total, report.copied, report.present) == (total, total, 0)
        assert seen[-1] == total and seen == sorted(seen) and len(seen) > 1  # progress by batch
        assert _picture(target) == _picture(source)
        with target.read() as tx:
            assert tx.outbox.counts() == {}  # the outbox stays with the store that planned it
        again = copy_events(source, target)
        assert (again.copied, again.present) == (0, total)
        assert _picture(target) == _picture(source)
    finally:
        local.close()
        other.close()


def test_an_interrupted_copy_keeps_whole_batches_and_carries_on(backend: Backend, tmp_path: Path) -> None:
    source = open_store(tmp_path / "local.db", synchronous="normal")
    target = backend.open(backend.spec("other"))
    try:
        _history(source)

        def stop(report: CopyReport) -> None:
            raise KeyboardInterrupt  # the engineer's Ctrl-C after the first batch committed

        with pytest.raises(KeyboardInterrupt):
            copy_events(source, target, batch=4, progress=stop)
        with target.read() as tx:
            assert tx.count_events() == 4
        report = copy_events(source, target, batch=4)
        assert (report.copied, report.present) == (report.total - 4, 4)
        assert _picture(target) == _picture(source)
        backend.check_sound(backend.spec("other"))
    finally:
        source.close()
        target.close()


def test_the_cli_copies_to_a_team_store_named_by_a_variable_and_back_to_a_file(
    backend: Backend, project_dir: Path, tmp_path: Path, msp_cli: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Local history into another store (`--to-env`), never showing its URL's password, with no
    progress bar when stderr is not a terminal; then that store back into a SQLite file."""
    assert msp_cli("start", "--goal", "to be copied").code == 0
    assert msp_cli("update", "one", "10").code == 0
    spec = backend.spec("team")
    monkeypatch.setenv("COPY_TARGET", spec)
    result = msp_cli("store", "copy", "--to-env", "COPY_TARGET", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert (data["events"], data["copied"], data["already_there"]) == (2, 2, 0)
    assert "copying events" not in result.err  # no bar: stderr is a pipe here
    if backend.server is not None:
        assert backend.server.password not in result.out + result.err
        assert data["target"].startswith("the team store at postgresql://postgres@127.0.0.1:")
    again = json.loads(msp_cli("store", "copy", "--to-env", "COPY_TARGET", "--json").out)
    assert (again["copied"], again["already_there"]) == (0, 2)

    backup = tmp_path / "backups"
    backup.mkdir()
    back = tmp_path / "restored"
    back.mkdir()
    monkeypatch.setenv("MSP_DIR", str(back / ".msp"))
    (back / ".msp").mkdir()
    (back / ".msp" / "config.toml").write_text(
        f'[store]\nurl_env = "{URL_ENV}"\n' if backend.server is not None else "")
    if backend.server is not None:
        monkeypatch.setenv(URL_ENV, spec)
    else:
        (back / ".msp" / "msp.db").symlink_to(spec)
    text = msp_cli("store", "copy", "--to", str(backup), cwd=back)
    assert text.code == 0, text.err
    assert "Copied 2 event(s)" in text.out and "msp replay" in text.out
    with sqlite3.connect(backup / "msp.db") as con:
        assert [r[0] for r in con.execute("SELECT type FROM events ORDER BY seq")] == [
            "session_started", "progress_updated"]
    assert (backup / "msp.db").stat().st_mode & 0o077 == 0  # a backup is its owner's alone


def test_bad_targets_say_what_to_do_without_echoing_a_url(project_dir: Path, msp_cli: Any) -> None:
    neither = msp_cli("store", "copy")
    assert neither.code != 0 and "--to-env" in neither.err
    unset = msp_cli("store", "copy", "--to-env", "NO_SUCH_VARIABLE")
    assert unset.code != 0 and "NO_SUCH_VARIABLE is not set" in unset.err
    odd = msp_cli("store", "copy", "--to", "mysql://root:Pa55word@db/msp")
    assert odd.code != 0 and "postgresql://" in odd.err and "Pa55word" not in odd.err + odd.out
    own = msp_cli("store", "copy", "--to", str(project_dir))
    assert own.code != 0 and "this project's own store" in own.err
    nowhere = msp_cli("store", "copy", "--to", str(project_dir / "missing" / "x.db"))
    assert nowhere.code != 0 and "does not exist" in nowhere.err


def test_copying_into_a_team_store_without_a_schema_says_how_to_make_one(
    pg_server: PostgresServer, project_dir: Path, msp_cli: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert msp_cli("start").code == 0
    monkeypatch.setenv("NEW_TEAM_STORE", pg_server.create_database(migrated=False))
    refused = msp_cli("store", "copy", "--to-env", "NEW_TEAM_STORE")
    assert refused.code != 0 and "msp store migrate --url-env NEW_TEAM_STORE" in refused.err
    migrated = msp_cli("store", "migrate", "--url-env", "NEW_TEAM_STORE", "--json")
    assert migrated.code == 0, migrated.err
    assert json.loads(migrated.out)["after"] == PG_VERSION
    copied = msp_cli("store", "copy", "--to-env", "NEW_TEAM_STORE", "--json")
    assert copied.code == 0 and json.loads(copied.out)["copied"] == 1


def test_the_cli_draws_a_progress_bar_on_a_terminal(project_dir: Path, tmp_path: Path) -> None:
    """With stderr a terminal (a pseudo-terminal here) the copy draws its bar there, ending full;
    stdout keeps only the summary."""
    import os
    import pty
    import subprocess
    import sys

    msp = str(Path(sys.executable).with_name("msp"))
    env = {**os.environ, "MSP_DIR": str(project_dir / ".msp")}
    for args in (["start", "--goal", "bar"], ["update", "one", "10"], ["end"]):
        assert subprocess.run([msp, *args], cwd=project_dir, env=env, capture_output=True, timeout=60).returncode == 0
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([msp, "store", "copy", "--to", str(tmp_path / "backup.db")], cwd=project_dir, env=env,
                              stdout=subprocess.PIPE, stderr=follower, timeout=60)
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    assert done.returncode == 0
    assert b"copying events [" in drawn and b"3/3" in drawn, drawn
    assert b"copying events" not in done.stdout and b"Copied 3 event(s)" in done.stdout
