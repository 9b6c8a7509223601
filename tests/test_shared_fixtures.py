"""Without ../shared the contract tests skip and say why; under CI=true they fail instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: One module per fixture file it reads: Linear's schema, Jira's OpenAPI and ADF schemas.
CONTRACT_TESTS = ["tests/integrations/linear/test_linear_generation.py",
                  "tests/integrations/jira/test_jira_plan.py"]


def _pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["SHARED_FIXTURES_DIR"] = str(tmp_path / "no-shared-here")
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *CONTRACT_TESTS],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )


def test_without_shared_the_contract_tests_skip_naming_the_missing_file(tmp_path: Path) -> None:
    done = _pytest(tmp_path, ci=None)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " failed" not in done.stdout
    assert "skipped" in done.stdout
    assert "needs the shared fixture" in done.stdout and "schema.graphql" in done.stdout
    assert "platform-openapi.v3.json" in done.stdout


def test_under_ci_a_missing_fixture_fails_the_run(tmp_path: Path) -> None:
    done = _pytest(tmp_path, ci="true")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "CI=true and needs the shared fixture" in done.stdout
