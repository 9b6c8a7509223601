"""The test kit for integration authors: the same checks msp's built-in integrations pass.

msp registers this module as a pytest plugin (entry point ``pytest11``), so the fixtures below
are available in any test session of an environment where msp is installed. Everything else is
imported from here: ``from msp.testing import run_failure_kinds, Reply, ...``. Nothing heavy
loads until it is used, so the plugin costs other test sessions nothing.

Fixtures
========

``msp_run_session(plugin, config=None, name=None, script=None) -> SessionRun``
    Runs the scripted session (:data:`SCRIPT`: start, two updates, a decision, an entity, a
    blocker raised and resolved, close) through one integration in a temporary store and hands
    back what it planned: ``.actions`` (per hook name), ``.all_actions``, ``.warnings``
    (contained hook failures) and ``.broken`` (load or config errors).

``msp_http_server``
    A started :class:`ScriptedServer` on 127.0.0.1, stopped after the test.

A scripted session without pytest: ``run_session(plugin, tmp_dir, ...)``. Schema check:
``assert_valid_actions(actions)`` validates actions against the JSON Schema that
``msp schema actions`` prints, and checks the host stamped each one.

Every failure kind in one call
==============================

An integration that talks HTTP (its actions are ``http`` or ``graphql``) passes the same cases
through the real dispatcher, a real SQLite outbox and a real local HTTP server::

    from msp.testing import FAILURE_KINDS, Reply, Request, run_failure_kinds

    def test_failure_kinds(tmp_path):
        def check(req: Request) -> None:      # optional: validate each request
            assert req.header("Authorization") == "Bearer test-token"

        results = run_failure_kinds(
            tmp_path,
            integration="mytool",             # the [integrations.NAME] section
            config=lambda url: {"base_url": url, "token_env": "MYTOOL_TOKEN"},
            secrets={"MYTOOL_TOKEN": "test-token"},  # set while running; must never leak
            ok=Reply(200, json={"ok": True}),  # what success looks like
            check_request=check,
        )
        assert set(results) == set(FAILURE_KINDS)

Per kind it writes a project (``tmp_path/kind-<kind>/.msp/config.toml``) enabling only your
integration with tiny backoff (:data:`TEST_DISPATCH`: base 0.01 s, cap 0.05 s, request timeout
2 s, 6 attempts), records a session through a ``SessionManager`` (default: :data:`SCRIPT`; pass
``record=lambda manager: ...`` to record other moments), scripts the server, drains exactly as
``msp dispatch`` does, then asserts:

=================== ================================================ ==================================
kind                the server does                                  the dispatcher must
=================== ================================================ ==================================
``500_then_ok``     HTTP 500 for the first 2 requests, then ``ok``   deliver everything; exactly n + 2
                                                                     requests
``429_retry_after`` 429 + ``Retry-After: 1`` for the first request   deliver everything; the repeat
                                                                     comes >= 1 s later
``timeout``         answers the first request after 4.5 s            retry it; deliver everything
``refused``         nothing listens during a whole drain, then it    first drain: nothing dead or done,
                    is back                                          errors say "connect"; next drain
                                                                     delivers all, n requests
``reset``           resets the connection in the middle of the       retry it; deliver everything
                    first response
``400_dead``        HTTP 400 ``{"error": "invalid field: title is    every action dead at attempt 1;
                    required"}`` always                              ``last_error`` keeps 400 and body
=================== ================================================ ==================================

After each kind, :func:`assert_no_secrets` checks that no value of ``secrets`` appears in
``.msp/`` (database, WAL, logs at debug level) or in ``msp queue list --all --json`` /
``msp queue show ID --json``; a failure names where, never the value.

It returns ``{kind: KindResult}`` with ``.actions`` (outbox rows: id, status, attempts,
last_error, result, payload), ``.requests`` (what the server received) and ``.report`` (the
drain report) for further assertions. ``kinds=[...]`` runs a subset, ``plugin=module``
registers your plugin object directly instead of through its entry point, ``dispatch={...}``
overrides dispatch settings. It assumes one request per action (true of the ``http`` and
``graphql`` executors); a GraphQL service must answer ``{"data": ...}`` on success (pass
``ok=``); the scripted session is one (integration, session) lane, so "the first request" is
the first action.

The server on its own
=====================

::

    with ScriptedServer(default=Reply(200, json={"ok": True})) as server:
        server.script(Reply(503), Reply(429, headers={"Retry-After": "0"}))  # next replies, in order
        server.handler = lambda req: Reply(400, body="no") if req.path == "/bad" else None
        ...                                   # point your integration at server.url
        server.wait_for(3, timeout_s=5)
        req = server.requests[0]              # .method .path .headers .header(name) .body .json() .at
        server.by_header("Idempotency-Key")   # requests grouped by a header's value
        server.down(); server.up()            # stop listening / listen again on the same port

``Reply(status, headers, body | json=..., delay_s=..., reset=True)``: ``delay_s`` answers late
(for timeouts); ``reset`` sends the head and part of the body, then resets the connection.
``free_port()`` gives a port nothing listens on; ``serve()`` is a generator for fixtures.
:class:`RecordingService` is a base for a stand-in of a real service (it records each request
as :class:`Seen` with the problems the real service would have with it).

Building blocks
===============

``write_project(root, integration, section, dispatch=None)``, ``plan(root, integration,
plugin, record)``, ``drain(root, wait=True)``, ``outbox_rows(root)``, ``cli_json(root, "queue",
"list", "--json")``, ``set_env(NAME=value)``, ``assert_no_secrets(root, [values])`` and
``assert_no_secret_in([values], text_or_path, ...)``: the steps :func:`run_failure_kinds` is
made of, for cases of your own (a GraphQL ``RATELIMITED`` in a 200, a 401 that must wait).
"""

# No ``from __future__ import annotations`` and only private helper names: the namespace holds
# exactly what __all__ lists (tests/test_public_api.py checks it).
import importlib as _importlib
import typing as _typing

import pytest

if _typing.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from msp.testing._failures import (
        FAILURE_KINDS,
        TEST_DISPATCH,
        KindResult,
        assert_no_secret_in,
        assert_no_secrets,
        cli_json,
        drain,
        outbox_rows,
        plan,
        run_failure_kinds,
        set_env,
        write_project,
    )
    from msp.testing._http_server import Reply, Request, ScriptedServer, free_port, serve
    from msp.testing._service import RecordingService, Seen
    from msp.testing._session import SCRIPT, SessionRun, assert_valid_actions, run_session

_LAZY: dict[str, str] = {
    "SCRIPT": "_session",
    "SessionRun": "_session",
    "assert_valid_actions": "_session",
    "run_session": "_session",
    "FAILURE_KINDS": "_failures",
    "TEST_DISPATCH": "_failures",
    "KindResult": "_failures",
    "assert_no_secret_in": "_failures",
    "assert_no_secrets": "_failures",
    "cli_json": "_failures",
    "drain": "_failures",
    "outbox_rows": "_failures",
    "plan": "_failures",
    "run_failure_kinds": "_failures",
    "set_env": "_failures",
    "write_project": "_failures",
    "Reply": "_http_server",
    "Request": "_http_server",
    "ScriptedServer": "_http_server",
    "free_port": "_http_server",
    "serve": "_http_server",
    "RecordingService": "_service",
    "Seen": "_service",
}

__all__ = [
    "FAILURE_KINDS",
    "SCRIPT",
    "TEST_DISPATCH",
    "KindResult",
    "RecordingService",
    "Reply",
    "Request",
    "ScriptedServer",
    "Seen",
    "SessionRun",
    "assert_no_secret_in",
    "assert_no_secrets",
    "assert_valid_actions",
    "cli_json",
    "drain",
    "free_port",
    "outbox_rows",
    "plan",
    "run_failure_kinds",
    "run_session",
    "serve",
    "set_env",
    "write_project",
]


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'msp.testing' has no attribute {name!r}")
    return getattr(_importlib.import_module(f"msp.testing.{module}"), name)


@pytest.fixture(name="msp_run_session")
def _msp_run_session(tmp_path: "Path") -> "Iterator[Callable[..., SessionRun]]":
    from msp.testing._session import run_session

    counter = iter(range(10_000))

    def run(plugin: object, config: "Mapping[str, _typing.Any] | None" = None, name: str | None = None,
            script: "list[tuple[str, dict[str, _typing.Any]]] | None" = None) -> "SessionRun":
        folder = tmp_path / f"msp-run-{next(counter)}"
        folder.mkdir()
        return run_session(plugin, folder, config, name, script)

    yield run


@pytest.fixture(name="msp_http_server")
def _msp_http_server() -> "Iterator[ScriptedServer]":
    from msp.testing._http_server import serve

    yield from serve()
