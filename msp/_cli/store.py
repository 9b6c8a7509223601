"""``msp store``: look after the store itself, registered on the main app at import.

``msp store status`` says which store the project uses and what it holds; ``msp store migrate``
brings a team store's schema up to this msp's (a SQLite store does that itself when opened);
``msp store check`` runs SQLite's integrity check on the project's store, opened read-only (so
a store too damaged for any other command can still be checked), and with ``--export FILE``
saves every event it can still read as JSON lines: the events are the truth, and a new store can
be rebuilt from them. Light at import, like every command group: the backends load inside the
commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from msp._app.context import Context
from msp._cli.main import JsonOpt, _run, app

store_app = typer.Typer(help="The project's store: its schema, what it holds, its integrity.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("migrate")
def store_migrate(
    url_env: Optional[str] = typer.Option(  # noqa: UP045
        None, "--url-env", metavar="VARIABLE",
        help="Migrate the team store whose URL this variable holds, not the project's (e.g. before `msp store copy`).",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Apply the team store's schema migrations (PostgreSQL); a SQLite store migrates on open."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._config import StoreConfig
        from msp._store import store_url

        project = ctx.project
        url = store_url(StoreConfig(url_env=url_env) if url_env else project.config.store)
        if url is None:
            # Opening the store is what migrates it; do so, so the answer is true afterwards.
            from msp._store import describe_store

            info = describe_store(project, ctx.store)
            data = {"backend": "sqlite", "path": info["path"], "before": info["schema_version"],
                    "after": info["schema_version"], "applied": []}
            return data, (f"this project's store is SQLite ({info['path']}): its migrations apply when it is "
                          f"opened, so nothing to do (schema version {info['schema_version']})")
        from msp._store import migrate_store
        from msp._store.postgres import describe_target, migrations, redact_url

        before, after = migrate_store(url)
        applied = [f"{m.version:04d}_{m.name}" for m in migrations() if before < m.version <= after]
        target = describe_target(url)
        data = {"backend": "postgres", "url": redact_url(url, url), "before": before, "after": after,
                "applied": applied}
        if not applied:
            return data, f"the team store at {target} is up to date (schema version {after})"
        return data, (f"migrated the team store at {target} from schema version {before} to {after}: "
                      + ", ".join(applied))

    _run(as_json, body)


@store_app.command("status")
def store_status(as_json: bool = JsonOpt) -> None:
    """Which store the project uses, its schema version, what it holds, and the workers seen."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._store import describe_store

        info = describe_store(ctx.project, ctx.store)
        where = info["path"] if info["backend"] == "sqlite" else info["url"]
        actions = info["actions"]
        lines = [
            ("backend", info["backend"]),
            ("path" if info["backend"] == "sqlite" else "url", where),
            ("schema", f"version {info['schema_version']} (this msp uses {info['msp_schema_version']})"),
            ("events", str(info["events"])),
            ("sessions", f"{info['sessions']['total']} ({info['sessions']['active']} active)"),
            ("actions", ", ".join(f"{n} {status}" for status, n in actions.items()) if actions else "none"),
        ]
        workers = info["workers"]
        lines.append(("workers", f"{len(workers)} seen in the last day" if workers else "none seen"))
        text = "\n".join(f"{label + ':':<10}{value}" for label, value in lines)
        for w in workers:
            # A worker beats every 10 s at most (drain.HEARTBEAT_S): three missed beats say it is gone.
            state = "stopped" if w["stopped"] else "running" if w["last_seen_s"] <= 30 else "silent"
            text += (f"\n  {w['id']}  host {w['host']} pid {w['pid']}  {state}, last seen {w['last_seen_s']} s ago"
                     f"  delivered {w['delivered']}  serves {', '.join(w['integrations']) or 'nothing'}")
        return info, text

    _run(as_json, body)


@store_app.command("check")
def store_check(
    export: Optional[Path] = typer.Option(  # noqa: UP045
        None, "--export", metavar="FILE",
        help="Also write every readable event to FILE as JSON lines (FILE must not exist yet).",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Run SQLite's integrity check on the store; exits 1 when it finds damage."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._store import check_store
        from msp.errors import StoreError

        project = ctx.project  # not ctx.store: an ordinary open may not survive the damage
        problems = check_store(project)
        data: dict[str, Any] = {"ok": not problems, "path": str(project.db_path), "problems": problems}
        lines = [f"{project.db_path}: " + ("sound (SQLite's integrity check: ok)" if not problems
                                           else f"damaged ({len(problems)} problem(s) found)")]
        lines += [f"  {p}" for p in problems[:20]]
        if export is not None:
            data["export"] = _export(ctx, export)
            report = data["export"]
            line = f"Exported {report['exported']} event(s) to {export}"
            if report["unreadable"]:
                line += f"; unreadable: {', '.join(report['unreadable'][:10])}"
            if report["stopped"]:
                line += f"; stopped early: {report['stopped']}"
            lines.append(line)
        if problems:
            hint = ("keep the exported events; start a new store (`msp init` in a fresh folder) and keep the "
                    "damaged file for reference" if export is not None
                    else "save what is readable: `msp store check --export events.jsonl`")
            raise StoreError("\n".join(lines), hint, details=data)
        return data, "\n".join(lines)

    _run(as_json, body)


def _export(ctx: Context, target: Path) -> dict[str, Any]:
    import os

    from msp._store import export_readable_events
    from msp.errors import InvalidInput, StoreError

    try:
        # O_EXCL: never overwrite a file, least of all an earlier export.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(f"{target} exists already", "name a new file for the export") from None
    except OSError as exc:
        raise StoreError(f"cannot create {target}: {exc.strerror or exc}", "name a file in a writable folder") from exc
    try:
        with open(fd, "w", encoding="utf-8") as out:

            def write(line: str) -> None:
                out.write(line + "\n")

            report = export_readable_events(ctx.project, write)
    except OSError as exc:
        raise StoreError(f"writing {target} failed: {exc.strerror or exc}",
                         "free some space or choose another folder, and export again to a new file") from exc
    return {"file": str(target), "exported": report.exported, "unreadable": report.unreadable,
            "stopped": report.stopped}
