"""The local transport (out-of-process PSRP over a child's stdin/stdout) end to end, against the
stand-in pwsh: plugin action -> executor -> psrpcore client -> stand-in (psrpcore server) ->
fixture objects -> follow-up actions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ps_helpers import WEBHOOK, ps_project_fixture, standin_log_fixture, teamchat_config, yourtool_config  # noqa: F401  (fixtures)

from msp._executors import ExecutionContext, Outcome
from msp._executors.powershell import PowerShellExecutor
from msp._model.actions import FileWrite, GraphQLRequest, HttpRequest, PowerShellCall, action_to_dict
from msp._powershell._transport import HOST_FUNCTIONS_SCRIPT, LOAD_MODULE_SCRIPT

SESSION = {"id": "s-1", "project": "payments", "user": "ada", "goal": "Ship retries",
           "startTime": "2026-01-05T09:00:00Z",
           "startProgress": 10, "endProgress": 70, "duration": 1.5,
           "updates": [{"description": "Mapped the flow", "progress": 20}, {"description": "Backoff", "progress": 60}],
           "decisions": [{"content": "Use an outbox", "rationale": "crash safety"}]}


def update_call(text: str, progress: int | None = 50) -> PowerShellCall:
    return PowerShellCall(function="Update-TeamChatProgress",
                          arguments={"Update": {"description": text, "progress": progress}, "SessionId": "s-1"})


def run(config: dict[str, Any], project: Path, calls: list[PowerShellCall], name: str = "teamchat",
        executor: PowerShellExecutor | None = None) -> list[Outcome]:
    async def go() -> list[Outcome]:
        ex = executor or PowerShellExecutor()
        ctx = ExecutionContext(name, config, project)
        try:
            return [await ex.execute(call, ctx) for call in calls]
        finally:
            await ex.aclose()

    return asyncio.run(go())


def calls_of(log: list[dict[str, Any]], command: str) -> list[dict[str, Any]]:
    return [e for e in log if e["command"] == command]


@pytest.mark.parametrize("ack", ["before", "after"])
def test_a_session_runs_end_to_end_with_either_ack_order(ps_project: Path, standin_log: Callable[[], Any],
                                                         ack: str) -> None:
    calls = [
        PowerShellCall(function="New-TeamChatSession", arguments={"Session": SESSION}),
        update_call("Half way", 50),
        PowerShellCall(function="Add-TeamChatDecision",
                       arguments={"Decision": {"content": "Use an outbox", "rationale": "crash safety"},
                                  "SessionId": "s-1"}),
        PowerShellCall(function="Close-TeamChatSession", arguments={"Session": SESSION}),
    ]
    outcomes = run(teamchat_config(ack), ps_project, calls)
    assert [o.status for o in outcomes] == ["done"] * 4, [o.summary for o in outcomes]

    start = outcomes[0].follow_ups
    assert len(start) == 1 and isinstance(start[0], HttpRequest)  # a hashtable
    assert start[0].method == "POST" and start[0].url_from == "webhook_url" and start[0].path == ""
    assert start[0].json_body == {"text": ":arrow_forward: ada started a session on payments - Ship retries",
                                  "username": "msp"}
    progress = outcomes[1].follow_ups[0]  # an ordered dictionary, key order kept
    assert list(progress.json_body) == ["text", "username"]
    assert progress.json_body["text"] == ":bar_chart: s-1 reached 50%: Half way"
    decision = outcomes[2].follow_ups[0]  # a PSCustomObject
    assert decision.json_body["text"] == ":memo: Decision: Use an outbox\n_Why:_ crash safety"
    chat, note = outcomes[3].follow_ups  # two hashtables: nested arrays of hashtables, a file
    assert chat.json_body["blocks"][1]["fields"][1]["text"] == "*Progress:*\n10% -> 70%"
    assert isinstance(note, FileWrite) and note.path == "sessions/s-1.md" and note.mode == "replace"
    assert note.content.startswith("# Session s-1\n") and "- Backoff\n" in note.content

    # the webhook URL (a credential) is never written into an action or a summary
    stored = json.dumps([action_to_dict(f) for o in outcomes for f in o.follow_ups])
    assert WEBHOOK not in stored and all(WEBHOOK not in o.summary for o in outcomes)

    log = standin_log()
    assert len({e["pid"] for e in log}) == 1  # one runspace for the whole drain
    assert len(calls_of(log, "Import-Module")) == 1 and len(calls_of(log, "Initialize-TeamChatIntegration")) == 1
    # host functions first (a fixed script, data as parameters), then the module, then Initialize
    assert log[0]["command"] == HOST_FUNCTIONS_SCRIPT and log[0]["script"]
    assert log[0]["values"]["Integration"] == "teamchat"
    assert log[1]["command"] == "Import-Module" and log[2]["command"] == "Initialize-TeamChatIntegration"
    assert log[1]["values"]["Name"] == str((ps_project / "scripts" / "teamchat-integration.ps1").resolve())


@pytest.mark.parametrize("ack", ["before", "after"])
def test_payloads_over_32_kib_travel_both_ways(ps_project: Path, standin_log: Callable[[], Any], tmp_path: Path,
                                               ack: str) -> None:
    big_text = "Long update " + ("é∑ " * 20_000) + " knob:big"  # ~80 KB of parameter, ~50 KB answered
    [outcome] = run(teamchat_config(ack), ps_project, [update_call(big_text)])
    assert outcome.status == "done", outcome.summary
    assert len(outcome.follow_ups[0].json_body["text"]) == 50_000
    [entry] = calls_of(standin_log(), "Update-TeamChatProgress")
    assert entry["values"]["Update"]["description"] == big_text
    # the client split the pipeline's PSRP data into several Data packets of at most 32 KiB, each acked
    packets = [line.split() for line in (tmp_path / "standin.jsonl.packets").read_text().splitlines()]
    sizes = [int(size) for guid, size in packets if guid != "00000000-0000-0000-0000-000000000000" and size.isdigit()]
    assert len(sizes) >= 3 and max(sizes) <= 32 * 1024


def test_a_function_the_module_lacks_is_skipped_with_a_note(ps_project: Path) -> None:
    call = PowerShellCall(function="Add-TeamChatEntity", arguments={"Entity": {"name": "RetryWorker"},
                                                                    "SessionId": "s-1"})
    [outcome] = run(teamchat_config(), ps_project, [call])
    assert outcome.status == "done" and outcome.follow_ups == []
    assert "Add-TeamChatEntity is not defined" in outcome.summary and "skipped" in outcome.summary


def test_errors_become_retries_and_the_runspace_is_kept(ps_project: Path, standin_log: Callable[[], Any]) -> None:
    outcomes = run(teamchat_config(), ps_project, [update_call("knob:error-stream"), update_call("knob:throw"),
                                                    update_call("fine", 75)])
    assert [o.status for o in outcomes] == ["retry", "retry", "done"]
    assert "error: Progress milestone table is corrupt (MilestoneTable)" in outcomes[0].summary
    assert "terminating error: TeamChat could not format the update (FormatFailed)" in outcomes[1].summary
    assert outcomes[0].follow_ups == []  # output beside an error is not half-delivered
    assert len({e["pid"] for e in standin_log()}) == 1


def test_a_dying_process_is_replaced_and_the_core_carries_on(ps_project: Path,
                                                             standin_log: Callable[[], Any]) -> None:
    outcomes = run(teamchat_config(), ps_project, [update_call("before", 25), update_call("knob:die"),
                                                    update_call("after", 75)])
    assert [o.status for o in outcomes] == ["done", "retry", "done"]
    assert "runspace died" in outcomes[1].summary and "exited (code 3)" in outcomes[1].summary
    log = standin_log()
    pids = [e["pid"] for e in log]
    assert len(set(pids)) == 2  # a new process for the next call
    assert len(calls_of(log, "Import-Module")) == 2 and len(calls_of(log, "Initialize-TeamChatIntegration")) == 2


def test_a_hanging_call_is_signalled_and_times_out_into_a_retry(ps_project: Path, tmp_path: Path) -> None:
    outcomes = run(teamchat_config(timeout_s=3), ps_project, [update_call("knob:hang"), update_call("ok", 100)])
    assert [o.status for o in outcomes] == ["retry", "done"]
    assert "did not finish within 3s" in outcomes[0].summary
    packets = (tmp_path / "standin.jsonl.packets").read_text().splitlines()
    assert sum(line.endswith(" signal") for line in packets) == 1  # a Signal packet asked the pipeline to stop


def test_initialize_returning_false_disables_the_integration_with_its_warning(
        ps_project: Path, standin_log: Callable[[], Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAMCHAT_WEBHOOK_URL")
    outcomes = run(teamchat_config(), ps_project, [update_call("a", 25), update_call("b", 50)])
    assert [o.status for o in outcomes] == ["wait", "wait"]
    assert "Initialize-TeamChatIntegration returned $false" in outcomes[0].summary
    assert "TeamChat webhook URL not configured" in outcomes[0].summary
    log = standin_log()
    assert [e["command"] for e in log] == [HOST_FUNCTIONS_SCRIPT, "Import-Module", "Initialize-TeamChatIntegration"]


def test_rest_and_graphql_follow_ups_and_secret_config_values(ps_project: Path, standin_log: Callable[[], Any],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YOURTOOL_API_KEY", "yt-SECRET-key-123")
    calls = [
        PowerShellCall(function="New-YourToolSession", arguments={"Session": SESSION}),
        PowerShellCall(function="Update-YourToolProgress",
                       arguments={"Update": {"description": "Half", "progress": 50, "timestamp": "t"},
                                  "SessionId": "s-1"}),
        PowerShellCall(function="Add-YourToolDecision",
                       arguments={"Decision": {"content": "Use an outbox"}, "SessionId": "s-1"}),
    ]
    outcomes = run(yourtool_config(deliver_returned_queries=True), ps_project, calls, name="yourtool")
    assert [o.status for o in outcomes] == ["done"] * 3, [o.summary for o in outcomes]
    create, progress = outcomes[0].follow_ups[0], outcomes[1].follow_ups[0]
    assert (create.method, create.path, create.url_from) == ("POST", "/api/sessions", "api_url")
    assert create.json_body == {"name": "MSP Session s-1", "startTime": "2026-01-05T09:00:00Z", "project": "payments"}
    assert (progress.method, progress.path) == ("PUT", "/api/sessions/s-1/progress")
    gql = outcomes[2].follow_ups[0]
    assert isinstance(gql, GraphQLRequest) and gql.variables == {"session": "s-1", "text": "Use an outbox"}
    [init] = calls_of(standin_log(), "Initialize-YourToolIntegration")
    # apiKey_env was resolved at dispatch and handed over as a parameter value, never stored
    assert init["values"]["Config"] == {"apiKey": "yt-SECRET-key-123", "projectId": "12345"}
    assert "yt-SECRET" not in json.dumps([action_to_dict(f) for o in outcomes for f in o.follow_ups])


def test_a_missing_credential_for_initialize_waits(ps_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YOURTOOL_API_KEY", raising=False)
    [outcome] = run(yourtool_config(), ps_project,
                    [PowerShellCall(function="New-YourToolSession", arguments={"Session": SESSION})], name="yourtool")
    assert outcome.status == "wait" and "YOURTOOL_API_KEY" in outcome.summary


def test_output_of_unknown_shape_is_a_warning_never_dropped_silently(ps_project: Path) -> None:
    [outcome] = run(teamchat_config(), ps_project, [update_call("knob:odd", 51)])
    assert outcome.status == "done" and outcome.follow_ups == []
    assert "unrecognised output, string (13 chars)" in outcome.summary
    assert "unrecognised output, number" in outcome.summary
    assert "unrecognised output, hashtable with keys [unexpected]" in outcome.summary
    assert "just a string" not in outcome.summary  # shape, not content


def test_requests_msp_cannot_deliver_wait_with_the_reason(ps_project: Path) -> None:
    config = teamchat_config()
    del config["webhook_url_env"]
    [outcome] = run(config, ps_project, [update_call("x", 50)])
    assert outcome.status == "wait" and "no webhook_url is configured" in outcome.summary


def test_a_returned_webhook_other_than_the_configured_one_is_refused(ps_project: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTHER_HOOK", "https://hooks.chat.test/services/OTHER")
    [outcome] = run(teamchat_config(webhook_url_env="OTHER_HOOK"), ps_project, [update_call("x", 50)])
    assert outcome.status == "wait" and "not the one named by webhook_url" in outcome.summary
    assert WEBHOOK not in outcome.summary


def test_no_script_text_is_ever_sent_and_user_text_is_only_in_parameters(
        ps_project: Path, standin_log: Callable[[], Any]) -> None:
    nasty = "'; Remove-Item -Recurse / ; $(Stop-Computer) `\"@ knob:nothing"
    run(teamchat_config(), ps_project, [update_call(nasty, 50)])
    for entry in standin_log():
        assert not entry["script"] or entry["command"] in (LOAD_MODULE_SCRIPT, HOST_FUNCTIONS_SCRIPT)
        assert nasty not in entry["command"]
    assert calls_of(standin_log(), "Update-TeamChatProgress")[0]["values"]["Update"]["description"] == nasty


def test_pwsh_missing_or_module_missing_waits(ps_project: Path) -> None:
    [no_pwsh] = run(teamchat_config(pwsh="definitely-not-pwsh-here"), ps_project, [update_call("x")])
    assert no_pwsh.status == "wait" and "'definitely-not-pwsh-here' was not found" in no_pwsh.summary
    [no_module] = run(teamchat_config(module="scripts/gone.ps1"), ps_project, [update_call("x")])
    assert no_module.status == "wait" and "scripts/gone.ps1 cannot be read" in no_module.summary


def test_a_process_that_is_not_powershell_is_a_retry_not_a_crash(ps_project: Path) -> None:
    config = teamchat_config()
    config["pwsh_args"] = ["-c", "print('hello, I am not pwsh')"]
    [outcome] = run(config, ps_project, [update_call("x")])
    assert outcome.status == "retry" and "runspace died" in outcome.summary
