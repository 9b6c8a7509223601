"""The ``msp`` command line.

Kept light on purpose: only typer is imported at start-up; each command imports what it uses.
Errors print what was wrong and what to do, exit non-zero, and show a traceback only under
``--debug``. Every command takes ``--json`` and then prints exactly one JSON document.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

# The application layer the MCP server shares.
from msp._app.context import OPTIONS, Context
from msp._app.inputs import parse_date as _date
from msp._app.queue import counts_by_status as _queue_counts
from msp._app.recording import finish as _finish
from msp._app.screen import for_terminal, json_text
from msp._model.durations import format_duration, seconds_between

if TYPE_CHECKING:
    from msp._session.manager import Recorded, SessionManager

app = typer.Typer(
    name="msp",
    help="Keep your work sessions and fan them out to the tools your team uses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Show, check and change configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

JsonOpt = typer.Option(False, "--json", help="Print exactly one JSON document on stdout.")
DryRunOpt = typer.Option(False, "--dry-run", help="Print the actions it would plan; store nothing.")


#: The most rows a listing prints, and the longest look-back in days: bounds that keep a typo
#: like ``--limit 99999999999999999999`` a usage error instead of an overflow deep inside.
MAX_LIST = 100_000
MAX_DAYS = 36_500


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    """The one way a command's answer reaches stdout: ``--json`` as exact JSON (safe to print,
    see msp._app.screen), text with control characters escaped."""
    if as_json:
        sys.stdout.write(json_text(data) + "\n")
    elif text:
        shown = for_terminal(text)
        sys.stdout.write(shown if shown.endswith("\n") else shown + "\n")


def _say_error(message: str, hint: str | None) -> None:
    print(f"error: {for_terminal(message)}", file=sys.stderr)
    if hint:
        print(f"  hint: {for_terminal(hint)}", file=sys.stderr)


def _run(as_json: bool, body: Callable[[Context], tuple[dict[str, Any], str]]) -> None:
    """Run a command body with the error policy every command shares."""
    from msp.errors import MspError

    ctx = Context()
    code = 0
    try:
        data, text = body(ctx)
        _emit(as_json, data, text)
    except MspError as exc:
        code = exc.exit_code
        if OPTIONS.debug:
            import traceback

            traceback.print_exc()
        if as_json:
            _emit(True, {"ok": False, "error": exc.to_dict()}, "")
        _say_error(exc.message, exc.hint)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # the last line of defence: say so, keep the traceback for --debug
        code = 70
        if OPTIONS.debug:
            raise
        message = f"internal error: {type(exc).__name__}: {exc}"
        if as_json:
            _emit(True, {"ok": False, "error": {"code": "INTERNAL", "message": message,
                                                  "hint": "run again with --debug and report it"}}, "")
        _say_error(message, "run again with --debug for the traceback")
    finally:
        ctx.close()
    if code:
        raise typer.Exit(code)


def _progress(raw: str | None) -> int | str | None:
    """Accept ``40`` or ``40%`` in ASCII digits (``int()`` would also take ``٤٠``, ``4_0`` and
    a thousand digits); the model checks the range."""
    if raw is None:
        return None
    text = raw.strip().removesuffix("%")
    if not (text.isascii() and text.isdigit()):
        from msp.errors import InvalidInput

        shown = raw if len(raw) <= 20 else raw[:20] + "..."
        raise InvalidInput(
            f"progress {shown!r} is not a whole number in the digits 0-9", "give a percentage from 0 to 100, e.g. 40"
        )
    if len(text) > 3:  # out of range whatever it says; not worth echoing a thousand digits
        from msp.errors import InvalidInput

        raise InvalidInput(f"progress {text[:12] + '...' if len(text) > 12 else text} is more than 100",
                           "give a percentage from 0 to 100, e.g. 40")
    return int(text)


def _recording(as_json: bool, dry_run: bool, act: Callable[[SessionManager], Recorded]) -> None:
    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        return _finish(ctx, act(ctx.manager))  # past the commit: warnings, never a failure

    _run(as_json, body)


# --- commands --------------------------------------------------------------------------------


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logging."),
) -> None:
    OPTIONS.debug = debug


@app.command()
def init(as_json: bool = JsonOpt) -> None:
    """Create .msp/ here with a commented config.toml."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._config import init_project

        msp_dir, created = init_project(Path.cwd())
        ctx.store  # noqa: B018 - creates the database and its schema now
        verb = "Created" if created else "Already set up:"
        return {"ok": True, "msp_dir": str(msp_dir), "created": created}, f"{verb} {msp_dir}"

    _run(as_json, body)


@app.command()
def start(
    project: Optional[str] = typer.Option(None, "--project", "-p", help="Project name."),  # noqa: UP045
    goal: Optional[str] = typer.Option(None, "--goal", "-g", help="What this session is for."),  # noqa: UP045
    progress: Optional[str] = typer.Option(None, "--progress", help="Progress at start, 0-100."),  # noqa: UP045
    issue: Optional[str] = typer.Option(None, "--issue", help="Issue key, e.g. ENG-123."),  # noqa: UP045
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Start a work session."""
    _recording(
        as_json, dry_run,
        lambda m: m.start({"project": project, "goal": goal, "progress": _progress(progress), "issue": issue},
                          dry_run=dry_run),
    )


@app.command()
def update(
    text: str = typer.Argument(..., help="What happened."),
    progress: Optional[str] = typer.Argument(None, help="Percent complete, 0-100."),  # noqa: UP045
    tag: list[str] = typer.Option([], "--tag", "-t", help="A tag; repeat for more."),
    no_detect: bool = typer.Option(
        False, "--no-detect", help="Record only the update: skip noticing decisions, blockers and entities."
    ),
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Record progress. Decisions, blockers and entities the text names are recorded too
    (config [detect]); each is printed with its id, for `msp retract ID`."""
    _recording(
        as_json, dry_run,
        lambda m: m.update({"text": text, "progress": _progress(progress), "tags": tag}, dry_run=dry_run,
                           detect=not no_detect),
    )


@app.command()
def decide(
    text: str = typer.Argument(..., help="What was decided."),
    rationale: Optional[str] = typer.Option(None, "--rationale", "-r", help="Why."),  # noqa: UP045
    alternative: list[str] = typer.Option([], "--alternative", "-a", help="An option not taken; repeat."),
    impact: Optional[str] = typer.Option(None, "--impact", help="low, medium or high."),  # noqa: UP045
    category: Optional[str] = typer.Option(None, "--category", "-c", help="e.g. architecture."),  # noqa: UP045
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Record a decision."""
    _recording(
        as_json, dry_run,
        lambda m: m.decide({"text": text, "rationale": rationale, "alternatives": alternative,
                            "impact": impact, "category": category}, dry_run=dry_run),
    )


@app.command()
def entity(
    name: str = typer.Argument(..., help="The entity's name."),
    type_: Optional[str] = typer.Option(None, "--type", help="e.g. module, service, table."),  # noqa: UP045
    path: Optional[str] = typer.Option(None, "--path", help="Where it lives."),  # noqa: UP045
    description: Optional[str] = typer.Option(None, "--description", "-d", help="What it is."),  # noqa: UP045
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Record an entity you created or touched."""
    _recording(
        as_json, dry_run,
        lambda m: m.entity({"name": name, "type": type_, "path": path, "description": description}, dry_run=dry_run),
    )


@app.command()
def block(
    text: str = typer.Argument(..., help="What blocks you."),
    category: Optional[str] = typer.Option(None, "--category", help="technical, external or resource."),  # noqa: UP045
    severity: Optional[str] = typer.Option(None, "--severity", help="low, medium or high."),  # noqa: UP045
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Raise a blocker."""
    _recording(
        as_json, dry_run,
        lambda m: m.block({"text": text, "category": category, "severity": severity}, dry_run=dry_run),
    )


@app.command()
def resolve(
    blocker: str = typer.Argument(..., metavar="ID-OR-UNIQUE-TEXT", help="Blocker id, id prefix or unique text."),
    solution: Optional[str] = typer.Option(None, "--solution", "-s", help="How it was resolved."),  # noqa: UP045
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Resolve an open blocker."""
    _recording(
        as_json, dry_run,
        lambda m: m.resolve({"blocker": blocker, "solution": solution}, dry_run=dry_run),
    )


@app.command()
def end(
    summary: Optional[str] = typer.Option(None, "--summary", "-s", help="What the session achieved."),  # noqa: UP045
    progress: Optional[str] = typer.Option(None, "--progress", help="Final progress, 0-100."),  # noqa: UP045
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """End the active session; prints its duration and progress delta."""

    def describe(rec: Recorded) -> str:
        row = rec.session
        assert row is not None
        # Never negative, even when the clock moved back since the session started.
        seconds = seconds_between(row.started_at, rec.event.at)
        delta = row.progress - row.start_progress
        return (f"Closed session {row.id} after {format_duration(seconds)}; progress {row.start_progress}% -> "
                f"{row.progress}% ({delta:+d})")

    def extra(rec: Recorded, data: dict[str, Any]) -> None:
        row = rec.session
        if row is not None:
            data["duration_seconds"] = seconds_between(row.started_at, rec.event.at)
            data["progress_delta"] = row.progress - row.start_progress

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        rec = ctx.manager.end({"summary": summary, "progress": _progress(progress)}, dry_run=dry_run)
        return _finish(ctx, rec, describe, extra)

    _run(as_json, body)


@app.command()
def status(as_json: bool = JsonOpt) -> None:
    """Show the active session."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from datetime import UTC

        session = None
        with ctx.store.read() as tx:
            rows = tx.active_sessions()
            if rows:
                session = tx.load_session(rows[-1].id)
        queue = _queue_counts(ctx)
        if session is None:
            return {"ok": True, "active": None, "queue": queue}, "No active session. Start one with `msp start`."
        now = datetime.now(UTC)
        data = {"ok": True, "active": session.model_dump(mode="json"), "queue": queue,
                "duration_seconds": session.duration_seconds(now)}
        lines = [
            f"Session {session.id} ({session.project}), active for {format_duration(session.duration_seconds(now))}",
            f"Progress {session.start_progress}% -> {session.progress}%",
            f"{len(session.updates)} updates, {len(session.decisions)} decisions, "
            f"{len(session.entities)} entities, {len(session.open_blockers)} open blockers",
        ]
        if session.goal:
            lines.insert(1, f"Goal: {session.goal}")
        if queue:
            lines.append("Queue: " + ", ".join(f"{k} {v}" for k, v in sorted(queue.items())))
        return data, "\n".join(lines)

    _run(as_json, body)


@app.command()
def sessions(
    project: Optional[str] = typer.Option(None, "--project", "-p"),  # noqa: UP045
    since: Optional[str] = typer.Option(None, "--since", help="YYYY-MM-DD, ISO time, or 7d."),  # noqa: UP045
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=MAX_LIST),
    as_json: bool = JsonOpt,
) -> None:
    """List sessions, newest first."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._session.manager import _row_dict

        rows = ctx.manager.sessions(project, _date(since), limit)
        lines = [
            f"{r.id}  {r.status:<6}  {r.project}  {r.start_progress}% -> {r.progress}%  {r.goal or ''}".rstrip()
            for r in rows
        ] or ["No sessions."]
        return {"ok": True, "sessions": [_row_dict(r) for r in rows]}, "\n".join(lines)

    _run(as_json, body)


@app.command()
def show(
    session: str = typer.Argument(..., help="Session id or a unique prefix of it."),
    as_json: bool = JsonOpt,
) -> None:
    """Show one session in full."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        s = ctx.manager.get(session)
        lines = [f"Session {s.id} ({s.project}) {s.status}", f"Progress {s.start_progress}% -> {s.progress}%"]
        if s.goal:
            lines.append(f"Goal: {s.goal}")
        for u in s.updates:
            lines.append(f"  update   {u.text}" + (f" [{u.progress}%]" if u.progress is not None else ""))
        def marks(item: Any) -> str:  # detected in an update, taken back with `msp retract`
            return (" [detected]" if item.detected else "") + (" [retracted]" if item.is_retracted else "")

        for d in s.decisions:
            lines.append(f"  decision {d.id}: {d.text}" + (f" (why: {d.rationale})" if d.rationale else "") + marks(d))
        for e in s.entities:
            lines.append(f"  entity   {e.id}: {e.name}" + marks(e))
        for b in s.blockers:
            state = "open" if b.is_open else f"resolved: {b.solution or ''}"
            lines.append(f"  blocker  {b.id}: {b.text} ({state})" + marks(b))
        if s.summary:
            lines.append(f"Summary: {s.summary}")
        return {"ok": True, "session": s.model_dump(mode="json")}, "\n".join(lines)

    _run(as_json, body)


@app.command()
def context(
    format_: str = typer.Option("ai", "--format", "-f", help="ai, markdown or json."),
    days: int = typer.Option(7, "--days", min=1, max=MAX_DAYS),
    project: Optional[str] = typer.Option(None, "--project", "-p"),  # noqa: UP045
    as_json: bool = JsonOpt,
) -> None:
    """The recall view to paste into an AI assistant."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from datetime import UTC

        from msp._session.context import build_context, render_ai, render_markdown
        from msp.errors import InvalidInput

        if format_ not in ("ai", "markdown", "json"):
            raise InvalidInput(f"format {format_!r} is not known", "use ai, markdown or json")
        data = build_context(ctx.store, project or ctx.project.name, days, datetime.now(UTC))
        if not data["sessions"]:
            from msp._app.health import confirm_sound

            confirm_sound(ctx)  # "nothing recorded" must not be a damaged store's silence
        if format_ == "json" or as_json:
            return {"ok": True, "context": data}, json_text(data)
        text = render_ai(data) if format_ == "ai" else render_markdown(data)
        return {"ok": True, "context": data}, text

    _run(as_json, body)


@app.command()
def recover(
    session: Optional[str] = typer.Argument(None, help="The session to recover."),  # noqa: UP045
    list_: bool = typer.Option(False, "--list", help="List sessions left active."),
    resume: bool = typer.Option(False, "--resume", help="Continue the session."),
    close: bool = typer.Option(False, "--close", help="Close it at its last recorded moment."),
    as_json: bool = JsonOpt,
) -> None:
    """Sessions left active by a crash or older than the configured timeout."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._session.manager import _row_dict
        from msp.errors import InvalidInput

        if list_ or session is None:
            if resume or close:
                raise InvalidInput("--resume and --close need a SESSION", "see `msp recover --list`")
            rows = ctx.manager.stale()
            listing = [{**_row_dict(r), "stale": stale} for r, stale in rows]
            lines = [f"{r.id}  {r.project}  last activity {r.last_at:%Y-%m-%d %H:%M} UTC"
                     + ("  (older than the timeout)" if stale else "") for r, stale in rows]
            return {"ok": True, "sessions": listing}, "\n".join(lines) or "No sessions are left active."
        if resume == close:
            example = shlex.join(["msp", "recover", session, "--close"])
            raise InvalidInput("choose one of --resume or --close", f"e.g. `{example}`")
        rec = ctx.manager.recover(session, close=close)
        data, _ = _finish(ctx, rec)
        return data, rec.said

    _run(as_json, body)


# --- config ----------------------------------------------------------------------------------


@config_app.command("show")
def config_show(as_json: bool = JsonOpt) -> None:
    """Print the effective configuration."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._logging import redact

        data = redact(ctx.project.config.model_dump(mode="json"))
        text = _as_toml(data, f"{ctx.project.config_path}")
        return {"ok": True, "config": data, "path": str(ctx.project.config_path)}, text

    _run(as_json, body)


def _as_toml(data: dict[str, Any], source: str) -> str:
    """The effective config as a TOML document that reads back as it: tomlkit quotes keys and
    strings, and a key with no value (TOML has no null) is shown as a comment instead."""
    import tomlkit

    def fill(table: Any, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if value is None:
                table.add(tomlkit.comment(f"{key} is not set"))
            elif isinstance(value, dict) and not value:
                table.add(tomlkit.comment(f"[{key}] is empty"))
            elif isinstance(value, dict):
                # a table of tables only (like [integrations]) prints just its [a.b] headers
                sub = tomlkit.table(is_super_table=all(isinstance(v, dict) and v for v in value.values()))
                fill(sub, value)
                table.add(key, sub)
            elif isinstance(value, list):
                table.add(key, [v for v in value if v is not None])
            else:
                table.add(key, value)

    doc = tomlkit.document()
    doc.add(tomlkit.comment(source))
    fill(doc, data)
    return tomlkit.dumps(doc).rstrip("\n")


@config_app.command("validate")
def config_validate(as_json: bool = JsonOpt) -> None:
    """Check the config, including each integration's section against its schema."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._plugins.host import build_host
        from msp.errors import ConfigError

        project = ctx.project  # parses and checks the core keys
        host = build_host(project.config.integrations, hook_timeout_ms=project.config.plugins.hook_timeout_ms,
                          project_root=project.root)
        problems = [f"integrations.{b.name}: {b.error}" for b in host.broken]
        if problems:
            raise ConfigError("; ".join(problems), "fix the keys named above in " + str(project.config_path))
        names = sorted(host.integrations)
        text = f"{project.config_path}: ok" + (f" (integrations: {', '.join(names)})" if names else "")
        return {"ok": True, "path": str(project.config_path), "integrations": names}, text

    _run(as_json, body)


@config_app.command("set")
def config_set(
    key: str = typer.Argument(..., help="section.key, e.g. dispatch.mode"),
    value: str = typer.Argument(..., help="A TOML value: true, 12, \"text\" (bare text is a string)."),
    as_json: bool = JsonOpt,
) -> None:
    """Set a key in the project's config.toml, keeping its comments."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._config import set_value

        stored = set_value(ctx.project, key, value)
        return {"ok": True, "key": key, "value": stored}, f"{key} = {json.dumps(stored)}"

    _run(as_json, body)


def _only_the_invoked_command(argv: list[str]) -> None:
    """Keep just the command being run on the app. typer builds a click command for every
    registered command before parsing; for a one-line `msp update` that is most of msp's own
    start-up. Help, a bare `msp` and unknown names keep everything, so listings stay whole."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    if name is None or "--help" in argv[: argv.index(name)]:
        return
    commands = [c for c in app.registered_commands if (c.name or _command_name(c)) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if commands or groups:
        app.registered_commands = commands
        app.registered_groups = groups


def _command_name(info: Any) -> str:
    from typer.main import get_command_name

    return get_command_name(info.callback.__name__) if info.callback else ""


def _core_command(argv: list[str]) -> bool:
    """Whether the command line names one of msp's own commands (so no plugin is imported)."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    if name is None:
        return False  # a bare `msp` or `msp --help`: the listing includes plugins' commands
    own = {c.name or _command_name(c) for c in app.registered_commands} | {g.name for g in app.registered_groups}
    return name in own


def _add_plugin_commands() -> None:
    """Let installed integrations add their subcommands (``msp_register_commands``). A broken
    one is a warning naming it; msp's own commands and the other plugins' still work."""
    from msp._plugins.host import add_commands

    for failed in add_commands(app):
        print(f"warning: integration {failed.name!r} could not add its commands: {failed.error}", file=sys.stderr)


def _skip_pydantic_plugin_discovery() -> None:
    """With plugins disabled, pydantic still imports its plugin loader the first time it builds
    a validator, and that module imports ``importlib.metadata`` (with email, csv and zipfile):
    about 10 ms of a 170 ms ``msp update``, for a lookup whose answer is already "none". An
    empty loader answers the same without the import. Only when every plugin is disabled, and
    only if pydantic has not loaded its own yet."""
    import os
    import types

    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") not in ("__all__", "1", "true"):
        return
    name = "pydantic.plugin._loader"
    if name not in sys.modules:
        loader: Any = types.ModuleType(name)
        loader.get_plugins = tuple  # () : no plugins
        sys.modules[name] = loader


def main() -> None:
    import os

    # msp's own models need no pydantic plugins; looking for them scans every installed
    # distribution's metadata, a sizeable share of a short command's start-up.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _skip_pydantic_plugin_discovery()
    if not _core_command(sys.argv[1:]):
        _add_plugin_commands()
    _only_the_invoked_command(sys.argv[1:])
    if "--json" not in sys.argv[1:]:
        app()
        return
    # With --json even a command line that doesn't parse (a missing argument, --limit 0) answers
    # with one JSON document on stdout, besides click's usual message on stderr.
    try:
        code = app(standalone_mode=False)
    except Exception as exc:
        show = getattr(exc, "show", None)
        if not (callable(show) and hasattr(exc, "format_message")):  # not a click usage error
            raise
        show()
        usage_code = getattr(exc, "exit_code", 2)
        command = getattr(getattr(exc, "ctx", None), "command_path", "msp")
        _emit(True, {"ok": False, "error": {"code": "USAGE", "message": exc.format_message(),
                                             "hint": f"see `{command} --help`"}}, "")
        raise SystemExit(usage_code) from None
    raise SystemExit(code if isinstance(code, int) else 0)


# Command groups live in their own modules; importing them registers their commands on `app`.
# They import only typer and msp's light modules at import time. (`msp mcp` is added by
# msp._main, above both front-ends: the CLI never imports the MCP server.)
from msp._cli import dispatch, plugins, retract, store  # noqa: E402, F401
