"""The report as a terminal table (a bar per row), a JSON document and CSV. Pure.

The table's bars are drawn with Unicode block elements in eighths of a cell; where the output's
encoding cannot carry them (``unicode=False``, e.g. a legacy Windows code page) with ``#``.
Text from the store is not escaped here: the CLI passes what it prints through its terminal
filter, and JSON and CSV keep text exact.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from msp._report.aggregate import Group, Report

BAR_CELLS = 24
KEY_CELLS = 28
_EIGHTHS = " ▏▎▍▌▋▊▉"
_FULL = "█"
#: What the table needs the output's encoding to carry for its Unicode form.
UNICODE_SAMPLE = _FULL + _EIGHTHS.strip() + "…"
COLUMNS = ("seconds", "sessions", "progress", "updates", "decisions", "blockers_raised", "blockers_resolved")


def can_draw_unicode(encoding: str | None) -> bool:
    """Whether text in ``encoding`` carries the table's block characters."""
    if not encoding:
        return False
    try:
        UNICODE_SAMPLE.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def hours(seconds: float) -> str:
    """``3h 05m``, ``45m``, ``0m``: whole minutes, rounded down."""
    minutes = int(max(0.0, seconds) // 60)
    h, m = divmod(minutes, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m"


def signed(n: int) -> str:
    return f"+{n}" if n > 0 else str(n)


def bar(fraction: float, cells: int = BAR_CELLS, *, unicode: bool = True) -> str:
    """A bar ``fraction`` (0..1) of ``cells`` long."""
    fraction = min(1.0, max(0.0, fraction))
    if not unicode:
        return "#" * round(fraction * cells)
    eighths = round(fraction * cells * 8)
    whole, part = divmod(eighths, 8)
    return _FULL * whole + (_EIGHTHS[part] if part else "")


def describe(report: Report) -> str:
    """The report's first line: what it covers."""
    w = report.window
    last = w.zone.day_of(w.until - timedelta(microseconds=1))
    first = w.zone.day_of(w.since)
    span = first.isoformat() if first == last else f"{first.isoformat()} .. {last.isoformat()}"
    return f"msp report: {span} ({w.zone.name}), by {report.by}"


def table(report: Report, *, unicode: bool = True) -> str:
    ellipsis = "…" if unicode else "..."
    head = (report.by, "time", "sessions", "progress", "updates", "decisions", "blockers +/-", "")
    rows: list[tuple[str, ...]] = []
    peak = max((g.seconds for g in report.groups), default=0.0)
    for g in report.groups:
        key = g.key if len(g.key) <= KEY_CELLS else g.key[: KEY_CELLS - len(ellipsis)] + ellipsis
        rows.append((key, *_cells(g), bar(g.seconds / peak if peak > 0 else 0.0, unicode=unicode)))
    total = ("total", *_cells(report.total), "")
    widths = [max(len(r[i]) for r in [head, *rows, total]) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        # The key left-aligned, the numbers right-aligned, the bar last.
        parts = [cells[0].ljust(widths[0])] + [c.rjust(widths[i + 1]) for i, c in enumerate(cells[1:-1])]
        return ("  ".join(parts) + "  " + cells[-1]).rstrip()

    out = [describe(report), "", line(head)]
    out += [line(r) for r in rows] if rows else ["(nothing recorded in this window)"]
    out.append(line(total))
    return "\n".join(out)


def _cells(g: Group) -> tuple[str, ...]:
    return (hours(g.seconds), str(g.sessions), signed(g.progress), str(g.updates), str(g.decisions),
            f"{g.blockers_raised}/{g.blockers_resolved}")


def as_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON values (seconds rounded to whole seconds)."""
    from msp._model.models import format_time

    w = report.window
    return {
        "window": {"from": format_time(w.since), "to": format_time(w.until), "zone": w.zone.name},
        "by": report.by,
        "groups": [g.to_dict() for g in report.groups],
        "total": report.total.to_dict(),
        "projects": report.projects,
        "days": [{"day": d.isoformat(), "seconds": {p: round(s) for p, s in sorted(per.items())}}
                 for d, per in report.day_seconds.items()],
    }


def as_csv(report: Report) -> str:
    """One row per group, a header first; no total row (a spreadsheet sums)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([report.by, *COLUMNS])
    for g in report.groups:
        d = g.to_dict()
        writer.writerow([g.key, *(d[c] for c in COLUMNS)])
    return buffer.getvalue()
