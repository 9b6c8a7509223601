"""``msp import``: histories other tools kept, recorded as this project's events. Registered on
the main app at import; light at import (the reader loads inside the command).

``msp import msp-model [PATH]`` reads MSP Lite's state folder (msp._importers.msp_model says
what it holds and how each session becomes events). It records without calling integrations;
``msp replay --integration NAME`` back-fills them. Run again, it imports nothing new.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from msp._app.context import Context
from msp._cli.main import JsonOpt, _run, app

import_app = typer.Typer(help="Bring another tool's session history into this project.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("msp-model")
def import_msp_model(
    path: Optional[Path] = typer.Argument(  # noqa: UP045
        None, help="MSP Lite's state folder (default: ~/.msp-lite, where it keeps it on Windows)."
    ),
    tz: Optional[str] = typer.Option(  # noqa: UP045
        None, "--tz", help="The zone msp-model's times (local, without a zone) were written in: an IANA name, "
        "UTC or +02:00. Default: this machine's local time."
    ),
    project: Optional[str] = typer.Option(  # noqa: UP045
        None, "--project", "-p", help="Project the sessions belong to (default: this project's name)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be imported; store nothing."),
    as_json: bool = JsonOpt,
) -> None:
    """Import msp-model (MSP Lite) sessions with their original ids and times, once."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        from msp._importers.msp_model import ARCHIVE, CURRENT, Report, looks_like_msp_store, parse_zone, record, scan
        from msp._model.models import StartInput
        from msp._session.manager import validate
        from msp.errors import InvalidInput

        folder = (path if path is not None else Path.home() / ".msp-lite").expanduser()
        if not folder.is_dir():
            raise InvalidInput(f"no folder {folder}", "give MSP Lite's state folder, e.g. %USERPROFILE%\\.msp-lite")
        folder = folder.resolve()
        msp_dir = ctx.project.msp_dir.resolve()
        if looks_like_msp_store(folder) or folder == msp_dir or msp_dir in folder.parents:
            raise InvalidInput(f"{folder} is msp's own store folder, not msp-model's state",
                               "give MSP Lite's state folder (with archive/ and current-session.json), "
                               "e.g. %USERPROFILE%\\.msp-lite")
        if not (folder / ARCHIVE).is_dir() and not (folder / CURRENT).is_file():
            raise InvalidInput(f"{folder} holds no msp-model state (no {ARCHIVE}/ folder, no {CURRENT})",
                               "give MSP Lite's state folder, e.g. %USERPROFILE%\\.msp-lite")
        zone, zone_said = parse_zone(tz)
        name = validate(StartInput, {"project": project}).project or ctx.project.name
        report = Report(str(folder), zone_said, name, dry_run=dry_run)
        sessions = scan(folder, name, zone, report)
        if sys.stderr.isatty() and not as_json and len(sessions) > 20:
            with typer.progressbar(length=len(sessions), label="Importing", file=sys.stderr) as bar:
                record(ctx.store, sessions, report, lambda _s: bar.update(1))
        else:
            record(ctx.store, sessions, report)
        return report.to_dict(), _said(report)

    _run(as_json, body)


def _said(report: Any) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    verb = "Would import" if report.dry_run else "Imported"
    lines = [f"{verb} {plural(report.sessions, 'session')}, {plural(report.events, 'event')} from {report.folder} "
             f"into project {report.project}; skipped {report.present} already present.",
             f"Times without a zone read as {report.zone} (change with --tz)."]
    for title, listed in (("damaged", report.damaged), ("not imported", report.skipped), ("note", report.notes)):
        lines += [f"{title}: {item.file}: {item.reason}" for item in listed]
    lines += [f"unknown (not msp-model's, left alone): {name}" for name in report.unknown]
    if report.events and not report.dry_run:
        lines.append("No integration was called: back-fill one with `msp replay --integration NAME`.")
    return "\n".join(lines)
