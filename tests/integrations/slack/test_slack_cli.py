"""The real `msp` binary with the installed msp-slack: what a user sees, and the webhook URL nowhere in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slack_contract import message_problems
from slack_service import WEBHOOK_PATH, SlackService

from msp.testing import ScriptedServer

URL_VAR = "SLACK_CLI_TEST_WEBHOOK_URL"


def test_a_session_through_the_cli_reaches_slack_and_the_url_is_never_shown(msp_cli: Any,
                                                                            project_dir: Path) -> None:
    service = SlackService()
    with ScriptedServer(default=service) as server:
        config = project_dir / ".msp" / "config.toml"
        config.write_text(config.read_text() + (
            "[integrations.slack]\n"
            f'webhook_url_env = "{URL_VAR}"\n'
            "blocker_alerts = true\n"
            "[logging]\n"
            'level = "debug"\n'
        ))
        env = {URL_VAR: server.url + WEBHOOK_PATH}
        outputs = []

        def run(*args: str) -> Any:
            result = msp_cli(*args, env=env)
            outputs.extend([result.out, result.err])
            assert result.code == 0, result.err
            return result

        run("start", "--goal", "Retry failed payments", "--progress", "10")
        run("block", "Sandbox rejects <!channel> test cards", "--severity", "high")
        run("end", "--summary", "Retry worker behind a flag", "--progress", "70")
        report = run("dispatch", "--wait", "--json", "--timeout", "30").json()
        assert report["done"] == 2, report
        listing = run("queue", "list", "--all", "--json").json()
        run("queue", "show", str(listing["actions"][0]["id"]), "--json")

    alert, summary = service.posted
    assert alert["blocks"][1]["text"]["text"] == "Sandbox rejects &lt;!channel&gt; test cards"
    assert summary["blocks"][0]["text"]["text"] == "Session closed: Retry failed payments"
    assert [message_problems(m) for m in service.posted] == [[], []] and service.invalid == []
    secret = WEBHOOK_PATH.encode()
    for text in outputs:
        assert WEBHOOK_PATH not in text
    for path in (project_dir / ".msp").rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), f"the webhook URL is in {path}"
