from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def test_a_whole_session_through_the_cli(msp_cli: Any) -> None:
    assert msp_cli("start", "--goal", "g", "--progress", "10").code == 0
    assert msp_cli("update", "did a thing", "40").code == 0
    r = msp_cli("end", "--summary", "done", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["progress_delta"] == 30
    assert data["session"]["status"] == "closed"


def test_msp_update_imports_nothing_it_does_not_use(msp_cli: Any, project_dir: Path) -> None:
    """The hot path: no distribution metadata scan (plugins, pydantic's plugin loader), no MCP,
    no dispatcher or HTTP client, no JSON Schema validator."""
    assert msp_cli("start", "--goal", "light").code == 0
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "msp", "update", "light", "10"],
                          cwd=project_dir, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MSP_DIR": str(project_dir / ".msp")})
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "msp._session.manager" in imported  # the measurement itself works
    for heavy in ("importlib.metadata", "msp._mcp", "mcp", "msp._dispatch.drain", "httpx", "jsonschema"):
        assert heavy not in imported, heavy
