"""Existing .ps1 scripts take part unchanged (issue 15): the seed's examples and msp-model's
scripts, read in place from ../shared/fixtures/powershell, registered with the configurations
docs/powershell.md documents, bound from their own param() blocks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ps_helpers import (  # noqa: F401  (fixtures)
    REPO,
    STANDIN,
    ps_project_fixture,
    standin_log_fixture,
    teamchat_config,
)
from shared_fixtures import shared_file

from msp import Finding
from msp._powershell import doctor
from msp._powershell import plugin as ps_plugin
from msp._powershell._convert import follow_ups
from msp._powershell._scan import mask, scan_source
from msp._powershell._transport import HOST_FUNCTIONS_SCRIPT
from msp._powershell.plugin import create_integration
from msp.errors import ConfigError
from msp.testing import run_session

FIXTURE_DIR = {"slack-session-summary.ps1": "seed", "jira-update-issue.ps1": "seed",
               "your-tool-integration.ps1": "seed", "error-handling.ps1": "seed", "query.ps1": "seed",
               "obsidian-integration.ps1": "msp-model", "linear-integration.ps1": "msp-model"}


def fixture(name: str) -> Path:
    return shared_file("powershell", FIXTURE_DIR[name], name)


def documented_configs() -> dict[str, dict[str, Any]]:
    """Every [integrations.X] block of docs/powershell.md's "Bring your existing script"."""
    text = (REPO / "docs" / "powershell.md").read_text()
    section = text.split("## Bring your existing script", 1)[1].split("\n## ", 1)[0]
    out: dict[str, dict[str, Any]] = {}
    for block in re.findall(r"```toml\n(.*?)```", section, re.DOTALL):
        out.update(tomllib.loads(block)["integrations"])
    return out


def registered(name: str, tmp_path: Path, **extra: Any) -> tuple[dict[str, Any], Any]:
    config = {**documented_configs()[name], **extra}
    config["module"] = str(fixture(Path(config["module"]).name))
    return config, create_integration(name, config, project_root=tmp_path)


def calls(run: Any) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    return {hook: [(a.function, a.arguments) for a in actions] for hook, actions in run.actions.items()}


def test_every_documented_config_registers_its_unchanged_fixture_script(tmp_path: Path) -> None:
    configs = documented_configs()
    assert {Path(c["module"]).name for c in configs.values()} == set(FIXTURE_DIR), "one config per fixture script"
    for name in configs:
        config, plugin = registered(name, tmp_path, root=str(tmp_path / "vault"))
        assert any(plugin.served.values()), name
        run = run_session(plugin, tmp_path / name, config, name=name)
        assert run.broken == [] and run.warnings == [], (name, run.warnings)
        assert run.all_actions, f"{name}: the scripted session made no call"


def test_slack_and_jira_examples_get_the_session_by_name(tmp_path: Path) -> None:
    config, slack = registered("slack_summary", tmp_path)
    run = calls(run_session(slack, tmp_path / "s", config, name="slack_summary"))
    assert {hook for hook, got in run.items() if got} == {"msp_session_close"}  # hooks not mapped: not served
    [(function, arguments)] = run["msp_session_close"]
    assert function == "Send-SlackSessionSummary" and list(arguments) == ["Session"]
    session = arguments["Session"]
    assert (session["startProgress"], session["endProgress"], session["duration"]) == (10, 70, 0.82)
    config, jira = registered("jira_comment", tmp_path)
    [(function, arguments)] = calls(run_session(jira, tmp_path / "j", config, name="jira_comment"))["msp_session_close"]
    assert function == "Update-JiraIssue" and arguments["IssueKey"] == "ENG-123"  # from the config table, by name
    assert [u["description"] for u in arguments["Session"]["updates"]] == ["Mapped the charge flow",
                                                                          "Worker retries with backoff"]


def test_obsidian_parameters_are_bound_by_name_and_declared_type(tmp_path: Path) -> None:
    config, plugin = registered("obsidian", tmp_path, root=str(tmp_path / "vault"))
    run = calls(run_session(plugin, tmp_path / "o", config, name="obsidian"))
    vault = config["config"]["vaultPath"]
    assert run["msp_session_start"] == [("New-ObsidianProjectNote", {"ProjectName": "demo-project",
                                                                     "VaultPath": vault})]
    # [string]$Update gets the update's text, [int]$Progress its progress
    assert run["msp_update"][0] == ("Update-ObsidianSessionNote",
                                    {"Update": "Mapped the charge flow", "Progress": 20, "VaultPath": vault})
    assert run["msp_decision"] == [("New-ObsidianDecisionRecord", {
        "Title": "Use an outbox table", "Decision": "Use an outbox table",
        "Rationale": "A crash must not lose a charge", "Alternatives": ["Retry in memory", "A message broker"],
        "VaultPath": vault})]
    [(function, arguments)] = run["msp_session_close"]
    assert function == "New-ObsidianDailyNote"
    update = arguments["Session"]["updates"][0]
    assert update["time"] == "09:07" and update["timestamp"] == "2026-01-05T09:07:00.000000Z"  # both names
    assert run.get("msp_entity", []) == [] and run.get("msp_blocker", []) == []


def test_a_hook_can_call_a_list_of_functions_in_order(tmp_path: Path) -> None:
    config, plugin = registered("obsidian", tmp_path, functions={
        "session_close": ["New-ObsidianDailyNote", "New-ObsidianProjectNote"]})
    run = calls(run_session(plugin, tmp_path / "o", config, name="obsidian"))
    assert [f for f, _ in run["msp_session_close"]] == ["New-ObsidianDailyNote", "New-ObsidianProjectNote"]
    assert run["msp_session_close"][1][1]["ProjectName"] == "demo-project"
    # a close offers no -Update, so mapping the mandatory [string]$Update function there is refused
    with pytest.raises(ConfigError, match=r"Update-ObsidianSessionNote \(session_close\) has mandatory parameter "
                                          r"-Update \[string\] that nothing binds"):
        registered("obsidian", tmp_path, functions={"session_close": "Update-ObsidianSessionNote"})


def test_a_mandatory_parameter_nothing_binds_is_a_config_error_naming_it(tmp_path: Path) -> None:
    config = {"module": str(fixture("linear-integration.ps1")), "functions": {"update": "New-LinearCommentQuery"}}
    with pytest.raises(ConfigError) as err:
        create_integration("linear_ps", config, project_root=tmp_path)
    assert "New-LinearCommentQuery (update) has mandatory parameter -IssueId [string] that nothing binds" \
        in err.value.message
    # nothing is planned: the host records it as broken, before any event
    run = run_session(ps_plugin, tmp_path / "l", config, name="linear_ps")
    assert run.all_actions == [] and any("-IssueId" in b for b in run.broken)
    # bound by [arguments] (or [config]) it loads
    create_integration("linear_ps", {**config, "arguments": {"New-LinearCommentQuery": {"IssueId": "ENG-1"}}},
                       project_root=tmp_path)


def test_a_mapped_function_missing_or_not_exported_is_a_config_error(tmp_path: Path) -> None:
    config = {"module": str(fixture("obsidian-integration.ps1")), "functions": {"update": "Update-ObsidianNote"}}
    with pytest.raises(ConfigError, match=r"functions.update: Update-ObsidianNote is not defined in"):
        create_integration("obsidian", config, project_root=tmp_path)
    script = tmp_path / "hidden.ps1"
    script.write_text("function Send-Thing { param($Session) }\nfunction Hide-Thing { param($Session) }\n"
                      "Export-ModuleMember -Function Send-Thing\n")
    with pytest.raises(ConfigError, match=r"Hide-Thing \(session_close\) is not exported"):
        create_integration("t", {"module": str(script), "functions": {"session_close": "Hide-Thing"}},
                           project_root=tmp_path)


def _severities(found: list[Any]) -> list[str]:
    return [f"{f.severity}: {f.message}" for f in found if isinstance(f, Finding)]


def test_doctor_names_problems_and_every_function_whose_query_text_is_delivered(tmp_path: Path) -> None:
    config, _ = registered("linear_ps", tmp_path)
    lines = _severities(doctor("linear_ps", config, tmp_path))
    assert not any(line.startswith("problem") for line in lines)
    delivered = [line for line in lines if "delivered as an action (deliver_returned_queries = true)" in line]
    assert len(delivered) == 1 and delivered[0].startswith("warning: New-LinearCommentQuery (update) returns graphql")
    held = _severities(doctor("linear_ps", {**config, "deliver_returned_queries": False}, tmp_path))
    assert "info: New-LinearCommentQuery (update) returns graphql text; it is recorded, not delivered " \
           "(deliver_returned_queries is off)" in held
    unserved = _severities(doctor("x", {"module": str(fixture("slack-session-summary.ps1")), "prefix": "Slack"},
                                  tmp_path))
    assert any(line.startswith("problem: no hook is served: no function matches prefix 'Slack' (functions found: "
                               "Send-SlackSessionSummary)") for line in unserved)


def test_doctor_warns_about_powershell_7_syntax_on_winrms_default_endpoint(tmp_path: Path) -> None:
    config = {"module": str(fixture("your-tool-integration.ps1")), "prefix": "YourTool", "transport": "winrm",
              "host": "win.example.test"}
    lines = _severities(doctor("yourtool", config, tmp_path))
    assert "warning: the module uses PowerShell 7 syntax (the null-coalescing operator ??, line 12), and WinRM's " \
           "default endpoint Microsoft.PowerShell is Windows PowerShell 5.1 on Windows" in lines
    seven = _severities(doctor("yourtool", {**config, "configuration_name": "PowerShell.7"}, tmp_path))
    assert not any("PowerShell 7 syntax" in line for line in seven)


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSP_")}
    return subprocess.run([sys.executable, "-m", "msp", *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def _project(tmp_path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    root = tmp_path / "proj"
    (root / ".msp").mkdir(parents=True)
    lines = []
    for name, section in sections.items():
        lines.append(f"[integrations.{name}]")
        for key, value in section.items():
            if not isinstance(value, dict):
                lines.append(f"{key} = {json.dumps(value)}")
        for key, value in section.items():
            if isinstance(value, dict):
                lines.append(f"[integrations.{name}.{key}]")
                for k, v in value.items():
                    if isinstance(v, dict):
                        continue
                    lines.append(f"{json.dumps(k)} = {json.dumps(v)}")
                for k, v in value.items():
                    if isinstance(v, dict):
                        lines.append(f"[integrations.{name}.{key}.{json.dumps(k)}]")
                        lines += [f"{json.dumps(a)} = {json.dumps(b)}" for a, b in v.items()]
    (root / ".msp" / "config.toml").write_text("\n".join(lines) + "\n")
    return root


def test_cli_integrations_test_and_plan_show_every_call_with_its_bound_arguments(tmp_path: Path) -> None:
    sections = {}
    for name in ("obsidian", "slack_summary", "yourtool_query"):
        config = dict(documented_configs()[name])
        config["module"] = str(fixture(Path(config["module"]).name))
        config["pwsh"] = "no-pwsh-on-this-machine"
        sections[name] = config
    sections["obsidian"]["root"] = str(tmp_path / "vault")
    root = _project(tmp_path, sections)
    out = _cli(root, "integrations", "test", "obsidian")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    vault = json.dumps(sections["obsidian"]["config"]["vaultPath"])
    bound = f'{{"Progress": 20, "Update": "Mapped the charge flow", "VaultPath": {vault}}}'
    assert f"  Update-ObsidianSessionNote {bound}" in text
    assert "entity: (not served)" in text and "export: (not served)" in text
    assert "(calls not run: PowerShell executable 'no-pwsh-on-this-machine' is not on PATH)" in text
    query = _cli(root, "integrations", "test", "yourtool_query", "--json")
    steps = json.loads(query.stdout)["steps"]
    assert next(s["actions"][0]["arguments"] for s in steps if s["moment"] == "update") == {"Action": "CreateTask"}
    # msp plan: the same calls for the active session
    assert _cli(root, "start", "--goal", "Ship it", "--project", "demo").returncode == 0
    assert _cli(root, "update", "Half way", "50").returncode == 0
    plan = json.loads(_cli(root, "plan", "--json").stdout)
    got = {(a["integration"], a["function"]): a["arguments"] for a in plan["actions"]}
    assert got[("obsidian", "Update-ObsidianSessionNote")] == {
        "Update": "Half way", "Progress": 50, "VaultPath": sections["obsidian"]["config"]["vaultPath"]}
    assert ("slack_summary", "Send-SlackSessionSummary") not in got  # close not reached yet


def test_cli_doctor_exits_non_zero_for_an_unbound_mandatory_parameter_or_no_hook(tmp_path: Path) -> None:
    root = _project(tmp_path, {
        "linear_ps": {"module": str(fixture("linear-integration.ps1")), "pwsh": "no-pwsh",
                      "functions": {"update": "New-LinearCommentQuery"}},
        "slack": {"module": str(fixture("slack-session-summary.ps1")), "prefix": "Slack", "pwsh": "no-pwsh"},
    })
    bad = _cli(root, "integrations", "doctor", "linear_ps")
    assert bad.returncode != 0 and "-IssueId [string] that nothing binds" in bad.stderr
    none = _cli(root, "integrations", "doctor", "slack")
    assert none.returncode != 0 and "no hook is served" in none.stderr


# --- the scan -------------------------------------------------------------------------------------

TRICKY = r'''
<#
.SYNOPSIS
    function Fake-Function { param([Parameter(Mandatory)]$Nope) }
#>
function Send-Report {
    <#
    .PARAMETER Session
        The session. function Also-Fake {}
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory = $true, Position = 0)]
        [ValidateNotNull()]
        [hashtable]$Session,

        [Parameter(Mandatory = $false)]
        [string]$Channel = (Get-MSPConfig).slack.channel,   # a default that calls a function

        [ValidateScript({ $_ -gt 0 })]
        [int]$Limit = [Math]::Max(1, 2),
        [switch]$Quiet
    )
    $splat = @{ Uri = "https://x.test/$($Session.id)"; Method = 'Post' }
    $body = @"
function Not-AFunction { param($X) }
"@ + "$(if ($Session.goal) { "($($Session.goal))" })"
    Invoke-RestMethod @splat -Body $body   # splatting
    $x = 'it''s'
}
'''


def test_the_scan_reads_the_fixture_files_syntax() -> None:
    scan = scan_source(TRICKY, Path("tricky.ps1"))
    assert sorted(scan.functions) == ["Send-Report"]  # nothing from help, comments or here-strings
    fn = scan.function("send-report")
    assert fn is not None and fn.line == 6
    assert [(p.name, p.type, p.mandatory) for p in fn.params] == [
        ("Session", "hashtable", True), ("Channel", "string", False), ("Limit", "int", False),
        ("Quiet", "switch", False)]
    assert fn.params[1].default == "(Get-MSPConfig).slack.channel"  # a default that calls a function
    assert fn.params[2].default == "[Math]::Max(1, 2)"
    assert len(mask(TRICKY)) == len(TRICKY) and "Not-AFunction" not in mask(TRICKY)
    assert scan.ps7 == ()
    obsidian = scan_source(fixture("obsidian-integration.ps1").read_text(), Path("o.ps1"))
    assert sorted(obsidian.functions) == ["New-ObsidianDailyNote", "New-ObsidianDecisionRecord",
                                          "New-ObsidianProjectNote", "Update-ObsidianSessionNote"]
    linear = scan_source(fixture("linear-integration.ps1").read_text(), Path("l.ps1"))
    assert len(linear.functions) == 8 and linear.exported("Format-SessionForLinear")
    assert not linear.exported("Send-Nothing")


# --- what scripts return ------------------------------------------------------------------------------


def test_returned_paths_are_normalised_accepted_inside_root_and_refused_outside(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    config = {"root": str(vault)}
    inside = {"path": f"{vault}/Daily Notes\\2026-01-05.md", "content": "# day", "action": "append"}
    out = follow_ups([inside], config, function="New-ObsidianDailyNote", project_root=tmp_path)
    assert out.problems == [] and out.actions[0].path == "Daily Notes/2026-01-05.md"
    assert out.actions[0].mode == "append"
    outside = follow_ups([{"path": str(tmp_path / "elsewhere" / "x.md"), "content": "x"}], config,
                         function="F", project_root=tmp_path)
    assert outside.actions == [] and "outside the configured root folder; refused" in outside.problems[0]
    written = follow_ups([{"path": f"{vault}\\Projects\\demo.md"}], config, function="F", project_root=tmp_path)
    assert written.actions == [] and written.results == ["wrote Projects/demo.md"]  # the script wrote it


def test_returned_query_text_becomes_an_action_only_when_opted_in(tmp_path: Path) -> None:
    linear = {"query": 'mutation { commentCreate(input: {issueId: "ENG-1", body: "x"}) { success } }',
              "operation": "Add Comment", "variables": {}}
    config = {"endpoint": "https://api.linear.test/graphql", "api_url": "https://api.tool.test"}
    held = follow_ups([linear], config, function="New-LinearCommentQuery")
    assert held.actions == [] and "recorded, not delivered (deliver_returned_queries is off)" in held.results[0]
    sent = follow_ups([linear], {**config, "deliver_returned_queries": True}, function="New-LinearCommentQuery")
    assert sent.actions[0].kind == "graphql" and sent.actions[0].document == linear["query"]
    text = 'POST /api/tasks\n{\n  "title": "",\n  "assignee": ""\n}'
    assert follow_ups([text], config, function="New-YourToolQuery", query_kind="text").actions == []
    [request] = follow_ups([text], {**config, "deliver_returned_queries": True}, function="New-YourToolQuery",
                           query_kind="text").actions
    assert (request.method, request.path, request.json_body) == ("POST", "/api/tasks", {"title": "", "assignee": ""})
    [cypher] = follow_ups(["MATCH (n) RETURN n"], {**config, "deliver_returned_queries": True}, function="Q-Q",
                          query_kind="cypher").actions
    assert cypher.kind == "cypher" and cypher.statement == "MATCH (n) RETURN n"


# --- the runspace: host functions, module import, the bound call --------------------------------------------


def test_host_functions_are_fixed_text_defined_before_the_module_is_imported(
        ps_project: Path, standin_log: Callable[[], list[dict[str, Any]]]) -> None:
    from test_ps_local import run, update_call

    run(teamchat_config(config_key="chat", config={"channel": "#eng"}), ps_project, [update_call("Half way", 50)])
    log = standin_log()
    assert [e["command"] for e in log] == [HOST_FUNCTIONS_SCRIPT, "Import-Module", "Initialize-TeamChatIntegration",
                                           "Update-TeamChatProgress"]
    host = log[0]
    assert host["script"] and host["values"] == {"Integration": "teamchat", "ConfigKey": "chat",
                                                 "Config": {"channel": "#eng"}}
    # the text itself: the three functions, global, before anything of the module
    for line in ("function global:Get-MSPConfig {", "function global:Write-MSPLog {",
                 "function global:Add-MSPRetryQueue {", "$view[$Integration] = $Config",
                 "if ($ConfigKey) { $view[$ConfigKey] = $Config }",
                 "[Parameter(Position = 0)][string]$Message,", "[Parameter(Position = 1)][string]$Level = 'Info',",
                 "Write-Information -MessageData $Message -Tags @('msp:log', \"level:$Level\")",
                 "Write-Information -MessageData $Action -Tags @('msp:retry')"):
        assert line in HOST_FUNCTIONS_SCRIPT, line
    # the bound call: a command with named parameters, no script text
    call = log[3]
    assert not call["script"] and call["order"] == ["Update", "SessionId"]
    assert call["values"]["Update"]["description"] == "Half way"


def test_write_msplog_retry_queue_and_missing_commands_from_a_script(
        ps_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_ps_local import run, update_call

    from msp import _logging

    logs = tmp_path / "logs"
    previous = _logging.get_log()
    _logging.configure(logs, "info")
    monkeypatch.setattr(_logging, "_current", _logging.get_log())  # restored after the test
    [logged, retried, missing] = run(teamchat_config(), ps_project, [
        update_call("knob:log", 50), update_call("knob:retry-queue", 51), update_call("knob:missing-command", 52)])
    assert logged.status == "done"
    _logging.get_log().close()
    monkeypatch.setattr(_logging, "_current", previous)
    written = "\n".join(p.read_text() for p in logs.rglob("*") if p.is_file())
    entry = next(json.loads(line) for line in written.splitlines() if "skipped a milestone" in line)
    assert entry["level"] == "warning" and entry["integration"] == "teamchat"
    assert entry["function"] == "Update-TeamChatProgress" and entry["source"] == "Write-MSPLog"
    assert retried.status == "retry" and "asked to be retried (Add-MSPRetryQueue UpdateProgress)" in retried.summary
    assert missing.status == "retry" and "skipped" not in missing.summary
    assert "Update-TeamChatProgress in module scripts/teamchat-integration.ps1 calls Send-TeamChatTyping, which is " \
           "not defined in msp's runspace (CommandNotFoundException)" in missing.summary


def test_online_probe_on_a_51_endpoint_names_powershell_7_syntax(
        ps_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSP_STANDIN_PSVERSION", "Desktop 5.1.19041.4291")
    monkeypatch.setenv("YOURTOOL_API_KEY", "k")
    config = {"module": "scripts/yourtool-integration.ps1", "prefix": "YourTool", "pwsh": sys.executable,
              "pwsh_args": [str(STANDIN)], "config": {"apiKey_env": "YOURTOOL_API_KEY"}}
    from msp._dispatch.registry import run_probes
    from msp._plugins.host import build_host

    host = build_host({"yourtool": config}, project_root=ps_project)
    _findings, probes = host.doctor("yourtool", True, ps_project)
    (finding,) = run_probes(host, "yourtool", probes, ps_project, 30)
    assert finding.severity == "problem"
    assert "PowerShell Desktop 5.1.19041.4291" in finding.message
    assert 'the module uses PowerShell 7 syntax (the null-coalescing operator ??, line 5) but the endpoint runs ' \
           'Desktop PowerShell 5.1.19041.4291; set configuration_name = "PowerShell.7"' in finding.message


def test_integrations_test_script_is_the_author_kits() -> None:
    from msp._cli._integration_test import SCRIPT
    from msp.testing import SCRIPT as KIT

    assert SCRIPT is KIT  # one list, in msp._session.script
