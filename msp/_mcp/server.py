"""The MCP server: an AI assistant records and recalls sessions through the same API as the CLI.

``msp mcp`` serves the Model Context Protocol on stdin/stdout with the official ``mcp`` SDK's
low-level server. Every tool that records goes through :class:`msp._session.manager.SessionManager`
(source ``"mcp"``) over the project's SQLite store and plugin host, exactly as a CLI command
does, so an MCP server and CLI commands on one project lose and double nothing.

Threads: the protocol runs in an asyncio loop on a helper thread; the store, the session
manager and the plugin host live on the main thread, which runs one store job at a time from a
queue. One connection, used serially by the thread that opened it; and hooks run in the main
thread, so their time budget (a SIGALRM timer) is enforced just as for the CLI.

Tool input schemas are the JSON Schemas of the pydantic models the CLI validates with; bad
input and state errors come back as tool results with ``isError`` set and the error's ``code``,
``message`` and ``hint`` (the suggestion), never as a crash.

This module imports ``mcp`` at the top: only ``msp mcp`` (and tests) import it.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel, ConfigDict, Field

from msp._app.context import OPTIONS, Context
from msp._app.inputs import parse_date
from msp._app.queue import counts_by_status
from msp._app.recording import finish
from msp._app.screen import for_terminal, json_text
from msp._model.durations import format_duration, seconds_between
from msp._model.identity import label
from msp._model.models import (
    BlockerInput,
    DecisionInput,
    EndInput,
    EntityInput,
    GoalInput,
    Label,
    ResolveInput,
    StartInput,
    UpdateInput,
)
from msp._session.manager import Recorded, SessionManager, _row_dict, validate
from msp._version import __version__
from msp.errors import MspError

T = TypeVar("T")

#: Recall window for the ``resume`` prompt and the recent-decisions resource.
DEFAULT_DAYS = 7

URI_ACTIVE = "msp://session/active"
URI_DECISIONS = "msp://decisions/recent"
URI_BLOCKERS = "msp://blockers/open"
URI_SESSION_TEMPLATE = "msp://sessions/{id}"
_SESSION_PREFIX = "msp://sessions/"

INSTRUCTIONS = """\
msp keeps the engineer's work sessions. Call `start` when work begins (with a goal), `update` \
as progress is made (text, and progress 0-100 when you can tell), `decide` for every decision \
with its rationale and the alternatives not taken, `entity` for modules/services/tables created \
or changed, `block` when something blocks progress and `resolve` when it is unblocked, and `end` \
with a summary when the work stops. `context` (or the `resume` prompt) recalls recent sessions, \
decisions and open blockers so you can pick up where the last session stopped. Errors come back \
with a `code` and a `hint`: follow the hint (for example `start` a session before `update`)."""


# --- inputs of the read tools (the recording tools use msp._model.models' input models) -----------


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StatusQuery(_Query):
    """Show the active session in full, or the session with the given id."""

    session: Label | None = Field(
        None, description="Session id or a unique prefix of it; default: the active session.",
    )


class ContextQuery(_Query):
    """The recall view: where the last session stopped, decisions, open blockers, recent sessions."""

    days: int = Field(DEFAULT_DAYS, ge=1, le=3650, description="How many days back to look.")
    project: Label | None = Field(None, description="Project name; default: this project.")
    format: Literal["ai", "markdown", "json"] = Field(
        "ai", description="ai (a preface for an assistant plus markdown), markdown, or json."
    )
    team: bool = Field(False, description="Every engineer's recent work on the project, not only yours.")


class SessionsQuery(_Query):
    """List sessions, newest first."""

    project: Label | None = Field(None, description="Only this project.")
    since: Label | None = Field(None, description="YYYY-MM-DD, an ISO time, or 7d for 7 days ago.")
    limit: int = Field(20, ge=1, le=500, description="At most this many sessions.")
    user: Label | None = Field(None, description="Only this engineer's sessions (their user name).")


class QueueQuery(_Query):
    """Counts of the outbox's actions by status, overall and per integration."""


# --- the store side: context and the thread that owns the connection ------------------------


class McpContext(Context):
    """The application layer's Context, recording with source ``"mcp"``."""

    def __init__(self) -> None:
        super().__init__(source="mcp")


class StoreWorker:
    """Runs store jobs one at a time on the thread that calls :meth:`run_until_stopped`."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        fut: Future[T] = Future()
        self._jobs.put((fn, fut))
        return fut

    async def call(self, fn: Callable[[], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def stop(self) -> None:
        self._jobs.put(None)

    def run_until_stopped(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, fut = job
            if not fut.set_running_or_notify_cancel():
                continue  # the caller went away before the job started
            try:
                result = fn()
            except BaseException as exc:
                fut.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                fut.set_result(result)


# --- tools -----------------------------------------------------------------------------------

Body = Callable[[McpContext, dict[str, Any]], tuple[dict[str, Any], str]]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    model: type[BaseModel]
    writes: bool
    body: Body

    def tool(self) -> types.Tool:
        description = " ".join(filter(None, [(self.model.__doc__ or self.title).strip(), GUIDES.get(self.name)]))
        return types.Tool(
            name=self.name,
            title=self.title,
            description=description,
            input_schema=self.model.model_json_schema(),
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=not self.writes,
                destructive_hint=False,
                idempotent_hint=not self.writes,
                # What is recorded fans out to the team's tools through the enabled integrations.
                open_world_hint=self.writes,
            ),
        )


#: When to call each tool, appended to its model's docstring in the tool's description.
GUIDES = {
    "start": "Call when work begins. One session is active at a time; progress defaults to where the "
             "project's last session ended.",
    "update": "Call as work progresses: what happened and, when you can tell, the overall percent complete. "
              "Needs an active session.",
    "decide": "Record each decision with its rationale and the alternatives not taken, so later sessions "
              "can respect it.",
    "entity": "Needs an active session.",
    "block": "A blocker stays open, across sessions, until resolved.",
    "resolve": "Open blockers and their ids are in `status` and the msp://blockers/open resource.",
    "goal": "Call when the session's aim changes; integrations hear the new goal.",
    "end": "Call when the work stops, with a summary of what was achieved and the final progress.",
    "status": "Includes the delivery queue's counts.",
    "context": "Call when work begins to pick up where the last session stopped.",
    "sessions": "Each with its status and progress.",
    "queue_status": "Actions wait in the queue until delivered to the integrations' tools.",
}


def _recording(act: Callable[[SessionManager, dict[str, Any]], Recorded]) -> Body:
    def body(ctx: McpContext, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
        return finish(ctx, act(ctx.manager, args))  # past the commit: warnings, never an error

    return body


def _start(ctx: McpContext, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Start, then say where the project's last session stopped (as ``msp start`` does)."""
    from msp._app.recall import last_stop

    rec = ctx.manager.start(args)
    data, text = finish(ctx, rec)
    try:  # past the commit: a recall that fails is a warning, never a failed start
        data["recall"], lines = last_stop(ctx, rec.event.project, before=rec.event.session_id)
    except Exception as exc:
        data["recall"] = None
        data["warnings"].append(f"the session started, but recalling the last one failed: {exc}")
        return data, text
    return data, "\n".join([text, *lines])


def _end(ctx: McpContext, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
    def describe(rec: Recorded) -> str:
        row = rec.session
        if row is None:
            return rec.said
        seconds = seconds_between(row.started_at, rec.event.at)  # never negative
        return (f"Closed session {row.id} after {format_duration(seconds)}; progress {row.start_progress}% -> "
                f"{row.progress}% ({row.progress - row.start_progress:+d})")

    def extra(rec: Recorded, data: dict[str, Any]) -> None:
        row = rec.session
        if row is not None:
            data["duration_seconds"] = seconds_between(row.started_at, rec.event.at)
            data["progress_delta"] = row.progress - row.start_progress

    return finish(ctx, ctx.manager.end(args), describe, extra)


def _status(ctx: McpContext, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
    query = validate(StatusQuery, args)
    now = datetime.now(UTC)
    counts = counts_by_status(ctx)
    data: dict[str, Any]
    if query.session is not None:
        session = ctx.manager.get(query.session)
    else:
        row = ctx.manager.active()
        if row is None:
            data = {"ok": True, "session": None, "queue": counts}
            return data, "No active session. Start one with the `start` tool."
        session = ctx.manager.get(row.id)
    data = {"ok": True, "session": session.model_dump(mode="json"), "queue": counts,
            "duration_seconds": session.duration_seconds(now)}
    lines = [
        f"Session {session.id} ({session.project}) {session.status}, "
        f"{format_duration(session.duration_seconds(now))}",
        f"Progress {session.start_progress}% -> {session.progress}%",
        f"{len(session.updates)} updates, {len(session.decisions)} decisions, "
        f"{len(session.entities)} entities, {len(session.open_blockers)} open blockers",
    ]
    if session.goal:
        lines.insert(1, f"Goal: {session.goal}")
    if session.user is not None and ctx.shows_engineers([(session.user, session.host)]):
        lines.insert(1, f"Engineer: {session.user}@{session.host}")
    for b in session.open_blockers:
        lines.append(f"Open blocker {b.id}: {b.text}")
    return data, "\n".join(lines)


def _context(ctx: McpContext, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
    from msp._session.context import build_context, render_ai, render_markdown

    query = validate(ContextQuery, args)
    from msp._app.recall import context_project

    project, _ = context_project(ctx, query.project)
    data = build_context(ctx.store, project, query.days, datetime.now(UTC), user=ctx.engineer.user, team=query.team)
    if not data["sessions"]:
        from msp._app.health import confirm_sound

        confirm_sound(ctx)  # "nothing recorded" must not be a damaged store's silence
    if query.format == "json":
        text = json_text(data)
    else:
        text = render_ai(data) if query.format == "ai" else render_markdown(data)
    return {"ok": True, "context": data}, text


def _sessions(ctx: McpContext, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
    query = validate(SessionsQuery, args)
    rows = ctx.manager.sessions(query.project, parse_date(query.since), query.limit, user=query.user)
    who = ctx.shows_engineers((r.user, r.host) for r in rows)
    lines = [
        f"{r.id}  {r.status:<6}  {r.project}  " + (f"{label(r.user, r.host) or '-'}  " if who else "")
        + f"{r.start_progress}% -> {r.progress}%  {r.goal or ''}".rstrip()
        for r in rows
    ] or ["No sessions."]
    return {"ok": True, "sessions": [_row_dict(r) for r in rows]}, "\n".join(lines)


def queue_counts(ctx: Context) -> dict[str, Any]:
    """The outbox by status, overall and per integration, and how many pending actions are due now,
    read in one snapshot of the store's outbox."""
    from msp._store.outbox_rules import now_ms

    with ctx.store.read() as tx:
        by_status = tx.outbox.counts()
        due_now = tx.outbox.pending_due(now_ms())
        by_integration = tx.outbox.counts_by_integration()
    return {"by_status": by_status, "by_integration": by_integration, "due_now": due_now}


def _queue_status(ctx: McpContext, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
    validate(QueueQuery, args)
    counts = queue_counts(ctx)
    by_status: dict[str, int] = counts["by_status"]
    total = sum(by_status.values())
    text = "Queue: " + (", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) if total else "empty")
    if counts["due_now"]:
        text += f" ({counts['due_now']} due now)"
    return {"ok": True, "total": total, **counts}, text


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("start", "Start a work session", StartInput, True, _start),
    ToolSpec("update", "Record progress", UpdateInput, True, _recording(lambda m, a: m.update(a))),
    ToolSpec("decide", "Record a decision", DecisionInput, True, _recording(lambda m, a: m.decide(a))),
    ToolSpec("entity", "Record an entity", EntityInput, True, _recording(lambda m, a: m.entity(a))),
    ToolSpec("block", "Raise a blocker", BlockerInput, True, _recording(lambda m, a: m.block(a))),
    ToolSpec("resolve", "Resolve a blocker", ResolveInput, True, _recording(lambda m, a: m.resolve(a))),
    ToolSpec("goal", "Change the session's goal", GoalInput, True, _recording(lambda m, a: m.goal(a))),
    ToolSpec("end", "End the session", EndInput, True, _end),
    ToolSpec("status", "Session status", StatusQuery, False, _status),
    ToolSpec("context", "Recall recent work", ContextQuery, False, _context),
    ToolSpec("sessions", "List sessions", SessionsQuery, False, _sessions),
    ToolSpec("queue_status", "Delivery queue", QueueQuery, False, _queue_status),
)


def tools_for(read_only: bool) -> list[ToolSpec]:
    return [t for t in TOOLS if not (read_only and t.writes)]


# --- resources and the prompt ----------------------------------------------------------------


def _default_project(ctx: McpContext) -> str:
    row = ctx.manager.active()
    return row.project if row is not None else ctx.project.name


def _read_active(ctx: McpContext) -> dict[str, Any]:
    row = ctx.manager.active()
    if row is None:
        return {"session": None}
    return {"session": ctx.manager.get(row.id).model_dump(mode="json")}


def _read_decisions(ctx: McpContext) -> dict[str, Any]:
    from msp._session.context import build_context

    project = _default_project(ctx)
    data = build_context(ctx.store, project, DEFAULT_DAYS, datetime.now(UTC))
    return {"project": project, "window_days": DEFAULT_DAYS, "decisions": data["decisions"]}


def _read_blockers(ctx: McpContext) -> dict[str, Any]:
    project = _default_project(ctx)
    with ctx.store.read() as tx:
        open_ = tx.open_blockers(project)
    return {"project": project,
            "open_blockers": [{"id": b.id, "session": b.session_id, "text": b.text} for b in open_]}


def _read_session(ctx: McpContext, session_id: str) -> dict[str, Any]:
    return {"session": ctx.manager.get(session_id).model_dump(mode="json")}


RESOURCES: dict[str, tuple[str, str, Callable[[McpContext], dict[str, Any]]]] = {
    URI_ACTIVE: ("Active session", "The active session in full (null when none is active).", _read_active),
    URI_DECISIONS: ("Recent decisions", f"Decisions of the last {DEFAULT_DAYS} days, newest first.",
                    _read_decisions),
    URI_BLOCKERS: ("Open blockers", "Blockers not yet resolved in the current project.", _read_blockers),
}

PROMPT_NAME = "resume"


def _resume_prompt(ctx: McpContext, arguments: dict[str, str]) -> str:
    from msp._session.context import build_context, render_ai
    from msp.errors import InvalidInput

    unknown = sorted(set(arguments) - {"project", "days"})
    if unknown:
        raise InvalidInput(f"unknown prompt argument(s): {', '.join(unknown)}", "use project and days")
    raw_days = arguments.get("days") or str(DEFAULT_DAYS)
    try:
        days = int(raw_days)
    except ValueError:
        raise InvalidInput(f"days {raw_days!r} is not a whole number", "give a number of days, e.g. 7") from None
    query = validate(ContextQuery, {"days": days, "project": arguments.get("project") or None})
    # Resuming is the caller's own work (the `context` tool's team view shows everyone's).
    data = build_context(ctx.store, query.project or ctx.project.name, query.days, datetime.now(UTC),
                         user=ctx.engineer.user)
    return render_ai(data)


# --- the server ------------------------------------------------------------------------------


def _json(data: Any) -> str:
    return json_text(data)


def error_result(error: dict[str, Any]) -> types.CallToolResult:
    """A tool error: the code, message and hint as structured content and as text."""
    data = {"ok": False, "error": error}
    lines = f"{error['code']}: {error['message']}" + (f"\nsuggestion: {error['hint']}" if error.get("hint") else "")
    return types.CallToolResult(
        content=[types.TextContent(text=for_terminal(lines)), types.TextContent(text=_json(data))],
        structured_content=data,
        is_error=True,
    )


def _internal(exc: BaseException, where: str) -> dict[str, Any]:
    from msp._logging import get_log

    get_log().log("error", "mcp internal error", where=where, error=f"{type(exc).__name__}: {exc}")
    if OPTIONS.debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    return {"code": "INTERNAL", "message": f"internal error: {type(exc).__name__}: {exc}",
            "hint": "run `msp --debug mcp` to see the traceback on stderr, and report it"}


def build_server(ctx: McpContext, worker: StoreWorker, *, read_only: bool = False) -> Server[Any]:
    """The MCP server over one project's context; store work runs on ``worker``."""
    tools = tools_for(read_only)
    by_name = {t.name: t for t in tools}
    writers = {t.name for t in TOOLS if t.writes}

    async def list_tools(
        rctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[t.tool() for t in tools])

    async def call_tool(
        rctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        spec = by_name.get(params.name)
        if spec is None:
            why = " (this server runs with --read-only)" if params.name in writers else ""
            raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}{why}")
        args = dict(params.arguments or {})
        try:
            data, text = await worker.call(lambda: spec.body(ctx, args))
        except MspError as exc:
            return error_result(exc.to_dict())
        except Exception as exc:  # the server never crashes on a tool
            return error_result(_internal(exc, f"tool {spec.name}"))
        # The text is for reading (a client may show it in a terminal): control characters
        # escaped. structuredContent and its JSON text keep every character exact.
        return types.CallToolResult(
            content=[types.TextContent(text=for_terminal(text)), types.TextContent(text=_json(data))],
            structured_content=data,
        )

    async def list_resources(
        rctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=[
            types.Resource(uri=uri, name=uri.removeprefix("msp://").replace("/", "-"), title=title,
                           description=description, mime_type="application/json")
            for uri, (title, description, _) in RESOURCES.items()
        ])

    async def list_templates(
        rctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=[
            types.ResourceTemplate(uri_template=URI_SESSION_TEMPLATE, name="session", title="A session",
                                   description="One session in full, by id or unique id prefix.",
                                   mime_type="application/json"),
        ])

    async def read_resource(
        rctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        reader: Callable[[], dict[str, Any]]
        if uri in RESOURCES:
            read = RESOURCES[uri][2]
            reader = lambda: read(ctx)  # noqa: E731
        elif uri.startswith(_SESSION_PREFIX) and len(uri) > len(_SESSION_PREFIX):
            session_id = uri[len(_SESSION_PREFIX):]
            reader = lambda: _read_session(ctx, session_id)  # noqa: E731
        else:
            raise MCPError(types.INVALID_PARAMS, f"unknown resource {uri!r}",
                           {"code": "RESOURCE_NOT_FOUND", "hint": "list resources with resources/list"})
        try:
            data = await worker.call(reader)
        except MspError as exc:
            raise MCPError(types.INVALID_PARAMS, exc.message, exc.to_dict()) from None
        except Exception as exc:
            error = _internal(exc, f"resource {uri}")
            raise MCPError(types.INTERNAL_ERROR, error["message"], error) from None
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=_json(data))]
        )

    async def list_prompts(
        rctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[
            types.Prompt(
                name=PROMPT_NAME, title="Resume work",
                description="Load the recall view (recent sessions, decisions, open blockers) to resume work.",
                arguments=[
                    types.PromptArgument(name="project", description="Project name; default: this project.",
                                         required=False),
                    types.PromptArgument(name="days", description=f"Days to look back; default {DEFAULT_DAYS}.",
                                         required=False),
                ],
            )
        ])

    async def get_prompt(
        rctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        if params.name != PROMPT_NAME:
            raise MCPError(types.INVALID_PARAMS, f"unknown prompt {params.name!r}")
        arguments = dict(params.arguments or {})
        try:
            text = await worker.call(lambda: _resume_prompt(ctx, arguments))
        except MspError as exc:
            raise MCPError(types.INVALID_PARAMS, exc.message, exc.to_dict()) from None
        except Exception as exc:
            error = _internal(exc, "prompt resume")
            raise MCPError(types.INTERNAL_ERROR, error["message"], error) from None
        return types.GetPromptResult(
            description="Recorded history of recent work sessions, to resume where they stopped.",
            messages=[types.PromptMessage(role="user", content=types.TextContent(text=for_terminal(text)))],
        )

    return Server(
        "msp",
        version=__version__,
        title="msp work sessions" + (" (read-only)" if read_only else ""),
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


def _refusal(exc: Exception) -> types.JSONRPCError:
    """The JSON-RPC answer to a line that is not a message: -32700 when it is not JSON at all,
    -32600 when it is JSON but not a JSON-RPC message. Its id is unknown, hence null."""
    from pydantic import ValidationError

    not_json = isinstance(exc, ValidationError) and any(e["type"] == "json_invalid" for e in exc.errors())
    if not_json:
        error = types.ErrorData(code=types.PARSE_ERROR, message="Parse error: the line is not valid JSON")
    else:
        error = types.ErrorData(code=types.INVALID_REQUEST, message="Invalid Request: not a JSON-RPC 2.0 message")
    return types.JSONRPCError(jsonrpc="2.0", id=None, error=error)


async def _serve_stdio(server: Server[Any]) -> None:
    """Serve on stdio, answering lines that are not JSON-RPC messages as the spec says.

    The SDK's stdio transport hands such a line to the session as an exception, which it only
    logs: the client waits forever for an answer. Here the transport's stream passes through a
    relay that answers those with a JSON-RPC error and keeps serving.
    """
    from mcp.shared.message import SessionMessage

    async with stdio_server() as (wire_in, write_stream):
        relay_in, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def relay() -> None:
            async with relay_in:
                async for item in wire_in:
                    if isinstance(item, Exception):
                        await write_stream.send(SessionMessage(_refusal(item)))
                    else:
                        await relay_in.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(relay)
            await server.run(read_stream, write_stream, server.create_initialization_options())
            tg.cancel_scope.cancel()


def serve(*, read_only: bool = False) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin.

    The project is opened (and its config checked) before anything is served, so a missing
    project or a bad config is an ordinary CLI error.
    """
    ctx = McpContext()
    try:
        ctx.manager  # noqa: B018 - project, store and plugin host, opened on this (the main) thread
        worker = StoreWorker()
        server = build_server(ctx, worker, read_only=read_only)
        failures: list[BaseException] = []

        def io() -> None:
            try:
                anyio.run(_serve_stdio, server)
            except BaseException as exc:
                failures.append(exc)
            finally:
                worker.stop()

        thread = threading.Thread(target=io, name="msp-mcp-io", daemon=True)
        thread.start()
        worker.run_until_stopped()
        thread.join(timeout=10)
        if failures:
            raise failures[0]
    finally:
        ctx.close()
