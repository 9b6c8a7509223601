"""The outbox on SQLite: the ``actions`` table, queried inside the store's transactions.

Only queries live here; the rules they follow (lane order, what counts as an attempt, the
manual operations) come from :mod:`msp._store.outbox_rules`. One drain runs per project and a
write transaction holds SQLite's single write lock, so a claim's read and its update can never
interleave with another claim's: no action is handed out twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from msp._store.interface import (
    ActionRow,
    FollowUp,
    Lane,
    PlannedAction,
    QueueOp,
    Update,
    iter_batches,
)
from msp._store.outbox_rules import (
    BLOCKING,
    QUEUE_OPS,
    RECLAIMED_NOTE,
    SUPERSEDABLE,
    counts_attempt,
    earliest_due,
    file_target,
    follow_up_order_key,
    initial_status,
    now_ms,
    order_key,
    outcome_columns,
    supersedes,
)

if TYPE_CHECKING:
    from msp._store.worker_records import WorkerRow
from msp.errors import ActionNotFound, InvalidInput

_BLOCKING_SQL = ", ".join(f"'{s}'" for s in BLOCKING)  # our constants, never user text
_SUPERSEDABLE_SQL = ", ".join(f"'{s}'" for s in SUPERSEDABLE)  # matches the index actions_supersede
#: No earlier action of the lane of ``a`` blocks it (see outbox_rules.BLOCKING).
_IS_HEAD = (
    "NOT EXISTS (SELECT 1 FROM actions b WHERE b.integration = a.integration "
    f"AND b.session_id IS a.session_id AND b.status IN ({_BLOCKING_SQL}) AND b.order_key < a.order_key)"
)


#: Ids per statement: well under SQLite's limit on bound parameters.
_BATCH = 500


def _marks(items: Sequence[Any]) -> str:
    return ",".join("?" * len(items))


def _payload_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def _row(row: sqlite3.Row) -> ActionRow:
    data = dict(row)
    data.pop("target", None)  # the outbox's own index key (add_actions), not part of the row
    data["payload"] = json.loads(data["payload"])
    data["order_key"] = data["order_key"] or order_key(data["id"])
    return ActionRow(**data)


class SqliteOutbox:
    """Outbox operations on one connection, inside the transaction its store opened."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    # --- reads ---------------------------------------------------------------------------

    def workers(self, seen_since_ms: int = 0) -> list[WorkerRow]:
        from msp._store.worker_records import WorkerRow  # here: only workers and status read them

        rows = self._db.execute(
            "SELECT id, host, pid, started_ms, last_beat_ms, integrations, delivered, stopped_ms FROM workers "
            "WHERE last_beat_ms >= ? ORDER BY last_beat_ms DESC, id", (seen_since_ms,),
        ).fetchall()
        return [WorkerRow(r["id"], r["host"], int(r["pid"]), int(r["started_ms"]), int(r["last_beat_ms"]),
                          list(json.loads(r["integrations"])), int(r["delivered"]), r["stopped_ms"])
                for r in rows]

    def integrations_due(self, now: int) -> list[str]:
        rows = self._db.execute(
            "SELECT DISTINCT integration FROM actions WHERE status = 'pending' AND next_attempt_ms <= ?", (now,)
        )
        return [r[0] for r in rows]

    def next_due_ms(
        self,
        integration: str | None = None,
        skip_lanes: Iterable[Lane] = (),
        skip_integrations: Iterable[str] = (),
        skip_kinds: Iterable[str] = (),
    ) -> int | None:
        sql = (
            "SELECT a.integration, a.session_id, a.kind, a.status, a.next_attempt_ms, a.lease_until_ms "
            f"FROM actions a WHERE a.status IN ({_BLOCKING_SQL}) AND {_IS_HEAD}"
        )
        params: list[Any] = []
        if integration is not None:
            sql += " AND a.integration = ?"
            params.append(integration)
        return earliest_due(self._db.execute(sql, params), skip_lanes, skip_integrations, skip_kinds)

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self._db.execute("SELECT status, count(*) FROM actions GROUP BY status")}

    def counts_by_integration(self, session_id: str | None = None) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        where, params = ("WHERE session_id = ? ", (session_id,)) if session_id is not None else ("", ())
        for integration, status, count in self._db.execute(
            f"SELECT integration, status, count(*) FROM actions {where}GROUP BY integration, status", params
        ):
            out.setdefault(integration, {})[status] = count
        return out

    def pending_due(self, now: int, integration: str | None = None, created_since: int | None = None) -> int:
        sql = "SELECT count(*) FROM actions WHERE status = 'pending' AND next_attempt_ms <= ?"
        params: list[Any] = [now]
        if integration is not None:
            sql += " AND integration = ?"
            params.append(integration)
        if created_since is not None:
            sql += " AND created_ms >= ?"
            params.append(created_since)
        return int(self._db.execute(sql, params).fetchone()[0])

    def get(self, ref: str | int) -> ActionRow:
        text = str(ref).strip().lstrip("#")
        row = None
        if text.isdigit():
            row = self._db.execute("SELECT * FROM actions WHERE id = ?", (int(text),)).fetchone()
        elif len(text) >= 6:
            # A prefix by range, not LIKE, so `%` and `_` in user text mean themselves.
            rows = self._db.execute(
                "SELECT * FROM actions WHERE idempotency_key >= ? AND idempotency_key < ? LIMIT 2",
                (text, text + "\U0010ffff"),
            ).fetchall()
            if len(rows) > 1:
                raise InvalidInput(f"{ref!r} matches more than one action", "give more of the key, or the id")
            row = rows[0] if rows else None
        if row is None:
            raise ActionNotFound(f"no action with id {ref!r}", "list actions with `msp queue list --all`")
        return _row(row)

    def by_keys(self, keys: Sequence[str]) -> list[ActionRow]:
        found = [
            _row(r) for batch in iter_batches(keys, _BATCH)
            for r in self._db.execute(f"SELECT * FROM actions WHERE idempotency_key IN ({_marks(batch)})", batch)
        ]
        return sorted(found, key=lambda a: a.id)

    def select(self, statuses: Sequence[str], integration: str | None = None, limit: int = 100) -> list[ActionRow]:
        sql = f"SELECT * FROM actions WHERE status IN ({_marks(statuses)})"
        params: list[Any] = list(statuses)
        if integration is not None:
            sql += " AND integration = ?"
            params.append(integration)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        return [_row(r) for r in self._db.execute(sql, params)]

    def ids_with_status(self, status: str, integration: str | None = None) -> list[int]:
        sql = "SELECT id FROM actions WHERE status = ?"
        params: list[Any] = [status]
        if integration is not None:
            sql += " AND integration = ?"
            params.append(integration)
        return [r[0] for r in self._db.execute(sql + " ORDER BY id", params)]

    def pending_ids_of(self, integration: str, limit: int = 10_000) -> list[int]:
        rows = self._db.execute(
            "SELECT id FROM actions WHERE integration = ? AND status = 'pending' ORDER BY id LIMIT ?",
            (integration, limit),
        )
        return [r[0] for r in rows]

    # --- writes --------------------------------------------------------------------------

    def add_actions(self, actions: Sequence[PlannedAction], now: int | None = None) -> int:
        if not actions:
            return 0
        at = now_ms() if now is None else now
        added = 0
        # One statement per action (an event plans a handful): a key already present is
        # skipped, and only an action really added may supersede older ones.
        for a in actions:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO actions (idempotency_key, event_id, integration, position, kind, "
                "session_id, payload, status, created_ms, next_attempt_ms, updated_ms, target) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (a.idempotency_key, a.event_id, a.integration, a.position, a.kind, a.session_id,
                 _payload_json(a.payload), initial_status(a.held), at, at, at, file_target(a.kind, a.payload)),
            )
            if cur.rowcount <= 0:
                continue
            added += 1
            rule = supersedes(a.kind, a.payload)
            if rule is not None:
                self._supersede(a.integration, int(cur.lastrowid or 0), rule, at)
        return added

    def _supersede(self, integration: str, newer: int, rule: tuple[str, bool], now: int) -> None:
        key, whole_file = rule
        # A prefix by range, not LIKE: paths are user text, `%` and `_` must mean themselves.
        if whole_file:
            match, params = "target >= ? AND target < ?", [key, key + "\U0010ffff"]
        else:
            match, params = "target = ?", [key]
        self._db.execute(
            f"UPDATE actions SET status = 'superseded', updated_ms = ?, last_error = NULL, result = ? "
            f"WHERE integration = ? AND status IN ({_SUPERSEDABLE_SQL}) AND {match} AND id < ?",
            [now, f"superseded by #{newer}, a newer write of the same file", integration, *params, newer],
        )

    def reclaim(self, owner: str, now: int, *, other_owners: bool = False) -> int:
        where = "status = 'in_flight' AND (lease_until_ms < ?"
        params: list[Any] = [now]
        if other_owners:
            where += " OR lease_owner IS NOT ?"
            params.append(owner)
        where += ")"
        # Started: the request may have landed, outcome unknown -> due now, attempt counted.
        # Never started: back exactly as it was claimed (schedule and last_error kept).
        cur = self._db.execute(
            "UPDATE actions SET status = 'pending', lease_owner = NULL, lease_until_ms = NULL, updated_ms = ?, "
            "attempts = attempts + CASE WHEN started_ms IS NULL THEN ? ELSE ? END, "
            "next_attempt_ms = CASE WHEN started_ms IS NULL THEN next_attempt_ms ELSE ? END, "
            "last_error = CASE WHEN started_ms IS NULL THEN last_error ELSE ? END, "
            f"started_ms = NULL WHERE {where}",
            [now, int(counts_attempt(False)), int(counts_attempt(True)), now, RECLAIMED_NOTE, *params],
        )
        return cur.rowcount

    def mark_started(self, ids: Sequence[int], owner: str, now: int) -> None:
        for batch in iter_batches(ids, _BATCH):
            self._db.execute(
                f"UPDATE actions SET started_ms = ? WHERE id IN ({_marks(batch)}) "
                "AND status = 'in_flight' AND lease_owner = ?",
                [now, *batch, owner],
            )

    def renew(self, owner: str, until: int) -> None:
        self._db.execute(
            "UPDATE actions SET lease_until_ms = ? WHERE status = 'in_flight' AND lease_owner = ?", (until, owner)
        )

    def beat(self, worker: WorkerRow) -> None:
        self._db.execute(
            "INSERT INTO workers (id, host, pid, started_ms, last_beat_ms, integrations, delivered, stopped_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET last_beat_ms = excluded.last_beat_ms, "
            "integrations = excluded.integrations, delivered = excluded.delivered, stopped_ms = excluded.stopped_ms",
            (worker.id, worker.host, worker.pid, worker.started_ms, worker.last_beat_ms,
             json.dumps(sorted(worker.integrations)), worker.delivered, worker.stopped_ms),
        )

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
        if lanes <= 0:
            return []
        skip = set(skip_lanes)
        kinds = sorted(set(skip_kinds))
        kind_sql = f" AND a.kind NOT IN ({_marks(kinds)})" if kinds else ""
        heads = self._db.execute(
            "SELECT a.* FROM actions a INDEXED BY actions_claim "
            f"WHERE a.integration = ? AND a.status = 'pending' AND a.next_attempt_ms <= ?{kind_sql} "
            f"AND {_IS_HEAD} ORDER BY a.order_key LIMIT ?",
            [integration, now, *kinds, lanes + len(skip)],
        ).fetchall()
        runs: list[list[ActionRow]] = []
        for raw in heads:
            head = _row(raw)
            if head.session_id in skip:
                continue
            run = [head]
            if run_max > 1:
                rest = self._db.execute(
                    "SELECT * FROM actions WHERE integration = ? AND session_id IS ? "
                    f"AND status IN ({_BLOCKING_SQL}) AND order_key > ? ORDER BY order_key LIMIT ?",
                    (integration, head.session_id, head.order_key, run_max - 1),
                ).fetchall()
                for raw_next in rest:
                    nxt = _row(raw_next)
                    if nxt.status != "pending" or nxt.next_attempt_ms > now or nxt.kind != head.kind:
                        break
                    run.append(nxt)
            runs.append(run)
            if len(runs) >= lanes:
                break
        ids = [a.id for run in runs for a in run]
        if ids:
            self._db.execute(
                "UPDATE actions SET status = 'in_flight', lease_owner = ?, lease_until_ms = ?, updated_ms = ?, "
                f"started_ms = NULL WHERE id IN ({_marks(ids)})",
                [owner, lease_until, now, *ids],
            )
            for run in runs:
                for a in run:
                    a.status, a.lease_owner, a.lease_until_ms, a.started_ms = "in_flight", owner, lease_until, None
        return runs

    def apply(self, updates: Sequence[Update], now: int, parents: dict[int, ActionRow] | None = None) -> None:
        for u in updates:
            columns = outcome_columns(u, now)
            assignments = ", ".join(f"{name} = ?" for name, _ in columns)
            self._db.execute(f"UPDATE actions SET {assignments} WHERE id = ?", [*(v for _, v in columns), u.id])
            if u.follow_ups:
                parent = (parents or {}).get(u.id)
                if parent is None:
                    raise ValueError(f"follow-ups of action {u.id} need its row in `parents`")
                self._insert_follow_ups(parent, u.follow_ups, now)

    def _insert_follow_ups(self, parent: ActionRow, follow_ups: list[FollowUp], now: int) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO actions (idempotency_key, event_id, integration, position, kind, session_id, "
            "payload, status, created_ms, next_attempt_ms, updated_ms, order_key, parent_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (f.idempotency_key, parent.event_id, parent.integration, parent.position, f.kind,
                 parent.session_id, _payload_json(f.payload), initial_status(f.held), now, now, now,
                 follow_up_order_key(parent.order_key, i), parent.id)
                for i, f in enumerate(follow_ups)
            ],
        )

    def set_status(self, ids: Sequence[int], op: QueueOp, now: int) -> list[int]:
        if not ids:
            return []
        rule = QUEUE_OPS[op]
        sets = "status = ?, updated_ms = ?, lease_owner = NULL, lease_until_ms = NULL, started_ms = NULL"
        params: list[Any] = [rule.to, now]
        if rule.to == "pending":
            sets += ", next_attempt_ms = ?"
            params.append(now)
        if rule.fresh:
            sets += ", attempts = 0, offline_attempts = 0, window_start_ms = ?"
            params.append(now)
        changed: list[int] = []
        for batch in iter_batches(ids, _BATCH):
            changed += [r[0] for r in self._db.execute(
                f"UPDATE actions SET {sets} WHERE id IN ({_marks(batch)}) "
                f"AND status IN ({_marks(rule.sources)}) RETURNING id",
                [*params, *batch, *rule.sources],
            )]
        return sorted(changed)

    def note_error(self, ids: Sequence[int], error: str, now: int) -> None:
        for batch in iter_batches(ids, _BATCH):
            self._db.execute(
                f"UPDATE actions SET last_error = ?, updated_ms = ? WHERE id IN ({_marks(batch)})",
                [error, now, *batch],
            )
