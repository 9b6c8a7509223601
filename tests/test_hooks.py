"""The hook contract: each hook has a documented section, a test named after it, and does
what its docstring says when called by the host."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, ClassVar

from msp import CypherQuery, FileWrite, HttpRequest, hookimpl
from msp.hooks import specs
from msp.testing import assert_valid_actions

DOCS = Path(__file__).resolve().parent.parent / "docs" / "writing-integrations.md"
HOOKS = sorted(n for n, f in vars(specs).items() if n.startswith("msp_") and inspect.isfunction(f))


def _signature(name: str) -> str:
    params = inspect.signature(getattr(specs, name)).parameters
    return f"{name}({', '.join(params)})"


def test_the_spec_lists_every_moment_of_a_session() -> None:
    assert sorted([
        "msp_initialize", "msp_session_start", "msp_update", "msp_decision", "msp_entity",
        "msp_blocker", "msp_session_close", "msp_export",
    ]) == HOOKS


def test_every_hook_has_a_docs_section_headed_by_its_signature() -> None:
    headings = set(re.findall(r"^### `(.+)`$", DOCS.read_text(encoding="utf-8"), re.M))
    missing = [_signature(h) for h in HOOKS if _signature(h) not in headings]
    assert not missing, f"add a '### `signature`' section to {DOCS.name} for: {missing}"


def test_every_hook_has_a_test_named_after_it() -> None:
    tests = {name for path in Path(__file__).parent.rglob("test_*.py")
             for name in re.findall(r"^def (test_hook_\w+)\(", path.read_text(encoding="utf-8"), re.M)}
    missing = [h for h in HOOKS if not any(t == f"test_hook_{h}" or t.startswith(f"test_hook_{h}_") for t in tests)]
    assert not missing, f"write a test named test_hook_<hook> for: {missing}"


def test_every_hook_has_a_full_docstring() -> None:
    for name in HOOKS:
        doc = inspect.getdoc(getattr(specs, name)) or ""
        assert ":return:" in doc and len(doc) > 60, name


class Recorder:
    """Records what each hook receives and returns one action per call."""

    name = "recorder"
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object", "properties": {"flag": {"type": "string"}}, "additionalProperties": False,
    }

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def msp_initialize(self, config: dict[str, Any]) -> None:
        self.calls.append(("msp_initialize", {"config": config}))

    @hookimpl
    def msp_session_start(self, session: Any, event: Any, config: dict[str, Any]) -> Any:
        self.calls.append(("msp_session_start", {"session": session, "event": event, "config": config}))
        return HttpRequest(path="/start", json={"id": session.id})

    @hookimpl
    def msp_update(self, session: Any, update: Any) -> Any:
        self.calls.append(("msp_update", {"session": session, "update": update}))
        return [HttpRequest(path="/u", json={"t": update.text}), HttpRequest(path="/u2", json={})]

    @hookimpl
    def msp_decision(self, decision: Any) -> Any:
        self.calls.append(("msp_decision", {"decision": decision}))
        return CypherQuery(statement="MERGE (d:Decision {id: $id})", parameters={"id": decision.id})

    @hookimpl
    def msp_entity(self, entity: Any) -> Any:
        self.calls.append(("msp_entity", {"entity": entity}))
        return FileWrite(path=f"e/{entity.id}.md", content=entity.name)

    @hookimpl
    def msp_blocker(self, blocker: Any, resolved: bool) -> Any:
        self.calls.append(("msp_blocker", {"blocker": blocker, "resolved": resolved}))
        return None

    @hookimpl
    def msp_session_close(self, session: Any) -> Any:
        self.calls.append(("msp_session_close", {"session": session}))
        return HttpRequest(path="/close", json={"n": len(session.updates)})

    @hookimpl
    def msp_export(self, sessions: list[Any]) -> str:
        return ";".join(s.id for s in sessions)


def _calls(rec: Recorder, hook: str) -> list[dict[str, Any]]:
    return [kw for name, kw in rec.calls if name == hook]


def test_hook_msp_initialize_receives_config_once(msp_run_session: Any) -> None:
    rec = Recorder()
    msp_run_session(rec, {"flag": "x"}, name="recorder")
    assert _calls(rec, "msp_initialize") == [{"config": {"flag": "x"}}]


def test_hook_msp_initialize_returning_false_disables(msp_run_session: Any) -> None:
    class Off(Recorder):
        @hookimpl
        def msp_initialize(self, config: dict[str, Any]) -> bool:
            return False

    run = msp_run_session(Off(), name="off")
    assert run.all_actions == []
    assert run.broken == ["off: msp_initialize returned False (disabled)"]


def test_hook_msp_session_start(msp_run_session: Any) -> None:
    rec = Recorder()
    run = msp_run_session(rec, {"flag": "y"}, name="recorder")
    (call,) = _calls(rec, "msp_session_start")
    assert call["session"].status == "active" and call["session"].issue == "ENG-123"
    assert call["session"].start_progress == 10 and call["session"].updates == []
    assert call["event"].type == "session_started" and call["config"] == {"flag": "y"}
    (action,) = run.actions["msp_session_start"]
    assert action.json_body == {"id": run.session_id} and action.integration == "recorder"


def test_hook_msp_update(msp_run_session: Any) -> None:
    rec = Recorder()
    run = msp_run_session(rec, name="recorder")
    calls = _calls(rec, "msp_update")
    assert [c["update"].text for c in calls] == ["Mapped the charge flow", "Worker retries with backoff"]
    assert calls[0]["session"].progress == 20 and len(calls[0]["session"].updates) == 1
    assert calls[1]["session"].progress == 60 and len(calls[1]["session"].updates) == 2
    assert [a.path for a in run.actions["msp_update"]] == ["/u", "/u2", "/u", "/u2"]
    keys = [a.idempotency_key for a in run.actions["msp_update"]]
    assert len(set(keys)) == 4
    assert_valid_actions(run.all_actions)


def test_hook_msp_decision(msp_run_session: Any) -> None:
    rec = Recorder()
    run = msp_run_session(rec, name="recorder")
    (call,) = _calls(rec, "msp_decision")
    d = call["decision"]
    assert (d.text, d.rationale, d.alternatives, d.impact) == (
        "Use an outbox table", "A crash must not lose a charge", ["Retry in memory", "A message broker"], "high")
    (action,) = run.actions["msp_decision"]
    assert action.parameters == {"id": d.id}


def test_hook_msp_entity(msp_run_session: Any) -> None:
    rec = Recorder()
    run = msp_run_session(rec, name="recorder")
    (call,) = _calls(rec, "msp_entity")
    assert (call["entity"].name, call["entity"].type, call["entity"].path) == (
        "RetryWorker", "service", "src/retry/worker.py")
    assert run.actions["msp_entity"][0].content == "RetryWorker"


def test_hook_msp_blocker_raised_and_resolved(msp_run_session: Any) -> None:
    rec = Recorder()
    msp_run_session(rec, name="recorder")
    raised, resolved = _calls(rec, "msp_blocker")
    assert raised["resolved"] is False and raised["blocker"].is_open
    assert resolved["resolved"] is True and resolved["blocker"].solution == "Support enabled test cards"
    assert raised["blocker"].id == resolved["blocker"].id


def test_hook_msp_session_close(msp_run_session: Any) -> None:
    rec = Recorder()
    run = msp_run_session(rec, name="recorder")
    (call,) = _calls(rec, "msp_session_close")
    s = call["session"]
    assert s.status == "closed" and s.summary == "Retry worker behind a flag" and s.progress == 70
    assert len(s.updates) == 2 and len(s.decisions) == 1 and len(s.entities) == 1
    assert not s.open_blockers and s.progress_delta == 60
    assert run.actions["msp_session_close"][0].json_body == {"n": 2}


def test_hook_msp_export(msp_run_session: Any) -> None:
    from msp._plugins.host import build_host
    from msp._store.sqlite import SqliteStore

    run = msp_run_session(Recorder(), name="recorder")
    assert run.store_path is not None
    store = SqliteStore(run.store_path)
    with store.read() as tx:
        session = tx.load_session(run.session_id)
    store.close()
    host = build_host({"recorder": {}}, extra={"recorder": Recorder()})
    assert host.export("recorder", [session, session]) == f"{run.session_id};{run.session_id}"

    class Bad(Recorder):
        @hookimpl
        def msp_export(self, sessions: list[Any]) -> Any:
            return 42

    bad = build_host({"bad": {}}, extra={"bad": Bad()})
    try:
        bad.export("bad", [session])
    except Exception as exc:
        assert "expected str" in str(exc)
    else:
        raise AssertionError("a non-str export must be an error")
