"""``msp report``: time worked, sessions, progress, decisions and blockers per group, registered
on the main app at import. Light at import, like every command group: the report's modules load
inside the command. What is counted where: :mod:`msp._report.aggregate`; days and zones:
:mod:`msp._report.window`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, cast

import typer

from msp._app.context import Context
from msp._cli.main import JsonOpt, _run, app

_GROUPINGS = ("day", "project", "issue", "user")
_FORMATS = ("table", "json", "csv", "html")


@app.command()
def report(
    since: Optional[str] = typer.Option(  # noqa: UP045
        None, "--since", help="7d: the last 7 calendar days, today included (the default); or a date or ISO time."
    ),
    start: Optional[str] = typer.Option(None, "--from", help="First day (YYYY-MM-DD) or ISO time."),  # noqa: UP045
    end: Optional[str] = typer.Option(  # noqa: UP045
        None, "--to", help="Last day, included (YYYY-MM-DD), or ISO time; default: now."
    ),
    project: Optional[str] = typer.Option(None, "--project", "-p", help="Only this project."),  # noqa: UP045
    by: str = typer.Option("day", "--by", help="Group by day, project, issue or user."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, csv or html."),
    output: Optional[Path] = typer.Option(  # noqa: UP045
        None, "--output", "-o", help="Write the report to this file (html: one self-contained page)."
    ),
    tz: Optional[str] = typer.Option(  # noqa: UP045
        None, "--tz", help="IANA time zone days are counted in (default: this machine's local time)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Report time worked, sessions, progress, decisions and blockers per day, project, issue or user."""

    def body(ctx: Context) -> tuple[dict[str, Any], str]:
        import sys
        from datetime import UTC, datetime, timedelta

        from msp._report import aggregate, gather, text, window
        from msp.errors import InvalidInput

        if by not in _GROUPINGS:
            raise InvalidInput(f"--by {by[:40]!r} is not a grouping", "use --by day, project, issue or user")
        if fmt not in _FORMATS:
            raise InvalidInput(f"--format {fmt[:40]!r} is not a format", "use --format table, json, csv or html")
        zone = window.zone(tz)
        now = datetime.now(UTC)
        span = window.parse_window(since, start, end, zone, now)
        rows = gather.gather(ctx.store, span, project, with_points=fmt == "html")
        idle = timedelta(hours=ctx.project.config.session.timeout_hours)
        built = aggregate.build(rows.tallies, rows.blockers, span, cast("aggregate.By", by), now, idle, rows.points)
        data: dict[str, Any] = {"ok": True, **text.as_dict(built)}
        if as_json and output is None:
            return data, ""
        if fmt == "html":
            from msp._report import page
            from msp._version import __version__

            content = page.render(built, now.astimezone(zone.tz), __version__)
        elif fmt == "csv":
            content = text.as_csv(built)
        elif fmt == "json":
            from msp._app.screen import json_text

            content = json_text(data) + "\n"
        else:
            encoding = "utf-8" if output is not None else sys.stdout.encoding
            content = text.table(built, unicode=text.can_draw_unicode(encoding)) + "\n"
        if output is None:
            return data, content
        _write(output, content)
        data["output"] = str(output)
        return data, f"Wrote the {fmt} report ({text.describe(built)}) to {output}"

    _run(as_json, body)


def _write(path: Path, content: str) -> None:
    """``content`` to ``path`` (UTF-8) through a temporary file beside it, so a reader never sees
    half a report."""
    import os
    import tempfile

    from msp.errors import InvalidInput

    target = path.expanduser()
    try:
        fd, tmp = tempfile.mkstemp(prefix=".msp-report-", dir=target.parent if str(target.parent) else ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(content)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}",
                           "give --output a path in a folder you can write to") from None


def _umask() -> int:
    """The process's umask (read by setting it, then putting it back): a report file gets the
    permissions any new file of the user's would."""
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask
