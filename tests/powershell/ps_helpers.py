"""Shared constants, config builders and fixtures for the PowerShell bridge tests.

Test modules import the fixtures they use from here (no conftest.py: the suite's root conftest
is imported by name elsewhere, and a second one would shadow it).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
EXAMPLE = REPO / "examples" / "powershell" / "teamchat-integration.ps1"
YOURTOOL = HERE / "data" / "yourtool-integration.ps1"
STANDIN = HERE / "ps_standin.py"
#: A webhook URL is a credential: tests check it is never stored or printed.
WEBHOOK = "https://hooks.chat.test/services/T0SECRET/B0SECRET/xoxSECRETwebhookTOKEN"




def teamchat_config(ack: str = "after", **extra: Any) -> dict[str, Any]:
    """The [integrations.teamchat] section, with the stand-in launched instead of pwsh."""
    return {
        "module": "scripts/teamchat-integration.ps1",
        "prefix": "TeamChat",
        "transport": "local",
        "pwsh": sys.executable,
        "pwsh_args": [str(STANDIN), "--ack", ack, "-NoLogo", "-NoProfile", "-s"],
        "webhook_url_env": "TEAMCHAT_WEBHOOK_URL",
        "root": "notes",
        "timeout_s": 30,
        **extra,
    }


def yourtool_config(**extra: Any) -> dict[str, Any]:
    return {
        "module": "scripts/yourtool-integration.ps1",
        "prefix": "YourTool",
        "pwsh": sys.executable,
        "pwsh_args": [str(STANDIN)],
        "api_url": "https://api.yourtool.test/v1",
        "endpoint": "https://api.yourtool.test/graphql",
        "config": {"apiKey_env": "YOURTOOL_API_KEY", "projectId": "12345"},
        "timeout_s": 30,
        **extra,
    }


@pytest.fixture(name="ps_project")
def ps_project_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(EXAMPLE, root / "scripts" / "teamchat-integration.ps1")
    shutil.copy(YOURTOOL, root / "scripts" / "yourtool-integration.ps1")
    monkeypatch.setenv("TEAMCHAT_WEBHOOK_URL", WEBHOOK)
    monkeypatch.setenv("MSP_STANDIN_LOG", str(tmp_path / "standin.jsonl"))
    return root


@pytest.fixture(name="standin_log")
def standin_log_fixture(tmp_path: Path) -> Callable[[], list[dict[str, Any]]]:
    def read() -> list[dict[str, Any]]:
        path = tmp_path / "standin.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    return read
