"""The store backends the conformance suite runs against, and helpers its tests share."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msp._store import open_store
from msp._store.interface import PlannedAction, Store


@dataclass
class Backend:
    """One store backend under test."""

    name: str
    tmp: Path

    def spec(self, label: str = "store") -> str:
        """Where a fresh store of this backend lives (what ``open_store`` and the writer take)."""
        return str(self.tmp / f"{label}.db")

    def project_spec(self, project_dir: Path) -> str:
        """The store a project's CLI commands use."""
        return str(project_dir / ".msp" / "msp.db")

    def open(self, spec: str, **options: Any) -> Store:
        return open_store(Path(spec), **{"synchronous": "normal", **options})

    def check_sound(self, spec: str) -> None:
        """The backend's own check that nothing is torn or out of step (beyond the interface)."""
        con = sqlite3.connect(spec)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for sid, count, last_seq in con.execute("SELECT id, event_count, last_seq FROM sessions").fetchall():
                n, top = con.execute("SELECT count(*), max(seq) FROM events WHERE session_id = ?", (sid,)).fetchone()
                assert (count, last_seq) == (n, top)
            for (data,) in con.execute("SELECT data FROM events"):
                json.loads(data)  # no torn rows
        finally:
            con.close()


def planned(key: str, *, integration: str = "hook", session: str | None = "s1", kind: str = "http",
            held: bool = False, event: str = "e1", payload: dict[str, Any] | None = None) -> PlannedAction:
    """A planned action with a payload that says which it is."""
    return PlannedAction(key, event, integration, 0, kind, session, payload or {"key": key}, held)
