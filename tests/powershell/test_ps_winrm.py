"""The WinRM transport: pypsrp 0.9 against a WS-Management endpoint on 127.0.0.1 (ps_wsman),
backed by psrpcore's server side and the same fixtures as the local stand-in. Basic auth over
plain HTTP, no message encryption: the only combination a test endpoint can offer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ps_helpers import WEBHOOK, ps_project_fixture, standin_log_fixture  # noqa: F401  (fixtures)
from ps_wsman import WSManServer

from msp._executors import ExecutionContext, Outcome
from msp._executors.powershell import PowerShellExecutor
from msp._model.actions import FileWrite, PowerShellCall, action_to_dict
from msp._powershell._convert import normalise
from msp._powershell._transport import HOST_FUNCTIONS_SCRIPT, LOAD_MODULE_SCRIPT

PASSWORD = "winrm-Pa55-SECRET"


@pytest.fixture
def wsman(monkeypatch: pytest.MonkeyPatch) -> Iterator[WSManServer]:
    monkeypatch.setenv("WINRM_TEST_PASSWORD", PASSWORD)
    with WSManServer("svc-msp", PASSWORD) as server:
        yield server


def winrm_config(server: WSManServer, **extra: Any) -> dict[str, Any]:
    return {
        "module": "scripts/teamchat-integration.ps1", "prefix": "TeamChat", "transport": "winrm",
        "host": "127.0.0.1", "port": server.port, "ssl": False, "auth": "basic", "encryption": "never",
        "username": "svc-msp", "password_env": "WINRM_TEST_PASSWORD", "webhook_url_env": "TEAMCHAT_WEBHOOK_URL",
        "root": "notes", "timeout_s": 20, **extra,
    }


def run(config: dict[str, Any], project: Path, calls: list[PowerShellCall]) -> list[Outcome]:
    async def go() -> list[Outcome]:
        ex = PowerShellExecutor()
        ctx = ExecutionContext("teamchat", config, project)
        try:
            return [await ex.execute(call, ctx) for call in calls]
        finally:
            await ex.aclose()

    return asyncio.run(go())


def update(text: str, progress: int = 50) -> PowerShellCall:
    return PowerShellCall(function="Update-TeamChatProgress",
                          arguments={"Update": {"description": text, "progress": progress}, "SessionId": "s-9"})


SESSION = {"id": "s-9", "project": "infra", "user": "grace", "goal": None, "startProgress": 0, "endProgress": 40,
           "duration": 0.5, "updates": [{"description": "Patched", "progress": 40}], "decisions": []}


def test_a_session_over_winrm(ps_project: Path, wsman: WSManServer, standin_log: Any) -> None:
    calls = [
        PowerShellCall(function="New-TeamChatSession", arguments={"Session": SESSION}),
        update("Quarter", 25),
        PowerShellCall(function="Add-TeamChatDecision",
                       arguments={"Decision": {"content": "Pin the kernel", "rationale": None}, "SessionId": "s-9"}),
        PowerShellCall(function="Close-TeamChatSession", arguments={"Session": SESSION}),
        PowerShellCall(function="Add-TeamChatEntity", arguments={"Entity": {"name": "x"}, "SessionId": "s-9"}),
    ]
    outcomes = run(winrm_config(wsman), ps_project, calls)
    assert [o.status for o in outcomes] == ["done"] * 5, [o.summary for o in outcomes]
    assert outcomes[0].follow_ups[0].json_body["text"] == ":arrow_forward: grace started a session on infra"
    ordered = outcomes[1].follow_ups[0].json_body  # pypsrp 0.9's raw <DCT> form, read back in order
    assert list(ordered) == ["text", "username"] and ordered["text"] == ":bar_chart: s-9 reached 25%: Quarter"
    assert outcomes[2].follow_ups[0].json_body["text"] == ":memo: Decision: Pin the kernel"  # PSCustomObject
    chat, note = outcomes[3].follow_ups
    assert chat.json_body["blocks"][0]["text"] == {"type": "plain_text", "text": "MSP Session Complete"}
    assert isinstance(note, FileWrite) and note.path == "sessions/s-9.md"
    assert "skipped" in outcomes[4].summary

    log = standin_log()
    # the module's text went over as a parameter of the fixed loader script; no other script ran
    assert log[0]["command"] == HOST_FUNCTIONS_SCRIPT and log[0]["parameters"] == ["Config", "ConfigKey", "Integration"]
    assert log[1]["command"] == LOAD_MODULE_SCRIPT and log[1]["parameters"] == ["Name", "Source"]
    assert "function New-TeamChatSession" in log[1]["values"]["Source"]
    assert [e for e in log if e["script"] and e["command"] not in (LOAD_MODULE_SCRIPT, HOST_FUNCTIONS_SCRIPT)] == []
    assert [e["command"] for e in log].count("Initialize-TeamChatIntegration") == 1
    assert wsman.requests.count("Create") == 1 and wsman.requests[-1] == "Delete"
    text = json.dumps([action_to_dict(f) for o in outcomes for f in o.follow_ups])
    text += "".join(o.summary for o in outcomes)
    assert WEBHOOK not in text and PASSWORD not in text


def test_errors_over_winrm_become_retries(ps_project: Path, wsman: WSManServer) -> None:
    outcomes = run(winrm_config(wsman), ps_project, [update("knob:error-stream"), update("knob:throw"),
                                                      update("fine", 100)])
    assert [o.status for o in outcomes] == ["retry", "retry", "done"]
    assert "Progress milestone table is corrupt" in outcomes[0].summary
    assert "TeamChat could not format the update (FormatFailed)" in outcomes[1].summary


def test_a_remote_module_path_is_imported_by_name(ps_project: Path, wsman: WSManServer, standin_log: Any) -> None:
    remote = str(ps_project / "scripts" / "teamchat-integration.ps1")  # "on the remote host" for the test peer
    [outcome] = run(winrm_config(wsman, remote_module=remote), ps_project, [update("x", 75)])
    assert outcome.status == "done", outcome.summary
    assert standin_log()[1] == {**standin_log()[1], "command": "Import-Module", "values": {"Name": remote}}


def test_wrong_password_is_a_retry_that_never_shows_the_password(ps_project: Path, wsman: WSManServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINRM_TEST_PASSWORD", "not-the-" + PASSWORD)
    [outcome] = run(winrm_config(wsman), ps_project, [update("x")])
    assert outcome.status == "retry" and "AuthenticationError" in outcome.summary
    assert PASSWORD not in outcome.summary


def test_a_missing_password_waits(ps_project: Path, wsman: WSManServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WINRM_TEST_PASSWORD")
    [outcome] = run(winrm_config(wsman), ps_project, [update("x")])
    assert outcome.status == "wait" and "WINRM_TEST_PASSWORD" in outcome.summary


def test_a_shell_that_dies_is_replaced(ps_project: Path, wsman: WSManServer) -> None:
    outcomes = run(winrm_config(wsman), ps_project, [update("knob:die"), update("again", 50)])
    assert [o.status for o in outcomes] == ["retry", "done"]
    assert wsman.requests.count("Create") == 2


def test_pypsrp_raw_ordered_dictionary_normalises() -> None:
    """The exact object pypsrp 0.9 builds for an OrderedDictionary (types it does not know)."""
    from pypsrp.serializer import Serializer

    xml = (
        '<Obj RefId="0"><TN RefId="0"><T>System.Collections.Specialized.OrderedDictionary</T><T>System.Object</T>'
        '</TN><DCT><En><S N="Key">webhook</S><Nil N="Value" /></En><En><S N="Key">when</S>'
        '<DT N="Value">2026-01-05T09:00:00Z</DT></En><En><S N="Key">payload</S><Obj N="Value" RefId="1">'
        '<TNRef RefId="0" /><DCT><En><S N="Key">z_x000A_</S><I32 N="Value">1</I32></En><En><S N="Key">a</S>'
        '<Obj N="Value" RefId="2"><TN RefId="1"><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN>'
        '<LST><S>x</S><B>true</B></LST></Obj></En></DCT></Obj></En></DCT></Obj>'
    )
    raw = Serializer().deserialize(xml)
    assert type(raw).__name__ == "GenericComplexObject"  # not a dict: the case the bridge must handle
    assert normalise(raw) == {"webhook": None, "when": "2026-01-05T09:00:00Z",
                              "payload": {"z\n": 1, "a": ["x", True]}}


def test_winrm_defaults_to_https_with_certificate_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    from msp._powershell._runtime import Bridge
    from msp._powershell._settings import parse_settings
    from msp._powershell._winrm import WinRMRunspace

    monkeypatch.setenv("WINRM_TEST_PASSWORD", PASSWORD)
    section = {"module": "m.ps1", "prefix": "X", "transport": "winrm", "host": "win01.corp.test",
               "username": "svc", "password_env": "WINRM_TEST_PASSWORD"}
    runspace = Bridge()._make_runspace(parse_settings("x", section), section, "x", Path("."))
    assert isinstance(runspace, WinRMRunspace)
    s = runspace.settings
    assert (s.ssl, s.cert_validation, s.auth, s.encryption, s.port) == (True, True, "negotiate", "auto", None)
    assert s.password == PASSWORD and PASSWORD not in repr(s)
    kerberos = {**section, "auth": "kerberos", "ca_trust_path": "/etc/corp-ca.pem", "port": 15986}
    s = Bridge()._make_runspace(parse_settings("x", kerberos), kerberos, "x", Path(".")).settings  # type: ignore[attr-defined]
    assert (s.auth, s.cert_validation, s.port) == ("kerberos", "/etc/corp-ca.pem", 15986)
