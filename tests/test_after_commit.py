"""Issue 12, point 3: nothing after the commit point turns success into failure.

Once the event is stored the command has succeeded; a caller told otherwise would record it
again. Writing the log, kicking the dispatcher and rendering the answer degrade to a warning
on stderr, carried in the answer's ``warnings``; the command exits 0 and the MCP tool call is
not an error. Shown through the real CLI and a real MCP server with a log that cannot be
written, and as another user with a log folder that user may not write.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.other_user import give_to_nobody, msp_as_nobody, reachable_folder

WEBHOOK = '[integrations.webhook]\nurl = "http://127.0.0.1:9/hook"\n'


def _events(project_dir: Path, type_: str = "progress_updated") -> int:
    with sqlite3.connect(project_dir / ".msp" / "msp.db") as db:
        return int(db.execute("SELECT count(*) FROM events WHERE type = ?", (type_,)).fetchone()[0])


def _config(project_dir: Path, text: str) -> None:
    (project_dir / ".msp" / "config.toml").write_text('[store]\nsynchronous = "normal"\n' + text)


def _logs_cannot_be_made(project_dir: Path) -> Path:
    """A file where the logs folder should be: not even root can create the folder."""
    logs = project_dir / ".msp" / "logs"
    if logs.exists():
        shutil.rmtree(logs)
    logs.write_text("in the way\n")
    return logs


@pytest.mark.parametrize("mode", ["manual", "background"])
def test_update_exits_0_when_the_log_cannot_be_written(msp_cli: Any, project_dir: Path, mode: str) -> None:
    # info level: `recorded` is logged after the commit; background: the kick also opens a
    # log file (dispatch-background.log) after the commit.
    _config(project_dir, f'[logging]\nlevel = "info"\n[dispatch]\nmode = "{mode}"\n{WEBHOOK}')
    assert msp_cli("start").code == 0
    logs = _logs_cannot_be_made(project_dir)

    r = msp_cli("update", "stored once", "40", "--json")
    print("exit", r.code, "stderr:", r.err)
    assert r.code == 0, r.err
    data = r.json()
    assert data["ok"] is True and data["event"]["data"]["text"] == "stored once"
    assert data["warnings"], data  # the warning is carried in the answer ...
    assert "warning:" in r.err and str(logs) in r.err  # ... and said on stderr, naming the file
    assert "INTERNAL" not in r.out + r.err
    assert _events(project_dir) == 1  # committed exactly once: no reason for a retry

    text = msp_cli("update", "and again, as text", "50")
    assert text.code == 0 and text.out.startswith("Recorded update at 50%"), (text.out, text.err)
    assert _events(project_dir) == 2


def test_end_exits_0_when_the_log_cannot_be_written(msp_cli: Any, project_dir: Path) -> None:
    _config(project_dir, '[logging]\nlevel = "info"\n[dispatch]\nmode = "manual"\n')
    assert msp_cli("start").code == 0
    _logs_cannot_be_made(project_dir)
    r = msp_cli("end", "--summary", "done", "--json")
    assert r.code == 0, r.err
    assert r.json()["ok"] is True and r.json()["warnings"]
    assert _events(project_dir, "session_closed") == 1


@pytest.fixture
def nobodys_project() -> Iterator[Path]:
    for base in reachable_folder():
        root = base / "proj"
        root.mkdir()
        yield root


def test_another_user_with_a_read_only_log_folder_still_records(nobodys_project: Path) -> None:
    """The project is nobody's, but its logs folder (and the log in it) belongs to root."""
    root = nobodys_project
    give_to_nobody(root)
    env = {"MSP_USER_CONFIG": str(root / "user.toml")}
    assert msp_as_nobody("init", cwd=root, env=env).code == 0
    (root / ".msp" / "config.toml").write_text(
        f'[logging]\nlevel = "info"\n[dispatch]\nmode = "background"\n{WEBHOOK}')
    assert msp_as_nobody("start", cwd=root, env=env).code == 0
    logs = root / ".msp" / "logs"
    logs.mkdir(exist_ok=True)
    (logs / "msp.jsonl").write_text("")
    for path in (logs, logs / "msp.jsonl"):
        os.chown(path, 0, 0)
    logs.chmod(0o755)
    (logs / "msp.jsonl").chmod(0o644)

    r = msp_as_nobody("update", "recorded by nobody", "30", "--json", cwd=root, env=env)
    print("exit", r.code, "stderr:", r.err)
    assert r.code == 0, r.err
    assert r.json()["ok"] is True and r.json()["warnings"]
    assert "cannot write the log" in r.err and "belongs to root" in r.err
    assert _events(root) == 1


def test_an_mcp_update_succeeds_when_the_log_cannot_be_written(project_dir: Path, msp_cli: Any) -> None:
    from tests.test_mcp import _ok, _run, mcp_session

    _config(project_dir, '[logging]\nlevel = "info"\n[dispatch]\nmode = "manual"\n')
    _logs_cannot_be_made(project_dir)

    async def body() -> None:
        async with mcp_session(project_dir) as s:
            started = await s.call_tool("start", {"goal": "g"})
            assert not started.is_error, started
            result = await s.call_tool("update", {"text": "via mcp", "progress": 20})
            assert not result.is_error, result
            data = _ok(result)
            print("mcp warnings:", data["warnings"])
            assert data["warnings"] and "log" in data["warnings"][0]
            # and the server keeps answering
            status = _ok(await s.call_tool("status", {}))
            assert [u["text"] for u in status["session"]["updates"]] == ["via mcp"]

    _run(body)
    assert _events(project_dir) == 1
