"""An msp-model import run twice records each moment once, on every store backend: what is
present is told by the events' derived ids, read through the store interface."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from msp._importers.msp_model import Report, parse_zone, record, scan
from msp._store.interface import Store

STATE = Path(__file__).resolve().parent.parent / "importers" / "msp_lite_state"


def test_importing_twice_adds_nothing(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "lite"
    shutil.copytree(STATE, folder)
    zone, said = parse_zone("UTC")
    counts: list[tuple[int, int, int]] = []
    for _ in range(2):
        report = Report(str(folder), said, "payments")
        record(store, scan(folder, "payments", zone, report), report)
        counts.append((report.sessions, report.events, report.present))
        with store.read() as tx:
            total = tx.count_events()
    assert counts == [(3, 12, 0), (0, 0, 3)]
    assert total == 12
    with store.read() as tx:
        rows = {r.id: r for r in tx.list_sessions("payments")}
    assert rows["msp-lite-20250114-091500"].status == "closed" and rows["msp-lite-20250114-091500"].progress == 60
    assert rows["msp-lite-20250117-090000"].status == "active"


def test_a_different_session_under_the_same_id_is_not_merged(store: Store, tmp_path: Path, manager: Any) -> None:
    folder = tmp_path / "lite"
    shutil.copytree(STATE, folder)
    zone, said = parse_zone("UTC")
    report = Report(str(folder), said, "payments")
    sessions = scan(folder, "payments", zone, report)
    # The same id, another start time: other event ids, so another session.
    report_other = Report(str(folder), said, "payments")
    shifted = scan(folder, "payments", parse_zone("+03:00")[0], report_other)
    record(store, sessions[:1], report)
    record(store, shifted[:1], report_other)
    assert report_other.events == 0 and len(report_other.skipped) == 1
    assert "different session" in report_other.skipped[0].reason
