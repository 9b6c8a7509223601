"""Shared test harness for msp's http-family integrations (webhook, linear, slack, jira).

See tests/harness/README.md. Import as ``from tests.harness import ...``.
"""

from __future__ import annotations

from .failures import (
    FAILURE_KINDS,
    TEST_DISPATCH,
    KindResult,
    assert_no_secrets,
    cli_json,
    drain,
    env,
    plan,
    rows,
    run_failure_kinds,
    write_project,
)
from .http_server import Reply, Request, ScriptedServer, free_port, serve

__all__ = [
    "FAILURE_KINDS",
    "TEST_DISPATCH",
    "KindResult",
    "Reply",
    "Request",
    "ScriptedServer",
    "assert_no_secrets",
    "cli_json",
    "drain",
    "env",
    "free_port",
    "plan",
    "rows",
    "run_failure_kinds",
    "serve",
    "write_project",
]
