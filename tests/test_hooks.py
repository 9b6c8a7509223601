"""The hook contract: each hook has a documented section, a test named after it, and does
what its docstring says when called by the host."""

from __future__ import annotations

import inspect
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from plugin_site import activate, install

from msp import CypherQuery, FileWrite, HttpRequest, hookimpl
from msp.hooks import specs
from msp.testing import assert_valid_actions

DOCS = Path(__file__).resolve().parent.parent / "docs" / "writing-integrations.md"
HOOKS = sorted(n for n, f in vars(specs).items() if n.startswith("msp_") and inspect.isfunction(f))


def _signature(name: str) -> str:
    params = inspect.signature(getattr(specs, name)).parameters
    return f"{name}({', '.join(params)})"


def test_the_spec_lists_every_moment_of_a_session_and_the_contributions() -> None:
    assert sorted([
        "msp_initialize", "msp_session_start", "msp_update", "msp_decision", "msp_entity",
        "msp_blocker", "msp_goal_changed", "msp_item_retracted", "msp_session_close", "msp_export",
        "msp_register_executors", "msp_register_commands", "msp_setup", "msp_doctor",
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


def test_hook_msp_goal_changed(msp_run_session: Any) -> None:
    class GoalWatcher(Recorder):
        @hookimpl
        def msp_goal_changed(self, session: Any, previous: Any, event: Any) -> Any:
            self.calls.append(("msp_goal_changed", {"session": session, "previous": previous, "event": event}))
            return HttpRequest(path="/goal", method="PATCH", json={"goal": session.goal, "was": previous})

    from msp.testing import SCRIPT

    script = [*SCRIPT[:2], ("goal", {"goal": "Ship the retry worker behind a flag"}), *SCRIPT[2:]]
    rec = GoalWatcher()
    run = msp_run_session(rec, name="recorder", script=script)
    (call,) = _calls(rec, "msp_goal_changed")
    assert call["previous"] == "Ship the retry worker" and call["event"].type == "goal_changed"
    assert call["session"].goal == "Ship the retry worker behind a flag" and call["session"].status == "active"
    (action,) = run.actions["msp_goal_changed"]
    assert action.json_body == {"goal": "Ship the retry worker behind a flag", "was": "Ship the retry worker"}
    # The session closes with the new goal.
    (closed,) = _calls(rec, "msp_session_close")
    assert closed["session"].goal == "Ship the retry worker behind a flag"


def test_hook_msp_item_retracted(tmp_path: Path) -> None:
    """A retraction reaches the integration with the item marked and its kind, in the item's
    own session even after it closed; the other hooks never hear of it."""
    from msp import SessionManager
    from msp._plugins.host import PluginHost
    from msp._store.sqlite import SqliteStore

    class Retractions:
        name = "retractions"
        config_schema: ClassVar[dict[str, Any]] = {"type": "object"}

        def __init__(self) -> None:
            self.calls: list[dict[str, Any]] = []

        @hookimpl
        def msp_item_retracted(self, session: Any, item: Any, kind: str, event: Any) -> Any:
            self.calls.append({"session": session, "item": item, "kind": kind, "event": event})
            return HttpRequest(path="/retracted", json={"id": item.id, "kind": kind})

    plugin = Retractions()
    host = PluginHost()
    host.add("retractions", plugin, {}, source="test")
    store = SqliteStore(tmp_path / "msp.db")
    manager = SessionManager(store, host, default_project="p")
    manager.start({"project": "p"})
    decision = manager.decide({"text": "Use an outbox"}).event.data["id"]
    manager.end()
    rec = manager.retract({"item": decision[2:], "reason": "typo"})
    (call,) = plugin.calls
    assert call["kind"] == "decision" and call["item"].id == decision and call["item"].is_retracted
    assert call["item"].retraction == "typo" and call["session"].status == "closed"
    assert call["event"].type == "item_retracted" and call["event"].session_id == call["session"].id
    assert [a.json_body for a in rec.planned.objects] == [{"id": decision, "kind": "decision"}]
    store.close()


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


# --- contributions: executors, commands, set-up, checks ------------------------------------------
# These run through real entry points (a .dist-info folder on the path) and the real CLI.

TODO = """
from typing import Literal
from msp import Action, hookimpl
from msp.executors import BaseExecutor, ExecutorKind, Outcome

class Todo(Action):
    kind: Literal["todo"] = "todo"
    title: str

class TodoExecutor(BaseExecutor):
    async def execute(self, action, ctx):
        with (ctx.project_root / ctx.config["list"]).open("a", encoding="utf-8") as f:
            f.write(action.title + "\\n")
        return Outcome("done", f"added {action.title}")

@hookimpl
def msp_register_executors():
    return ExecutorKind(Todo, TodoExecutor)

@hookimpl
def msp_update(update):
    return Todo(title=update.text)
"""

# Returns the todo plugin's actions without registering the kind itself.
TODO_USER = """
from msp import hookimpl
from msp_testplugin_todo import Todo

@hookimpl
def msp_update(update):
    return Todo(title="from the user: " + update.text)
"""

# A kind nobody registers.
ORPHAN = """
from typing import Literal
from msp import Action, hookimpl

class Ghost(Action):
    kind: Literal["ghost"] = "ghost"

@hookimpl
def msp_update(update):
    return Ghost()
"""

HELLO = """
import os, pathlib
pathlib.Path(os.environ["MSP_TEST_IMPORTED"], "hello").write_text("imported")
from msp import hookimpl

@hookimpl
def msp_register_commands(cli):
    @cli.command()
    def hello(name: str = "world") -> None:
        \"\"\"Say hello from a plugin.\"\"\"
        print(f"hello {name}")
"""

BAD_COMMANDS = """
from msp import hookimpl

@hookimpl
def msp_register_commands(cli):
    raise RuntimeError("no commands today")
"""

BAD_IMPORT = """
raise ImportError("missing dependency frobnicate")
"""

SETUP = """
from msp import FileWrite, hookimpl

@hookimpl
def msp_setup(config):
    return [FileWrite(path="README.md", content=f"ready for {config['who']}\\n"),
            FileWrite(path="inbox/.keep", content="")]
"""

CHECKED = """
from msp import Finding, HttpRequest, hookimpl

@hookimpl
def msp_doctor(config, online, project_root):
    found = [Finding(severity="ok", message=f"project at {project_root.name}"),
             Finding(severity="warning", message="no team set", fix="set team = \\"...\\"")]
    if config.get("broken"):
        found.append(Finding(severity="problem", message="broken on purpose", fix="unset broken"))
    if online:
        found += [HttpRequest(method="GET", path="/health"), HttpRequest(method="GET", path="/missing")]
    return found
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = install(tmp_path / "site", {"todo": TODO, "todouser": TODO_USER, "orphan": ORPHAN, "hello": HELLO,
                                       "badcommands": BAD_COMMANDS, "badimport": BAD_IMPORT, "setup": SETUP,
                                       "checked": CHECKED})
    activate(site)
    imported = tmp_path / "imported"
    imported.mkdir()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MSP_TEST_IMPORTED", str(imported))
    yield imported


def _configure(project_dir: Path, sections: str) -> None:
    cfg = project_dir / ".msp" / "config.toml"
    cfg.write_text(cfg.read_text() + sections)


def _actions(project_dir: Path) -> list[tuple[str, str, str, str | None]]:
    with sqlite3.connect(project_dir / ".msp" / "msp.db") as db:
        return db.execute("SELECT integration, kind, status, last_error FROM actions ORDER BY id").fetchall()


def test_hook_msp_register_executors(plugins: Path, project_dir: Path, msp_cli: Any) -> None:
    _configure(project_dir, '[integrations.todo]\nlist = "todo.txt"\n')
    schema = msp_cli("schema", "actions")
    assert schema.code == 0, schema.err
    assert set(json.loads(schema.out)["discriminator"]["mapping"]) == {
        "cypher", "graphql", "http", "file", "powershell", "todo"}
    assert msp_cli("start").code == 0
    recorded = msp_cli("update", "write the docs")
    assert recorded.code == 0 and "failed" not in recorded.err, recorded.err
    assert _actions(project_dir) == [("todo", "todo", "pending", None)]
    delivered = msp_cli("dispatch", "--json")
    assert delivered.code == 0 and delivered.json()["done"] == 1, delivered.out + delivered.err
    assert (project_dir / "todo.txt").read_text() == "write the docs\n"
    assert _actions(project_dir)[0][2] == "done"


def test_hook_msp_register_executors_unknown_kinds_are_named(plugins: Path, project_dir: Path,
                                                              msp_cli: Any) -> None:
    # Planning: a kind no loaded plugin registers is a contained error naming it.
    _configure(project_dir, '[integrations.orphan]\n[integrations.todouser]\n[integrations.todo]\nlist = "t.txt"\n')
    assert msp_cli("start").code == 0
    r = msp_cli("update", "one")
    assert r.code == 0
    assert "'orphan' failed in msp_update" in r.err and "'ghost'" in r.err
    assert "no installed plugin registers it" in r.err
    assert [(i, k) for i, k, _, _ in _actions(project_dir)] == [("todouser", "todo"), ("todo", "todo")]
    # Dispatch: once the plugin that registers the kind is disabled, its kind's actions wait.
    cfg = project_dir / ".msp" / "config.toml"
    cfg.write_text(cfg.read_text().replace('[integrations.todo]\n', '[integrations.todo]\nenabled = false\n'))
    report = msp_cli("dispatch", "--json")
    assert report.code == 0, report.err
    (user, _owner) = _actions(project_dir)
    assert user[2] == "pending" and "no installed plugin registers it" in (user[3] or ""), user
    assert not (project_dir / "t.txt").exists()


def test_hook_msp_register_commands(plugins: Path, project_dir: Path, msp_cli: Any) -> None:
    marker = plugins / "hello"
    status = msp_cli("status")
    assert status.code == 0, status.err
    assert not marker.exists(), "a core command imported a plugin to look for commands"
    assert "could not add" not in status.err
    r = msp_cli("hello", "--name", "msp")
    assert r.code == 0 and r.out == "hello msp\n", r.err
    assert marker.exists()
    listing = msp_cli("--help")
    assert listing.code == 0 and "hello" in listing.out and "Say hello from a plugin" in listing.out
    # The broken ones are warnings naming them; they never stop msp or the other plugins.
    assert "'badcommands' could not add its commands: msp_register_commands: RuntimeError: no commands today" \
        in listing.err
    assert "'badimport' could not add its commands: import failed: ImportError: missing dependency frobnicate" \
        in listing.err
    unknown = msp_cli("nosuchcommand")
    assert unknown.code != 0 and "No such command" in unknown.err


def test_hook_msp_setup(plugins: Path, project_dir: Path, msp_cli: Any) -> None:
    (project_dir / "notes").mkdir()
    _configure(project_dir, '[integrations.setup]\nroot = "notes"\nwho = "the team"\n'
                            '[integrations.todo]\nlist = "t.txt"\n')
    r = msp_cli("integrations", "setup", "setup", "--json")
    assert r.code == 0 and r.json()["actions"] == 2, r.out + r.err
    assert (project_dir / "notes" / "README.md").read_text() == "ready for the team\n"
    assert (project_dir / "notes" / "inbox" / ".keep").exists()
    (project_dir / "notes" / "README.md").unlink()
    again = msp_cli("integrations", "setup", "setup")  # asked for by hand: runs again
    assert again.code == 0 and (project_dir / "notes" / "README.md").exists(), again.err
    none = msp_cli("integrations", "setup", "todo")
    assert none.code == 0 and "todo needs no set-up." in none.out


class _Service(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/health" and self.headers.get("Authorization") == "Bearer probe-secret-value"
        self.send_response(200 if ok else 404 if self.path == "/missing" else 401)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_hook_msp_doctor(plugins: Path, project_dir: Path, msp_cli: Any, service: str) -> None:
    _configure(project_dir, f'[integrations.checked]\nbase_url = "{service}"\nauth_scheme = "bearer"\n'
                            'token_env = "CHECKED_TOKEN"\n')
    offline = msp_cli("integrations", "doctor", "checked")
    assert offline.code == 0, offline.err
    assert "checked: ok" in offline.out and "ok: project at proj" in offline.out
    assert "warning: no team set" in offline.out and 'fix: set team = "..."' in offline.out
    # Online: the host runs the probes through the http executor, with the named credential.
    online = msp_cli("integrations", "doctor", "checked", "--online", "--json",
                     env={"CHECKED_TOKEN": "probe-secret-value"})
    assert online.code != 0, "a failed probe is a problem: the exit code says so"
    (entry,) = online.json()["error"]["details"]["integrations"]
    probes = [f for f in entry["findings"] if f["message"].startswith("probe")]
    assert [f["severity"] for f in probes] == ["ok", "problem"]
    assert probes[0]["message"].startswith("probe 1 (http): done")
    assert probes[1]["message"].startswith("probe 2 (http): dead") and "404" in probes[1]["message"]
    assert "probe-secret-value" not in online.out + online.err
    # Without the credential the probe cannot run: a problem naming what is missing.
    missing = msp_cli("integrations", "doctor", "checked", "--online", "--json", env={"CHECKED_TOKEN": ""})
    (entry,) = missing.json()["error"]["details"]["integrations"]
    assert any(f["severity"] == "problem" and "CHECKED_TOKEN" in f["message"] for f in entry["findings"])
    # A finding of severity problem makes the doctor fail offline too.
    _configure(project_dir, "broken = true\n")
    broken = msp_cli("integrations", "doctor", "checked")
    assert broken.code != 0 and "problem: broken on purpose" in broken.err and "fix: unset broken" in broken.err
    assert _actions(project_dir) == [], "probes never go through the outbox"
