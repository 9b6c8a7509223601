"""The renderers: the table's bars (and their ASCII form), CSV and JSON, and the HTML page whose
stored text never becomes markup and whose charts are well-formed SVG, whatever the text."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msp._report.aggregate import Report, build
from msp._report.page import render
from msp._report.palette import PALETTE, colours
from msp._report.text import as_csv, as_dict, bar, can_draw_unicode, table
from msp._report.window import Window, zone
from msp._store.interface import BlockerSpan, SessionRow, SessionTally

D0 = datetime(2024, 5, 6, tzinfo=UTC)
WINDOW = Window(D0, D0 + timedelta(days=3), zone("UTC"))
NOW = D0 + timedelta(days=3)


def _report(projects: list[str], goals: list[str | None] | None = None, issues: list[str | None] | None = None,
            by: str = "project") -> Report:
    tallies = []
    spans = []
    for i, name in enumerate(projects):
        goal = goals[i] if goals else None
        issue = issues[i] if issues else None
        start = D0 + timedelta(hours=2 + 7 * i)
        r = SessionRow(f"s{i}", name, "closed", start, start + timedelta(hours=1 + i), 5, 25 + i, start, goal,
                       issue, 4)
        tallies.append(SessionTally(r, {"updates": 2, "decisions": 1, "entities": 0, "blockers": 1}))
        spans.append(BlockerSpan(f"b{i}", name, f"s{i}", start + timedelta(minutes=5), None, None))
    points = {f"s{i}": [(D0 + timedelta(hours=2 + 7 * i, minutes=30), 15)] for i in range(len(projects))}
    return build(tallies, spans, WINDOW, by, NOW, timedelta(hours=12), points)  # type: ignore[arg-type]


def test_the_table_has_a_bar_per_row_as_long_as_its_time() -> None:
    out = table(_report(["alpha", "beta"]))
    lines = out.splitlines()
    assert lines[0] == "msp report: 2024-05-06 .. 2024-05-08 (UTC), by project"
    beta = next(line for line in lines if line.startswith("beta"))
    alpha = next(line for line in lines if line.startswith("alpha"))
    # beta worked 2h, alpha 1h: beta's bar is the full width, alpha's half of it.
    assert beta.endswith("█" * 24) and alpha.endswith("█" * 12) and "█" * 13 not in alpha
    assert "2h 00m" in beta and "+21" in beta and lines[-1].startswith("total") and "3h 00m" in lines[-1]


def test_the_table_falls_back_to_ascii_where_the_output_cannot_draw_blocks() -> None:
    assert can_draw_unicode("utf-8") and not can_draw_unicode("cp1252") and not can_draw_unicode("ascii")
    assert not can_draw_unicode(None) and not can_draw_unicode("no-such-codec")
    out = table(_report(["alpha", "b" * 40]), unicode=False)
    out.encode("ascii")  # nothing outside ASCII
    assert "#" * 24 in out and "b" * 25 + "..." in out
    assert bar(0.5, 4) == "██" and bar(0.5, 1) == "▌" and bar(0.125, 1) == "▏"
    assert bar(0.0, 4) == "" and bar(2.0, 2) == "██"


def test_csv_and_json_hold_the_same_numbers() -> None:
    report = _report(["alpha", "beta"])
    rows = list(csv.DictReader(io.StringIO(as_csv(report))))
    data = as_dict(report)
    assert [r["project"] for r in rows] == [g["key"] for g in data["groups"]] == ["beta", "alpha"]
    assert rows[0]["seconds"] == "7200" and data["groups"][0]["seconds"] == 7200
    assert data["total"]["blockers_raised"] == 2 and data["window"]["zone"] == "UTC"
    assert data["days"] == [{"day": "2024-05-06", "seconds": {"alpha": 3600, "beta": 7200}}]


def test_project_colours_are_fixed_distinct_and_do_not_depend_on_order() -> None:
    names = [f"project-{i}" for i in range(10)]
    given_colours = colours(names)
    assert set(given_colours.values()) == set(PALETTE)
    assert colours(reversed(names)) == given_colours
    assert colours(["alpha"])["alpha"] == colours(["alpha", "zeta"])["alpha"]


class _Tags(HTMLParser):
    """The markup of a page: every start tag with its attribute names, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(name for name, _ in attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _markup(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_ANY_TEXT = st.text(min_size=1, max_size=30).filter(lambda s: s != "(no issue)")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(_ANY_TEXT, min_size=1, max_size=4, unique=True),
       goals=st.lists(st.one_of(st.none(), _ANY_TEXT), min_size=4, max_size=4),
       issues=st.lists(st.one_of(st.none(), _ANY_TEXT), min_size=4, max_size=4))
def test_stored_text_never_becomes_markup_and_the_charts_stay_well_formed(
        names: list[str], goals: list[str | None], issues: list[str | None]) -> None:
    for by in ("project", "issue"):
        page = render(_report(names, goals, issues, by), NOW, "0.0")
        # The same report with harmless names has exactly the same markup.
        plain = render(_report([f"p{i}" for i in range(len(names))],
                               [None if g is None else "goal" for g in goals],
                               [None if s is None else f"i{sorted(set(issues) - {None}).index(s)}"  # type: ignore[type-var]
                                for s in issues], by), NOW, "0.0")
        assert _markup(page).tags == _markup(plain).tags
        charts = _SVG.findall(page)
        assert len(charts) == 3
        for chart in charts:
            ET.fromstring(chart)  # well-formed XML, or this raises
        text = "".join(_markup(page).text)
        for name in names:
            if not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]", name):
                assert name in text  # shown as typed, escaped only for the markup
        page.encode("utf-8")  # no lone surrogate reaches the file


def test_the_page_has_no_script_and_no_outside_resource() -> None:
    page = render(_report(["alpha", "<script>alert(1)</script>"], ["x</title><script>", None]), NOW, "0.0")
    assert "<script" not in page.lower()
    assert re.findall(r"https?://[^\s\"']+", page) == ["http://www.w3.org/2000/svg"] * 3
    assert "default-src 'none'" in page
