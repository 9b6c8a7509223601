"""The report's three charts as SVG, drawn here (no library, no script): time per day stacked by
project, progress over time per session, blockers open over time. Pure.

Every piece of stored text (project names, goals) goes through :func:`text`: characters XML
cannot hold (most C0 controls, lone surrogates, U+FFFE/U+FFFF) and those a terminal would act on
(C1 controls, DEL) are shown as ``\\xNN``/``\\uXXXX`` escapes, then ``& < > " '`` are escaped, so
each chart is well-formed XML and no text becomes markup. Lines are steps drawn with
``crispEdges``: progress holds until the next update, and the colours land on whole pixels.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime

from msp._report.aggregate import Report
from msp._report.palette import BLOCKERS, GRID, INK

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 14, 42
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
_NOT_XML_OR_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def text(value: str) -> str:
    """Stored text made safe inside XML/HTML text or a quoted attribute (see the docstring)."""

    def shown(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"

    return html.escape(_NOT_XML_OR_UNSAFE.sub(shown, value), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _open(label: str, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{label}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
            f'aria-label="{text(title)}" font-family="sans-serif" font-size="11">',
            f"<title>{text(title)}</title>"]


def _y_axis(top: float, unit: str, ticks: Sequence[float]) -> list[str]:
    out = []
    for value in ticks:
        y = TOP + PLOT_H - value / top * PLOT_H if top else TOP + PLOT_H
        out.append(f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{_n(y)}" y2="{_n(y)}" stroke="{GRID}" '
                   'shape-rendering="crispEdges"/>')
        out.append(f'<text x="{LEFT - 6}" y="{_n(y + 4)}" text-anchor="end" fill="{INK}">{_n(value)}{unit}</text>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + PLOT_H}" stroke="{INK}" '
               'shape-rendering="crispEdges"/>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{TOP + PLOT_H}" y2="{TOP + PLOT_H}" stroke="{INK}" '
               'shape-rendering="crispEdges"/>')
    return out


def _nice_top(peak: float, minimum: float) -> tuple[float, list[float]]:
    """An axis top at or above ``peak`` and about five round ticks up to it."""
    peak = max(peak, minimum)
    raw = peak / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    top = math.ceil(peak / step) * step
    return top, [i * step for i in range(round(top / step) + 1)]


def _day_labels(days: Sequence[date], x_of: dict[date, float]) -> list[str]:
    every = max(1, math.ceil(len(days) / 12))
    out = []
    for i, day in enumerate(days):
        if i % every == 0:
            out.append(f'<text x="{_n(x_of[day])}" y="{TOP + PLOT_H + 16}" text-anchor="middle" '
                       f'fill="{INK}">{day.strftime("%m-%d")}</text>')
    return out


def _empty(out: list[str], message: str) -> None:
    out.append(f'<text x="{LEFT + PLOT_W / 2}" y="{TOP + PLOT_H / 2}" text-anchor="middle" '
               f'fill="{INK}">{text(message)}</text>')


def time_per_day(report: Report, colours: dict[str, str]) -> str:
    """Hours worked per local day, a bar per day stacked by project."""
    days = report.window.days()
    per_day = {d: sum(report.day_seconds.get(d, {}).values()) / 3600 for d in days}
    top, ticks = _nice_top(max(per_day.values(), default=0.0), 1.0)
    out = _open("time-per-day", "Time worked per day, stacked by project")
    out += _y_axis(top, "h", ticks)
    band = PLOT_W / max(1, len(days))
    width = max(1.0, band * 0.8)
    centres = {d: LEFT + band * (i + 0.5) for i, d in enumerate(days)}
    for day in days:
        y = float(TOP + PLOT_H)
        for project in report.projects:
            seconds = report.day_seconds.get(day, {}).get(project, 0.0)
            if seconds <= 0:
                continue
            h = seconds / 3600 / top * PLOT_H
            y -= h
            out.append(f'<rect class="bar" x="{_n(centres[day] - width / 2)}" y="{_n(y)}" width="{_n(width)}" '
                       f'height="{_n(h)}" fill="{colours[project]}" shape-rendering="crispEdges">'
                       f"<title>{text(project)}: {_hours(seconds)} on {day.isoformat()}</title></rect>")
    out += _day_labels(days, centres)
    if not any(per_day.values()):
        _empty(out, "no time recorded in this window")
    out.append("</svg>")
    return "\n".join(out)


def _hours(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h {minutes % 60:02d}m"


def _time_axis(report: Report) -> tuple[list[str], Callable[[datetime], float]]:
    """Day ticks along a time axis, and the function from an instant to its x."""
    w = report.window
    span = max(1.0, (w.until - w.since).total_seconds())

    def x_of(at: datetime) -> float:
        seconds = (min(max(at, w.since), w.until) - w.since).total_seconds()
        return LEFT + seconds / span * PLOT_W

    days = w.days()
    every = max(1, math.ceil(len(days) / 12))
    out = []
    for i, day in enumerate(days):
        midnight = w.zone.midnight(day)
        if i % every or midnight < w.since:
            continue
        x = x_of(midnight)
        out.append(f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{TOP}" y2="{TOP + PLOT_H}" stroke="{GRID}" '
                   'shape-rendering="crispEdges"/>')
        out.append(f'<text x="{_n(x)}" y="{TOP + PLOT_H + 16}" text-anchor="middle" fill="{INK}">'
                   f'{day.strftime("%m-%d")}</text>')
    return out, x_of


def _step_path(points: Sequence[tuple[float, float]], end_x: float | None = None) -> str:
    """An SVG path through ``points`` as steps: each value holds until the next point's x."""
    if not points:
        return ""
    out = [f"M{_n(points[0][0])} {_n(points[0][1])}"]
    for x, y in points[1:]:
        out.append(f"H{_n(x)}V{_n(y)}")
    if end_x is not None:
        out.append(f"H{_n(end_x)}")
    return "".join(out)


def progress(report: Report, colours: dict[str, str]) -> str:
    """Each charted session's progress (0-100%) over the window, in its project's colour."""
    out = _open("progress", "Progress over time, per session")
    _, ticks = _nice_top(100, 100)
    out += _y_axis(100, "%", ticks)
    axis, x_of = _time_axis(report)
    out += axis
    for series in report.progress:
        pts = [(x_of(at), TOP + PLOT_H - p / 100 * PLOT_H) for at, p in series.points]
        label = f"{series.project}: {series.goal}" if series.goal else series.project
        out.append(f'<path class="line" d="{_step_path(pts)}" fill="none" stroke="{colours[series.project]}" '
                   f'stroke-width="3" shape-rendering="crispEdges"><title>{text(label)} '
                   f"({series.points[0][1]}% to {series.points[-1][1]}%)</title></path>")
    if not report.progress:
        _empty(out, "no sessions in this window")
    out.append("</svg>")
    return "\n".join(out)


def blockers_open(report: Report) -> str:
    """How many blockers were open, over the window."""
    steps = report.blockers_open
    top, ticks = _nice_top(max((n for _, n in steps), default=0), 4)
    out = _open("blockers-open", "Blockers open over time")
    out += _y_axis(top, "", ticks)
    axis, x_of = _time_axis(report)
    out += axis
    base = TOP + PLOT_H
    pts = [(x_of(at), base - n / top * PLOT_H) for at, n in steps]
    end = LEFT + PLOT_W
    line = _step_path(pts, end)
    if pts:
        out.append(f'<path class="area" d="{line}V{_n(base)}H{_n(pts[0][0])}Z" fill="{BLOCKERS}" '
                   'fill-opacity="0.15" stroke="none"/>')
        out.append(f'<path class="line" d="{line}" fill="none" stroke="{BLOCKERS}" stroke-width="3" '
                   'shape-rendering="crispEdges"/>')
    out.append("</svg>")
    return "\n".join(out)

