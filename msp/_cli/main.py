"""The ``msp`` command line.

Kept light on purpose: only typer is imported at start-up; each command imports what it uses.
Errors print what was wrong and what to do, exit non-zero, and show a traceback only under
``--debug``. Every command takes ``--json`` and then prints exactly one JSON document.
"""

from __future__ import annotations

import json
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
    # --install-completion / --show-completion; typer imports its completion code only when asked.
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
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


def _print_version(asked: bool) -> None:
    if asked:
        from msp._version import __version__

        print(f"msp {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and debug logging."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print msp's version and exit."),
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
    """Start a work session; prints where the project's last session stopped."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._app.recall import last_stop

        rec = ctx.manager.start({"project": project, "goal": goal, "progress": _progress(progress), "issue": issue},
                                dry_run=dry_run)
        data, text = _finish(ctx, rec)
        try:  # past the commit: a recall that fails is a warning, never a failed start
            recall, lines = last_stop(ctx, rec.event.project, before=rec.event.session_id)
        except Exception as exc:
            data["recall"] = None
            data["warnings"].append(f"the session started, but recalling the last one failed: {exc}")
            print(f"warning: {for_terminal(data['warnings'][-1])}", file=sys.stderr)
            return data, text
        data["recall"] = recall
        return data, "\n".join([text, *lines])

    _run(as_json, body)


@app.command()
def update(
    text: str = typer.Argument(..., help="What happened; - reads it from standard input."),
    progress: Optional[str] = typer.Argument(None, help="Percent complete, 0-100."),  # noqa: UP045
    progress_opt: Optional[str] = typer.Option(None, "--progress", help="Percent complete, 0-100."),  # noqa: UP045
    tag: list[str] = typer.Option([], "--tag", "-t", help="A tag; repeat for more."),
    no_detect: bool = typer.Option(
        False, "--no-detect", help="Record only the update: skip noticing decisions, blockers and entities."
    ),
    dry_run: bool = DryRunOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Record progress: `msp update TEXT 40`, or `msp update TEXT --progress 40`. Decisions,
    blockers and entities the text names are recorded too (config [detect]); each is printed
    with its id, for `msp retract ID`."""
    _recording(
        as_json, dry_run,
        lambda m: m.update({"text": _text_or_stdin(text), "progress": _progress(_one_of(progress, progress_opt)),
                            "tags": tag}, dry_run=dry_run, detect=not no_detect),
    )


def _text_or_stdin(text: str) -> str:
    """``-`` reads the text from standard input (a multi-line note, a commit body); the line
    ending a piped text is dropped, everything else is kept as given."""
    if text != "-":
        return text
    data = sys.stdin.read()
    return data.removesuffix("\n").removesuffix("\r")


def _one_of(positional: str | None, option: str | None) -> str | None:
    """Progress given once, either way; given twice it must agree."""
    if positional is not None and option is not None and positional.strip() != option.strip():
        from msp.errors import InvalidInput

        raise InvalidInput(f"progress given twice ({positional!r} and --progress {option!r})",
                           "give it once: `msp update TEXT 40` or `msp update TEXT --progress 40`")
    return positional if positional is not None else option


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
    """Resolve an open blocker; with no session active, in the session that raised it."""
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
    """End the active session; prints a short summary: time, progress, counts, and what each
    integration delivered or holds."""

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
        if rec.dry_run:
            return _finish(ctx, rec, describe, extra)
        from msp._app.recall import closing

        # Read once, after the kick (in _finish), so the counts say what is already delivered.
        summary_of: list[Any] = []

        def closed(rec: Recorded) -> Any:
            if not summary_of:
                summary_of.append(closing(ctx, rec.event.session_id, rec.event.at))
            return summary_of[0]

        def described(rec: Recorded) -> str:
            return str(closed(rec).lines[0])  # the line "(N actions queued)" is added to

        def extended(rec: Recorded, data: dict[str, Any]) -> None:
            data.update(closed(rec).data)

        data, text = _finish(ctx, rec, described, extended)
        # The rest of the summary, when it could be read (else _finish said why, and the
        # command still succeeded).
        return data, "\n".join([text, *(summary_of[0].lines[1:] if summary_of else [])])

    _run(as_json, body)


@app.command()
def status(as_json: bool = JsonOpt) -> None:
    """Show the active session (or the project's last one), the project's open blockers and the queue."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from datetime import UTC

        from msp._app.recall import status as recall_status

        found, lines = recall_status(ctx, datetime.now(UTC))
        queue = _queue_counts(ctx)
        data = {"ok": True, "active": found.pop("session", None), "queue": queue, **found}
        lines.append("Queue: " + (", ".join(f"{k} {v}" for k, v in sorted(queue.items())) if queue else "empty"))
        return data, "\n".join(lines)

    _run(as_json, body)


@app.command()
def sessions(
    project: Optional[str] = typer.Option(None, "--project", "-p"),  # noqa: UP045
    since: Optional[str] = typer.Option(None, "--since", help="YYYY-MM-DD, ISO time, or 7d."),  # noqa: UP045
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=MAX_LIST),
    user: Optional[str] = typer.Option(None, "--user", "-u", help="Only this engineer's sessions."),  # noqa: UP045
    as_json: bool = JsonOpt,
) -> None:
    """List sessions, newest first."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._model.identity import label
        from msp._session.manager import _row_dict

        if user is not None and not user.strip():
            from msp.errors import InvalidInput

            raise InvalidInput("--user is empty", "give an engineer's user name, e.g. --user alice")
        rows = ctx.manager.sessions(project, _date(since), limit, user=user.strip() if user else None)
        who = ctx.shows_engineers((r.user, r.host) for r in rows)
        lines = [
            f"{r.id}  {r.status:<6}  {r.project}  " + (f"{label(r.user, r.host) or '-'}  " if who else "")
            + f"{r.start_progress}% -> {r.progress}%  {r.goal or ''}".rstrip()
            for r in rows
        ] or ["No sessions."]
        return {"ok": True, "sessions": [_row_dict(r) for r in rows]}, "\n".join(lines)

    _run(as_json, body)


@app.command()
def show(
    session: str = typer.Argument(..., help="Session id or any unique part of it (4 characters or more)."),
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
    project: Optional[str] = typer.Option(  # noqa: UP045
        None, "--project", "-p", help="Default: the active session's project, else the newest session's."),
    team: bool = typer.Option(False, "--team", help="Every engineer's recent work on the project."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write it to this file."),  # noqa: UP045
    as_json: bool = JsonOpt,
) -> None:
    """The recall view to paste into an AI assistant: sessions, decisions, entities, open blockers
    (your own work, or with --team every engineer's)."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from datetime import UTC

        from msp._app.recall import context_project
        from msp._session.context import build_context, render_ai, render_markdown
        from msp.errors import InvalidInput

        if format_ not in ("ai", "markdown", "json"):
            raise InvalidInput(f"format {format_!r} is not known", "use ai, markdown or json")
        chosen, why = context_project(ctx, project)
        data = build_context(ctx.store, chosen, days, datetime.now(UTC), user=ctx.engineer.user, team=team)
        if not data["sessions"]:
            from msp._app.health import confirm_sound

            confirm_sound(ctx)  # "nothing recorded" must not be a damaged store's silence
        answer = {"ok": True, "project": chosen, "project_chosen": why, "context": data}
        if format_ == "json" or (as_json and output is None):
            text = json_text(data)
        else:
            text = render_ai(data) if format_ == "ai" else render_markdown(data)
        if output is not None:
            _write_output(output, text if text.endswith("\n") else text + "\n")
            return {**answer, "output": str(output)}, f"Wrote the context of project {chosen} ({why}) to {output}"
        if why != "given":  # named on stderr: stdout stays the document to paste
            print(f"context of project {for_terminal(chosen)} ({why}; --project chooses another)", file=sys.stderr)
        return answer, text

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
            import shlex

            example = shlex.join(["msp", "recover", session, "--close"])
            raise InvalidInput("choose one of --resume or --close", f"e.g. `{example}`")
        rec = ctx.manager.recover(session, close=close)
        data, _ = _finish(ctx, rec)
        return data, rec.said

    _run(as_json, body)


def _write_output(path: Path, text: str) -> None:
    """Write a command's document to ``path`` exactly as rendered (not escaped for a terminal)."""
    from msp.errors import InvalidInput

    if path.is_dir():
        raise InvalidInput(f"{path} is a directory", "give a file name, e.g. --output context.md")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}",
                           "choose a file in a folder that exists and you can write to") from None


# --- config ----------------------------------------------------------------------------------


@config_app.command("show")
def config_show(
    team: bool = typer.Option(False, "--team", help="The team's integration sections kept in the store instead."),
    as_json: bool = JsonOpt,
) -> None:
    """Print the effective configuration (with --team: the team's, from the store)."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._logging import redact

        if team:
            from msp._cli.team_config import show_team

            return show_team(ctx)

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
    if name is None or {"--help", "-h"} & set(argv[: argv.index(name)]):
        return
    commands = [c for c in app.registered_commands if (c.name or _command_name(c)) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if commands or groups:
        app.registered_commands = commands
        app.registered_groups = groups


#: The commands and groups registered by their own modules (importing one registers its
#: commands on `app`), by name: a command line imports only the module of the command it runs,
#: each of the others being a millisecond of import a one-line `msp update` never needs. (`msp
#: mcp` is added by msp._main, above both front-ends: the CLI never imports the MCP server.)
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "dispatch": ("dispatch",), "queue": ("dispatch",),
    "integrations": ("plugins",), "schema": ("plugins",), "plan": ("plugins",), "replay": ("plugins",),
    "export": ("plugins",), "install": ("plugins",),
    "store": ("store", "store_copy"), "config": ("team_config",),
    "git": ("git",), "import": ("importer",), "report": ("report",), "retract": ("retract",), "goal": ("goals",),
}


def load_commands(argv: list[str] | None = None) -> None:
    """Register the commands kept in their own modules: those ``argv`` runs, or all of them (no
    ``argv``; help, a bare ``msp``, or a name that is not msp's own, so listings stay whole)."""
    import importlib

    argv = [] if argv is None else argv
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    own = {c.name or _command_name(c) for c in app.registered_commands} | {g.name for g in app.registered_groups}
    if name is not None and not {"--help", "-h"} & set(argv[: argv.index(name)]) and (
            name in COMMAND_MODULES or name in own):
        modules: tuple[str, ...] = COMMAND_MODULES.get(name, ())
    else:
        modules = tuple(sorted({m for found in COMMAND_MODULES.values() for m in found}))
    for module in modules:
        importlib.import_module(f"msp._cli.{module}")


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


def _flags_show_no_type() -> None:
    """typer's help shows a type beside every option, ``<bool>`` for a flag such as
    ``--dry-run``, which takes no value; a flag's type column is left empty instead."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_msp_flags", False):
        return  # a typer without it, or already done

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None
        return shown(self, ctx)  # type: ignore[no-any-return]

    display_type_rich._msp_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


def main() -> None:
    import os

    # msp's own models need no pydantic plugins; looking for them scans every installed
    # distribution's metadata, a sizeable share of a short command's start-up.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _skip_pydantic_plugin_discovery()
    load_commands(sys.argv[1:])
    if not _core_command(sys.argv[1:]):
        _add_plugin_commands()
    _only_the_invoked_command(sys.argv[1:])
    _flags_show_no_type()
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
