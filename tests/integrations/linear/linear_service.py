"""A local Linear: the GraphQL endpoint, built from Linear's public schema, answering like Linear.

``LinearService`` is a responder for the shared harness's ``ScriptedServer`` (a real HTTP server
on 127.0.0.1): ``ScriptedServer(default=LinearService(token=...))``. Each request is checked as
Linear checks it (path, auth header, JSON body, the document parsed and validated against the
schema, the variables coerced to the operation's types), then executed against the schema with
resolvers for the mutations msp sends, so answers have exactly the shape the selection asks for.
Creates are keyed by their client-chosen id, as Linear keys them.

Tests script Linear-level failures for the next valid requests (``fail``): a rate limit with
reset headers, an authentication error, another GraphQL error, a response lost after the write.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import graphql
from linear_contract import check_request, linear_schema

from msp.testing import RecordingService, Reply, Request, Seen


@dataclass
class Failure:
    """A scripted answer for one request that passed validation."""

    kind: str  # "ratelimited" | "auth" | "error" | "lost"
    status: int = 200
    message: str = ""
    code: str = ""
    reset_in_s: float = 1.0


@dataclass
class LinearService(RecordingService):
    token: str
    scheme: str = "header"  # header: `Authorization: <key>`; bearer: `Authorization: Bearer <token>`
    #: Status of the answer to a missing or wrong key (the body says AUTHENTICATION_ERROR).
    auth_status: int = 200
    known_issues: set[str] = field(default_factory=lambda: {"ENG-123", "ENG-9", "OPS-4"})
    comments: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.schema = linear_schema()
        self._start_recording()

    def _answer(self, request: Request, seen: Seen) -> Reply:
        if request.method != "POST" or request.path != "/graphql":
            seen.problems.append(f"{request.method} {request.path}")
            return Reply(404, json={"errors": [{"message": "Not found"}]})
        expected = self.token if self.scheme == "header" else f"Bearer {self.token}"
        if request.header("Authorization") != expected:
            seen.problems.append("authorization header missing or wrong")
            return Reply(self.auth_status, json=_errors("Authentication required, not authenticated",
                                                        "AUTHENTICATION_ERROR"))
        try:
            body = request.json()
        except ValueError:
            body = None
        if not (request.header("Content-Type") or "").startswith("application/json") or not isinstance(body, dict):
            seen.problems.append("not a JSON object body")
            return Reply(400, json=_errors("Body must be a JSON object", "BAD_USER_INPUT"))
        document, variables = str(body.get("query") or ""), body.get("variables") or {}
        operation = body.get("operationName")
        problems = check_request(document, variables, operation, schema=self.schema)
        if problems:
            seen.problems += problems
            return Reply(400, json={"errors": [{"message": p, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}
                                               for p in problems]})
        failure = self._failures.popleft() if self._failures else None
        if failure is not None and failure.kind != "lost":
            return self._failure(failure)
        result = graphql.execute_sync(self.schema, graphql.parse(document), root_value=_Root(self),
                                      variable_values=variables, operation_name=operation)
        if failure is not None:  # written, but the answer never made it back
            return Reply(502, body="bad gateway")
        if result.errors:
            return Reply(200, json={"data": None, "errors": [
                {"message": e.message, "path": e.path,
                 "extensions": {"code": "INVALID_INPUT", "type": "invalid input"}} for e in result.errors]})
        return Reply(200, json={"data": result.data})

    def _failure(self, failure: Failure) -> Reply:
        if failure.kind == "ratelimited":
            reset_ms = int((time.time() + failure.reset_in_s) * 1000)
            headers = {"X-RateLimit-Requests-Limit": "1500", "X-RateLimit-Requests-Remaining": "0",
                       "X-RateLimit-Requests-Reset": str(reset_ms)}
            return Reply(failure.status, headers=headers,
                         json=_errors(failure.message or "Rate limit exceeded", "RATELIMITED"))
        if failure.kind == "auth":
            return Reply(failure.status, json=_errors(failure.message or "Authentication required, not authenticated",
                                                      "AUTHENTICATION_ERROR"))
        return Reply(failure.status, json=_errors(failure.message or "Something went wrong",
                                                  failure.code or "INTERNAL_ERROR"))


def _errors(message: str, code: str) -> dict[str, Any]:
    return {"data": None, "errors": [{"message": message,
                                      "extensions": {"code": code, "userPresentableMessage": message}}]}


class _Root:
    """Resolvers for the mutations msp sends; creates are keyed by their client id."""

    def __init__(self, service: LinearService) -> None:
        self.service = service

    def commentCreate(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        svc = self.service
        issue = input.get("issueId")
        if issue not in svc.known_issues:
            raise graphql.GraphQLError("Entity not found: Issue - Could not find referenced Issue.")
        comment_id = input.get("id") or f"server-{len(svc.comments)}"
        if comment_id in svc.comments:
            raise graphql.GraphQLError("Comment with this id already exists")
        svc.comments[comment_id] = dict(input)
        return {"success": True, "lastSyncId": float(len(svc.comments)),
                "comment": {"id": comment_id, "url": f"https://linear.app/local/issue/{issue}#comment-{comment_id}"}}

    def issueCreate(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        svc = self.service
        issue_id = input.get("id") or f"server-{len(svc.issues)}"
        if issue_id in svc.issues:
            raise graphql.GraphQLError("Issue with this id already exists")
        parent = input.get("parentId")
        if parent is not None and parent not in svc.known_issues:
            raise graphql.GraphQLError("Entity not found: Issue - Could not find referenced parent Issue.")
        identifier = f"LOC-{len(svc.issues) + 1}"
        svc.issues[issue_id] = {**input, "identifier": identifier}
        svc.known_issues |= {issue_id, identifier}
        return {"success": True, "lastSyncId": float(len(svc.issues)),
                "issue": {"id": issue_id, "identifier": identifier, "url": f"https://linear.app/local/issue/{identifier}"}}


def request_problems(request: Request) -> list[str]:
    """For the harness's ``check_request``: a request that reached the server, checked on its own."""
    try:
        body = json.loads(request.body)
    except ValueError:
        return ["not JSON"]
    return check_request(str(body.get("query") or ""), body.get("variables") or {}, body.get("operationName"))
