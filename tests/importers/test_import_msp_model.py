"""`msp import msp-model`: MSP Lite's state folder (fixtures written for these tests in the shape
Windows PowerShell writes: BOM, CRLF) recorded as events, once, through the real CLI."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from msp._importers.msp_model import _decode, parse_stamp, parse_zone
from msp._store.sqlite import SqliteStore

STATE = Path(__file__).parent / "msp_lite_state"


@pytest.fixture
def lite(tmp_path: Path) -> Path:
    folder = tmp_path / ".msp-lite"
    shutil.copytree(STATE, folder)
    return folder


def _ok(msp_cli: Any, *args: str) -> dict[str, Any]:
    r = msp_cli(*args, "--json")
    assert r.code == 0, r.err
    data: dict[str, Any] = r.json()
    return data


def _events(project_dir: Path) -> list[Any]:
    store = SqliteStore(project_dir / ".msp" / "msp.db")
    try:
        with store.read() as tx:
            return tx.events_since(0, limit=10_000)
    finally:
        store.close()


def test_sessions_come_in_with_their_ids_times_and_items(msp_cli: Any, project_dir: Path, lite: Path) -> None:
    report = _ok(msp_cli, "import", "msp-model", str(lite), "--tz", "Europe/Berlin")
    assert report["sessions"] == 3 and report["events"] == 12 and report["already_present"] == 0
    assert report["zone"] == "Europe/Berlin"
    assert [d["file"] for d in report["damaged"]] == ["archive/msp-lite-20250116-080000.json"]
    assert report["unknown"] == ["archive/notes.txt", "old-backup.zip"]  # derived files and exports are known
    events = _events(project_dir)
    assert all(e.data["imported_from"] == "msp-model" for e in events)
    first = [e for e in events if e.session_id == "msp-lite-20250114-091500"]
    assert [e.type for e in first] == ["session_started", "progress_updated", "progress_updated",
                                       "decision_recorded", "progress_updated", "session_closed"]
    # 09:15 in Berlin in January is 08:15 UTC.
    assert first[0].at == datetime(2025, 1, 14, 8, 15, tzinfo=UTC)
    assert first[0].data["user"] == "dana" and first[0].data["host"] == "DANA-LAPTOP"
    assert first[-1].at == datetime(2025, 1, 14, 10, 45, 30, tzinfo=UTC) and first[-1].data["progress"] == 60
    assert first[4].data["text"] == "Refund path passes its tests — café ünïcode ✓"
    assert first[3].data["text"] == "Decided to use the ledger table for refunds" and first[3].data["detected"]
    second = [e for e in events if e.session_id == "msp-lite-20250115-140000"]
    # The /Date(ms)/ time carries its own zone (UTC); the blank update is left out, the bad
    # progress only loses its progress.
    assert second[1].at == datetime(2025, 1, 15, 14, 30, tzinfo=UTC)
    assert [e.data.get("progress") for e in second if e.type == "progress_updated"] == [70, None]
    sessions = {s["id"]: s for s in _ok(msp_cli, "sessions")["sessions"]}
    assert sessions["msp-lite-20250114-091500"]["status"] == "closed"
    assert sessions["msp-lite-20250117-090000"]["status"] == "active"  # in progress in MSP Lite
    notes = " ".join(n["reason"] for n in report["notes"])
    assert "update 2 left out" in notes and "progress 140 left out" in notes


def test_a_second_run_imports_nothing_and_plans_nothing(msp_cli: Any, project_dir: Path, lite: Path,
                                                        tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text() + f'\n[integrations.obsidian]\nvault = "{vault.as_posix()}"\n')
    _ok(msp_cli, "import", "msp-model", str(lite))
    before = _events(project_dir)
    again = _ok(msp_cli, "import", "msp-model", str(lite))
    assert (again["sessions"], again["events"], again["already_present"]) == (0, 0, 3)
    assert [e.id for e in _events(project_dir)] == [e.id for e in before]
    # Nothing was planned at import; a replay back-fills the integration.
    assert _ok(msp_cli, "queue")["counts"] == {}
    replayed = _ok(msp_cli, "replay", "--integration", "obsidian")
    assert replayed["events"] == 12 and replayed["new_actions"] > 0, replayed
    assert sum(_ok(msp_cli, "queue")["counts"].values()) == replayed["new_actions"]


def test_a_session_in_progress_gets_what_was_added_since(msp_cli: Any, project_dir: Path, lite: Path) -> None:
    _ok(msp_cli, "import", "msp-model", str(lite), "--tz", "UTC")
    current = json.loads((lite / "current-session.json").read_text(encoding="utf-8-sig"))
    current["updates"].append({"timestamp": "2025-01-17 10:00:00", "message": "Report totals match", "progress": 50})
    current.update(status="completed", endTime="2025-01-17 10:15:00", progress=50)
    (lite / "archive" / "msp-lite-20250117-090000.json").write_text("\ufeff" + json.dumps(current), encoding="utf-8")
    (lite / "current-session.json").unlink()
    report = _ok(msp_cli, "import", "msp-model", str(lite), "--tz", "UTC")
    assert (report["sessions"], report["events"], report["already_present"]) == (1, 2, 2)
    added = [e for e in _events(project_dir) if e.session_id == "msp-lite-20250117-090000"]
    assert [e.type for e in added] == ["session_started", "progress_updated", "progress_updated", "session_closed"]
    assert added[-1].at == datetime(2025, 1, 17, 10, 15, tzinfo=UTC)


def test_the_session_in_progress_waits_while_msp_has_one_active(msp_cli: Any, project_dir: Path, lite: Path) -> None:
    _ok(msp_cli, "start", "--goal", "today's work")
    report = _ok(msp_cli, "import", "msp-model", str(lite))
    assert report["sessions"] == 2
    assert [s["file"] for s in report["skipped"]] == ["current-session.json"]


def test_msps_own_store_is_never_read_as_msp_model_state(msp_cli: Any, project_dir: Path, lite: Path) -> None:
    r = msp_cli("import", "msp-model", str(project_dir / ".msp"))
    assert r.code != 0 and "msp's own store folder" in r.err
    empty = project_dir / "nothing"
    empty.mkdir()
    r = msp_cli("import", "msp-model", str(empty))
    assert r.code != 0 and "holds no msp-model state" in r.err
    # Nor is msp-model's folder ever taken for an msp store: nothing is written into it.
    before = sorted(p.name for p in lite.iterdir())
    r = msp_cli("status", env={"MSP_DIR": str(lite)})
    assert r.code != 0 and "holds msp-model's state" in r.err
    r = msp_cli("init", env={"MSP_DIR": str(lite)})
    assert r.code != 0
    assert sorted(p.name for p in lite.iterdir()) == before


def test_a_bad_zone_is_a_clear_error(msp_cli: Any, lite: Path) -> None:
    r = msp_cli("import", "msp-model", str(lite), "--tz", "Mars/Olympus")
    assert r.code == 2 and "not a time zone" in r.err


def test_dry_run_stores_nothing(msp_cli: Any, project_dir: Path, lite: Path) -> None:
    report = _ok(msp_cli, "import", "msp-model", str(lite), "--dry-run")
    assert report["sessions"] == 3 and report["events"] == 12
    assert _events(project_dir) == []


def test_times_as_msp_model_writes_them() -> None:
    berlin, _ = parse_zone("Europe/Berlin")
    assert parse_stamp("2025-07-01 12:00:00", berlin) == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)  # summer time
    assert parse_stamp("2025-01-01 12.00.00", UTC) == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)  # "." separator
    assert parse_stamp("2025-01-01T12:00:00.1234567+02:00", None) == datetime(2025, 1, 1, 10, 0, 0, 123456,
                                                                                tzinfo=UTC)
    assert parse_stamp("/Date(0)/", berlin) == datetime(1970, 1, 1, tzinfo=UTC)
    plus, said = parse_zone("+05:30")
    assert plus == timezone(timedelta(hours=5, minutes=30)) and said == "UTC+05:30"
    for bad in ("yesterday", "2025-13-01 00:00:00", 20250101, None):
        with pytest.raises(ValueError):
            parse_stamp(bad, UTC)


def test_byte_order_marks_are_read() -> None:
    text = '{"id": "x"}'
    assert _decode(("\ufeff" + text).encode("utf-8")) == text
    assert _decode(("\ufeff" + text).encode("utf-16-le")) == text
    assert _decode(text.encode("utf-8")) == text
