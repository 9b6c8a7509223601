"""The MCP server, driven through the official SDK's own stdio client against the real `msp mcp`.

Every test starts the venv's `msp` binary as an MCP server on a temporary project, talks to it
over stdin/stdout with `mcp.ClientSession`, and checks the store it wrote with plain SQL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent, TextResourceContents
from plugin_site import install
from pydantic import BaseModel

from msp._mcp.server import ContextQuery, QueueQuery, SessionsQuery, StatusQuery
from msp._model.models import (
    BlockerInput,
    DecisionInput,
    EndInput,
    EntityInput,
    GoalInput,
    ResolveInput,
    StartInput,
    UpdateInput,
)

# Not imported from conftest: a conftest.py in a subfolder would shadow that module name.
MSP_BIN = str(Path(sys.executable).with_name("msp"))

SCHEMAS: dict[str, type[BaseModel]] = {
    "start": StartInput, "update": UpdateInput, "decide": DecisionInput, "entity": EntityInput,
    "block": BlockerInput, "resolve": ResolveInput, "goal": GoalInput, "end": EndInput,
    "status": StatusQuery, "context": ContextQuery, "sessions": SessionsQuery, "queue_status": QueueQuery,
}
READ_TOOLS = {"status", "context", "sessions", "queue_status"}
TEST_TIMEOUT_S = 150

# An integration that plans one HTTP request per session start and per update, so the tests can
# see actions planned through MCP exactly as through the CLI; and one whose decision hook hangs.
PLANNER = '''
from msp import HttpRequest, hookimpl
name = "planner"
config_schema = {"type": "object", "additionalProperties": False}
@hookimpl
def msp_update(session, update):
    return HttpRequest(path="/u", json={"text": update.text, "session": session.id, "seen": session.update_count})
@hookimpl
def msp_session_start(session):
    return HttpRequest(path="/s", json={"id": session.id})
'''

SLEEPY = '''
import time
from msp import hookimpl
name = "sleepy"
config_schema = {"type": "object", "additionalProperties": False}
@hookimpl
def msp_decision(decision):
    time.sleep(600)  # far past the client's read timeout: only the hook budget can cut it short
'''


def _run(body: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with anyio.fail_after(TEST_TIMEOUT_S):
            await body()

    anyio.run(bounded)


def _server_env(project_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    # The stdio client passes only a safe minimum of the environment; name what msp needs.
    return {"MSP_DIR": str(project_dir / ".msp"), "MSP_USER_CONFIG": os.environ["MSP_USER_CONFIG"], **(extra or {})}


@asynccontextmanager
async def mcp_session(project_dir: Path, *args: str, env: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=MSP_BIN, args=["mcp", *args], env=_server_env(project_dir, env), cwd=str(project_dir)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write, read_timeout_seconds=60) as session:
        await session.initialize()
        yield session


def _events(project_dir: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(project_dir / ".msp" / "msp.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT seq, id, type, source, data FROM events ORDER BY seq")]


def _actions(project_dir: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(project_dir / ".msp" / "msp.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM actions ORDER BY id")]


def _text(block: Any) -> str:
    assert isinstance(block, TextContent), block
    return block.text


async def _read(s: ClientSession, uri: str) -> Any:
    result = await s.read_resource(uri)
    assert len(result.contents) == 1
    content = result.contents[0]
    assert isinstance(content, TextResourceContents) and content.mime_type == "application/json"
    assert content.uri == uri
    return json.loads(content.text)


def _ok(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    assert data["ok"] is True
    # The same document is in the text content, for clients that ignore structured content.
    assert json.loads(_text(result.content[-1])) == data
    return data


def _error(result: Any) -> dict[str, Any]:
    assert result.is_error, result.content
    error: dict[str, Any] = result.structured_content["error"]
    assert result.structured_content["ok"] is False
    assert error["message"] and error["hint"], error
    assert error["code"] in _text(result.content[0])
    return error


@pytest.fixture
def plugins(tmp_path: Path, project_dir: Path) -> dict[str, str]:
    """Install the test integrations and enable them; returns the env a process needs to find them."""
    site = install(tmp_path / "site", {"planner": PLANNER, "sleepy": SLEEPY})
    cfg = project_dir / ".msp" / "config.toml"
    sections = "\n[plugins]\nhook_timeout_ms = 300\n[integrations.planner]\n[integrations.sleepy]\n"
    cfg.write_text(cfg.read_text() + sections)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


# --- the surface -----------------------------------------------------------------------------


def test_tools_list_with_the_models_schemas(project_dir: Path) -> None:
    async def body() -> None:
        async with mcp_session(project_dir) as s:
            tools = {t.name: t for t in (await s.list_tools()).tools}
            assert set(tools) == set(SCHEMAS)
            for name, model in SCHEMAS.items():
                assert tools[name].input_schema == model.model_json_schema(), name
                assert tools[name].description
                annotations = tools[name].annotations
                assert annotations is not None and annotations.read_only_hint is (name in READ_TOOLS), name
            prompts = (await s.list_prompts()).prompts
            assert [p.name for p in prompts] == ["resume"]
            uris = {r.uri for r in (await s.list_resources()).resources}
            assert uris == {"msp://session/active", "msp://decisions/recent", "msp://blockers/open"}
            templates = (await s.list_resource_templates()).resource_templates
            assert [t.uri_template for t in templates] == ["msp://sessions/{id}"]

    _run(body)


def test_read_only_exposes_only_the_tools_that_dont_write(project_dir: Path, msp_cli: Any) -> None:
    assert msp_cli("start", "--goal", "g").code == 0

    async def body() -> None:
        async with mcp_session(project_dir, "--read-only") as s:
            tools = (await s.list_tools()).tools
            assert {t.name for t in tools} == READ_TOOLS
            with pytest.raises(MCPError, match="read-only"):
                await s.call_tool("update", {"text": "should not be stored"})
            status = _ok(await s.call_tool("status", {}))
            assert status["session"]["goal"] == "g"
            _ok(await s.call_tool("context", {}))
            _ok(await s.call_tool("sessions", {}))
            _ok(await s.call_tool("queue_status", {}))

    _run(body)
    assert [e["type"] for e in _events(project_dir)] == ["session_started"]


def test_importing_the_cli_loads_no_mcp_module() -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import msp._main"],
                          capture_output=True, text=True, timeout=60, check=True)
    names = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line]
    assert "msp._cli.main" in names  # the entry point loads the CLI and registers `msp mcp`...
    loaded = [n for n in names if n.split(".")[0] in ("mcp", "mcp_types", "anyio", "starlette")
              or n.startswith("msp._mcp")]
    assert loaded == []  # ...but neither the MCP front-end nor anything of the SDK


def test_without_a_project_it_fails_before_serving(msp_cli: Any, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = msp_cli("mcp", cwd=elsewhere, input="")
    assert r.code == 1
    assert r.out == ""
    assert "no .msp/ folder" in r.err and "hint:" in r.err


def test_stdout_carries_only_the_protocol_and_eof_ends_the_server(project_dir: Path, msp_cli: Any) -> None:
    request = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    r = msp_cli("mcp", input=json.dumps(request) + "\n", env=_server_env(project_dir))
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert len(lines) == 1
    reply = json.loads(lines[0])
    assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "msp"


# --- a whole session -------------------------------------------------------------------------


def test_a_whole_session_resources_and_the_resume_prompt(project_dir: Path, plugins: dict[str, str]) -> None:
    async def body() -> None:
        async with mcp_session(project_dir, env=plugins) as s:
            assert await _read(s, "msp://session/active") == {"session": None}

            started = _ok(await s.call_tool("start", {"goal": "ship the MCP server", "progress": 10}))
            sid = started["event"]["session_id"]
            assert started["event"]["source"] == "mcp"
            assert [a["kind"] for a in started["actions"]] == ["http"]
            assert started["recall"]["session"] is None  # the project's first session: nothing to recall

            updated = _ok(await s.call_tool("update", {"text": "wired the tools", "progress": 40, "tags": ["mcp"]}))
            assert updated["session"]["progress"] == 40
            assert updated["actions"][0]["json"] == {"text": "wired the tools", "session": sid, "seen": 1}
            regoaled = _ok(await s.call_tool("goal", {"goal": "MCP tools, goal included"}))
            assert regoaled["event"]["type"] == "goal_changed"
            assert regoaled["session"]["goal"] == "MCP tools, goal included"

            decided = _ok(await s.call_tool("decide", {
                "text": "use the low-level server", "rationale": "schemas come from our models",
                "alternatives": ["MCPServer decorators"], "impact": "medium"}))
            # The hanging hook was cut off at its budget and reported; the decision is recorded.
            assert any("sleepy" in w and "HookTimeout" in w for w in decided["warnings"]), decided["warnings"]
            _ok(await s.call_tool("entity", {"name": "msp/_mcp.py", "type": "module"}))
            raised = _ok(await s.call_tool("block", {"text": "waiting on the dispatcher", "severity": "low"}))
            blocker_id = raised["event"]["data"]["id"]

            blockers = await _read(s, "msp://blockers/open")
            assert [b["id"] for b in blockers["open_blockers"]] == [blocker_id]
            decisions = await _read(s, "msp://decisions/recent")
            assert [d["text"] for d in decisions["decisions"]] == ["use the low-level server"]
            active = (await _read(s, "msp://session/active"))["session"]
            assert active["id"] == sid and [u["text"] for u in active["updates"]] == ["wired the tools"]
            one = (await _read(s, f"msp://sessions/{sid}"))["session"]
            assert one["entities"][0]["name"] == "msp/_mcp.py"

            resolved = _ok(await s.call_tool("resolve", {"blocker": "dispatcher", "solution": "it landed"}))
            assert resolved["event"]["data"]["blocker_id"] == blocker_id
            blockers = await _read(s, "msp://blockers/open")
            assert blockers["open_blockers"] == []

            status = _ok(await s.call_tool("status", {}))
            assert status["session"]["id"] == sid and status["queue"] == {"pending": 2}
            queue = _ok(await s.call_tool("queue_status", {}))
            assert queue["by_status"] == {"pending": 2} and queue["by_integration"] == {"planner": {"pending": 2}}
            assert queue["total"] == 2 and queue["due_now"] == 2

            ended = _ok(await s.call_tool("end", {"summary": "server and tests", "progress": 80}))
            assert ended["session"]["status"] == "closed" and ended["progress_delta"] == 70

            listed = _ok(await s.call_tool("sessions", {}))
            assert [(x["id"], x["status"]) for x in listed["sessions"]] == [(sid, "closed")]
            context = await s.call_tool("context", {"format": "markdown"})
            assert not context.is_error and "use the low-level server" in _text(context.content[0])
            assert context.structured_content["context"]["where_we_stopped"]["summary"] == "server and tests"

            prompt = await s.get_prompt("resume", {"days": "3"})
            text = _text(prompt.messages[0].content)
            assert prompt.messages[0].role == "user"
            assert "resuming work" in text and "use the low-level server" in text and "wired the tools" in text
            assert await _read(s, "msp://session/active") == {"session": None}

    _run(body)
    events = _events(project_dir)
    assert [e["type"] for e in events] == [
        "session_started", "progress_updated", "goal_changed", "decision_recorded", "entity_recorded",
        "blocker_raised", "blocker_resolved", "session_closed",
    ]
    assert {e["source"] for e in events} == {"mcp"}
    with sqlite3.connect(project_dir / ".msp" / "msp.db") as db:
        failures = db.execute("SELECT integration, hook FROM hook_failures").fetchall()
    assert failures == [("sleepy", "msp_decision")]


# --- errors ----------------------------------------------------------------------------------


def test_bad_input_and_state_errors_are_structured_tool_errors(project_dir: Path) -> None:
    async def body() -> None:
        async with mcp_session(project_dir) as s:
            assert _error(await s.call_tool("update", {"text": "nothing is active"}))["code"] == "SESSION_NOT_ACTIVE"
            assert _error(await s.call_tool("end", {}))["code"] == "SESSION_NOT_ACTIVE"
            _ok(await s.call_tool("start", {"goal": "g"}))
            assert _error(await s.call_tool("start", {}))["code"] == "SESSION_ALREADY_ACTIVE"

            bad = _error(await s.call_tool("update", {"text": "x", "progress": 140}))
            assert bad["code"] == "INVALID_PARAMETERS" and "progress" in bad["message"] and "140" in bad["message"]
            blank = _error(await s.call_tool("update", {"text": "   "}))
            assert blank["code"] == "INVALID_PARAMETERS" and "text" in blank["message"]
            missing = _error(await s.call_tool("decide", {}))
            assert missing["code"] == "INVALID_PARAMETERS" and "text" in missing["message"]
            extra = _error(await s.call_tool("update", {"text": "x", "colour": "red"}))
            assert extra["code"] == "INVALID_PARAMETERS" and "colour" in extra["message"]
            huge = _error(await s.call_tool("update", {"text": "x" * 70_000}))
            assert huge["code"] == "INVALID_PARAMETERS" and "70,000 characters" in huge["message"]
            wrong_type = _error(await s.call_tool("block", {"text": "b", "severity": "apocalyptic"}))
            assert wrong_type["code"] == "INVALID_PARAMETERS"
            assert _error(await s.call_tool("sessions", {"limit": 0}))["code"] == "INVALID_PARAMETERS"
            assert _error(await s.call_tool("sessions", {"since": "last tuesday"}))["code"] == "INVALID_PARAMETERS"

            unknown = _error(await s.call_tool("status", {"session": "no-such-session"}))
            assert unknown["code"] == "SESSION_NOT_FOUND"
            with pytest.raises(MCPError) as read_error:
                await s.read_resource("msp://sessions/no-such-session")
            assert read_error.value.error.data["code"] == "SESSION_NOT_FOUND"
            with pytest.raises(MCPError):
                await s.read_resource("msp://nothing/here")
            with pytest.raises(MCPError):
                await s.call_tool("frobnicate", {})

            assert _error(await s.call_tool("resolve", {"blocker": "zzz"}))["code"] == "BLOCKER_NOT_FOUND"
            _ok(await s.call_tool("block", {"text": "flaky test in CI"}))
            _ok(await s.call_tool("block", {"text": "flaky network"}))
            assert _error(await s.call_tool("resolve", {"blocker": "flaky"}))["code"] == "BLOCKER_AMBIGUOUS"
            assert _error(await s.call_tool("resolve", {"blocker": "nope"}))["code"] == "BLOCKER_NOT_FOUND"

            # Still serving, and nothing bad was stored.
            status = _ok(await s.call_tool("status", {}))
            assert status["session"]["updates"] == [] and len(status["session"]["blockers"]) == 2

    _run(body)
    assert [e["type"] for e in _events(project_dir)] == ["session_started", "blocker_raised", "blocker_raised"]


def test_an_unexpected_failure_is_an_internal_tool_error_not_a_crash(project_dir: Path, msp_cli: Any) -> None:
    assert msp_cli("start").code == 0

    async def body() -> None:
        async with mcp_session(project_dir) as s:
            _ok(await s.call_tool("queue_status", {}))
            # Break the store under the running server: the outbox table disappears.
            with sqlite3.connect(project_dir / ".msp" / "msp.db") as db:
                db.execute("DROP TABLE actions")
            error = _error(await s.call_tool("queue_status", {}))
            assert error["code"] == "INTERNAL" and "no such table" in error["message"]
            # The server is still up and the rest still works.
            listed = _ok(await s.call_tool("sessions", {}))
            assert len(listed["sessions"]) == 1

    _run(body)


# --- the CLI and the server on one project ---------------------------------------------------


def test_the_server_sees_a_concurrent_cli_update(project_dir: Path, msp_cli: Any) -> None:
    async def body() -> None:
        async with mcp_session(project_dir) as s:
            sid = _ok(await s.call_tool("start", {"goal": "g"}))["event"]["session_id"]
            _ok(await s.call_tool("update", {"text": "from the assistant", "progress": 20}))
            r = await anyio.to_thread.run_sync(lambda: msp_cli("update", "from the terminal", "55", "--json"))
            assert r.code == 0, r.err
            assert r.json()["event"]["session_id"] == sid
            status = _ok(await s.call_tool("status", {}))
            assert [u["text"] for u in status["session"]["updates"]] == ["from the assistant", "from the terminal"]
            assert status["session"]["progress"] == 55
            active = (await _read(s, "msp://session/active"))["session"]
            assert active["progress"] == 55
            _ok(await s.call_tool("end", {}))

    _run(body)
    sources = [(e["type"], e["source"]) for e in _events(project_dir)]
    assert sources == [("session_started", "mcp"), ("progress_updated", "mcp"), ("progress_updated", "cli"),
                       ("session_closed", "mcp")]


def test_mcp_and_cli_writing_at_once_lose_and_double_nothing(
    project_dir: Path, plugins: dict[str, str], msp_cli: Any
) -> None:
    n_cli, max_mcp = 6, 2000
    assert msp_cli("start", "--goal", "race", env=plugins).code == 0
    cli_env = {**os.environ, **plugins, "MSP_DIR": str(project_dir / ".msp")}
    acked: list[str] = []

    async def body() -> None:
        async with mcp_session(project_dir, env=plugins) as s:
            cli_done = anyio.Event()

            async def mcp_writer() -> None:
                # Keeps recording while the CLI processes run, and once more after they are done,
                # so the two kinds of writer overlap whatever the machine's speed.
                while len(acked) < max_mcp:
                    last = cli_done.is_set()
                    text = f"mcp {len(acked)}"
                    _ok(await s.call_tool("update", {"text": text}))
                    acked.append(text)
                    if last:
                        return

            async def cli_writers() -> None:
                async def one(i: int) -> None:
                    done = await anyio.run_process([MSP_BIN, "update", f"cli {i}"], env=cli_env, cwd=project_dir,
                                                   check=False)
                    assert done.returncode == 0, done.stderr.decode()

                async with anyio.create_task_group() as tg:
                    for i in range(n_cli):
                        tg.start_soon(one, i)
                cli_done.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(mcp_writer)
                tg.start_soon(cli_writers)

    _run(body)
    n_mcp = len(acked)
    assert n_mcp >= 2
    updates = [e for e in _events(project_dir) if e["type"] == "progress_updated"]
    texts = sorted(json.loads(e["data"])["text"] for e in updates)
    assert texts == sorted(acked + [f"cli {i}" for i in range(n_cli)])  # each exactly once
    assert sorted(e["source"] for e in updates) == ["cli"] * n_cli + ["mcp"] * n_mcp
    cli_seqs = [e["seq"] for e in updates if e["source"] == "cli"]
    mcp_seqs = [e["seq"] for e in updates if e["source"] == "mcp"]
    assert min(cli_seqs) < max(mcp_seqs)  # they really overlapped
    # One planned action per update (and one for the start), each tied to its own event.
    actions = [a for a in _actions(project_dir) if a["integration"] == "planner"]
    assert len(actions) == n_mcp + n_cli + 1
    update_ids = {e["id"] for e in updates}
    assert sorted(a["event_id"] for a in actions if a["event_id"] in update_ids) == sorted(update_ids)
    # Each hook saw the session as it stood, other writers' updates included: the k-th update's
    # action says k updates, whichever process planned it.
    seen_by_event = {a["event_id"]: json.loads(a["payload"])["json"]["seen"] for a in actions
                     if a["event_id"] in update_ids}
    assert [seen_by_event[e["id"]] for e in updates] == list(range(1, len(updates) + 1))


def test_the_server_records_as_its_engineer_and_shows_the_team(project_dir: Path, msp_cli: Any) -> None:
    """The MCP server is one engineer (MSP_USER / MSP_HOST as for the CLI); another's session in
    the same project is not its to record into, and the team views show both."""
    bob = {"MSP_USER": "bob", "MSP_HOST": "laptop-b"}

    async def body() -> None:
        async with mcp_session(project_dir, env={"MSP_USER": "alice", "MSP_HOST": "laptop-a"}) as s:
            mine = _ok(await s.call_tool("start", {"goal": "g"}))["session"]
            assert (mine["user"], mine["host"]) == ("alice", "laptop-a")
            r = await anyio.to_thread.run_sync(lambda: msp_cli("start", "--json", env=bob))
            theirs = r.json()["session"]
            assert r.code == 0 and theirs["id"] != mine["id"]
            assert _ok(await s.call_tool("update", {"text": "mine"}))["event"]["session_id"] == mine["id"]
            assert _ok(await s.call_tool("status", {}))["session"]["id"] == mine["id"]
            only_bob = _ok(await s.call_tool("sessions", {"user": "bob"}))["sessions"]
            assert [x["id"] for x in only_bob] == [theirs["id"]]
            own = _ok(await s.call_tool("context", {"format": "json"}))["context"]
            assert [x["id"] for x in own["sessions"]] == [mine["id"]]
            team = _ok(await s.call_tool("context", {"format": "json", "team": True}))["context"]
            assert {e["user"] for e in team["engineers"]} == {"alice", "bob"}

    _run(body)
