"""The outbox on PostgreSQL: the ``actions`` table, queried inside the store's transactions.

Only queries live here; the rules they follow (lane order, what counts as an attempt, the
manual operations) come from :mod:`msp._store.outbox_rules`.

Claiming is safe with any number of drains and workers on any number of machines, without a
store-wide lock: one statement picks the lane heads (a pending action due now with no earlier
action of its lane in a blocking status), locks them ``FOR UPDATE SKIP LOCKED`` and marks them
in flight, the per-lock fetch of procrastinate. A head another claim holds is skipped, and the
actions behind it are not heads in any snapshot while it is pending or in flight, so no action
is handed out twice and a lane is never delivered out of order. A row changed by a claim that
committed after this statement's snapshot is re-checked on its new version before it is locked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from msp._store.interface import ActionRow, FollowUp, Lane, PlannedAction, QueueOp, Update
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
    outcome_columns,
    supersedes,
)
from msp._store.worker_records import WorkerRow
from msp.errors import ActionNotFound, InvalidInput

if TYPE_CHECKING:
    from msp._store.postgres import PostgresAccess

#: The channel ``add_actions`` notifies (payload: the integration) when it queued something.
NOTIFY_CHANNEL = "msp_outbox"

_BLOCKING_SQL = ", ".join(f"'{s}'" for s in BLOCKING)  # our constants, never user text
_SUPERSEDABLE_SQL = ", ".join(f"'{s}'" for s in SUPERSEDABLE)  # matches the index actions_supersede
#: No earlier action of the lane of ``a`` blocks it (see outbox_rules.BLOCKING).
_IS_HEAD = (
    "NOT EXISTS (SELECT 1 FROM actions b WHERE b.integration = a.integration AND b.lane = a.lane "
    f"AND b.status IN ({_BLOCKING_SQL}) AND b.order_key < a.order_key)"
)
_COLUMNS = (
    "id", "idempotency_key", "event_id", "integration", "position", "kind", "session_id", "payload", "status",
    "attempts", "created_ms", "next_attempt_ms", "lease_until_ms", "lease_owner", "last_error", "result",
    "updated_ms", "order_key", "parent_id", "window_start_ms", "last_status", "started_ms", "offline_attempts",
)
_SELECT = ", ".join(_COLUMNS)
_SELECT_A = ", ".join(f"a.{c}" for c in _COLUMNS)


def _payload_json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def _target_bytes(target: str | None) -> bytes | None:
    """outbox_rules' file target as the ``bytea`` column holds it (NUL is no text in PostgreSQL)."""
    return None if target is None else target.encode("utf-8")


def _row(row: dict[str, Any]) -> ActionRow:
    data = dict(row)
    data["payload"] = json.loads(data["payload"])
    return ActionRow(**data)


class PostgresOutbox:
    """Outbox operations inside the transaction of one :class:`PostgresAccess`."""

    def __init__(self, access: PostgresAccess) -> None:
        self._tx = access

    def _x(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        return self._tx.execute(query, params)

    # --- reads ----------------------------------------------------------------------------

    def workers(self, seen_since_ms: int = 0) -> list[WorkerRow]:
        rows = self._x(
            "SELECT id, host, pid, started_ms, last_beat_ms, integrations, delivered, stopped_ms FROM workers "
            "WHERE last_beat_ms >= %s ORDER BY last_beat_ms DESC, id", (seen_since_ms,),
        )
        return [WorkerRow(r["id"], r["host"], int(r["pid"]), int(r["started_ms"]), int(r["last_beat_ms"]),
                          list(r["integrations"]), int(r["delivered"]),
                          None if r["stopped_ms"] is None else int(r["stopped_ms"]))
                for r in rows]

    def integrations_due(self, now: int) -> list[str]:
        rows = self._x(
            "SELECT DISTINCT integration FROM actions WHERE status = 'pending' AND next_attempt_ms <= %s "
            "ORDER BY integration", (now,)
        )
        return [r["integration"] for r in rows]

    def next_due_ms(
        self,
        integration: str | None = None,
        skip_lanes: Iterable[Lane] = (),
        skip_integrations: Iterable[str] = (),
        skip_kinds: Iterable[str] = (),
    ) -> int | None:
        query = (
            "SELECT a.integration, a.session_id, a.kind, a.status, a.next_attempt_ms, a.lease_until_ms "
            f"FROM actions a WHERE a.status IN ({_BLOCKING_SQL}) AND {_IS_HEAD}"
        )
        params: list[Any] = []
        if integration is not None:
            query += " AND a.integration = %s"
            params.append(integration)
        heads = ((r["integration"], r["session_id"], r["kind"], r["status"], r["next_attempt_ms"], r["lease_until_ms"])
                 for r in self._x(query, params))
        return earliest_due(heads, skip_lanes, skip_integrations, skip_kinds)

    def counts(self) -> dict[str, int]:
        return {r["status"]: int(r["n"]) for r in self._x("SELECT status, count(*) AS n FROM actions GROUP BY status")}

    def counts_by_integration(self, session_id: str | None = None) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        where, params = ("WHERE session_id = %s ", (session_id,)) if session_id is not None else ("", ())
        for r in self._x(f"SELECT integration, status, count(*) AS n FROM actions {where}GROUP BY integration, status",
                         params):
            out.setdefault(r["integration"], {})[r["status"]] = int(r["n"])
        return out

    def pending_due(self, now: int, integration: str | None = None, created_since: int | None = None) -> int:
        query = "SELECT count(*) AS n FROM actions WHERE status = 'pending' AND next_attempt_ms <= %s"
        params: list[Any] = [now]
        if integration is not None:
            query += " AND integration = %s"
            params.append(integration)
        if created_since is not None:
            query += " AND created_ms >= %s"
            params.append(created_since)
        return int(self._x(query, params).fetchone()["n"])

    def get(self, ref: str | int) -> ActionRow:
        text = str(ref).strip().lstrip("#")
        row = None
        if text.isdigit():
            if int(text) < 2**63:
                row = self._x(f"SELECT {_SELECT} FROM actions WHERE id = %s", (int(text),)).fetchone()
        elif len(text) >= 6:
            # starts_with, not LIKE: `%` and `_` in user text mean themselves.
            rows = self._x(
                f"SELECT {_SELECT} FROM actions WHERE starts_with(idempotency_key, %s) LIMIT 2", (text,)
            ).fetchall()
            if len(rows) > 1:
                raise InvalidInput(f"{ref!r} matches more than one action", "give more of the key, or the id")
            row = rows[0] if rows else None
        if row is None:
            raise ActionNotFound(f"no action with id {ref!r}", "list actions with `msp queue list --all`")
        return _row(row)

    def by_keys(self, keys: Sequence[str]) -> list[ActionRow]:
        if not keys:
            return []
        rows = self._x(f"SELECT {_SELECT} FROM actions WHERE idempotency_key = ANY(%s) ORDER BY id", (list(keys),))
        return [_row(r) for r in rows]

    def select(self, statuses: Sequence[str], integration: str | None = None, limit: int = 100) -> list[ActionRow]:
        query = f"SELECT {_SELECT} FROM actions WHERE status = ANY(%s)"
        params: list[Any] = [list(statuses)]
        if integration is not None:
            query += " AND integration = %s"
            params.append(integration)
        query += " ORDER BY id LIMIT %s"
        params.append(limit)
        return [_row(r) for r in self._x(query, params)]

    def ids_with_status(self, status: str, integration: str | None = None) -> list[int]:
        query = "SELECT id FROM actions WHERE status = %s"
        params: list[Any] = [status]
        if integration is not None:
            query += " AND integration = %s"
            params.append(integration)
        return [int(r["id"]) for r in self._x(query + " ORDER BY id", params)]

    def pending_ids_of(self, integration: str, limit: int = 10_000) -> list[int]:
        rows = self._x(
            "SELECT id FROM actions WHERE integration = %s AND status = 'pending' ORDER BY id LIMIT %s",
            (integration, limit),
        )
        return [int(r["id"]) for r in rows]

    # --- writes ---------------------------------------------------------------------------

    def add_actions(self, actions: Sequence[PlannedAction], now: int | None = None) -> int:
        if not actions:
            return 0
        at = now_ms() if now is None else now
        # Under the append lock: ids (and so lane order) are drawn in commit order. One
        # statement for the batch; workers LISTENing on the channel wake when it commits.
        rows = self._tx.execute(
            "WITH new AS ("
            " INSERT INTO actions (idempotency_key, event_id, integration, position, kind, session_id, payload,"
            " status, created_ms, next_attempt_ms, updated_ms, target)"
            " SELECT k, e, i, p, kd, s, pl, st, %(at)s, %(at)s, %(at)s, tg FROM unnest("
            "  %(keys)s::text[], %(events)s::text[], %(integrations)s::text[], %(positions)s::int[],"
            "  %(kinds)s::text[], %(sessions)s::text[], %(payloads)s::text[], %(statuses)s::text[],"
            "  %(targets)s::bytea[]"
            " ) WITH ORDINALITY AS t(k, e, i, p, kd, s, pl, st, tg, n) ORDER BY n"
            " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key, integration),"
            f" note AS (SELECT pg_notify('{NOTIFY_CHANNEL}', i) FROM (SELECT DISTINCT integration AS i FROM new) d)"
            " SELECT new.id, new.idempotency_key, (SELECT count(*) FROM note) AS notified FROM new ORDER BY new.id",
            {
                "at": at,
                "keys": [a.idempotency_key for a in actions],
                "events": [a.event_id for a in actions],
                "integrations": [a.integration for a in actions],
                "positions": [a.position for a in actions],
                "kinds": [a.kind for a in actions],
                "sessions": [a.session_id for a in actions],
                "payloads": [_payload_json(a.payload) for a in actions],
                "statuses": [initial_status(a.held) for a in actions],
                "targets": [_target_bytes(file_target(a.kind, a.payload)) for a in actions],
            },
            lock=True,
        ).fetchall()
        # Only an action really added may supersede older ones, in the order they were planned.
        added = {r["idempotency_key"]: int(r["id"]) for r in rows}
        for a in actions:
            newer = added.get(a.idempotency_key)
            rule = supersedes(a.kind, a.payload) if newer is not None else None
            if newer is not None and rule is not None:
                self._supersede(a.integration, newer, rule, at)
        return len(rows)

    def _supersede(self, integration: str, newer: int, rule: tuple[str, bool], now: int) -> None:
        key, whole_file = rule
        prefix = key.encode("utf-8")
        # A prefix as a byte range: no UTF-8 text holds the byte 0xff, so it bounds every
        # target that starts with the key (paths are user text: never a LIKE pattern).
        match, params = ("target >= %s AND target < %s", [prefix, prefix + b"\xff"]) if whole_file \
            else ("target = %s", [prefix])
        self._x(
            f"UPDATE actions SET status = 'superseded', updated_ms = %s, last_error = NULL, result = %s "
            f"WHERE integration = %s AND status IN ({_SUPERSEDABLE_SQL}) AND {match} AND id < %s",
            [now, f"superseded by #{newer}, a newer write of the same file", integration, *params, newer],
        )

    def reclaim(self, owner: str, now: int, *, other_owners: bool = False) -> int:
        where = "status = 'in_flight' AND (lease_until_ms < %s"
        params: list[Any] = [now]
        if other_owners:
            where += " OR lease_owner IS DISTINCT FROM %s"
            params.append(owner)
        where += ")"
        # Started: the request may have landed, outcome unknown -> due now, attempt counted.
        # Never started: back exactly as it was claimed (schedule and last_error kept).
        cur = self._x(
            "UPDATE actions SET status = 'pending', lease_owner = NULL, lease_until_ms = NULL, updated_ms = %s, "
            "attempts = attempts + CASE WHEN started_ms IS NULL THEN %s ELSE %s END, "
            "next_attempt_ms = CASE WHEN started_ms IS NULL THEN next_attempt_ms ELSE %s END, "
            "last_error = CASE WHEN started_ms IS NULL THEN last_error ELSE %s END, "
            f"started_ms = NULL WHERE {where}",
            [now, int(counts_attempt(False)), int(counts_attempt(True)), now, RECLAIMED_NOTE, *params],
        )
        return int(cur.rowcount)

    def mark_started(self, ids: Sequence[int], owner: str, now: int) -> None:
        if ids:
            self._x(
                "UPDATE actions SET started_ms = %s WHERE id = ANY(%s) AND status = 'in_flight' AND lease_owner = %s",
                (now, [int(i) for i in ids], owner),
            )

    def renew(self, owner: str, until: int) -> None:
        self._x(
            "UPDATE actions SET lease_until_ms = %s WHERE status = 'in_flight' AND lease_owner = %s", (until, owner)
        )

    def beat(self, worker: WorkerRow) -> None:
        # An outbox write: no append lock, like the lease renewal it goes with.
        self._x(
            "INSERT INTO workers (id, host, pid, started_ms, last_beat_ms, integrations, delivered, stopped_ms) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "last_beat_ms = excluded.last_beat_ms, integrations = excluded.integrations, "
            "delivered = excluded.delivered, stopped_ms = excluded.stopped_ms",
            (worker.id, worker.host, worker.pid, worker.started_ms, worker.last_beat_ms,
             sorted(worker.integrations), worker.delivered, worker.stopped_ms),
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
        # The check and the claim in one statement (see the module docstring).
        heads = self._x(
            "WITH heads AS ("
            " SELECT a.id FROM actions a"
            " WHERE a.integration = %(integration)s AND a.status = 'pending' AND a.next_attempt_ms <= %(now)s"
            " AND a.kind <> ALL(%(kinds)s::text[]) AND a.lane <> ALL(%(lanes)s::text[])"
            f" AND {_IS_HEAD}"
            " ORDER BY a.order_key LIMIT %(limit)s FOR UPDATE OF a SKIP LOCKED)"
            " UPDATE actions a SET status = 'in_flight', lease_owner = %(owner)s,"
            " lease_until_ms = %(until)s, updated_ms = %(now)s, started_ms = NULL"
            f" FROM heads WHERE a.id = heads.id RETURNING {_SELECT_A}",
            {
                "integration": integration, "now": now, "owner": owner, "until": lease_until, "limit": lanes,
                "kinds": sorted(set(skip_kinds)),
                "lanes": sorted({"" if s is None else s for s in skip_lanes}),
            },
        ).fetchall()
        runs = [[_row(r)] for r in sorted(heads, key=lambda r: r["order_key"])]
        if run_max > 1:
            more: list[int] = []
            for run in runs:
                head = run[0]
                # Behind a head this transaction holds in flight: no other claim can take these.
                rest = self._x(
                    f"SELECT {_SELECT} FROM actions WHERE integration = %s AND lane = %s "
                    f"AND status IN ({_BLOCKING_SQL}) AND order_key > %s ORDER BY order_key LIMIT %s",
                    (integration, head.session_id or "", head.order_key, run_max - 1),
                ).fetchall()
                for raw in rest:
                    nxt = _row(raw)
                    if nxt.status != "pending" or nxt.next_attempt_ms > now or nxt.kind != head.kind:
                        break
                    nxt.status, nxt.lease_owner, nxt.lease_until_ms = "in_flight", owner, lease_until
                    nxt.started_ms = None
                    run.append(nxt)
                    more.append(nxt.id)
            if more:
                self._x(
                    "UPDATE actions SET status = 'in_flight', lease_owner = %s, lease_until_ms = %s, updated_ms = %s, "
                    "started_ms = NULL WHERE id = ANY(%s)",
                    (owner, lease_until, now, more),
                )
        return runs

    def apply(self, updates: Sequence[Update], now: int, parents: dict[int, ActionRow] | None = None) -> None:
        for u in updates:
            columns = outcome_columns(u, now)
            assignments = ", ".join(f"{name} = %s" for name, _ in columns)
            self._x(f"UPDATE actions SET {assignments} WHERE id = %s", [*(v for _, v in columns), u.id])
            if u.follow_ups:
                parent = (parents or {}).get(u.id)
                if parent is None:
                    raise ValueError(f"follow-ups of action {u.id} need its row in `parents`")
                self._insert_follow_ups(parent, u.follow_ups, now)

    def _insert_follow_ups(self, parent: ActionRow, follow_ups: list[FollowUp], now: int) -> None:
        # No append lock needed: the parent is in flight, so nothing of its lane moves until
        # this transaction commits, and the order keys place the follow-ups right after it.
        self._x(
            "INSERT INTO actions (idempotency_key, event_id, integration, position, kind, session_id, payload,"
            " status, created_ms, next_attempt_ms, updated_ms, order_key, parent_id)"
            " SELECT k, %(event)s, %(integration)s, %(position)s, kd, %(session)s, pl, st, %(now)s, %(now)s,"
            " %(now)s, ok, %(parent)s FROM unnest(%(keys)s::text[], %(kinds)s::text[], %(payloads)s::text[],"
            " %(statuses)s::text[], %(order_keys)s::text[]) WITH ORDINALITY AS t(k, kd, pl, st, ok, n) ORDER BY n"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            {
                "event": parent.event_id,
                "integration": parent.integration,
                "position": parent.position,
                "session": parent.session_id,
                "now": now,
                "parent": parent.id,
                "keys": [f.idempotency_key for f in follow_ups],
                "kinds": [f.kind for f in follow_ups],
                "payloads": [_payload_json(f.payload) for f in follow_ups],
                "statuses": [initial_status(f.held) for f in follow_ups],
                "order_keys": [follow_up_order_key(parent.order_key, i) for i in range(len(follow_ups))],
            },
        )

    def set_status(self, ids: Sequence[int], op: QueueOp, now: int) -> list[int]:
        if not ids:
            return []
        rule = QUEUE_OPS[op]
        sets = "status = %s, updated_ms = %s, lease_owner = NULL, lease_until_ms = NULL, started_ms = NULL"
        params: list[Any] = [rule.to, now]
        if rule.to == "pending":
            sets += ", next_attempt_ms = %s"
            params.append(now)
        if rule.fresh:
            sets += ", attempts = 0, offline_attempts = 0, window_start_ms = %s"
            params.append(now)
        rows = self._x(
            f"UPDATE actions SET {sets} WHERE id = ANY(%s) AND status = ANY(%s) RETURNING id, integration",
            [*params, [int(i) for i in ids], list(rule.sources)],
        ).fetchall()
        if rule.to == "pending" and rows:
            # Retried or approved by hand: due now, so sleeping workers are told as on queueing.
            names = sorted({str(r["integration"]) for r in rows})
            self._x("SELECT pg_notify(%s, i) FROM unnest(%s::text[]) AS i", (NOTIFY_CHANNEL, names))
        return sorted(int(r["id"]) for r in rows)

    def note_error(self, ids: Sequence[int], error: str, now: int) -> None:
        if ids:
            self._x("UPDATE actions SET last_error = %s, updated_ms = %s WHERE id = ANY(%s)",
                    (error, now, [int(i) for i in ids]))
