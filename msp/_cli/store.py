"""CLI commands for the store itself, registered on the main app at import.

``msp store migrate`` brings a team store's schema up to this msp's (a SQLite store does that
itself when opened); ``msp store status`` says which store the project uses and what it holds.
Light at import: the backends load inside the commands.
"""

from __future__ import annotations

from typing import Any

import typer

from msp._app.context import Context
from msp._cli.main import JsonOpt, _run, app

store_app = typer.Typer(help="The project's store: its schema and what it holds.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("migrate")
def store_migrate(as_json: bool = JsonOpt) -> None:
    """Apply the team store's schema migrations (PostgreSQL); a SQLite store migrates on open."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._store import store_url

        project = ctx.project
        url = store_url(project.config.store)
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

        before, after = migrate_store(project)
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
    """Which store the project uses, its schema version, and what it holds."""

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
        return info, "\n".join(f"{label + ':':<10}{value}" for label, value in lines)

    _run(as_json, body)
