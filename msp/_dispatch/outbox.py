"""Outbox queries on the store's ``actions`` table (SQLite).

States: ``pending`` (due at ``next_attempt_ms``), ``held`` (waits for ``msp queue approve``),
``in_flight`` (claimed by a drain under a lease: ``lease_owner`` until ``lease_until_ms``),
``done``, ``dead`` (kept with its last error), ``dropped`` (removed from the queue by hand; kept
so that re-planning the same event does not bring it back).

Order: a *lane* is (integration, session). Within a lane actions are delivered in
``order_key`` order and an action is only claimed when no earlier action of its lane is still
``pending`` or ``in_flight``. Held, dead, done and dropped actions do not block a lane.

A PostgreSQL backend would implement the same operations with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from msp.errors import ActionNotFound, InvalidInput

if TYPE_CHECKING:
    from msp._store.sqlite import SqliteStore

ACTIVE = ("pending", "in_flight")
STATUSES = ("pending", "held", "in_flight", "done", "dead", "dropped")
Lane = tuple[str, str | None]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class ActionRow:
    """One outbox row."""

    id: int
    idempotency_key: str
    event_id: str
    integration: str
    position: int
    kind: str
    session_id: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    created_ms: int
    next_attempt_ms: int
    lease_until_ms: int | None
    lease_owner: str | None
    last_error: str | None
    result: str | None
    updated_ms: int
    order_key: str
    parent_id: int | None
    window_start_ms: int | None
    last_status: int | None

    @property
    def lane(self) -> Lane:
        return (self.integration, self.session_id)

    @property
    def window_ms(self) -> int:
        return self.window_start_ms if self.window_start_ms is not None else self.created_ms

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ActionRow:
        data = dict(row)
        data["payload"] = json.loads(data["payload"])
        data["order_key"] = data["order_key"] or f"{data['id']:012d}"
        return cls(**data)


@dataclass
class FollowUp:
    """A follow-up action to insert right after its parent."""

    idempotency_key: str
    kind: str
    payload: dict[str, Any]
    held: bool = False


@dataclass
class Update:
    """A state change for one action, written with others in one transaction."""

    id: int
    status: str  # pending | done | dead | released (back to pending, attempt not counted)
    attempts: int | None = None
    next_attempt_ms: int | None = None
    error: str | None = None
    keep_error: bool = False
    result: str | None = None
    status_code: int | None = None
    follow_ups: list[FollowUp] = field(default_factory=list)


class Outbox:
    """The outbox of one store."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.db = store.connection()

    @contextmanager
    def write(self) -> Iterator[OutboxTx]:
        with self.store.write():
            yield OutboxTx(self.db)

    @contextmanager
    def read(self) -> Iterator[OutboxTx]:
        with self.store.read():
            yield OutboxTx(self.db)


class OutboxTx:
    """Outbox operations inside one transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    # --- the drain -----------------------------------------------------------------------

    def reclaim(self, owner: str, now: int, *, other_owners: bool = False) -> int:
        """Put leased actions whose lease expired back to pending. With ``other_owners``
        (the caller holds the one-drain lock, so no other drain is alive) every lease not held
        by ``owner`` is reclaimed at once. Their outcome is unknown: an attempt is counted."""
        where = "status = 'in_flight' AND (lease_until_ms < ?"
        params: list[Any] = [now]
        if other_owners:
            where += " OR lease_owner IS NOT ?"
            params.append(owner)
        where += ")"
        cur = self.db.execute(
            "UPDATE actions SET status = 'pending', attempts = attempts + 1, lease_owner = NULL, "
            "lease_until_ms = NULL, next_attempt_ms = ?, updated_ms = ?, "
            "last_error = 'outcome unknown: the drain delivering it stopped (lease reclaimed); retrying' "
            f"WHERE {where}",
            [now, now, *params],
        )
        return cur.rowcount

    def renew(self, owner: str, until: int) -> None:
        self.db.execute(
            "UPDATE actions SET lease_until_ms = ? WHERE status = 'in_flight' AND lease_owner = ?", (until, owner)
        )

    def integrations_due(self, now: int) -> list[str]:
        rows = self.db.execute(
            "SELECT DISTINCT integration FROM actions WHERE status = 'pending' AND next_attempt_ms <= ?", (now,)
        )
        return [r[0] for r in rows]

    def claim(
        self,
        integration: str,
        owner: str,
        now: int,
        lease_until: int,
        lanes: int,
        *,
        run_max: int = 1,
        skip_lanes: Iterable[str | None] = (),
        skip_kinds: Iterable[str] = (),
    ) -> list[list[ActionRow]]:
        """Lease up to ``lanes`` runs of due actions of one integration, one run per lane.

        A run is the lane's head and the due, pending actions of the same kind right after it
        (at most ``run_max``), to be delivered in order by one worker.
        """
        if lanes <= 0:
            return []
        skip = set(skip_lanes)
        kinds = sorted(set(skip_kinds))
        kind_sql = f" AND a.kind NOT IN ({','.join('?' * len(kinds))})" if kinds else ""
        heads = self.db.execute(
            "SELECT a.* FROM actions a INDEXED BY actions_claim "
            "WHERE a.integration = ? AND a.status = 'pending' AND a.next_attempt_ms <= ?"
            f"{kind_sql} AND NOT EXISTS (SELECT 1 FROM actions b WHERE b.integration = a.integration "
            "AND b.session_id IS a.session_id AND b.status IN ('pending', 'in_flight') "
            "AND b.order_key < a.order_key) "
            "ORDER BY a.order_key LIMIT ?",
            [integration, now, *kinds, lanes + len(skip)],
        ).fetchall()
        runs: list[list[ActionRow]] = []
        for raw in heads:
            head = ActionRow.from_row(raw)
            if head.session_id in skip:
                continue
            run = [head]
            if run_max > 1:
                rest = self.db.execute(
                    "SELECT * FROM actions WHERE integration = ? AND session_id IS ? "
                    "AND status IN ('pending', 'in_flight') AND order_key > ? ORDER BY order_key LIMIT ?",
                    (integration, head.session_id, head.order_key, run_max - 1),
                ).fetchall()
                for raw_next in rest:
                    nxt = ActionRow.from_row(raw_next)
                    if nxt.status != "pending" or nxt.next_attempt_ms > now or nxt.kind != head.kind:
                        break
                    run.append(nxt)
            runs.append(run)
            if len(runs) >= lanes:
                break
        ids = [a.id for run in runs for a in run]
        if ids:
            self.db.execute(
                f"UPDATE actions SET status = 'in_flight', lease_owner = ?, lease_until_ms = ?, updated_ms = ? "
                f"WHERE id IN ({','.join('?' * len(ids))})",
                [owner, lease_until, now, *ids],
            )
            for run in runs:
                for a in run:
                    a.status, a.lease_owner, a.lease_until_ms = "in_flight", owner, lease_until
        return runs

    def apply(self, updates: Sequence[Update], now: int, parents: dict[int, ActionRow] | None = None) -> None:
        """Write outcomes. Follow-ups are inserted right after their parent in its lane."""
        for u in updates:
            sets = ["lease_owner = NULL", "lease_until_ms = NULL", "updated_ms = ?"]
            params: list[Any] = [now]
            status = "pending" if u.status == "released" else u.status
            sets.append("status = ?")
            params.append(status)
            if u.attempts is not None:
                sets.append("attempts = ?")
                params.append(u.attempts)
            if u.next_attempt_ms is not None:
                sets.append("next_attempt_ms = ?")
                params.append(u.next_attempt_ms)
            if not u.keep_error:
                sets.append("last_error = ?")
                params.append(u.error)
            if u.result is not None:
                sets.append("result = ?")
                params.append(u.result)
            if u.status_code is not None:
                sets.append("last_status = ?")
                params.append(u.status_code)
            params.append(u.id)
            self.db.execute(f"UPDATE actions SET {', '.join(sets)} WHERE id = ?", params)
            if u.follow_ups:
                parent = (parents or {}).get(u.id)
                assert parent is not None, "follow-ups need their parent row"
                self._insert_follow_ups(parent, u.follow_ups, now)

    def _insert_follow_ups(self, parent: ActionRow, follow_ups: list[FollowUp], now: int) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO actions (idempotency_key, event_id, integration, position, kind, session_id, "
            "payload, status, created_ms, next_attempt_ms, updated_ms, order_key, parent_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    f.idempotency_key, parent.event_id, parent.integration, parent.position, f.kind,
                    parent.session_id, json.dumps(f.payload, ensure_ascii=False, sort_keys=True),
                    "held" if f.held else "pending", now, now, now, f"{parent.order_key}.{i:04d}", parent.id,
                )
                for i, f in enumerate(follow_ups)
            ],
        )

    def next_due_ms(
        self,
        integration: str | None = None,
        skip_lanes: Iterable[Lane] = (),
        skip_integrations: Iterable[str] = (),
        skip_kinds: Iterable[str] = (),
    ) -> int | None:
        """When the earliest lane head that this drain could deliver comes due.

        A lane's head is its first pending or in-flight action; an in-flight head (leased by a
        drain that may be gone) counts as due when its lease runs out.
        """
        sql = (
            "SELECT a.integration, a.session_id, a.kind, a.status, a.next_attempt_ms, a.lease_until_ms "
            "FROM actions a WHERE a.status IN ('pending', 'in_flight') "
            "AND NOT EXISTS (SELECT 1 FROM actions b WHERE b.integration = a.integration "
            "AND b.session_id IS a.session_id AND b.status IN ('pending', 'in_flight') "
            "AND b.order_key < a.order_key)"
        )
        params: list[Any] = []
        if integration is not None:
            sql += " AND a.integration = ?"
            params.append(integration)
        lanes, integrations, kinds = set(skip_lanes), set(skip_integrations), set(skip_kinds)
        best: int | None = None
        for integ, session, kind, status, due, lease in self.db.execute(sql, params):
            if integ in integrations or kind in kinds or (integ, session) in lanes:
                continue
            when = int(due) if status == "pending" else int(lease or 0)
            best = when if best is None else min(best, when)
        return best

    # --- the queue commands --------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT status, count(*) FROM actions GROUP BY status")}

    def get(self, ref: str | int) -> ActionRow:
        """An action by its id, or by a unique prefix (6+ characters) of its idempotency key."""
        text = str(ref).strip().lstrip("#")
        row = None
        if text.isdigit():
            row = self.db.execute("SELECT * FROM actions WHERE id = ?", (int(text),)).fetchone()
        elif len(text) >= 6:
            rows = self.db.execute(
                "SELECT * FROM actions WHERE idempotency_key >= ? AND idempotency_key < ? LIMIT 2",
                (text, text + "\U0010ffff"),
            ).fetchall()
            if len(rows) > 1:
                raise InvalidInput(f"{ref!r} matches more than one action", "give more of the key, or the id")
            row = rows[0] if rows else None
        if row is None:
            raise ActionNotFound(f"no action with id {ref!r}", "list actions with `msp queue list --all`")
        return ActionRow.from_row(row)

    def select(self, statuses: Sequence[str], integration: str | None = None, limit: int = 100) -> list[ActionRow]:
        sql = f"SELECT * FROM actions WHERE status IN ({','.join('?' * len(statuses))})"
        params: list[Any] = list(statuses)
        if integration is not None:
            sql += " AND integration = ?"
            params.append(integration)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        return [ActionRow.from_row(r) for r in self.db.execute(sql, params)]

    def set_status(self, ids: Sequence[int], status: str, now: int, *, reset: bool = False) -> int:
        if not ids:
            return 0
        sets = "status = ?, updated_ms = ?, lease_owner = NULL, lease_until_ms = NULL"
        params: list[Any] = [status, now]
        if status == "pending":
            sets += ", next_attempt_ms = ?"
            params.append(now)
        if reset:
            sets += ", attempts = 0, window_start_ms = ?"
            params.append(now)
        cur = self.db.execute(f"UPDATE actions SET {sets} WHERE id IN ({','.join('?' * len(ids))})",
                              [*params, *ids])
        return cur.rowcount

    def ids_with_status(self, status: str, integration: str | None = None) -> list[int]:
        sql = "SELECT id FROM actions WHERE status = ?"
        params: list[Any] = [status]
        if integration is not None:
            sql += " AND integration = ?"
            params.append(integration)
        return [r[0] for r in self.db.execute(sql, params)]

    def pending_due(self, now: int, integration: str | None = None) -> int:
        sql = "SELECT count(*) FROM actions WHERE status = 'pending' AND next_attempt_ms <= ?"
        params: list[Any] = [now]
        if integration is not None:
            sql += " AND integration = ?"
            params.append(integration)
        return int(self.db.execute(sql, params).fetchone()[0])

    def note_error(self, ids: Sequence[int], error: str, now: int) -> None:
        """Record why actions were left pending without touching their schedule."""
        if ids:
            self.db.execute(
                f"UPDATE actions SET last_error = ?, updated_ms = ? WHERE id IN ({','.join('?' * len(ids))})",
                [error, now, *ids],
            )

    def pending_ids_of(self, integration: str, limit: int = 10_000) -> list[int]:
        rows = self.db.execute(
            "SELECT id FROM actions WHERE integration = ? AND status = 'pending' LIMIT ?", (integration, limit)
        )
        return [r[0] for r in rows]
