"""``msp._powershell.doctor`` (the plugin's ``msp_doctor``): findings from static checks offline;
online, a probe that the host runs through the bridge (runspace, import, Initialize)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ps_helpers import ps_project_fixture, standin_log_fixture, teamchat_config  # noqa: F401  (fixtures)

from msp import Finding, PowerShellCall
from msp._powershell import doctor


def _lines(found: list[Any]) -> list[str]:
    return [f"{f.severity}: {f.message}" for f in found if isinstance(f, Finding)]


def test_offline_doctor_lists_defined_and_missing_hook_functions(ps_project: Path) -> None:
    found = doctor("teamchat", teamchat_config(), ps_project)
    lines = _lines(found)
    assert lines == [f"{f.severity}: {f.message}" for f in found], "offline: findings only, no probe"
    assert lines[0] == "ok: module scripts/teamchat-integration.ps1 found (7 functions)"
    assert "ok: New-TeamChatSession defined (session_start): -Session <- the hook" in lines
    assert "info: Add-TeamChatEntity not defined; entity is skipped" in lines
    assert not any(f.severity in ("warning", "problem") for f in found)


def test_doctor_names_a_missing_module_a_wrong_prefix_and_bad_config(ps_project: Path) -> None:
    missing = doctor("teamchat", teamchat_config(module="scripts/nope.ps1"), ps_project)
    assert len(missing) == 1 and missing[0].severity == "problem"
    assert missing[0].message.startswith("module scripts/nope.ps1 cannot be read") and missing[0].fix
    wrong = _lines(doctor("teamchat", teamchat_config(prefix="TeamChats"), ps_project))
    assert any(line.startswith("problem: no hook is served: no function matches prefix 'TeamChats'")
               for line in wrong)
    bad = doctor("teamchat", {"module": "x.ps1"}, ps_project)
    assert bad[0].severity == "problem" and bad[0].message.startswith("integrations.teamchat: no hook is served")
    bad_prefix = doctor("teamchat", {"module": "x.ps1", "prefix": "Team-Chat"}, ps_project)
    assert bad_prefix[0].message.startswith("integrations.teamchat: prefix must be")
    no_pwsh = _lines(doctor("teamchat", teamchat_config(pwsh="no-such-pwsh"), ps_project))
    assert "warning: PowerShell executable 'no-such-pwsh' is not on PATH; actions will wait" in no_pwsh


def test_online_doctor_returns_a_probe_and_stays_pure(ps_project: Path, standin_log: Any) -> None:
    found = doctor("teamchat", teamchat_config(), ps_project, online=True)
    assert found[-1] == PowerShellCall(function="Get-Variable", arguments={"Name": "PSVersionTable", "ValueOnly": True})
    assert standin_log() == [], "the hook itself opens no runspace"


def _probe(ps_project: Path, config: dict[str, Any]) -> list[Finding]:
    from msp._dispatch.registry import run_probes
    from msp._plugins.host import build_host

    host = build_host({"teamchat": config}, project_root=ps_project)
    assert "teamchat" in host.integrations, host.broken
    findings, probes = host.doctor("teamchat", True, ps_project)
    assert len(probes) == 1 and findings[0].severity == "ok"
    return run_probes(host, "teamchat", probes, ps_project, 30)


def test_online_probe_opens_a_runspace_and_runs_initialize(ps_project: Path, standin_log: Any) -> None:
    (finding,) = _probe(ps_project, teamchat_config())
    assert finding.severity == "ok", finding
    # the edition and version the runspace reported, after import and Initialize succeeded
    assert finding.message == "probe 1 (powershell): done (PowerShell Core 7.4.6; module imported, initialized)"
    assert [e["command"] for e in standin_log()][1:] == ["Import-Module", "Initialize-TeamChatIntegration",
                                                         "Get-Variable"]


def test_online_probe_reports_initialize_returning_false(ps_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCHAT_WEBHOOK_URL")
    (finding,) = _probe(ps_project, teamchat_config())
    assert finding.severity == "problem"
    assert finding.message.startswith("probe 1 (powershell): wait: Initialize-TeamChatIntegration returned $false")
    assert "webhook URL not configured" in finding.message
