"""``msp store``: look after the store itself, registered on the main app at import.

``msp store check`` runs SQLite's integrity check on the project's store, opened read-only (so
a store too damaged for any other command can still be checked), and with ``--export FILE``
saves every event it can still read as JSON lines: the events are the truth, and a new store can
be rebuilt from them. Light at import, like every command group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from msp._app.context import Context
from msp._cli.main import JsonOpt, _run, app

store_app = typer.Typer(help="Check the store and save what it holds.", no_args_is_help=True)
app.add_typer(store_app, name="store")


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
