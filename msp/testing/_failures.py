"""Every failure kind, driven through the real dispatcher, for any http/graphql integration.

``run_failure_kinds(...)`` records a scripted session through the integration (its actions land
in a real SQLite outbox in a temporary project), then, once per failure kind, scripts the local
server to misbehave, drains through :func:`msp._dispatch.drain_project` (the same code
``msp dispatch`` runs), and asserts the documented outcome. After every kind it asserts that
no secret value appears in the store files, the logs, or ``msp queue list/show --json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msp.testing._http_server import Reply, Request, ScriptedServer

#: The failure kinds and what the dispatcher must do with each (see :mod:`msp.testing`).
FAILURE_KINDS: dict[str, str] = {
    "500_then_ok": "the first 2 requests get HTTP 500, then the service recovers: everything is delivered; "
                   "exactly 2 extra requests",
    "429_retry_after": "the first request gets 429 with Retry-After: 1: everything is delivered, and the "
                       "repeat of that request comes at least 1 s later",
    "timeout": "the first response comes after the request timeout: it is retried and everything is delivered",
    "refused": "nothing listens for a whole drain: nothing is dead, everything stays pending with a "
               "connection error; once the server is up the next drain delivers everything",
    "reset": "the connection is reset in the middle of the first response: it is retried and everything "
             "is delivered",
    "400_dead": "every request gets HTTP 400: every action is dead at its first attempt, its last_error "
                "keeps the status and the body",
}

#: Dispatch settings the harness uses: tiny backoff so retries take milliseconds.
TEST_DISPATCH: dict[str, Any] = {
    "mode": "manual",
    "backoff_base_s": 0.01,
    "backoff_cap_s": 0.05,
    # Long enough for a stand-in that validates every request against a large schema on a
    # loaded machine; the "timeout" kind answers well after it.
    "timeout_s": 2.0,
    "max_attempts": 6,
    "lease_s": 5.0,
}
BODY_400 = '{"error": "invalid field: title is required"}'


@dataclass
class KindResult:
    """What happened in one failure kind."""

    kind: str
    actions: list[dict[str, Any]]
    """Outbox rows after the drain(s): id, status, attempts, last_error, result, kind, payload."""
    requests: list[Request]
    report: dict[str, Any] = field(default_factory=dict)
    project_root: Path | None = None

    def statuses(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.actions:
            out[a["status"]] = out.get(a["status"], 0) + 1
        return out


def default_record(manager: Any) -> None:
    """A short session: start (with an issue key), update, decision, entity, blocker, resolve, end."""
    from msp.testing._session import SCRIPT

    for step, data in SCRIPT:
        getattr(manager, step)(data)


def write_project(root: Path, integration: str, section: Mapping[str, Any],
                  dispatch: Mapping[str, Any] | None = None) -> Path:
    """A project folder whose config enables one integration (with test dispatch settings)."""
    import tomlkit

    from msp._config import init_project

    root.mkdir(parents=True, exist_ok=True)
    msp_dir, _ = init_project(root)
    doc = {
        "store": {"synchronous": "normal"},
        "logging": {"level": "debug"},
        "dispatch": {**TEST_DISPATCH, **(dispatch or {})},
        "integrations": {integration: dict(section)},
    }
    (msp_dir / "config.toml").write_text(tomlkit.dumps(doc), encoding="utf-8")
    return root


@contextmanager
def set_env(**values: str | None) -> Iterator[None]:
    """Set (or, with None, unset) environment variables for the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def plan(root: Path, integration: str, plugin: object | None,
         record: Callable[[Any], None]) -> int:
    """Record the session through the integration; returns how many actions it queued."""
    from msp._config import open_project
    from msp._plugins.host import build_host
    from msp._session.manager import SessionManager
    from msp._store import open_store

    project = open_project(root)
    assert project is not None
    host = build_host(project.config.integrations, extra={integration: plugin} if plugin is not None else None)
    assert not host.broken, f"the integration did not load: {[(b.name, b.error) for b in host.broken]}"
    store = open_store(project, synchronous="normal")
    try:
        record(SessionManager(store, host, default_project="demo-project", source="api"))
        with store.read() as tx:
            return len(tx.outbox.pending_ids_of(integration))
    finally:
        store.close()


def drain(root: Path, *, wait: bool = True, plugin: object | None = None, integration: str = "",
          timeout_s: float = 30.0) -> dict[str, Any]:
    """Drain the project's outbox in this process, as ``msp dispatch [--wait]`` does."""
    from msp._config import open_project
    from msp._dispatch import drain_project
    from msp._logging import configure

    project = open_project(root)
    assert project is not None
    configure(project.logs_dir, project.config.logging.level)
    infos = None
    if plugin is not None:
        from msp._dispatch.run import integrations_from_host
        from msp._plugins.host import build_host

        infos = integrations_from_host(build_host(project.config.integrations, extra={integration: plugin}))
    try:
        report = drain_project(project, wait=wait, timeout_s=timeout_s, integrations=infos)
    finally:
        configure(None, "warning")
    return report.to_dict()


def outbox_rows(root: Path) -> list[dict[str, Any]]:
    """Every action in the project's outbox, oldest first: id, integration, kind, status,
    attempts, last_error, result, last_status and the payload (parsed)."""
    import sqlite3

    db = sqlite3.connect(root / ".msp" / "msp.db")
    db.row_factory = sqlite3.Row
    try:
        return [
            {**dict(r), "payload": json.loads(r["payload"])}
            for r in db.execute(
                "SELECT id, integration, kind, status, attempts, last_error, result, last_status, payload "
                "FROM actions ORDER BY id"
            )
        ]
    finally:
        db.close()


def cli_json(root: Path, *args: str) -> tuple[int, str]:
    """Run an ``msp`` command in this process against the project; returns (exit code, stdout)."""
    from typer.testing import CliRunner

    from msp._main import app

    result = CliRunner().invoke(app, list(args), env={"MSP_DIR": str(root / ".msp")}, catch_exceptions=False)
    return result.exit_code, result.stdout


def assert_no_secret_in(secrets: Iterable[str], *places: str | bytes | Path) -> None:
    """Fail when a secret value appears in any of ``places``: text, bytes, a file, or a folder
    (every file under it). The failure names the place, never the value, and is raised
    directly (not through ``assert``), so pytest's assertion rewriting cannot print it either."""
    values = [s.encode() for s in secrets if s]
    if not values:
        return
    for index, place in enumerate(places):
        if isinstance(place, Path):
            files = sorted(p for p in place.rglob("*") if p.is_file()) if place.is_dir() else [place]
            blobs = [(str(f), f.read_bytes()) for f in files]
        else:
            blobs = [(f"text #{index + 1}", place.encode() if isinstance(place, str) else place)]
        for where, blob in blobs:
            if any(value in blob for value in values):
                raise AssertionError(f"a secret value appears in {where}")


def assert_no_secrets(root: Path, secrets: Sequence[str]) -> None:
    """No secret value in the project's ``.msp/`` (store, WAL, logs) or in what
    ``msp queue list --all --json`` and ``msp queue show ID --json`` print."""
    values = [s for s in secrets if s]
    if not values:
        return
    assert_no_secret_in(values, root / ".msp")
    code, listing = cli_json(root, "queue", "list", "--all", "--json")
    if code != 0:
        raise AssertionError(f"msp queue list failed ({code})")
    printed: dict[str, str] = {"msp queue list --all --json": listing}
    for action in json.loads(listing)["actions"]:
        code, shown = cli_json(root, "queue", "show", str(action["id"]), "--json")
        if code != 0:
            raise AssertionError(f"msp queue show {action['id']} failed ({code})")
        printed[f"msp queue show {action['id']} --json"] = shown
    for where, text in printed.items():
        if any(value in text for value in values):
            raise AssertionError(f"a secret value appears in {where}")


def run_failure_kinds(
    tmp_path: Path,
    *,
    integration: str,
    config: Callable[[str], Mapping[str, Any]],
    secrets: Mapping[str, str] | None = None,
    ok: Reply | Callable[[Request], Reply] | None = None,
    record: Callable[[Any], None] = default_record,
    plugin: object | None = None,
    kinds: Sequence[str] = tuple(FAILURE_KINDS),
    dispatch: Mapping[str, Any] | None = None,
    check_request: Callable[[Request], None] | None = None,
) -> dict[str, KindResult]:
    """Drive the integration's actions through every failure kind; assert the documented outcome.

    :param integration: the config section name, e.g. ``"linear"``.
    :param config: server base URL -> the ``[integrations.NAME]`` section pointing at it.
    :param secrets: environment variables to set while planning and draining (e.g.
        ``{"LINEAR_API_KEY": "lin_api_test_..."}``); their values must never be stored or shown.
    :param ok: the reply the service gives on success (default ``200 {}``; GraphQL services need
        ``Reply(200, json={"data": {...}})``), or a function of the request.
    :param record: records moments through a ``SessionManager`` (default: the scripted session).
    :param plugin: register this object directly instead of loading the entry point.
    :param check_request: called on every request that reached the server (e.g. to validate the
        body against an API fixture); raise to fail.
    :return: per kind, the outbox rows, the requests the server saw and the drain report.
    """
    unknown = set(kinds) - set(FAILURE_KINDS)
    assert not unknown, f"unknown failure kinds {sorted(unknown)}; known: {sorted(FAILURE_KINDS)}"
    results: dict[str, KindResult] = {}
    secret_values = list((secrets or {}).values())
    with set_env(**dict(secrets or {})):
        for kind in kinds:
            server = ScriptedServer(ok)
            server.start()
            try:
                root = write_project(tmp_path / f"kind-{kind}", integration, config(server.url), dispatch)
                count = plan(root, integration, plugin, record)
                assert count > 0, f"integration {integration!r} planned no pending actions for the session"
                result = _run_kind(kind, root, server, count, plugin, integration)
            finally:
                server.stop()
            if check_request is not None:
                for req in result.requests:
                    check_request(req)
            assert_no_secrets(root, secret_values)
            results[kind] = result
    return results


def _run_kind(kind: str, root: Path, server: ScriptedServer, count: int, plugin: object | None,
              integration: str) -> KindResult:
    def go(wait: bool = True) -> dict[str, Any]:
        return drain(root, wait=wait, plugin=plugin, integration=integration)

    def result(report: dict[str, Any]) -> KindResult:
        return KindResult(kind, outbox_rows(root), list(server.requests), report, root)

    ours = [r for r in outbox_rows(root) if r["integration"] == integration]
    n = len(ours)
    if kind == "500_then_ok":
        server.script(Reply(500, body="internal error"), Reply(500, body="internal error"))
        out = result(go())
        _all(out, "done", integration)
        assert len(out.requests) == n + 2, f"expected {n} + 2 requests, got {len(out.requests)}"
        assert sum(a["attempts"] for a in out.actions) == n + 2, "two failed attempts, then one each"
        return out
    if kind == "429_retry_after":
        server.script(Reply(429, headers={"Retry-After": "1"}, body="slow down"))
        out = result(go())
        _all(out, "done", integration)
        assert len(out.requests) == n + 1
        first, again = out.requests[0], _repeat_of(out.requests, out.requests[0])
        assert again.at - first.at >= 0.95, f"retried after {again.at - first.at:.3f}s, before Retry-After: 1"
        return out
    if kind == "timeout":
        server.script(Reply(200, delay_s=float(TEST_DISPATCH["timeout_s"]) * 2 + 0.5))
        out = result(go())
        _all(out, "done", integration)
        assert len(out.requests) == n + 1
        return out
    if kind == "refused":
        server.stop()  # nothing listens on its port for the whole first drain
        first_report = go(wait=False)
        mid = outbox_rows(root)
        assert not [a for a in mid if a["status"] == "dead"], "a refused connection must not kill an action"
        assert not [a for a in mid if a["status"] == "done"]
        tried = [a for a in mid if a["attempts"] > 0]
        assert tried and all("connect" in (a["last_error"] or "") for a in tried), [a["last_error"] for a in mid]
        server.start()
        out = result(go())
        out.report = {"first": first_report, "second": out.report}
        _all(out, "done", integration)
        assert len(out.requests) == n
        return out
    if kind == "reset":
        server.script(Reply(200, json={"data": {"partial": "x" * 200}}, reset=True))
        out = result(go())
        _all(out, "done", integration)
        assert len(out.requests) == n + 1
        return out
    if kind == "400_dead":
        server.default = Reply(400, body=BODY_400, headers={"Content-Type": "application/json"})
        server.handler = None
        out = result(go())
        _all(out, "dead", integration)
        for a in out.actions:
            assert a["attempts"] == 1, f"a 400 is dead at once, took {a['attempts']} attempts"
            assert "400" in (a["last_error"] or "") and "title is required" in (a["last_error"] or ""), a
        assert len(out.requests) == n
        return out
    raise AssertionError(f"unknown kind {kind}")


def _all(out: KindResult, status: str, integration: str) -> None:
    ours = [a for a in out.actions if a["integration"] == integration]
    bad = [(a["id"], a["status"], a["last_error"]) for a in ours if a["status"] != status]
    assert not bad, f"{out.kind}: expected every action {status}, got {bad}"


def _repeat_of(requests: list[Request], first: Request) -> Request:
    key = first.header("Idempotency-Key")
    same = [r for r in requests[1:] if r.header("Idempotency-Key") == key]
    assert same, "the rate-limited request was never repeated"
    return same[0]
