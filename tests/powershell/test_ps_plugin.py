"""Registration and hook mapping: config section -> plugin -> powershell actions (pure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ps_helpers import EXAMPLE, ps_project_fixture, teamchat_config, yourtool_config  # noqa: F401  (fixtures)

from msp._plugins.host import build_host, config_errors
from msp._powershell import plugin as ps_plugin
from msp._powershell._scan import defined_functions, scan_module
from msp.testing import assert_valid_actions


def test_static_scan_finds_the_example_functions() -> None:
    scan = scan_module(EXAMPLE)
    hooks = scan.hooks("TeamChat")
    assert hooks["initialize"] == "Initialize-TeamChatIntegration"
    assert hooks["session_start"] == "New-TeamChatSession"
    assert hooks["update"] == "Update-TeamChatProgress"
    assert hooks["decision"] == "Add-TeamChatDecision"
    assert hooks["session_close"] == "Close-TeamChatSession"
    assert hooks["export"] == "Export-TeamChatContext"
    assert hooks["entity"] is None and hooks["blocker"] is None


def test_scan_ignores_functions_in_block_comments_and_mid_line() -> None:
    source = (
        "<#\nfunction Add-XEntity { }\n#>\n"
        "function New-XSession { param($Session) }\n"
        "  function global:Close-XSession { }\n"
        "$text = 'function Add-XDecision'\n"
    )
    assert defined_functions(source) == {"New-XSession", "Close-XSession"}


def test_schema_accepts_a_full_section_and_names_wrong_keys() -> None:
    good = {**teamchat_config(), "config": {"channel": "#eng"}, "user": "ada"}
    assert config_errors(ps_plugin.config_schema, good, "integrations.teamchat") == []
    winrm = {"module": "m.ps1", "prefix": "X", "transport": "winrm", "host": "win.example", "port": 5986,
             "ssl": True, "cert_validation": True, "auth": "kerberos", "username": "svc",
             "password_env": "WINRM_PASSWORD", "api_url": "https://api", "headers": {"X-Team": "a"}}
    assert config_errors(ps_plugin.config_schema, winrm, "integrations.x") == []
    bad = {"module": "m.ps1", "prefix": "Your Tool", "transport": "ssh", "password": "plain", "auth": "digest"}
    problems = config_errors(ps_plugin.config_schema, bad, "integrations.x")
    text = "; ".join(problems)
    assert "unknown key(s) password" in text
    assert "integrations.x.prefix" in text and "integrations.x.transport" in text and "integrations.x.auth" in text


def test_a_module_key_loads_the_bridge_through_its_entry_point(ps_project: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ps_project)
    (ps_project / ".msp").mkdir()
    host = build_host({"teamchat": teamchat_config(), "yourtool": {**yourtool_config(), "hold": True}})
    assert host.broken == []
    assert sorted(host.integrations) == ["teamchat", "yourtool"]
    assert host.integrations["yourtool"].hold
    assert "msp_update" in host.hooks_of("teamchat")


def test_a_missing_module_is_a_broken_integration_with_a_clear_error(ps_project: Path) -> None:
    host = build_host({"nope": {**teamchat_config(), "module": "scripts/missing.ps1"}},
                      extra={"nope": ps_plugin})
    # extra registers the module object; its factory still runs
    assert host.integrations == {}
    assert "cannot read module scripts/missing.ps1" in host.broken[0].error


def test_hooks_map_to_the_seed_functions_with_seed_shaped_hashtables(msp_run_session: Any, ps_project: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ps_project)
    (ps_project / ".msp").mkdir()
    run = msp_run_session(ps_plugin, teamchat_config(user="ada"), name="teamchat")
    assert run.broken == [] and run.warnings == []
    assert_valid_actions(run.all_actions)
    by_hook = {hook: [(a.kind, a.function) for a in acts] for hook, acts in run.actions.items()}
    assert by_hook["msp_session_start"] == [("powershell", "New-TeamChatSession")]
    assert by_hook["msp_update"] == [("powershell", "Update-TeamChatProgress")] * 2
    assert by_hook["msp_decision"] == [("powershell", "Add-TeamChatDecision")]
    assert by_hook["msp_entity"] == []  # the module lacks Add-TeamChatEntity: skipped at plan time
    assert by_hook["msp_blocker"] == []  # nor Add-TeamChatBlocker
    assert by_hook["msp_session_close"] == [("powershell", "Close-TeamChatSession")]

    start = run.actions["msp_session_start"][0].arguments["Session"]
    assert {"id", "project", "user", "startTime", "startProgress", "endProgress", "duration", "updates",
            "decisions"} <= set(start)
    assert start["project"] == "demo-project" and start["user"] == "ada" and start["startProgress"] == 10
    update = run.actions["msp_update"][0].arguments
    assert set(update) == {"Update", "SessionId"}
    assert update["Update"]["description"] == "Mapped the charge flow" and update["Update"]["progress"] == 20
    assert update["Update"]["timestamp"].endswith("Z")
    decision = run.actions["msp_decision"][0].arguments["Decision"]
    assert decision["content"] == "Use an outbox table" and decision["rationale"].startswith("A crash")
    close = run.actions["msp_session_close"][0].arguments["Session"]
    assert [u["description"] for u in close["updates"]] == ["Mapped the charge flow", "Worker retries with backoff"]
    assert close["endProgress"] == 70 and close["duration"] == round(7 * 7 / 60, 2)
    json.dumps([a.model_dump(mode="json") for a in run.all_actions])  # plain, storable data


def test_user_text_travels_only_as_argument_values(msp_run_session: Any, ps_project: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ps_project)
    (ps_project / ".msp").mkdir()
    nasty = "'; Remove-Item -Recurse C:\\ ; $(Stop-Computer) `\"@\n#>"
    script = [("start", {"project": "demo-project", "goal": nasty}), ("update", {"text": nasty, "progress": 50}),
              ("end", {"summary": nasty})]
    run = msp_run_session(ps_plugin, teamchat_config(), name="teamchat", script=script)
    for action in run.all_actions:
        assert nasty not in action.function
        assert action.function in {"New-TeamChatSession", "Update-TeamChatProgress", "Close-TeamChatSession"}
    assert run.actions["msp_update"][0].arguments["Update"]["description"] == nasty
