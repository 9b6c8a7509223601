"""The real `msp` binary with the installed msp-linear: what a user sees, and the key nowhere in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from linear_service import LinearService

from msp.testing import ScriptedServer

KEY_VAR = "LINEAR_CLI_TEST_KEY"
SECRET = "lin_api_Cl1SecretValue77aa88bb99cc00dd"


def _configure(project_dir: Path, url: str) -> None:
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text() + (
        "[integrations.linear]\n"
        f'endpoint = "{url}/graphql"\n'
        f'token_env = "{KEY_VAR}"\n'
        "[integrations.linear.progress_comments]\n"
        "min_progress_jump = 30\n"
        "[logging]\n"
        'level = "debug"\n'
    ))


def test_a_session_through_the_cli_reaches_linear_and_the_key_is_never_shown(msp_cli: Any,
                                                                             project_dir: Path) -> None:
    service = LinearService(token=SECRET)
    with ScriptedServer(default=service) as server:
        _configure(project_dir, server.url)
        env = {KEY_VAR: SECRET}
        outputs = []

        def run(*args: str) -> Any:
            result = msp_cli(*args, env=env)
            outputs.extend([result.out, result.err])
            assert result.code == 0, result.err
            return result

        run("start", "--issue", "ENG-123", "--goal", "Retry failed payments", "--progress", "10")
        run("update", "Worker retries with backoff", "60")
        run("block", "Sandbox rejects test cards", "--severity", "high")
        dry = run("end", "--summary", "Retry worker behind a flag", "--dry-run", "--json").json()
        (planned,) = [a for a in dry["actions"] if a["integration"] == "linear"]
        assert planned["variables"]["input"]["issueId"] == "ENG-123"
        run("end", "--summary", "Retry worker behind a flag")
        report = run("dispatch", "--wait", "--json", "--timeout", "30").json()
        assert report["done"] == 2, report  # one progress comment (10 -> 60), one close comment
        listing = run("queue", "list", "--all", "--json").json()
        shown = run("queue", "show", str(listing["actions"][-1]["id"]), "--json").json()
        assert shown["action"]["status"] == "done"

    bodies = [c["body"] for c in service.comments.values()]
    assert len(bodies) == 2 and "Retry worker behind a flag" in bodies[1] and "#### Open blockers (1)" in bodies[1]
    assert service.invalid == []
    for text in outputs:
        assert SECRET not in text
    for path in (project_dir / ".msp").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"the key is in {path}"
    assert json.dumps(listing).count(KEY_VAR) == 0, "not even the variable's name needs to be in an action"
