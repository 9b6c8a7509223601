"""The real http and graphql executors under the dispatcher, against a local HTTP server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import pytest

from msp._dispatch.drain import IntegrationInfo
from msp._model.actions import GraphQLRequest, HttpRequest, action_to_dict, stamp
from msp.testing import Reply, ScriptedServer, free_port


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(Reply(200, json={"ok": True})) as srv:
        yield srv


def hook(config: dict[str, Any], **settings: Any) -> dict[str, IntegrationInfo]:
    return {"hook": IntegrationInfo("hook", config, settings)}


def test_500_n_times_then_success(outbox: Any, server: ScriptedServer) -> None:
    (a,) = outbox.add()
    server.script(*[Reply(500, body="upstream exploded")] * 4)
    report = outbox.drain({}, integrations=hook({"base_url": server.url}), max_attempts=6)
    row = outbox.row(a)
    assert (row["status"], row["attempts"], row["last_status"]) == ("done", 5, 200)
    assert len(server.requests) == 5 and report.retried == 4
    assert {r.header("Idempotency-Key") for r in server.requests} == {row["idempotency_key"]}


def test_429_with_retry_after_as_an_http_date(outbox: Any, server: ScriptedServer) -> None:
    (a,) = outbox.add()
    server.script(Reply(429, headers={"Retry-After": formatdate(time.time() + 3, usegmt=True)}))
    outbox.drain({}, integrations=hook({"base_url": server.url}))
    assert outbox.row(a)["status"] == "done"
    first, second = server.requests
    # an HTTP-date has whole seconds: 3 s ahead is more than 2 s away when it is sent
    assert second.at - first.at >= 1.5


def test_a_response_slower_than_the_timeout_is_retried(outbox: Any, server: ScriptedServer) -> None:
    (a,) = outbox.add()
    server.script(Reply(200, delay_s=3.0))
    report = outbox.drain({}, integrations=hook({"base_url": server.url}), timeout_s=0.3)
    row = outbox.row(a)
    assert row["status"] == "done" and row["attempts"] == 2 and report.retried == 1


def test_connection_refused_leaves_actions_pending(outbox: Any) -> None:
    a, b = outbox.add(n=2)
    report = outbox.drain({}, integrations=hook({"base_url": f"http://127.0.0.1:{free_port()}"}), wait=False)
    row = outbox.row(a)
    assert row["status"] == "pending" and row["attempts"] == 1 and "cannot connect" in row["last_error"]
    assert outbox.row(b)["status"] == "pending" and outbox.row(b)["attempts"] == 0
    assert report.dead == 0


def test_a_connection_reset_mid_response_is_retried(outbox: Any, server: ScriptedServer) -> None:
    (a,) = outbox.add()
    server.script(Reply(200, body="x" * 300, reset=True))
    outbox.drain({}, integrations=hook({"base_url": server.url}))
    row = outbox.row(a)
    assert row["status"] == "done" and row["attempts"] == 2 and len(server.requests) == 2


def test_400_is_dead_at_once_keeping_status_and_body(outbox: Any, server: ScriptedServer) -> None:
    (a,) = outbox.add()
    server.default = Reply(400, json={"errors": [{"field": "title", "message": "is required"}]})
    report = outbox.drain({}, integrations=hook({"base_url": server.url}))
    row = outbox.row(a)
    assert (row["status"], row["attempts"], row["last_status"]) == ("dead", 1, 400)
    assert row["last_error"].startswith("HTTP 400:") and "is required" in row["last_error"]
    assert report.dead == 1 and len(server.requests) == 1


def test_server_down_for_a_whole_drain_then_up(outbox: Any) -> None:
    port = free_port()
    ids = outbox.add(n=2) + outbox.add(session="s2", n=2)
    infos = hook({"base_url": f"http://127.0.0.1:{port}"})
    first = outbox.drain({}, integrations=infos, wait=False)
    assert first.dead == 0 and all(outbox.row(i)["status"] == "pending" for i in ids)
    with ScriptedServer(port=port) as srv:
        second = outbox.drain({}, integrations=infos)
        assert all(outbox.row(i)["status"] == "done" for i in ids)
        assert second.done == 4 and len(srv.requests) == 4


def test_keep_alive_connections_are_reused(outbox: Any, server: ScriptedServer) -> None:
    for i in range(24):
        outbox.add(session=f"s{i}")
    outbox.drain({}, integrations=hook({"base_url": server.url}, concurrency=3))
    assert len(server.requests) == 24
    assert len({r.peer for r in server.requests}) <= 3, "at most one connection per concurrent worker"


def test_path_joins_the_base_url_and_expected_status(outbox: Any, server: ScriptedServer) -> None:
    def payload(i: int) -> dict[str, Any]:
        return action_to_dict(stamp(HttpRequest(method="PUT", path="items/7", json_body={"x": i},
                                                headers={"X-Plain": "yes"}, expected_status=[202]),
                                    "hook", f"k{i}"))

    (a,) = outbox.add(payload=payload)
    outbox.drain({}, integrations=hook({"base_url": server.url + "/api/"}))
    req = server.requests[0]
    assert (req.method, req.path, req.header("X-Plain")) == ("PUT", "/api/items/7", "yes")
    row = outbox.row(a)
    assert row["status"] == "dead" and "HTTP 200" in row["last_error"], "200 is not the expected 202"


def test_a_redirect_is_not_followed(outbox: Any, server: ScriptedServer) -> None:
    (a,) = outbox.add()
    server.default = Reply(301, headers={"Location": "http://127.0.0.1:1/elsewhere"})
    outbox.drain({}, integrations=hook({"base_url": server.url}))
    assert outbox.row(a)["status"] == "dead" and "redirects are not followed" in outbox.row(a)["last_error"]
    assert len(server.requests) == 1


@pytest.mark.parametrize("scheme", ["bearer", "basic", "header"])
def test_auth_schemes_secret_headers_and_signature(outbox: Any, server: ScriptedServer,
                                                   monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    monkeypatch.setenv("T_TOKEN", "tok-5e4d3c2b1a")
    monkeypatch.setenv("T_HDR", "hdr-0a9b8c7d")
    monkeypatch.setenv("T_SIGN", "sign-1f2e3d4c")
    (a,) = outbox.add()
    config = {"base_url": server.url, "auth_scheme": scheme, "token_env": "T_TOKEN", "username": "me@example.com",
              "auth_header": "X-Linear-Key", "secret_headers": {"X-Api-Key": "T_HDR"},
              "signing_secret_env": "T_SIGN"}
    outbox.drain({}, integrations=hook(config))
    assert outbox.row(a)["status"] == "done"
    req = server.requests[0]
    if scheme == "bearer":
        assert req.header("Authorization") == "Bearer tok-5e4d3c2b1a"
    elif scheme == "basic":
        assert req.header("Authorization") == "Basic " + base64.b64encode(b"me@example.com:tok-5e4d3c2b1a").decode()
    else:
        assert req.header("X-Linear-Key") == "tok-5e4d3c2b1a" and req.header("Authorization") is None
    assert req.header("X-Api-Key") == "hdr-0a9b8c7d"
    stamp, _, given = (req.header("X-MSP-Signature") or "").partition(",v1=")
    assert stamp.startswith("t=") and stamp[2:].isdigit()
    assert given == hmac.new(b"sign-1f2e3d4c", stamp[2:].encode() + b"." + req.body, hashlib.sha256).hexdigest()
    for secret in (b"tok-5e4d3c2b1a", b"hdr-0a9b8c7d", b"sign-1f2e3d4c"):
        assert secret not in outbox.path.read_bytes()


def test_url_from_a_list_item_given_as_a_secret(outbox: Any, server: ScriptedServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_URL_B", server.url + "/b")

    def payload(i: int) -> dict[str, Any]:
        return action_to_dict(stamp(HttpRequest(url_from=f"urls.{i % 2}", json_body={}), "hook", f"u{i}"))

    outbox.add(payload=payload, n=2)
    outbox.drain({}, integrations=hook({"urls": [{"url_env": "T_URL_B"}, server.url + "/a"]}))
    assert sorted(r.path for r in server.requests) == ["/a", "/b"]


def test_missing_credential_waits_then_delivers_once_set(outbox: Any, server: ScriptedServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("T_LATER", raising=False)
    (a,) = outbox.add()
    infos = hook({"base_url": server.url, "auth_scheme": "bearer", "token_env": "T_LATER"})
    report = outbox.drain({}, integrations=infos)
    row = outbox.row(a)
    assert (row["status"], row["attempts"]) == ("pending", 0) and report.waiting == 1
    assert "T_LATER" in row["last_error"] and "export T_LATER=" in row["last_error"]
    assert not server.requests
    monkeypatch.setenv("T_LATER", "tok-late-123456")
    outbox.drain({}, integrations=infos)
    assert outbox.row(a)["status"] == "done" and len(server.requests) == 1


def test_an_echoing_server_cannot_leak_the_token_into_the_store(outbox: Any, server: ScriptedServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_ECHO", "tok-echo-77aa88bb99")
    a, b = outbox.add(session="A"), outbox.add(session="B")
    server.handler = lambda req: Reply(400 if req.path == f"/a/{a[0]}" else 200,
                                       body=f"you sent {req.header('Authorization')}")
    outbox.drain({}, integrations=hook({"base_url": server.url, "auth_scheme": "bearer", "token_env": "T_ECHO"}))
    dead, done = outbox.row(a[0]), outbox.row(b[0])
    assert dead["status"] == "dead" and done["status"] == "done"
    for text in (dead["last_error"], done["result"]):
        assert "tok-echo-77aa88bb99" not in text and "***" in text
    outbox.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert b"tok-echo-77aa88bb99" not in outbox.path.read_bytes()


# --- graphql ---------------------------------------------------------------------------------


def _gql(i: int) -> dict[str, Any]:
    return action_to_dict(stamp(GraphQLRequest(document="mutation M($t: String!) { make(t: $t) { id } }",
                                               variables={"t": f"n{i}"}, operation_name="M"), "hook", f"g{i}"))


def _gql_config(server: ScriptedServer) -> dict[str, IntegrationInfo]:
    return hook({"endpoint": server.url + "/graphql", "auth_scheme": "header", "token_env": "T_GQL"})


@pytest.fixture
def gql_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_GQL", "lin_api_test_0011223344")


def test_graphql_success(outbox: Any, server: ScriptedServer, gql_token: None) -> None:
    (a,) = outbox.add(kind="graphql", payload=_gql)
    server.default = Reply(200, json={"data": {"make": {"id": "X-1"}}})
    outbox.drain({}, integrations=_gql_config(server))
    row = outbox.row(a)
    assert row["status"] == "done" and "X-1" in row["result"]
    body = server.requests[0].json()
    assert body == {"query": "mutation M($t: String!) { make(t: $t) { id } }", "variables": {"t": "n1"},
                    "operationName": "M"}
    assert server.requests[0].header("Authorization") == "lin_api_test_0011223344"


def test_graphql_errors_in_a_200_are_a_failure(outbox: Any, server: ScriptedServer, gql_token: None) -> None:
    (a,) = outbox.add(kind="graphql", payload=_gql)
    server.default = Reply(200, json={"data": None, "errors": [
        {"message": "Argument Validation Error", "extensions": {"code": "INVALID_INPUT"}}]})
    outbox.drain({}, integrations=_gql_config(server))
    row = outbox.row(a)
    assert row["status"] == "dead" and row["attempts"] == 1
    assert "Argument Validation Error" in row["last_error"] and "INVALID_INPUT" in row["last_error"]


def test_graphql_ratelimited_honours_the_linear_reset_header(outbox: Any, server: ScriptedServer,
                                                              gql_token: None) -> None:
    (a,) = outbox.add(kind="graphql", payload=_gql)
    reset_ms = int((time.time() + 1.0) * 1000)
    server.script(Reply(400, headers={"X-RateLimit-Requests-Reset": str(reset_ms)}, json={"errors": [
        {"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]}))
    server.default = Reply(200, json={"data": {"make": {"id": "1"}}})
    outbox.drain({}, integrations=_gql_config(server))
    assert outbox.row(a)["status"] == "done"
    first, second = server.requests
    assert second.at - first.at >= 0.8


@pytest.mark.parametrize("reply", [
    Reply(401, json={"errors": [{"message": "not authenticated"}]}),
    Reply(200, json={"errors": [{"message": "invalid key", "extensions": {"code": "AUTHENTICATION_ERROR"}}]}),
    Reply(200, json={"errors": [{"message": "no access", "extensions": {"code": "FORBIDDEN"}}]}),
])
def test_graphql_rejected_credential_waits_saying_what_to_set(outbox: Any, server: ScriptedServer,
                                                              gql_token: None, reply: Reply) -> None:
    (a,) = outbox.add(kind="graphql", payload=_gql)
    server.default = reply
    report = outbox.drain({}, integrations=_gql_config(server))
    row = outbox.row(a)
    assert (row["status"], row["attempts"]) == ("pending", 0) and report.waiting == 1
    assert "rejected the credential" in row["last_error"] and "environment variable T_GQL" in row["last_error"]


def test_graphql_non_graphql_200_is_dead(outbox: Any, server: ScriptedServer, gql_token: None) -> None:
    (a,) = outbox.add(kind="graphql", payload=_gql)
    server.default = Reply(200, body="<html>proxy login</html>")
    outbox.drain({}, integrations=_gql_config(server))
    row = outbox.row(a)
    assert row["status"] == "dead" and "not a GraphQL response" in row["last_error"]


@pytest.mark.parametrize(
    ("body", "status", "attempts", "says"),
    [
        ({"ok": True, "ts": "1.2"}, "done", 1, "HTTP 200"),
        ({"ok": False, "error": "channel_not_found"}, "dead", 1, "ok=false: channel_not_found"),
        ({"ok": False, "error": "invalid_auth"}, "pending", 0, "rejected the credential"),
    ],
)
def test_response_ok_field_for_200_ok_false_apis(outbox: Any, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch,
                                                 body: dict[str, Any], status: str, attempts: int, says: str) -> None:
    monkeypatch.setenv("T_SLACK", "xoxb-test-1234567890")
    (a,) = outbox.add()
    server.default = Reply(200, json=body)
    outbox.drain({}, integrations=hook({"base_url": server.url, "auth_scheme": "bearer", "token_env": "T_SLACK",
                                        "response_ok_field": "ok"}))
    row = outbox.row(a)
    assert (row["status"], row["attempts"]) == (status, attempts)
    assert says in (row["last_error"] or row["result"])


def test_response_ok_field_ratelimited_is_retried(outbox: Any, server: ScriptedServer) -> None:
    (a,) = outbox.add()
    server.script(Reply(200, json={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "0"}))
    server.default = Reply(200, json={"ok": True})
    outbox.drain({}, integrations=hook({"base_url": server.url, "response_ok_field": "ok"}))
    row = outbox.row(a)
    assert (row["status"], row["attempts"]) == ("done", 2)
