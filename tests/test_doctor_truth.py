"""`msp integrations doctor` tells the truth, per built-in integration, through the real CLI:
offline checks (folders, credential variables), read-only `--online` probes against local
stand-in servers, a non-zero exit on any problem; and recording commands warn, in one line,
about an enabled integration that cannot deliver.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from msp.testing import Reply, Request, write_project
from msp.testing._http_server import ScriptedServer

MSP = str(Path(sys.executable).with_name("msp"))


def _msp(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MSP, *args], cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def _doctor(root: Path, name: str, *flags: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    done = _msp(root, "integrations", "doctor", name, *flags, "--json", env=env)
    data = json.loads(done.stdout)
    report = data["integrations"] if data["ok"] else data["error"]["details"]["integrations"]
    (entry,) = report
    return done.returncode, entry


def _messages(entry: dict[str, Any], severity: str) -> list[str]:
    return [f["message"] for f in entry["findings"] if f["severity"] == severity]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


# --- obsidian: the vault folder -----------------------------------------------------------------


def test_a_missing_vault_with_writes_waiting_is_a_problem_and_recording_warns_once(tmp_path: Path) -> None:
    vault = tmp_path / "elsewhere" / "vault"  # outside the project: msp does not create it
    root = write_project(tmp_path / "proj", "obsidian", {"vault": str(vault)})
    started = _msp(root, "start", "--goal", "Map the flow", "--json")
    assert started.returncode == 0, started.stderr
    lines = [line for line in started.stderr.splitlines() if "obsidian" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: integration 'obsidian' cannot deliver"), started.stderr
    assert str(vault) in lines[0] and "fix: create it" in lines[0]
    assert any("cannot deliver" in w and str(vault) in w for w in json.loads(started.stdout)["warnings"])
    for i in range(3):
        assert _msp(root, "update", f"step {i}", str(10 + i)).returncode == 0
    queued = json.loads(_msp(root, "queue", "list", "--json").stdout)
    waiting = len([a for a in queued["actions"] if a["integration"] == "obsidian"])
    assert waiting > 3

    code, entry = _doctor(root, "obsidian")
    assert code != 0 and entry["status"] == "problems"
    assert any(f"vault folder {vault} does not exist" in m for m in entry["problems"])
    assert any(m.startswith(f"{waiting} action(s) queued and not delivered") for m in _messages(entry, "warning"))

    vault.mkdir(parents=True)  # fixed: the doctor says so, and recording is quiet again
    code, entry = _doctor(root, "obsidian", "--online")
    assert code == 0, entry
    assert any("exists and is writable" in m for m in _messages(entry, "ok"))
    assert any("no online check" in m for m in _messages(entry, "info"))
    quiet = _msp(root, "update", "fixed", "50")
    assert quiet.returncode == 0 and "cannot deliver" not in quiet.stderr


# --- linear: token variable, viewer probe ----------------------------------------------------------


def _linear(request: Request) -> Reply:
    body = json.loads(request.body or b"{}")
    if request.header("Authorization") != "lin_good" or "viewer" not in str(body.get("query")):
        return Reply(401, json={"errors": [{"message": "Authentication required",
                                            "extensions": {"code": "AUTHENTICATION_ERROR"}}]})
    return Reply(200, json={"data": {"viewer": {"id": "u-1"}}})


def test_linear_unset_token_401_probe_and_a_good_configuration(tmp_path: Path, server: ScriptedServer) -> None:
    server.handler = _linear
    root = write_project(tmp_path / "proj", "linear", {"endpoint": f"{server.url}/graphql",
                                                       "token_env": "MSP_TEST_LINEAR_KEY",
                                                       "active_issue": "ENG-1"})
    env = {k: v for k, v in os.environ.items() if k != "MSP_TEST_LINEAR_KEY"}
    done = subprocess.run([MSP, "integrations", "doctor", "linear", "--json"], cwd=root, capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode != 0
    assert "MSP_TEST_LINEAR_KEY (token_env) is not set" in done.stdout
    recorded = subprocess.run([MSP, "start", "--goal", "x"], cwd=root, capture_output=True, text=True, env=env,
                              timeout=120)
    assert recorded.returncode == 0 and "integration 'linear' cannot deliver" in recorded.stderr

    code, entry = _doctor(root, "linear", "--online", env={"MSP_TEST_LINEAR_KEY": "lin_wrong"})
    assert code != 0 and any(m.startswith("probe 1 (graphql)") for m in entry["problems"]), entry
    assert "lin_wrong" not in json.dumps(entry)

    code, entry = _doctor(root, "linear", "--online", env={"MSP_TEST_LINEAR_KEY": "lin_good"})
    assert code == 0, entry
    assert any(m.startswith("probe 1 (graphql): done") for m in _messages(entry, "ok"))
    assert [json.loads(r.body)["operationName"] for r in server.requests][-1] == "MspDoctorViewer"


# --- slack: auth.test in chat mode, nothing posted in webhook mode ----------------------------------


def _slack(request: Request) -> Reply:
    if request.path != "/api/auth.test":
        return Reply(404, body="posting is not a probe")
    ok = request.header("Authorization") == "Bearer xoxb-good"
    return Reply(200, json={"ok": ok, **({} if ok else {"error": "invalid_auth"})})


def test_slack_chat_probes_auth_test_and_webhook_mode_posts_nothing(tmp_path: Path, server: ScriptedServer) -> None:
    server.handler = _slack
    chat = write_project(tmp_path / "chat", "slack", {"mode": "chat", "channel": "#eng", "token_env": "MSP_TEST_SLACK",
                                                      "base_url": f"{server.url}/api"})
    code, entry = _doctor(chat, "slack", "--online", env={"MSP_TEST_SLACK": "xoxb-bad"})
    assert code != 0 and any("invalid_auth" in m for m in entry["problems"]), entry
    code, entry = _doctor(chat, "slack", "--online", env={"MSP_TEST_SLACK": "xoxb-good"})
    assert code == 0, entry
    assert {r.path for r in server.requests} == {"/api/auth.test"}

    hook = write_project(tmp_path / "hook", "slack", {"webhook_url_env": "MSP_TEST_SLACK_HOOK"})
    before = len(server.requests)
    code, entry = _doctor(hook, "slack", "--online", env={"MSP_TEST_SLACK_HOOK": f"{server.url}/hook"})
    assert code == 0, entry
    assert any("no read-only call" in m for m in _messages(entry, "info"))
    assert len(server.requests) == before  # nothing was posted


# --- jira: GET myself -------------------------------------------------------------------------------


def _jira(request: Request) -> Reply:
    good = "Basic " + base64.b64encode(b"me@acme.io:jira-good").decode()
    if request.method != "GET" or request.path != "/rest/api/3/myself":
        return Reply(405, json={"errorMessages": ["doctor must only read"]})
    if request.header("Authorization") != good:
        return Reply(401, json={"errorMessages": ["unauthorized"]})
    return Reply(200, json={"accountId": "5b10", "emailAddress": "me@acme.io"})


def test_jira_myself_probe(tmp_path: Path, server: ScriptedServer) -> None:
    server.handler = _jira
    root = write_project(tmp_path / "proj", "jira", {"base_url": server.url, "username": "me@acme.io",
                                                     "token_env": "MSP_TEST_JIRA"})
    code, entry = _doctor(root, "jira", "--online", env={"MSP_TEST_JIRA": "jira-bad"})
    assert code != 0 and any("401" in m for m in entry["problems"]), entry
    code, entry = _doctor(root, "jira", "--online", env={"MSP_TEST_JIRA": "jira-good"})
    assert code == 0, entry
    assert [(r.method, r.path) for r in server.requests][-1] == ("GET", "/rest/api/3/myself")


# --- webhook: no safe probe -------------------------------------------------------------------------


def test_webhook_says_it_has_no_probe_and_checks_its_variables(tmp_path: Path, server: ScriptedServer) -> None:
    root = write_project(tmp_path / "proj", "webhook", {"url_env": "MSP_TEST_HOOK_URL"})
    code, entry = _doctor(root, "webhook", "--online", env={"MSP_TEST_HOOK_URL": server.url})
    assert code == 0, entry
    assert any("no online check" in m for m in _messages(entry, "info"))
    assert server.requests == []
    env = {k: v for k, v in os.environ.items() if k != "MSP_TEST_HOOK_URL"}
    done = subprocess.run([MSP, "integrations", "doctor", "webhook", "--json"], cwd=root, capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode != 0 and "MSP_TEST_HOOK_URL (url_env) is not set" in done.stdout


# --- neo4j: RETURN 1 ---------------------------------------------------------------------------------


def test_neo4j_return_1_against_a_dead_and_a_live_graph(tmp_path: Path) -> None:
    from msp_neo4j import _server

    dead = _server._free_port()
    root = write_project(tmp_path / "dead", "neo4j", {"uri": f"falkordb://127.0.0.1:{dead}/g"})
    code, entry = _doctor(root, "neo4j", "--online")
    assert code != 0 and any(m.startswith("probe 1 (cypher)") for m in entry["problems"]), entry

    live = write_project(tmp_path / "live", "neo4j", {})  # the user's embedded server, started on demand
    try:
        code, entry = _doctor(live, "neo4j", "--online")
        assert code == 0, entry
        assert any(m.startswith("probe 1 (cypher): done") for m in _messages(entry, "ok"))
    finally:
        _server.stop(_server.user_dir())
