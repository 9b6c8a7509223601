"""Logging: readable warnings on stderr, JSON lines under .msp/logs/ at the configured level,
and anything that looks like a secret redacted in every line, printed message and stored error."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from plugin_site import activate, install

from msp import _logging
from msp._logging import REDACTED, Log, configure, get_log, redact

SECRET = "sk-live-7f3a9c1e5b2d4f6a8c0e"

SECRET_KEYS = ["token", "api_key", "API-KEY", "password", "passwd", "client_secret", "Authorization",
               "authorisation", "x_auth_token", "db_password", "SecretValue", "credentials", "cookie"]


@pytest.fixture(autouse=True)
def _fresh_log() -> Iterator[None]:
    yield
    configure(None, "warning")


def test_redact_masks_every_secret_looking_key_at_any_depth() -> None:
    data: dict[str, Any] = {key: SECRET for key in SECRET_KEYS}
    data["nested"] = {"inner": [{"token": SECRET, "fine": "visible"}], "headers": {"Authorization": SECRET}}
    out = redact(data)
    assert SECRET not in json.dumps(out)
    assert all(out[key] == REDACTED for key in SECRET_KEYS)
    assert out["nested"]["inner"][0]["fine"] == "visible"
    # Where a secret comes from is not a secret, and empty values stay empty.
    assert redact({"token_env": "LINEAR_API_KEY", "password_keyring": "msp/me", "token": ""}) == {
        "token_env": "LINEAR_API_KEY", "password_keyring": "msp/me", "token": ""}


@pytest.mark.parametrize("text", [
    f"Authorization: Bearer {SECRET}",
    f"authorization: basic {SECRET}",
    f"token {SECRET}",
    f"password={SECRET} and more",
    f'{{"api_key": "{SECRET}", "x": 1}}',
    f"GET https://api.example.com/v1?x=1&token={SECRET}&y=2 failed",
    f"X-Api-Key: {SECRET}",
    f"client_secret:{SECRET},next",
])
def test_redact_scrubs_credentials_inside_text(text: str) -> None:
    assert SECRET not in redact(text)
    assert REDACTED in redact(text)


def test_redact_leaves_ordinary_text_alone() -> None:
    for text in ["primary key: id", "monkey: 3", "token_env = LINEAR_API_KEY", "a secret plan", "tokens: 12"]:
        assert redact(text) == text


def test_json_lines_at_the_configured_level_with_secrets_redacted(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    log = configure(logs, "info")
    assert get_log() is log
    log.log("debug", "not at this level", token=SECRET)
    log.log("info", "connected", url=f"https://x.example/?token={SECRET}", api_key=SECRET, attempt=1)
    log.log("info", "headers", headers={"Authorization": f"Bearer {SECRET}", "Accept": "application/json"})
    log.log("error", f"request failed: Authorization: Bearer {SECRET}", password=SECRET)
    log.close()
    lines = (logs / "msp.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert [r["level"] for r in records] == ["info", "info", "error"]
    assert all("timestamp" in r and "event" in r for r in records)
    assert records[0]["attempt"] == 1 and records[1]["headers"]["Accept"] == "application/json"
    for line in lines:
        assert SECRET not in line


def test_quiet_levels_write_nothing(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs", "error")
    log.log("info", "x")
    log.log("warning", "y")
    assert not (tmp_path / "logs").exists()


def test_warnings_are_one_readable_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = configure(tmp_path / "logs", "warning")
    log.warning(f"integration 'x' failed: Authorization: Bearer {SECRET}", token=SECRET)
    log.close()
    err = capsys.readouterr().err
    assert err.startswith("warning: integration 'x' failed") and err.count("\n") == 1
    assert SECRET not in err
    line = (tmp_path / "logs" / "msp.jsonl").read_text()
    assert SECRET not in line and json.loads(line)["level"] == "warning"


def test_logging_is_lazy() -> None:
    """Nothing is imported or opened until a line is actually written."""
    log = Log(None, "debug")
    log.log("info", "dropped: no logs folder")
    assert log._logger is None
    assert _logging.get_log() is not None


def test_cli_writes_json_lines_under_msp_logs(msp_cli: Any, project_dir: Path) -> None:
    assert msp_cli("config", "set", "logging.level", "info").code == 0
    sid = msp_cli("start", "--json").json()["event"]["session_id"]
    event_id = msp_cli("update", "hello", "5", "--json").json()["event"]["id"]
    lines = (project_dir / ".msp" / "logs" / "msp.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    recorded = [r for r in records if r["event"] == "recorded"]
    assert [(r["type"], r["session"]) for r in recorded] == [("session_started", sid), ("progress_updated", sid)]
    assert recorded[1]["event_id"] == event_id and recorded[1]["level"] == "info"


def test_cli_at_the_default_level_logs_no_info(msp_cli: Any, project_dir: Path) -> None:
    assert msp_cli("start").code == 0
    log = project_dir / ".msp" / "logs" / "msp.jsonl"
    assert not log.exists() or "recorded" not in log.read_text()


LEAKY = f'''
from msp import hookimpl
name = "leaky"
config_schema = {{"type": "object", "additionalProperties": True}}
@hookimpl
def msp_update(update):
    raise RuntimeError("401 from https://api.example.com/?api_key={SECRET} (Authorization: Bearer {SECRET})")
'''


@pytest.fixture
def leaky_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = install(tmp_path / "site", {"leaky": LEAKY})
    activate(path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(path), os.environ.get("PYTHONPATH")])))
    return path


def test_cli_warning_from_a_failing_integration_never_shows_the_secret(
    leaky_site: Path, msp_cli: Any, project_dir: Path
) -> None:
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text() + '\n[logging]\nlevel = "debug"\n\n[integrations.leaky]\n')
    assert msp_cli("start").code == 0, msp_cli("start").err
    text = msp_cli("update", "hello")
    assert text.code == 0
    warnings = [line for line in text.err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "'leaky' failed in msp_update: RuntimeError: 401 from" in warnings[0]
    as_json = msp_cli("update", "again", "--json")
    assert as_json.code == 0 and as_json.json()["warnings"]
    logged = (project_dir / ".msp" / "logs" / "msp.jsonl").read_text(encoding="utf-8")
    assert "leaky" in logged
    with sqlite3.connect(project_dir / ".msp" / "msp.db") as db:
        stored = [r[0] for r in db.execute("SELECT error FROM hook_failures")]
    assert len(stored) == 2
    for place in [text.out, text.err, as_json.out, as_json.err, logged, *stored]:
        assert SECRET not in place
    assert "Traceback" not in text.err
