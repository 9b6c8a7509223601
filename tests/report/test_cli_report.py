"""`msp report` through the real CLI on a recorded store: each format, the file it writes, and
the errors of a bad command line."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from msp._store.sqlite import SqliteStore
from tests.report.sample import record


def _days(now: datetime) -> list[str]:
    day0 = (now - timedelta(days=3)).date()
    return [(day0 + timedelta(days=i)).isoformat() for i in range(3)]


def test_report_by_day_counts_the_sample(store: SqliteStore, msp_cli: Any) -> None:
    now = datetime.now(UTC)
    record(store, now)
    done = msp_cli("report", "--tz", "UTC", "--json")
    assert done.code == 0, done.err
    data = done.json()
    groups = {g["key"]: g for g in data["groups"]}
    assert len(data["groups"]) == 7 and data["window"]["zone"] == "UTC"
    day0, day1, day2 = _days(now)
    # The late alpha session runs 22:00 to 01:00: two hours on day 1, one on day 2.
    # (The sample's clock moves a second per reading: minutes are what it sets.)
    assert [round(groups[d]["seconds"] / 60) for d in (day0, day1, day2)] == [240, 300, 180]
    assert [groups[d]["sessions"] for d in (day0, day1, day2)] == [1, 2, 1]
    total = data["total"]
    assert (total["progress"], total["decisions"], total["blockers_raised"], total["blockers_resolved"]) == (
        150, 2, 2, 1)


def test_report_by_project_as_a_table_with_bars(store: SqliteStore, msp_cli: Any) -> None:
    record(store, datetime.now(UTC))
    done = msp_cli("report", "--tz", "UTC", "--by", "project", env={"PYTHONIOENCODING": "utf-8"})
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0].startswith("msp report: ") and lines[0].endswith("(UTC), by project")
    alpha = next(line for line in lines if line.startswith("alpha"))
    beta = next(line for line in lines if line.startswith("beta"))
    assert "7h 00m" in alpha and alpha.endswith("█" * 24) and "5h 00m" in beta and "█" * 17 in beta
    ascii_only = msp_cli("report", "--tz", "UTC", "--by", "project", env={"PYTHONIOENCODING": "ascii"})
    assert ascii_only.code == 0 and "#" * 24 in ascii_only.out and "█" not in ascii_only.out


def test_report_by_issue_as_csv_and_one_project(store: SqliteStore, msp_cli: Any) -> None:
    record(store, datetime.now(UTC))
    done = msp_cli("report", "--tz", "UTC", "--by", "issue", "--format", "csv")
    rows = {r["issue"]: r for r in csv.DictReader(io.StringIO(done.out))}
    assert set(rows) == {"ENG-1", "(no issue)"} and round(int(rows["ENG-1"]["seconds"]) / 60) == 7 * 60
    only = msp_cli("report", "--tz", "UTC", "--by", "user", "--project", "beta", "--json").json()
    assert [(g["key"], g["sessions"]) for g in only["groups"]] == [("grace", 2)]
    both = msp_cli("report", "--tz", "UTC", "--by", "user", "--json").json()
    assert sorted((g["key"], g["sessions"]) for g in both["groups"]) == [("ada", 2), ("grace", 2)]


def test_report_writes_one_html_file(store: SqliteStore, msp_cli: Any, project_dir: Path) -> None:
    record(store, datetime.now(UTC))
    target = project_dir / "out" / "report.html"
    target.parent.mkdir()
    done = msp_cli("report", "--tz", "UTC", "--format", "html", "--output", str(target), "--json")
    assert done.code == 0, done.err
    assert done.json()["output"] == str(target)
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg ") == 3
    assert "map the &lt;charge&gt; &amp; &quot;flow&quot;" in page and "<charge>" not in page
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temporary file left


def test_report_json_format_to_stdout_and_file(store: SqliteStore, msp_cli: Any, project_dir: Path) -> None:
    record(store, datetime.now(UTC))
    printed = json.loads(msp_cli("report", "--tz", "UTC", "--format", "json").out)
    msp_cli("report", "--tz", "UTC", "--format", "json", "-o", "r.json")
    saved = json.loads((project_dir / "r.json").read_text(encoding="utf-8"))
    assert printed["groups"] == saved["groups"] and printed["total"]["sessions"] == 4


def test_a_window_with_nothing_still_reports(msp_cli: Any) -> None:
    done = msp_cli("report", "--from", "2020-01-01", "--to", "2020-01-02", "--by", "project", "--tz", "UTC")
    assert done.code == 0, done.err
    assert "(nothing recorded in this window)" in done.out


def test_bad_options_are_usage_errors_that_say_what_to_do(msp_cli: Any) -> None:
    for args, says in [(["--by", "week"], "--by 'week' is not a grouping"),
                       (["--format", "pdf"], "--format 'pdf' is not a format"),
                       (["--since", "7d", "--from", "2024-01-01"], "--since and --from/--to both given"),
                       (["--tz", "Nowhere/Else"], "'Nowhere/Else' is not a time zone"),
                       (["--format", "html", "--output", "/nonexistent-dir/r.html"], "cannot write")]:
        done = msp_cli("report", *args)
        assert done.code != 0 and says in done.err, (args, done.err)
        assert "hint:" in done.err
