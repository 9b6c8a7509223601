"""The jira integration through the real ``msp`` binary, loaded from its entry point."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from jira_contract import assert_conforms
from jira_sessions import TOKEN, TOKEN_ENV

DATACENTER_TOML = f"""
[integrations.jira]
deployment = "datacenter"
base_url = "https://jira.example.com/jira"
token_env = "{TOKEN_ENV}"
worklog = true
"""

CLOUD_TOML = f"""
[integrations.jira]
base_url = "https://acme.atlassian.net"
username = "dev@acme.example"
token_env = "{TOKEN_ENV}"
"""


def configure(project_dir: Path, section: str) -> None:
    path = project_dir / ".msp" / "config.toml"
    path.write_text(path.read_text() + section)


def test_dry_run_end_shows_the_requests_without_credentials(msp_cli: Any, project_dir: Path) -> None:
    configure(project_dir, DATACENTER_TOML)
    env = {TOKEN_ENV: TOKEN}
    assert msp_cli("start", "--issue", "PAY-42", "--goal", "Retry worker", env=env).code == 0
    assert msp_cli("update", "Mapped the *charge* flow {code}", "30", env=env).code == 0
    assert msp_cli("decide", "Use an outbox", "--rationale", "crash-safe [link|x]", env=env).code == 0
    done = msp_cli("end", "--summary", "Behind a flag", "--dry-run", "--json", env=env)
    assert done.code == 0, done.err
    assert TOKEN not in done.out + done.err
    text = json.dumps(done.json())
    actions = [a for a in _find_actions(done.json()) if a.get("integration") == "jira"]
    assert [a["path"] for a in actions] == ["/rest/api/2/issue/PAY-42/comment", "/rest/api/2/issue/PAY-42/worklog"]
    for action in actions:
        assert_conforms(action["method"], action["path"], action["json"])
    assert "Mapped the \\\\*charge\\\\* flow \\\\{code\\\\}" in text  # escaped wiki markup, JSON-encoded
    # a dry run stores nothing: the session is still active
    assert msp_cli("status", "--json", env=env).json()["active"]["status"] == "active"


def test_a_bad_issue_key_warns_and_is_recorded(msp_cli: Any, project_dir: Path) -> None:
    configure(project_dir, CLOUD_TOML)
    assert msp_cli("start", "--issue", "../../rest/api/3/myself").code == 0
    done = msp_cli("end")
    assert done.code == 0, done.err  # the session closes; only jira's part fails
    assert "jira" in done.err and "not a Jira issue key" in done.err
    db = sqlite3.connect(project_dir / ".msp" / "msp.db")
    try:
        failures = db.execute("SELECT integration, hook, error FROM hook_failures").fetchall()
        planned = db.execute("SELECT COUNT(*) FROM actions WHERE integration = 'jira'").fetchone()[0]
    finally:
        db.close()
    assert planned == 0
    assert [(i, h) for i, h, _ in failures] == [("jira", "msp_session_close")]
    assert "InvalidIssueKey" in failures[0][2]


def test_config_validate_names_the_wrong_key(msp_cli: Any, project_dir: Path) -> None:
    configure(project_dir, CLOUD_TOML.replace('username = "dev@acme.example"\n', 'issue_key = "pay 42"\n'))
    out = msp_cli("config", "validate")
    assert out.code != 0
    assert "integrations.jira" in out.out + out.err
    assert "issue_key" in out.out + out.err and "username" in out.out + out.err


def test_export_prints_the_comment_body(msp_cli: Any, project_dir: Path) -> None:
    configure(project_dir, CLOUD_TOML)
    assert msp_cli("start", "--issue", "PAY-7").code == 0
    assert msp_cli("update", "First *step*", "20").code == 0
    assert msp_cli("end").code == 0
    out = msp_cli("export", "--integration", "jira")
    assert out.code == 0, out.err
    doc = json.loads(out.out)
    assert doc["type"] == "doc" and "First *step*" in out.out


def _find_actions(data: Any) -> list[dict[str, Any]]:
    """Every action-shaped dict anywhere in a JSON document."""
    found: list[dict[str, Any]] = []
    if isinstance(data, dict):
        if data.get("kind") == "http":
            found.append(data)
        for value in data.values():
            found += _find_actions(value)
    elif isinstance(data, list):
        for value in data:
            found += _find_actions(value)
    return found
