"""CLI commands for integrations: list, doctor, new, setup; schema; plan; replay; export."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from msp._app.context import Context
from msp._app.inputs import parse_date as _date
from msp._cli.main import JsonOpt, _run, app

integrations_app = typer.Typer(help="Installed integrations: list, check, scaffold, set up.", no_args_is_help=True)
schema_app = typer.Typer(help="JSON Schemas of msp's data.", no_args_is_help=True)
app.add_typer(integrations_app, name="integrations")
app.add_typer(schema_app, name="schema")


@schema_app.command("actions")
def schema_actions(
    as_json: bool = typer.Option(True, "--json", help="Accepted for symmetry: the schema is always JSON."),
) -> None:
    """Print the JSON Schema of actions (what hooks return): the built-in kinds and those the
    project's enabled integrations register."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._config import open_project
        from msp._model.actions import actions_json_schema
        from msp._plugins.host import PluginHost, build_host

        # Outside a project the schema still prints: the core's kinds.
        project = open_project(required=False)
        if project is None:
            host = PluginHost()
        else:
            host = build_host(project.config.integrations, cache_dir=project.cache_dir, project_root=project.root)
        for failed in [*host.broken, *host.executor_errors]:
            print(f"warning: integration {failed.name!r}: {failed.error}", file=sys.stderr)
        schema = actions_json_schema(host.action_kinds())
        return schema, json.dumps(schema, indent=2)

    _run(True, body)


@integrations_app.command("list")
def integrations_list(as_json: bool = JsonOpt) -> None:
    """Installed integrations, which are enabled, and which are broken."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from importlib.metadata import entry_points

        from msp._plugins.host import ENTRY_POINT_GROUP, build_host

        config = ctx.project.config.integrations
        host = build_host(config, cache_dir=ctx.project.cache_dir,
                          project_root=ctx.project.root)
        installed = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
        broken = {b.name: b.error for b in host.broken}
        rows = []
        for name in sorted(set(installed) | set(config)):
            section = config.get(name)
            if name in host.integrations:
                state = "enabled"
            elif name in broken:
                state = "broken"
            elif section is not None and not section.get("enabled", True):
                state = "disabled"
            else:
                state = "installed" if name in installed else "not installed"
            rows.append({
                "name": name,
                "state": state,
                "provider": installed.get(name)
                or (host.integrations[name].source if name in host.integrations else None),
                "hooks": host.hooks_of(name) if name in host.integrations else [],
                "error": broken.get(name),
            })
        lines = []
        for r in rows:
            line = f"{r['name']:<14} {r['state']:<13} {r['provider'] or ''}"
            if r["error"]:
                line += f"\n{'':<14} error: {r['error']}"
            lines.append(line.rstrip())
        return {"ok": True, "integrations": rows}, "\n".join(lines) or "No integrations installed."

    _run(as_json, body)


@integrations_app.command("doctor")
def integrations_doctor(
    name: Optional[str] = typer.Argument(None, help="Check only this integration."),  # noqa: UP045
    online: bool = typer.Option(False, "--online", help="Also run each integration's probes against its service."),
    as_json: bool = JsonOpt,
) -> None:
    """Check enabled integrations: loading, config, their own checks, recent hook failures.

    Exits non-zero when any finding is a problem."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._model.findings import Finding
        from msp._plugins.host import build_host

        project = ctx.project
        sections = project.config.integrations
        host = build_host(sections, only=[name] if name else None, cache_dir=project.cache_dir,
                          project_root=project.root)
        with ctx.store.read() as tx:
            failures = tx.hook_failures(200)
            queued = tx.outbox.counts_by_integration()
        report: list[dict[str, Any]] = []
        names = [name] if name else sorted(set(sections))
        for n in names:
            findings: list[Finding] = []
            if n not in sections:
                findings.append(Finding(severity="problem", message=f"no [integrations.{n}] section in "
                                        f"{project.config_path}", fix=f"add [integrations.{n}] to enable it"))
            findings += [Finding(severity="problem", message=b.error, fix="see the message; `msp config validate` "
                                 "checks the section") for b in host.broken if b.name == n]
            findings += [Finding(severity="warning", message=e.error, fix="its own action kinds stay pending")
                         for e in host.executor_errors if e.name == n]
            if n in host.integrations:
                integration = host.integrations[n]
                hooks = ", ".join(host.hooks_of(n)) or "none"
                findings.append(Finding(severity="info", message=f"loaded from {integration.source}; hooks: {hooks}"))
                own, probes = host.doctor(n, online, project.root)
                findings += own
                if online and probes:
                    from msp._dispatch.registry import run_probes

                    findings += run_probes(host, n, probes, project.root, project.config.dispatch.timeout_s)
            waiting = {s: c for s, c in sorted(queued.get(n, {}).items())
                       if s not in ("done", "dropped", "superseded") and c}
            if waiting:
                shown = ", ".join(f"{s} {c}" for s, c in waiting.items())
                findings.append(Finding(severity="warning", message=f"{sum(waiting.values())} action(s) queued and "
                                        f"not delivered ({shown})", fix=f"`msp queue list --integration {n}` "
                                        "shows them; they are delivered once the problems above are fixed"))
            recent = [f for f in failures if f["integration"] == n][:5]
            findings += [Finding(severity="problem", message=f"{f['hook']} failed for event {f['event_id']}: "
                                 f"{f['error']}", fix="fix the integration, then back-fill with "
                                 f"`msp replay --integration {n} --since 1d`") for f in recent]
            problems = [f.message for f in findings if f.severity == "problem"]
            report.append({"name": n, "status": "problems" if problems else "ok", "problems": problems,
                           "findings": [f.model_dump(mode="json") for f in findings]})
        lines = []
        for entry in report:
            lines.append(f"{entry['name']}: {entry['status']}")
            for f in entry["findings"]:
                lines.append(f"  {f['severity']}: {f['message']}")
                if f["fix"]:
                    lines.append(f"    fix: {f['fix']}")
        if any(e["problems"] for e in report):
            from msp.errors import PluginError

            raise PluginError("\n".join(lines), "fix the problems listed above, then run the doctor again",
                              details={"integrations": report})
        return {"ok": True, "integrations": report}, "\n".join(lines) or "No integrations configured."

    _run(as_json, body)


@integrations_app.command("new")
def integrations_new(
    name: str = typer.Argument(..., help="Integration name: lowercase letters, digits, underscores."),
    directory: Optional[Path] = typer.Option(None, "--dir", help="Where to create it (default ./msp-NAME)."),  # noqa: UP045
    as_json: bool = JsonOpt,
) -> None:
    """Scaffold an installable integration package whose tests pass straight away."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._plugins.scaffold import scaffold

        target = scaffold(name, directory)
        install, test = shlex.join(["pip", "install", "-e", str(target)]), shlex.join(["pytest", f"{target}/tests"])
        text = (f"Created {target}\nNext: {install} && {test}\n"
                f"Then enable it with [integrations.{name}] in .msp/config.toml")
        return {"ok": True, "path": str(target)}, text

    _run(as_json, body)


@integrations_app.command("setup")
def integrations_setup(
    name: str = typer.Argument(..., help="The integration to set up (e.g. a graph's indexes and constraints)."),
    as_json: bool = JsonOpt,
) -> None:
    """Run an integration's one-off set-up actions now (e.g. graph indexes)."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._plugins.host import build_host
        from msp.errors import PluginError

        host = build_host(ctx.project.config.integrations, only=[name], cache_dir=ctx.project.cache_dir,
                          project_root=ctx.project.root)
        if name not in host.integrations:
            why = "; ".join(b.error for b in host.broken if b.name == name) or "not enabled in config"
            raise PluginError(f"integration {name!r} is not loaded: {why}", "see `msp integrations doctor`")
        integration = host.integrations[name]
        actions = host.setup_actions(name)
        if not actions:
            return {"ok": True, "actions": 0}, f"{name} needs no set-up."
        results = _run_setup(ctx, name, integration, actions)
        failed = [r for r in results if r["status"] != "done"]
        if failed:
            raise PluginError(f"{len(failed)} set-up action(s) failed: {failed[0]['summary']}",
                              "check the integration's connection settings and try again")
        return {"ok": True, "actions": len(results)}, f"{name}: {len(results)} set-up action(s) done."

    _run(as_json, body)


def _run_setup(ctx: Context, name: str, integration: Any, actions: list[Any]) -> list[dict[str, Any]]:
    """Queue set-up actions through the outbox (so they get the executors, credentials and
    retries of any other action) and deliver them now."""
    import hashlib

    from msp._dispatch import drain_project
    from msp._model.actions import stamp
    from msp._store.interface import PlannedAction
    from msp._store.outbox_rules import now_ms

    planned = []
    for position, action in enumerate(actions):  # already checked by host.setup_actions
        digest = hashlib.sha256(json.dumps(action.model_dump(mode="json", by_alias=True), sort_keys=True).encode())
        key = f"setup-{digest.hexdigest()[:28]}"
        stamped = stamp(action, name, key)
        planned.append(PlannedAction(key, f"setup:{name}", name, position, stamped.kind, None,
                                     stamped.model_dump(mode="json", by_alias=True)))
    keys = [p.idempotency_key for p in planned]
    with ctx.store.write() as tx:
        tx.outbox.add_actions(planned)
        # Set-up is asked for by hand: run it again even if an earlier run delivered it.
        tx.outbox.set_status([a.id for a in tx.outbox.by_keys(keys)], "rerun", now_ms())
    drain_project(ctx.project, wait=False, integration=name, store=ctx.store)
    with ctx.store.read() as tx:
        rows = tx.outbox.by_keys(keys)
    return [{"status": r.status, "summary": r.last_error or r.result or ""} for r in rows]


@app.command()
def plan(
    integration: Optional[str] = typer.Option(None, "--integration", "-i", help="Only this integration."),  # noqa: UP045
    as_json: bool = JsonOpt,
) -> None:
    """Print the actions the active session's events would generate; store nothing."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        manager = ctx.manager
        session = manager.get()
        actions = manager.plan_session(session.id, integration)
        lines = [f"Actions for session {session.id} ({len(actions)}):"]
        for a in actions:
            shown = a.model_dump(mode="json", by_alias=True, exclude={"integration", "idempotency_key", "kind"})
            lines.append(f"--- {a.integration}: {a.kind}\n{json.dumps(shown, ensure_ascii=False, indent=2)}")
        return ({"ok": True, "session": session.id,
                 "actions": [a.model_dump(mode="json", by_alias=True) for a in actions]}, "\n".join(lines))

    _run(as_json, body)


@app.command()
def replay(
    integration: str = typer.Option(..., "--integration", "-i", help="The integration to back-fill."),
    session: Optional[str] = typer.Option(None, "--session", help="Only this session."),  # noqa: UP045
    since: Optional[str] = typer.Option(None, "--since", help="Only events since (YYYY-MM-DD, ISO, 7d)."),  # noqa: UP045
    as_json: bool = JsonOpt,
) -> None:
    """Plan stored events again through one integration. Running it twice plans nothing new."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp.errors import PluginError

        host = ctx.plugins(only=[integration])
        if host is None or integration not in host.integrations:
            raise PluginError(f"integration {integration!r} is not loaded",
                              "enable it with [integrations.NAME] in config; see `msp integrations doctor`")
        manager = ctx.manager
        manager.plugins = host
        seen, new, warnings = manager.replay(integration, session_id=session, since=_date(since))
        from msp._logging import get_log

        for w in warnings:
            get_log().warning(w)
        return ({"ok": True, "events": seen, "new_actions": new, "warnings": warnings},
                f"Replayed {seen} event(s) through {integration}: {new} new action(s) queued.")

    _run(as_json, body)


@app.command()
def export(
    integration: str = typer.Option(..., "--integration", "-i", help="Render in this integration's format."),
    session: Optional[str] = typer.Option(None, "--session", help="Session id (default: the latest)."),  # noqa: UP045
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),  # noqa: UP045
    as_json: bool = JsonOpt,
) -> None:
    """Render a session in an integration's own format (msp_export)."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp.errors import PluginError, SessionNotFound

        host = ctx.plugins(only=[integration])
        if host is None or integration not in host.integrations:
            raise PluginError(f"integration {integration!r} is not loaded", "see `msp integrations doctor`")
        manager = ctx.manager
        sid = session
        if sid is None:
            rows = manager.sessions(limit=1)
            if not rows:
                raise SessionNotFound("there are no sessions to export", "record one with `msp start`")
            sid = rows[0].id
        rendered = host.export(integration, [manager.get(sid)])
        if rendered is None:
            raise PluginError(f"integration {integration!r} has no export", "choose another integration")
        if output is not None:
            output.write_text(rendered, encoding="utf-8")
            return {"ok": True, "path": str(output)}, f"Wrote {output}"
        return {"ok": True, "export": rendered}, rendered

    _run(as_json, body)


@integrations_app.command(
    "enable",
    context_settings={"help_option_names": []},  # --help with a NAME lists that integration's keys
)
def integrations_enable(
    name: Optional[str] = typer.Argument(None, help="The integration, as named in its config section."),  # noqa: UP045
    settings: Optional[list[str]] = typer.Argument(None, help="key=value pairs; values are TOML (true, 12, text)."),  # noqa: UP045
    show_help: bool = typer.Option(False, "--help", "-h", help="Show this help, and NAME's keys when given."),
    as_json: bool = JsonOpt,
) -> None:
    """Set and enable an integration's whole config section at once, checked against its schema.

    Example: msp integrations enable jira base_url=https://acme.atlassian.net username=me@acme.io token_env=JIRA_TOKEN
    """
    if show_help or name is None:
        _enable_help(name)
        return

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._config import parse_value, set_values
        from msp.errors import InvalidInput

        assignments: list[tuple[str, Any]] = []
        for item in settings or []:
            key, sep, raw = item.partition("=")
            if not sep or not key.strip():
                raise InvalidInput(f"{item!r} is not key=value",
                                   f"write each setting as key=value; see `msp integrations enable {name} --help`")
            assignments.append((f"integrations.{name}.{key.strip()}", parse_value(raw)))
        assignments.append((f"integrations.{name}.enabled", True))
        set_values(ctx.project, assignments)
        section = {k.split(".", 2)[2]: v for k, v in assignments}
        shown = " ".join(f"{k}={json.dumps(v)}" for k, v in section.items() if k != "enabled")
        return ({"ok": True, "integration": name, "set": section},
                f"{name} enabled{': ' + shown if shown else ''}\nCheck it with `msp integrations doctor {name}`.")

    _run(as_json, body)


@integrations_app.command("disable")
def integrations_disable(
    name: str = typer.Argument(..., help="The integration to stop planning actions for."),
    as_json: bool = JsonOpt,
) -> None:
    """Keep an integration's section but stop it (enabled = false); its queued actions stay."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._config import set_values
        from msp.errors import ConfigError

        if name not in ctx.project.config.integrations:
            raise ConfigError(f"there is no [integrations.{name}] section to disable",
                              "see `msp integrations list` for what is configured")
        set_values(ctx.project, [(f"integrations.{name}.enabled", False)])
        return ({"ok": True, "integration": name, "enabled": False},
                f"{name} disabled: its section is kept; `msp integrations enable {name}` turns it back on.")

    _run(as_json, body)


def _enable_help(name: str | None) -> None:
    group: Any = typer.main.get_command(integrations_app)
    enable = group.commands["enable"]
    with enable.make_context("msp integrations enable", [], resilient_parsing=True) as click_ctx:
        typer.echo(enable.get_help(click_ctx))
    if name is None:
        return
    typer.echo(_describe_keys(name))


def _describe_keys(name: str) -> str:
    """The keys an integration's config schema declares: required first, each with its type,
    default and description."""
    from msp._plugins.host import _entry_points

    ep = _entry_points().get(name)
    if ep is None:
        return f"\nNo installed integration provides {name!r}; see `msp integrations list`."
    try:
        plugin = ep.load()
    except Exception as exc:
        return f"\nIntegration {name!r} cannot be imported: {type(exc).__name__}: {exc}"
    schema = getattr(plugin, "config_schema", None) or {}
    defaults = getattr(plugin, "defaults", None) or {}
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    if not properties:
        return f"\n{name} declares no keys."
    lines = [f"\nKeys of [integrations.{name}] (required first):"]
    for key in sorted(properties, key=lambda k: (k not in required, k)):
        prop = properties[key]
        kind = prop.get("type") or ("one of " + ", ".join(map(str, prop["enum"])) if "enum" in prop else "")
        bits = [str(kind)] if kind else []
        if key in required:
            bits.append("required")
        if key in defaults:
            bits.append(f"default {json.dumps(defaults[key])}")
        lines.append(f"  {key}  ({', '.join(bits)})" if bits else f"  {key}")
        if prop.get("description"):
            lines.append(f"      {prop['description']}")
    lines.append("Secrets are named, never written: token_env=VARIABLE or token_keyring=service/user.")
    return "\n".join(lines)


@app.command()
def install(
    targets: list[str] = typer.Argument(..., help="Integration names (neo4j), packages, folders or wheels."),
    upgrade: bool = typer.Option(False, "--upgrade", "-U", help="Upgrade what is already installed."),
    editable: bool = typer.Option(False, "--editable", "-e", help="Install folders in editable mode."),
    as_json: bool = JsonOpt,
) -> None:
    """Install integrations into msp's own environment (its Python, so never the wrong pip)."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        import subprocess
        import sys

        from msp.errors import PluginError

        specs = [_install_spec(t) for t in targets]
        cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
        cmd += ["--upgrade"] if upgrade else []
        for spec in specs:
            cmd += ["-e", spec] if editable and Path(spec).is_dir() else [spec]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-6:])
            raise PluginError(f"pip could not install {', '.join(specs)}:\n{tail}",
                              "check the name or path; a package must be on the index or given as a folder or wheel")
        lines = [f"Installed {spec}" for spec in specs]
        lines.append("Enable one with `msp integrations enable NAME key=value ...` "
                     "(`msp integrations enable NAME --help` lists its keys).")
        return {"ok": True, "installed": specs, "python": sys.executable}, "\n".join(lines)

    _run(as_json, body)


def _install_spec(target: str) -> str:
    """A built-in's short name resolves to its folder when msp runs from a checkout, else to
    its package on the index; anything else (a package, a folder, a wheel) is passed on."""
    path = Path(target).expanduser()
    if path.exists():
        return str(path.resolve())
    from msp._plugins.packages import built_in_name

    name = built_in_name(target)
    if name is not None:
        import msp

        checkout = Path(msp.__file__).resolve().parent.parent / "integrations" / name
        if (checkout / "pyproject.toml").is_file():
            return str(checkout)
        return f"msp-{name}"
    return target



@integrations_app.command("test")
def integrations_test(
    name: str = typer.Argument(..., help="The integration to run the scripted session through."),
    run: bool = typer.Option(True, "--run/--no-run", help="Run PowerShell calls where PowerShell is reachable."),
    as_json: bool = JsonOpt,
) -> None:
    """Run the scripted session (start, updates, decision, entity, blocker, close, export) through
    one integration: each call with its bound arguments and, where PowerShell is reachable, its
    normalised result. Nothing is queued or delivered."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._cli._integration_test import scripted_session
        from msp.errors import ConfigError

        project = ctx.project
        section = project.config.integrations.get(name)
        if section is None:
            raise ConfigError(f"no [integrations.{name}] section in {project.config_path}",
                              f"add [integrations.{name}] to test it")
        return scripted_session(name, section, project.root, run=run)

    _run(as_json, body)
