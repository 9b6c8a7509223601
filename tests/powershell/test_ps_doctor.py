"""``msp._powershell.doctor``: static checks offline; a runspace, the import and Initialize online."""

from __future__ import annotations

from pathlib import Path

import pytest
from ps_helpers import ps_project_fixture, standin_log_fixture, teamchat_config  # noqa: F401  (fixtures)

from msp._powershell import doctor


def test_offline_doctor_lists_defined_and_missing_hook_functions(ps_project: Path) -> None:
    lines = doctor("teamchat", teamchat_config(), ps_project)
    assert lines[0] == "ok: module scripts/teamchat-integration.ps1 found (7 functions)"
    assert "ok: New-TeamChatSession defined (session_start)" in lines
    assert "skip: Add-TeamChatEntity not defined; entity is skipped" in lines
    assert not any(line.startswith(("warning", "error")) for line in lines)


def test_doctor_names_a_missing_module_a_wrong_prefix_and_bad_config(ps_project: Path) -> None:
    missing = doctor("teamchat", teamchat_config(module="scripts/nope.ps1"), ps_project)
    assert len(missing) == 1 and missing[0].startswith("error: module scripts/nope.ps1 cannot be read")
    wrong = doctor("teamchat", teamchat_config(prefix="TeamChats"), ps_project)
    assert any(line.startswith("warning: no function matches prefix 'TeamChats'") for line in wrong)
    bad = doctor("teamchat", {"module": "x.ps1"}, ps_project)
    assert bad[0].startswith("error: integrations.teamchat: prefix must be")
    no_pwsh = doctor("teamchat", teamchat_config(pwsh="no-such-pwsh"), ps_project)
    assert "warning: PowerShell executable 'no-such-pwsh' is not on PATH; actions will wait" in no_pwsh


def test_online_doctor_opens_a_runspace_and_runs_initialize(ps_project: Path, standin_log: object) -> None:
    lines = doctor("teamchat", teamchat_config(), ps_project, online=True)
    assert lines[-1] == "ok: runspace opened (local), module imported, Initialize-TeamChatIntegration ran"
    assert [e["command"] for e in standin_log()] == ["Import-Module", "Initialize-TeamChatIntegration"]  # type: ignore[operator]


def test_online_doctor_reports_initialize_returning_false(ps_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCHAT_WEBHOOK_URL")
    lines = doctor("teamchat", teamchat_config(), ps_project, online=True)
    assert lines[-1].startswith("warning: Initialize-TeamChatIntegration returned $false")
    assert "webhook URL not configured" in lines[-1]
