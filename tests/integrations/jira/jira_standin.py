"""A local Jira stand-in for the shared harness's scripted server (127.0.0.1 only).

Every request that reaches it is checked, as Jira would: the path and method must be an
operation of the OpenAPI contract, the body must validate against the operation's request
schema (and ADF on v3), the content type must be JSON, and the credentials must be the ones
the deployment uses. A request that passes gets Jira's 201 answer; one that does not gets a
400 in Jira's error format naming every problem (so the action goes dead and the test sees why),
and the problem is kept in ``problems``.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from jira_contract import adf_schema, find_operation, openapi, request_errors

from msp.testing import Reply, Request


@dataclass
class JiraStandIn:
    """``ok`` for :func:`msp.testing.run_failure_kinds`, or ``handler`` of a ScriptedServer."""

    deployment: str
    token: str
    username: str | None = None
    prefix: str = ""  # the context path of base_url, e.g. "/jira"
    problems: list[str] = field(default_factory=list)
    accepted: list[tuple[str, str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: int = 10_000

    def __post_init__(self) -> None:
        # Read the contracts now, in the test's own thread: without ../shared that skips the
        # test here, instead of failing every request inside the server's thread.
        openapi()
        adf_schema()

    def expected_authorization(self) -> str:
        if self.username is not None:
            pair = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
            return f"Basic {pair}"
        return f"Bearer {self.token}"

    def check(self, request: Request) -> list[str]:
        """Every reason Jira would refuse this request."""
        errors: list[str] = []
        if not request.path.startswith(self.prefix + "/"):
            return [f"{request.path} is outside the context path {self.prefix}"]
        path = request.path[len(self.prefix):]
        version = "3" if self.deployment == "cloud" else "2"
        if not path.startswith(f"/rest/api/{version}/"):
            errors.append(f"{self.deployment} Jira speaks REST v{version}, got {path}")
        if request.header("Authorization") != self.expected_authorization():
            errors.append("missing or wrong credentials")
        if (request.header("Content-Type") or "").split(";")[0].strip() != "application/json":
            errors.append(f"Content-Type is {request.header('Content-Type')!r}, not application/json")
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError as exc:
            return [*errors, f"the body is not JSON: {exc}"]
        try:
            errors += request_errors(request.method, path, body)
        except AssertionError as exc:  # no such operation
            errors.append(str(exc))
        return errors

    def __call__(self, request: Request) -> Reply:
        errors = self.check(request)
        with self._lock:
            if errors:
                self.problems += [f"{request.method} {request.path}: {e}" for e in errors]
                return Reply(400, json={"errorMessages": errors, "errors": {}})
            self._ids += 1
            item_id = str(self._ids)
            body = json.loads(request.body)
            self.accepted.append((request.method, request.path, body))
        op = find_operation(request.method, request.path[len(self.prefix):])
        base = f"http://jira.test{request.path.split('?')[0]}/{item_id}"
        if op.operation_id == "addWorklog":
            return Reply(201, json={"self": base, "id": item_id, "timeSpentSeconds": body["timeSpentSeconds"],
                                    "started": body["started"]})
        return Reply(201, json={"self": base, "id": item_id, "body": body.get("body"),
                                "created": "2026-01-05T10:00:00.000+0000"})

    def assert_clean(self) -> None:
        assert not self.problems, "Jira would refuse:\n  " + "\n  ".join(self.problems[:20])
