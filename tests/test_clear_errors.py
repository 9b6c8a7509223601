"""Issue 12, point 9: clear errors, never INTERNAL (exit 70).

Numbers too large for a field, a full disk, config values out of range, a store or folder
owned by someone else (run as ``nobody``, or it would prove nothing), a damaged store, progress
that is not ASCII digits, malformed JSON sent to the MCP server, a clock that moved back.
(A config that is not UTF-8, and ``msp init`` under MSP_DIR: tests/test_config.py.)
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from msp._config import init_project
from msp._model.durations import format_duration, session_duration
from msp._session.manager import SessionManager
from msp._store.sqlite import SqliteStore
from tests.conftest import MSP_BIN, CliResult
from tests.other_user import give_to_nobody, msp_as_nobody, reachable_folder

WEBHOOK = '[integrations.webhook]\nurl = "http://127.0.0.1:9/hook"\n'


def _clear(r: CliResult, code: int) -> None:
    print(f"exit {r.code}\n{r.err}")
    assert r.code == code, (r.code, r.out, r.err)
    assert "INTERNAL" not in r.out + r.err and "internal error" not in r.err and "Traceback" not in r.err


# --- numbers too large ------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["sessions", "--limit", "99999999999999999999"],
    ["sessions", "--since", "99999999999999999999d"],
    ["sessions", "--since", "999999999d"],
    ["context", "--days", "99999999999999999999"],
    ["context", "--days", "999999999"],
    ["update", "x", str(10**30)],
    ["update", "x", "9" * 5000],
    ["start", "--progress", str(10**30)],
])
def test_numbers_too_large_for_a_field_are_usage_errors(msp_cli: Any, args: list[str]) -> None:
    assert msp_cli("start").code == 0 or args[0] == "start"
    r = msp_cli(*args)
    _clear(r, 2)
    assert len(r.err) < 600  # a 5000-digit number is not echoed back whole


@pytest.mark.parametrize("progress", ["٤٠", "４０", "4_0", " 40 x", "+40", "1e2", "40.0"])
def test_progress_is_ascii_digits_only_on_the_cli(msp_cli: Any, progress: str) -> None:
    assert msp_cli("start").code == 0
    r = msp_cli("update", "x", progress, "--json")
    _clear(r, 2)
    assert r.json()["error"]["code"] == "INVALID_PARAMETERS"


def test_progress_is_never_a_boolean_nor_foreign_digits_over_mcp(project_dir: Path) -> None:
    from tests.test_mcp import _error, _ok, _run, mcp_session

    async def body() -> None:
        async with mcp_session(project_dir) as s:
            _ok(await s.call_tool("start", {}))
            for bad in (True, False, "٤٠", 10**30, "1" * 40):
                error = _error(await s.call_tool("update", {"text": "x", "progress": bad}))
                print(bad, "->", error["message"])
                assert error["code"] == "INVALID_PARAMETERS"
            error = _error(await s.call_tool("context", {"days": 10**30}))
            assert error["code"] == "INVALID_PARAMETERS"
            assert _ok(await s.call_tool("update", {"text": "x", "progress": 40}))["session"]["progress"] == 40

    _run(body)


# --- config values outside their range ----------------------------------------------------------------


@pytest.mark.parametrize(("section", "line", "key"), [
    ("session", "timeout_hours = inf", "session.timeout_hours"),
    ("session", "timeout_hours = nan", "session.timeout_hours"),
    ("plugins", "hook_timeout_ms = 99999999999999999999", "plugins.hook_timeout_ms"),
    ("dispatch", "lease_s = 1e300", "dispatch.lease_s"),
    ("dispatch", "concurrency = 99999999999999999999", "dispatch.concurrency"),
    ("dispatch", "inline_timeout_s = inf", "dispatch.inline_timeout_s"),
])
def test_config_values_out_of_range_are_config_errors_naming_the_key(
    msp_cli: Any, project_dir: Path, section: str, line: str, key: str
) -> None:
    (project_dir / ".msp" / "config.toml").write_text(f"[{section}]\n{line}\n")
    for args in (["status"], ["recover", "--list"], ["dispatch"]):
        r = msp_cli(*args, "--json")
        _clear(r, 1)
        error = r.json()["error"]
        assert error["code"] == "CONFIG_INVALID" and key in error["message"], error


def test_an_environment_value_out_of_range_is_a_config_error(msp_cli: Any) -> None:
    r = msp_cli("status", env={"MSP_SESSION_TIMEOUT_HOURS": "1e999"})
    _clear(r, 1)
    assert "session.timeout_hours" in r.err


# --- a full disk ------------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    filler = disk / "filler"
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_is_a_clear_store_error_and_the_store_stays_intact(msp_cli: Any, small_disk: Path) -> None:
    root = small_disk / "proj"
    root.mkdir()
    init_project(root)
    (root / ".msp" / "config.toml").write_text('[dispatch]\nmode = "manual"\n')
    assert msp_cli("start", cwd=root).code == 0
    assert msp_cli("update", "before the disk filled", "5", cwd=root).code == 0
    filler = _fill(small_disk, leave=200 * 1024)
    stored = 2
    failure = None
    big = os.urandom(30_000).hex()  # 60,000 characters that do not compress
    for _ in range(40):
        r = msp_cli("update", big, "--json", cwd=root)
        if r.code != 0:
            failure = r
            break
        stored += 1
    assert failure is not None, "the disk never filled"
    _clear(failure, 1)
    error = failure.json()["error"]
    assert error["code"] == "STORE_ERROR" and "no space left" in error["message"], error
    assert "free some space" in error["hint"] and "aside" not in error["hint"]
    filler.unlink()
    # Nothing half written: the store is sound and holds exactly what was acknowledged.
    with sqlite3.connect(root / ".msp" / "msp.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] == stored
    assert msp_cli("update", "after space was freed", cwd=root).code == 0
    assert msp_cli("store", "check", cwd=root).code == 0


# --- files owned by someone else ------------------------------------------------------------------------


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    for base in reachable_folder():
        root = base / "proj"
        root.mkdir(mode=0o755)
        yield root


def test_a_store_owned_by_another_user_is_a_clear_error_naming_file_and_owner(
    msp_cli: Any, shared_folder: Path
) -> None:
    root = shared_folder
    init_project(root)
    (root / ".msp" / "config.toml").write_text('[dispatch]\nmode = "manual"\n')
    assert msp_cli("start", cwd=root).code == 0
    (root / ".msp").chmod(0o755)  # reachable, but every file in it is root's
    for f in (root / ".msp").iterdir():
        f.chmod(0o755 if f.is_dir() else 0o644)
    env = {"MSP_USER_CONFIG": str(root / "nobody.toml")}
    for args in (["status"], ["update", "x"]):
        r = msp_as_nobody(*args, "--json", cwd=root, env=env)
        _clear(r, 1)
        error = r.json()["error"]
        assert error["code"] == "STORE_ERROR"
        assert "msp.db" in error["message"] and "belongs to root" in error["message"], error
        assert "chown" in error["hint"] and "aside" not in error["hint"], error


def test_a_read_only_msp_folder_is_a_clear_error_without_moving_the_store_aside(shared_folder: Path) -> None:
    root = shared_folder
    give_to_nobody(root)
    env = {"MSP_USER_CONFIG": str(root / "nobody.toml")}
    assert msp_as_nobody("init", cwd=root, env=env).code == 0
    (root / ".msp" / "config.toml").write_text('[dispatch]\nmode = "manual"\n')
    give_to_nobody(root)
    assert msp_as_nobody("start", cwd=root, env=env).code == 0
    for leftover in (root / ".msp").glob("msp.db-*"):
        leftover.unlink()  # a clean close leaves none; make sure the journal must be created
    (root / ".msp").chmod(0o500)  # (0o555 would be tightened to 0o700 by msp itself)
    r = msp_as_nobody("update", "x", "--json", cwd=root, env=env)
    _clear(r, 1)
    error = r.json()["error"]
    assert error["code"] == "STORE_ERROR" and "not writable" in error["message"], error
    assert "aside" not in error["hint"] and "chmod" in error["hint"], error


# --- a damaged store ----------------------------------------------------------------------------------------


def _empty_btrees(db_path: Path, tables: tuple[str, ...]) -> None:
    """Damage the store so that ``tables`` read as empty without any error: the root page of
    each table and of each of its indexes becomes an empty leaf, and the pages below are
    orphaned (which is what SQLite's own check finds)."""
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        roots = db.execute(
            f"SELECT type, rootpage FROM sqlite_master WHERE tbl_name IN ({','.join('?' * len(tables))}) "
            "AND rootpage > 0", tables).fetchall()
    db.close()
    for leftover in db_path.parent.glob(db_path.name + "-*"):
        leftover.unlink()
    with open(db_path, "r+b") as f:
        for type_, root in roots:
            leaf = 0x0D if type_ == "table" else 0x0A
            f.seek((root - 1) * page_size)
            f.write(bytes([leaf, 0, 0, 0, 0]) + (page_size % 65536).to_bytes(2, "big") + b"\0" * (page_size - 7))


@pytest.fixture
def damaged(msp_cli: Any, project_dir: Path) -> Path:
    (project_dir / ".msp" / "config.toml").write_text(
        f'[store]\nsynchronous = "normal"\n[dispatch]\nmode = "manual"\n{WEBHOOK}')
    store = SqliteStore(project_dir / ".msp" / "msp.db", synchronous="normal")
    try:
        from msp._plugins.host import build_host

        host = build_host({"webhook": {"url": "http://127.0.0.1:9/hook"}}, hook_timeout_ms=5000)
        manager = SessionManager(store, host, default_project="proj", source="api")
        for i in range(15):
            manager.start({"goal": f"session {i} " + "g" * 1500})
            manager.update({"text": "u" * 1500, "progress": i})
            manager.end({"summary": "s" * 1500})
    finally:
        store.close()
    db_path = project_dir / ".msp" / "msp.db"
    before = msp_cli("context", "--json")
    assert before.code == 0 and before.json()["context"]["sessions"]
    _empty_btrees(db_path, ("sessions", "actions"))
    with sqlite3.connect(db_path) as db:  # the damage is silent to an ordinary query ...
        assert db.execute("SELECT count(*) FROM sessions NOT INDEXED").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM actions NOT INDEXED").fetchone()[0] == 0
        assert db.execute("PRAGMA quick_check").fetchone()[0] != "ok"  # ... but not to SQLite's check
    return project_dir


@pytest.mark.parametrize("args", [["context"], ["context", "--format", "json"], ["queue", "list"], ["queue"]])
def test_a_damaged_store_is_not_shown_as_nothing(msp_cli: Any, damaged: Path, args: list[str]) -> None:
    r = msp_cli(*args)
    _clear(r, 1)
    assert "damaged" in r.err and "msp store check" in r.err
    assert "No sessions" not in r.out and "queue is empty" not in r.out
    j = msp_cli(*args, "--json")
    assert j.json()["error"]["code"] == "STORE_ERROR"


def test_store_check_reports_damage_and_exports_every_readable_event(msp_cli: Any, damaged: Path,
                                                                     tmp_path: Path) -> None:
    r = msp_cli("store", "check")
    _clear(r, 1)
    assert "damaged" in r.err and "--export" in r.err
    target = tmp_path / "events.jsonl"
    r = msp_cli("store", "check", "--export", str(target), "--json")
    _clear(r, 1)
    report = r.json()["error"]["details"]
    print(json.dumps(report["export"]))
    assert report["problems"] and report["export"]["exported"] == 45
    events = [json.loads(line) for line in target.read_text().splitlines()]
    assert [e["seq"] for e in events] == list(range(1, 46))
    assert events[0]["type"] == "session_started" and events[0]["data"]["goal"].startswith("session 0 ")
    again = msp_cli("store", "check", "--export", str(target))
    assert again.code == 2 and "exists already" in again.err  # never overwrites an export


def test_store_check_exports_around_a_damaged_page(msp_cli: Any, damaged: Path, tmp_path: Path) -> None:
    db_path = damaged / ".msp" / "msp.db"
    with sqlite3.connect(db_path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        # A leaf page of the events table in the middle of it, found through SQLite's dbstat-free way:
        # the page holding event 20's row (rowid lookups walk the tree; corrupt a page and see).
    with open(db_path, "r+b") as f:
        for page in range(pages // 3, pages // 3 + 2):
            f.seek((page - 1) * page_size)
            f.write(b"\xff" * page_size)
    target = tmp_path / "events.jsonl"
    r = msp_cli("store", "check", "--export", str(target), "--json")
    assert r.code == 1, r.err
    export = r.json()["error"]["details"]["export"]
    print(export)
    lines = target.read_text().splitlines()
    assert len(lines) == export["exported"] > 0
    assert all(json.loads(line)["id"] for line in lines)


def test_a_sound_store_checks_ok(msp_cli: Any, tmp_path: Path) -> None:
    assert msp_cli("start").code == 0
    r = msp_cli("store", "check", "--export", str(tmp_path / "all.jsonl"), "--json")
    assert r.code == 0, r.err
    assert r.json()["problems"] == [] and r.json()["export"]["exported"] == 1


# --- MCP: malformed JSON ----------------------------------------------------------------------------------


def test_the_mcp_server_answers_malformed_json_with_a_parse_error_and_keeps_serving(project_dir: Path) -> None:
    env = {**os.environ, "MSP_DIR": str(project_dir / ".msp")}
    proc = subprocess.Popen([MSP_BIN, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=project_dir)
    assert proc.stdin is not None and proc.stdout is not None

    def send(line: str) -> None:
        assert proc.stdin is not None
        proc.stdin.write(line + "\n")
        proc.stdin.flush()

    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()], daemon=True).start()

    def answer() -> dict[str, Any]:
        try:
            line = lines.get(timeout=30)  # a bound, not a timing assertion: no answer at all fails
        except queue.Empty:
            raise AssertionError("the server sent no answer") from None
        return dict(json.loads(line))

    try:
        send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}))
        assert answer()["id"] == 1
        send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        send('{"jsonrpc": "2.0", "id": 2, "method": ')  # cut short
        parse = answer()
        print(parse)
        assert parse["error"]["code"] == -32700 and parse["id"] is None
        send("[1, 2, 3]")  # JSON, but not a JSON-RPC message
        assert answer()["error"]["code"] == -32600
        send(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                         "params": {"name": "start", "arguments": {"goal": "still serving"}}}))
        reply = answer()
        assert reply["id"] == 3 and not reply["result"].get("isError"), reply
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- a clock that moved back ----------------------------------------------------------------------------


def test_durations_are_never_negative_when_the_clock_moved_back(store: SqliteStore, msp_cli: Any) -> None:
    # The session starts while the clock is an hour ahead; then the clock is put right.
    ahead = SessionManager(store, None, default_project="proj", source="api",
                           clock=lambda: datetime.now(UTC) + timedelta(hours=1))
    sid = ahead.start({"goal": "g"}).event.session_id
    status = msp_cli("status", "--json")
    assert status.code == 0 and status.json()["duration_seconds"] == 0
    assert "active for under a minute" in msp_cli("status").out
    end = msp_cli("end", "--json")
    assert end.code == 0, end.err
    assert end.json()["duration_seconds"] == 0
    shown = msp_cli("show", sid, "--json").json()["session"]
    assert shown["ended_at"] < shown["started_at"]  # the stored times are as the clock said
    from msp._model.models import Session

    session = Session.model_validate(shown)
    assert session_duration(session) == 0.0 and session.duration_seconds(datetime.now(UTC)) == 0.0
    for seconds in (-1.0, -1e300, float("-inf"), float("nan")):
        assert format_duration(seconds) == "under a minute"
    assert format_duration(float("inf")) == "forever"
