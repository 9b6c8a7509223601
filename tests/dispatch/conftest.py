"""Helpers for the dispatcher's tests: actions put straight into a real SQLite outbox."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from msp._config import DispatchConfig
from msp._dispatch.drain import Dispatcher, DrainOptions, DrainReport, IntegrationInfo
from msp._model.actions import HttpRequest, action_to_dict, stamp
from msp._store.interface import PlannedAction
from msp._store.sqlite import SqliteStore

FAST = {"backoff_base_s": 0.001, "backoff_cap_s": 0.005, "max_attempts": 5, "lease_s": 5.0, "timeout_s": 2.0}


class Outbox:
    """A store plus helpers to queue actions and run drains over it. ``db`` is a connection of
    its own to the same file, to look at (and doctor) rows the way no store method would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = SqliteStore(path, synchronous="normal")
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self._n = 0

    def add(self, integration: str = "hook", session: str | None = "s1", n: int = 1, *, held: bool = False,
            kind: str = "http", payload: Callable[[int], dict[str, Any]] | None = None) -> list[int]:
        planned = []
        for _ in range(n):
            self._n += 1
            key = f"key-{integration}-{self._n:05d}"
            if payload is not None:
                data = payload(self._n)
            else:
                data = action_to_dict(stamp(HttpRequest(path=f"/a/{self._n}", json_body={"n": self._n}),
                                            integration, key))
            planned.append(PlannedAction(key, f"event-{self._n}", integration, 0, kind, session, data, held))
        with self.store.write() as tx:
            tx.add_actions(planned)
        keys = [p.idempotency_key for p in planned]
        marks = ",".join("?" * len(keys))
        return [r[0] for r in self.db.execute(
            f"SELECT id FROM actions WHERE idempotency_key IN ({marks}) ORDER BY id", keys)]

    def rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM actions ORDER BY order_key")]

    def row(self, action_id: int) -> dict[str, Any]:
        return dict(self.db.execute("SELECT * FROM actions WHERE id = ?", (action_id,)).fetchone())

    def drain(
        self,
        executors: Mapping[str, Any],
        *,
        integrations: Mapping[str, IntegrationInfo] | None = None,
        wait: bool = True,
        deadline_s: float = 20.0,
        holds_lock: bool = True,
        executor_kinds: Mapping[str, Any] | None = None,
        limit: int | None = None,
        **config: Any,
    ) -> DrainReport:
        infos = integrations or {"hook": IntegrationInfo("hook", {"base_url": "http://127.0.0.1:9"}, {})}
        dispatcher = Dispatcher(
            self.store, infos, DispatchConfig(**{**FAST, **config}), self.path.parent,
            executors=executors, executor_kinds=executor_kinds, holds_lock=holds_lock,
        )
        opts = DrainOptions(wait=wait, deadline=time.monotonic() + deadline_s, limit=limit)
        return asyncio.run(dispatcher.run(opts))

    def close(self) -> None:
        self.db.close()
        self.store.close()


@pytest.fixture
def outbox(tmp_path: Path) -> Any:
    box = Outbox(tmp_path / "msp.db")
    yield box
    box.close()
