"""The real example script in a real PowerShell: run when ``pwsh`` is on PATH (local transport)
or a WinRM host is named by ``MSP_TEST_WINRM_HOST`` (with ``MSP_TEST_WINRM_USER`` and the
password in ``MSP_TEST_WINRM_PASSWORD``; ``MSP_TEST_WINRM_AUTH`` defaults to ntlm, HTTPS with
certificate checks unless ``MSP_TEST_WINRM_INSECURE=1``). Skipped otherwise, saying why."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from ps_helpers import ps_project_fixture  # noqa: F401  (fixtures)

from msp._executors import ExecutionContext, Outcome
from msp._executors.powershell import PowerShellExecutor
from msp._model.actions import FileWrite, HttpRequest, PowerShellCall

PWSH = shutil.which("pwsh")
WINRM_HOST = os.environ.get("MSP_TEST_WINRM_HOST")

SESSION = {"id": "s-real", "project": "payments", "user": "ada", "goal": "Ship", "startProgress": 10,
           "endProgress": 50, "duration": 1.25, "updates": [{"description": "Half", "progress": 50}],
           "decisions": [{"content": "Use an outbox", "rationale": "safety"}]}
CALLS = [
    PowerShellCall(function="New-TeamChatSession", arguments={"Session": SESSION}),
    PowerShellCall(function="Update-TeamChatProgress",
                   arguments={"Update": {"description": "Half", "progress": 50}, "SessionId": "s-real"}),
    PowerShellCall(function="Add-TeamChatDecision",
                   arguments={"Decision": {"content": "Use an outbox", "rationale": "safety"}, "SessionId": "s-real"}),
    PowerShellCall(function="Close-TeamChatSession", arguments={"Session": SESSION}),
    PowerShellCall(function="Add-TeamChatEntity", arguments={"Entity": {"name": "x"}, "SessionId": "s-real"}),
]


def _run(config: dict[str, Any], root: Path) -> list[Outcome]:
    async def go() -> list[Outcome]:
        ex = PowerShellExecutor()
        try:
            return [await ex.execute(c, ExecutionContext("teamchat", config, root)) for c in CALLS]
        finally:
            await ex.aclose()

    return asyncio.run(go())


def _check(outcomes: list[Outcome]) -> None:
    assert [o.status for o in outcomes] == ["done"] * 5, [o.summary for o in outcomes]
    assert isinstance(outcomes[0].follow_ups[0], HttpRequest)
    assert list(outcomes[1].follow_ups[0].json_body) == ["text", "username"]
    assert outcomes[2].follow_ups[0].json_body["text"].startswith(":memo: Decision: Use an outbox")
    assert isinstance(outcomes[3].follow_ups[1], FileWrite)
    assert "skipped" in outcomes[4].summary


@pytest.mark.skipif(PWSH is None, reason="pwsh (PowerShell 7) is not on PATH; the stand-in tests cover the protocol")
def test_the_example_in_a_real_local_pwsh(ps_project: Path) -> None:
    config = {"module": "scripts/teamchat-integration.ps1", "prefix": "TeamChat", "webhook_url_env":
              "TEAMCHAT_WEBHOOK_URL", "root": "notes", "timeout_s": 60}
    _check(_run(config, ps_project))


@pytest.mark.skipif(WINRM_HOST is None, reason="no WinRM host configured (set MSP_TEST_WINRM_HOST)")
def test_the_example_over_real_winrm(ps_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    insecure = os.environ.get("MSP_TEST_WINRM_INSECURE") == "1"
    config = {"module": "scripts/teamchat-integration.ps1", "prefix": "TeamChat", "transport": "winrm",
              "host": WINRM_HOST, "ssl": not insecure, "cert_validation": not insecure,
              "auth": os.environ.get("MSP_TEST_WINRM_AUTH", "ntlm"), "username": os.environ.get("MSP_TEST_WINRM_USER"),
              "password_env": "MSP_TEST_WINRM_PASSWORD", "webhook_url_env": "TEAMCHAT_WEBHOOK_URL",
              "root": "notes", "timeout_s": 60,
              # the remote host has no TEAMCHAT_WEBHOOK_URL: hand it over through Initialize's -Config
              "config": {"webhookUrl_env": "TEAMCHAT_WEBHOOK_URL"}}
    _check(_run(config, ps_project))


@pytest.mark.skipif(PWSH is None, reason="pwsh (PowerShell 7) is not on PATH; the fixture scripts' calls are checked "
                    "as text and bound arguments by test_ps_scripts.py")
def test_the_fixture_scripts_end_to_end_in_a_real_local_pwsh(tmp_path: Path) -> None:
    """msp-model's Obsidian script and the seed's Slack example, unchanged, through the bridge:
    Get-MSPConfig answers the VaultPath default, the returned Windows-style paths land in root."""
    from shared_fixtures import shared_file

    vault = tmp_path / "vault"
    obsidian = {"module": str(shared_file("powershell", "msp-model", "obsidian-integration.ps1")), "root": str(vault),
                "functions": {"update": "Update-ObsidianSessionNote", "session_close": "New-ObsidianDailyNote"},
                "config": {"vaultPath": str(vault)}, "timeout_s": 60}
    slack = {"module": str(shared_file("powershell", "seed", "slack-session-summary.ps1")),
             "functions": {"session_close": "Send-SlackSessionSummary"}, "webhook_url_env": "SLACK_WEBHOOK_URL",
             "timeout_s": 60}
    os.environ.setdefault("SLACK_WEBHOOK_URL", "https://hooks.slack.test/services/T/B/x")

    async def go() -> list[Outcome]:
        ex = PowerShellExecutor()
        try:
            return [
                await ex.execute(PowerShellCall(function="Update-ObsidianSessionNote",
                                                arguments={"Update": "Half way", "Progress": 50}),
                                 ExecutionContext("obsidian", obsidian, tmp_path)),
                await ex.execute(PowerShellCall(function="New-ObsidianDailyNote", arguments={"Session": SESSION}),
                                 ExecutionContext("obsidian", obsidian, tmp_path)),
                await ex.execute(PowerShellCall(function="Send-SlackSessionSummary", arguments={"Session": SESSION}),
                                 ExecutionContext("slack", slack, tmp_path)),
            ]
        finally:
            await ex.aclose()

    update, daily, post = asyncio.run(go())
    assert [o.status for o in (update, daily, post)] == ["done"] * 3, [o.summary for o in (update, daily, post)]
    assert isinstance(update.follow_ups[0], FileWrite) and update.follow_ups[0].path.startswith("Daily Notes/")
    assert "- Progress: 50%" in update.follow_ups[0].content
    assert "**Session ID**: s-real" in daily.follow_ups[0].content
    assert isinstance(post.follow_ups[0], HttpRequest) and post.follow_ups[0].url_from == "webhook_url"
