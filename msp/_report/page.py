"""The report as one self-contained HTML page: inline CSS and inline SVG charts, no script, no
external resource (its Content-Security-Policy forbids both), so it opens offline and shows the
same anywhere. Pure: the caller gives the time it was made."""

from __future__ import annotations

from datetime import datetime

from msp._report.aggregate import Group, Report
from msp._report.palette import INK, colours
from msp._report.svg import blockers_open, progress, text, time_per_day
from msp._report.text import describe, hours, signed

_STYLE = f"""
body {{ font-family: sans-serif; color: {INK}; margin: 24px auto; max-width: 800px; }}
h1 {{ font-size: 20px; margin-bottom: 4px; }}
h2 {{ font-size: 15px; margin: 24px 0 6px; }}
.window, footer {{ color: #666; font-size: 12px; }}
.legend {{ list-style: none; padding: 0; margin: 4px 0 0; font-size: 12px; }}
.legend li {{ display: inline-block; margin-right: 14px; }}
.swatch {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }}
table {{ border-collapse: collapse; font-size: 13px; }}
th, td {{ padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
tr.total td {{ font-weight: bold; border-top: 1px solid #999; }}
"""
#: No script, no fetch, no frame: styles and SVG inline are all the page has.
_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_HEADS = ("time", "sessions", "progress", "updates", "decisions", "blockers raised", "blockers resolved")


def render(report: Report, made_at: datetime, version: str) -> str:
    palette = colours(report.projects)
    legend = "".join(
        f'<li><span class="swatch" style="background:{palette[p]}"></span>{text(p)}</li>' for p in report.projects
    )
    rows = "".join(_row(g) for g in report.groups)
    total = _row(report.total, css="total")
    heads = "".join(f"<th>{h}</th>" for h in _HEADS)
    title = text(describe(report))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>msp report</h1>
<p class="window">{title}</p>
<section>
<h2>Time worked per day, by project</h2>
{time_per_day(report, palette)}
<ul class="legend">{legend}</ul>
</section>
<section>
<h2>Progress over time, per session</h2>
{progress(report, palette)}
</section>
<section>
<h2>Blockers open over time</h2>
{blockers_open(report)}
</section>
<section>
<h2>By {text(report.by)}</h2>
<table>
<thead><tr><th>{text(report.by)}</th>{heads}</tr></thead>
<tbody>{rows}{total}</tbody>
</table>
</section>
<footer>Made by msp {text(version)} at {made_at.strftime("%Y-%m-%d %H:%M %Z").strip()}.</footer>
</body>
</html>
"""


def _row(g: Group, css: str = "") -> str:
    cells = (hours(g.seconds), str(g.sessions), signed(g.progress), str(g.updates), str(g.decisions),
             str(g.blockers_raised), str(g.blockers_resolved))
    attr = f' class="{css}"' if css else ""
    return f"<tr{attr}><td>{text(g.key)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
