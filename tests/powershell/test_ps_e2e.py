"""End to end through msp itself: the real CLI records a session into a project whose config
registers the example module; the dispatcher drains the outbox: powershell actions run in the
stand-in pwsh, their follow-ups (webhook posts, a session log file) are inserted and delivered to
a chat webhook served on 127.0.0.1 by the test."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from ps_helpers import EXAMPLE, teamchat_config

from msp._config import open_project


class ChatWebhook:
    """A chat incoming webhook: records each JSON post, answers 200 ``ok`` like Slack does."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hook.posts.append({"path": self.path, "json": json.loads(body)})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/services/T0/B0/SECRETxTOKEN"

    def __enter__(self) -> ChatWebhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChatWebhook]:
    with ChatWebhook() as hook:
        monkeypatch.setenv("TEAMCHAT_WEBHOOK_URL", hook.url)
        yield hook


def test_a_session_is_delivered_through_the_dispatcher(project_dir: Path, msp_cli: Any, chat: ChatWebhook,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from msp._dispatch import drain_project

    monkeypatch.setenv("MSP_STANDIN_LOG", str(tmp_path / "standin.jsonl"))
    (project_dir / "scripts").mkdir()
    (project_dir / "notes").mkdir()  # the folder file follow-ups write into (root = "notes")
    shutil.copy(EXAMPLE, project_dir / "scripts" / "teamchat-integration.ps1")
    config_path = project_dir / ".msp" / "config.toml"
    doc = tomlkit.parse(config_path.read_text())
    section = teamchat_config(config={"channel": "#eng"})
    section["hook_timeout_ms"] = 20000
    doc.setdefault("integrations", tomlkit.table())["teamchat"] = section
    config_path.write_text(tomlkit.dumps(doc))

    validated = msp_cli("config", "validate")
    assert validated.code == 0 and "teamchat" in validated.out, validated.err
    checked = msp_cli("integrations", "doctor", "teamchat", "--online")
    assert checked.code == 0, checked.out + checked.err
    assert "info: Add-TeamChatEntity not defined; entity is skipped" in checked.out
    assert "ok: probe 1 (powershell): done" in checked.out

    for args in (["start", "--goal", "Ship the retry worker"], ["update", "Mapped the flow", "25"],
                 ["decide", "Use an outbox table"], ["entity", "RetryWorker"], ["update", "Still going", "30"],
                 ["end"]):
        result = msp_cli(*args)
        assert result.code == 0, result.err
        assert chat.url not in result.out + result.err

    monkeypatch.chdir(project_dir)
    project = open_project(project_dir)
    assert project is not None
    report = drain_project(project, wait=True, timeout_s=90)
    assert report.dead == 0 and report.waiting == 0 and report.follow_ups == 5, report.to_dict()
    # 4 powershell actions (start, 2 updates, decision, close; no Add-TeamChatEntity) -> follow-ups
    texts = [p["json"]["text"] for p in chat.posts]
    assert texts[0].endswith("started a session on proj - Ship the retry worker")
    assert any(t.endswith("reached 25%: Mapped the flow") for t in texts)
    assert ":memo: Decision: Use an outbox table" in texts
    assert texts[-1].startswith("Session ") and texts[-1].endswith(" complete")
    # the config table reached Initialize: messages built by New-TeamChatMessage carry its channel
    assert [p["json"].get("channel") for p in chat.posts].count("#eng") == 3
    assert not any("Still going" in t for t in texts)  # 30% is no milestone: the function returned nothing
    logs = list((project_dir / "notes" / "sessions").glob("*.md"))
    assert len(logs) == 1 and "- Mapped the flow" in logs[0].read_text()

    # the webhook URL is in no stored action, event or log
    db_bytes = (project_dir / ".msp" / "msp.db").read_bytes()
    for extra in project_dir.joinpath(".msp").glob("msp.db-wal"):
        db_bytes += extra.read_bytes()
    assert chat.url.encode() not in db_bytes and b"SECRETxTOKEN" not in db_bytes
    for log_file in project_dir.joinpath(".msp").rglob("*.jsonl"):
        assert "SECRETxTOKEN" not in log_file.read_text()

    exported = msp_cli("export", "--integration", "teamchat")
    assert exported.code == 0, exported.err
    assert json.loads(exported.out)["session"]["progress"] == {"start": 0, "end": 30}
