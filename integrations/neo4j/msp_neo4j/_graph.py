"""The graph model: parameterised statements and the rows that feed them. Pure: no I/O.

Every statement is written once, as a constant, in the form ``UNWIND $rows AS r ...``, so the
same text serves one event (a hook returns one row) and many (export and replay send hundreds
of rows in one statement; the cypher executor also merges consecutive actions that share a
statement). Values only ever travel in ``$rows``; labels and relationship types are constants
of this module, never user text.

Portability (Neo4j 5 and FalkorDB, unchanged): ``MERGE`` on our own ``id`` property then
``SET n += map``; relationships by finding both ends then ``MERGE``; property values are
strings, integers, booleans and lists of strings; times are fixed-format ISO-8601 UTC strings
plus epoch milliseconds. No temporal types, no ``elementId()``, no APOC, no subqueries.

Idempotence and order: a statement delivered twice changes nothing, and statements delivered out
of order converge to the same graph:

* containers are merged by id before their items (an item never waits for, or loses, its
  session), so an item that arrives first leaves an id-only node its own action fills in later;
* a session's start never overwrites what its close recorded (``status`` and ``progress`` are
  set with ``coalesce``), a blocker's raise never reopens a resolved blocker;
* ``ProjectState`` only moves forward, by the store's position of the event that wrote it
  (``as_of_seq``, the event's ``seq``: strictly increasing, unlike a clock, which gives two
  events of one millisecond the same reading; the export reads it from the sessions, which
  know the positions of their start and latest event). A row without a position (a session
  built by hand, not read from a store) only fills a state that has none;
* ``FOLLOWS`` is recomputed from ``started_ms`` on both sides of a new session, so sessions
  replayed in any order end up in one chain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from msp import CypherQuery, format_time

#: Node labels, in the order ``setup`` indexes them.
LABELS = ("Project", "Session", "Progress", "Decision", "Alternative", "Entity", "Blocker", "ProjectState", "Commit")
#: Relationship types.
RELATIONS = (
    "HAS_SESSION", "HAS_STATE", "HAS_PROGRESS", "MADE_DECISION", "CONSIDERED", "CREATED_ENTITY",
    "ENCOUNTERED_BLOCKER", "FOLLOWS", "RELATES_TO", "HAS_COMMIT", "RECORDS",
)
#: Rows per statement when many events are sent at once (export, replay).
BATCH_ROWS = 500

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SESSION_START = """\
UNWIND $rows AS r
MERGE (p:Project {id: r.project})
SET p.name = r.project
MERGE (s:Session {id: r.id})
SET s += r.props, s.status = coalesce(s.status, 'active'), s.progress = coalesce(s.progress, r.props.start_progress)
MERGE (p)-[:HAS_SESSION]->(s)"""

SESSION_CLOSE = """\
UNWIND $rows AS r
MERGE (p:Project {id: r.project})
SET p.name = r.project
MERGE (s:Session {id: r.id})
SET s += r.props
MERGE (p)-[:HAS_SESSION]->(s)"""

# The new session FOLLOWS the project's latest session that started before it.
FOLLOWS_PREVIOUS = """\
UNWIND $rows AS r
MATCH (s:Session {id: r.id})
MATCH (:Project {id: r.project})-[:HAS_SESSION]->(prev:Session)
WHERE prev.started_ms < r.started_ms OR (prev.started_ms = r.started_ms AND prev.id < r.id)
WITH s, prev ORDER BY prev.started_ms DESC, prev.id DESC
WITH s, collect(prev.id)[0] AS previous_id
MATCH (previous:Session {id: previous_id})
OPTIONAL MATCH (s)-[stale:FOLLOWS]->(other:Session)
WHERE other.id <> previous_id
DELETE stale
MERGE (s)-[:FOLLOWS]->(previous)"""

# A session that arrives late (replay, export) slots in: its successor now FOLLOWS it.
FOLLOWED_BY_NEXT = """\
UNWIND $rows AS r
MATCH (s:Session {id: r.id})
MATCH (:Project {id: r.project})-[:HAS_SESSION]->(next:Session)
WHERE next.started_ms > r.started_ms OR (next.started_ms = r.started_ms AND next.id > r.id)
WITH s, next ORDER BY next.started_ms ASC, next.id ASC
WITH s, collect(next.id)[0] AS next_id
MATCH (successor:Session {id: next_id})
OPTIONAL MATCH (successor)-[stale:FOLLOWS]->(other:Session)
WHERE other.id <> s.id
DELETE stale
MERGE (successor)-[:FOLLOWS]->(s)"""

PROJECT_STATE = """\
UNWIND $rows AS r
MERGE (p:Project {id: r.id})
SET p.name = r.id
MERGE (st:ProjectState {id: r.id})
MERGE (p)-[:HAS_STATE]->(st)
WITH st, r
WHERE st.as_of_seq IS NULL OR st.as_of_seq <= r.props.as_of_seq
SET st += r.props"""

PROGRESS = """\
UNWIND $rows AS r
MERGE (s:Session {id: r.session_id})
MERGE (n:Progress {id: r.id})
SET n += r.props
MERGE (s)-[:HAS_PROGRESS]->(n)"""

# A commit the session recorded (msp git): one node per commit hash, however often it is recorded.
COMMIT = """\
UNWIND $rows AS r
MERGE (s:Session {id: r.session_id})
MERGE (c:Commit {id: r.id})
SET c += r.props
MERGE (s)-[:HAS_COMMIT]->(c)
MERGE (n:Progress {id: r.update_id})
MERGE (n)-[:RECORDS]->(c)"""

DECISION = """\
UNWIND $rows AS r
MERGE (s:Session {id: r.session_id})
MERGE (d:Decision {id: r.id})
SET d += r.props
MERGE (s)-[:MADE_DECISION]->(d)
FOREACH (alt IN r.alternatives |
  MERGE (a:Alternative {id: alt.id})
  SET a += alt.props
  MERGE (d)-[:CONSIDERED]->(a))"""

ENTITY = """\
UNWIND $rows AS r
MERGE (s:Session {id: r.session_id})
MERGE (e:Entity {id: r.id})
SET e += r.props
MERGE (s)-[:CREATED_ENTITY]->(e)"""

BLOCKER_RAISED = """\
UNWIND $rows AS r
MERGE (s:Session {id: r.session_id})
MERGE (b:Blocker {id: r.id})
SET b += r.props, b.status = coalesce(b.status, 'open')
MERGE (s)-[:ENCOUNTERED_BLOCKER]->(b)"""

BLOCKER_RESOLVED = """\
UNWIND $rows AS r
MERGE (s:Session {id: r.session_id})
MERGE (b:Blocker {id: r.id})
SET b += r.props
MERGE (s)-[:ENCOUNTERED_BLOCKER]->(b)"""

DECISION_RELATES = """\
UNWIND $rows AS r
MATCH (a:Decision {id: r.from})
MATCH (b:Entity {id: r.to})
MERGE (a)-[:RELATES_TO]->(b)"""

ENTITY_RELATES = """\
UNWIND $rows AS r
MATCH (a:Entity {id: r.from})
MATCH (b:Entity {id: r.to})
MERGE (a)-[:RELATES_TO]->(b)"""

# A retracted item (`msp retract`) keeps its node, marked: the label is a constant per kind.
RETRACTED = {
    kind: f"""\
UNWIND $rows AS r
MERGE (n:{label} {{id: r.id}})
SET n += r.props"""
    for kind, label in (("decision", "Decision"), ("entity", "Entity"), ("blocker", "Blocker"))
}

#: Every statement, in the order a batch (export, replay) sends them.
STATEMENTS = (
    SESSION_START, FOLLOWS_PREVIOUS, FOLLOWED_BY_NEXT, PROGRESS, COMMIT, DECISION, ENTITY, DECISION_RELATES,
    ENTITY_RELATES, BLOCKER_RAISED, BLOCKER_RESOLVED, SESSION_CLOSE, PROJECT_STATE, *RETRACTED.values(),
)


# --- values ----------------------------------------------------------------------------------


def epoch_ms(at: datetime) -> int:
    """Milliseconds since 1970 (UTC), exact: integer arithmetic, no float rounding."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - _EPOCH) // timedelta(milliseconds=1)


def _time(prefix: str, at: datetime | None) -> dict[str, Any]:
    if at is None:
        return {f"{prefix}_at": None, f"{prefix}_ms": None}
    return {f"{prefix}_at": format_time(at), f"{prefix}_ms": epoch_ms(at)}


def _at(at: datetime) -> dict[str, Any]:
    return {"at": format_time(at), "at_ms": epoch_ms(at)}


def _session_props(session: Any) -> dict[str, Any]:
    return {
        "project": session.project,
        "goal": session.goal,
        "issue": session.issue,
        **_time("started", session.started_at),
        "start_progress": session.start_progress,
        "source": session.source,
        # The engineer the session belongs to (a team store holds many); None for a session
        # recorded before sessions had one, and for a session built by hand without them.
        "user": getattr(session, "user", None),
        "host": getattr(session, "host", None),
    }


def _close_props(session: Any) -> dict[str, Any]:
    ended = session.ended_at or session.last_event_at
    return {
        **_session_props(session),
        "status": "closed",
        **_time("ended", ended),
        "progress": session.progress,
        "summary": session.summary,
        "close_reason": session.close_reason,
        "duration_ms": max(0, epoch_ms(ended) - epoch_ms(session.started_at)),
    }


def _state_row(session: Any, seq: int | None = None) -> dict[str, Any]:
    """The project's state after ``session``'s start or close. ``seq`` is that event's position
    in the store (a hook has it from its ``event``; a session read from the store knows the
    position of its start and of its latest event, the close for a closed one): it decides
    which of two states is the later one."""
    closed = session.status == "closed"
    if seq is None:
        seq = getattr(session, "last_seq" if closed else "started_seq", None)
    at = (session.ended_at or session.last_event_at) if closed else session.started_at
    return {
        "id": session.project,
        "props": {
            "project": session.project,
            "status": "idle" if closed else "active",
            "session_id": session.id,
            "progress": session.progress if closed else session.start_progress,
            "goal": session.goal,
            "summary": session.summary if closed else None,
            "as_of": format_time(at),
            "as_of_ms": epoch_ms(at),
            "as_of_seq": seq,
        },
    }


def _start_row(session: Any) -> dict[str, Any]:
    return {"id": session.id, "project": session.project, "props": _session_props(session)}


def _chain_row(session: Any) -> dict[str, Any]:
    return {"id": session.id, "project": session.project, "started_ms": epoch_ms(session.started_at)}


def _progress_row(session_id: str, update: Any) -> dict[str, Any]:
    return {
        "id": update.id,
        "session_id": session_id,
        "props": {
            "session_id": session_id,
            "text": update.text,
            "progress": update.progress,
            "tags": list(update.tags),
            **_at(update.at),
        },
    }


def _commit_row(session_id: str, update: Any) -> dict[str, Any]:
    commit = update.commit
    return {
        "id": commit.hash,
        "session_id": session_id,
        "update_id": update.id,
        "props": {"hash": commit.hash, "subject": commit.subject, "files": list(commit.files), **_at(update.at)},
    }


def alternative_id(decision_id: str, position: int) -> str:
    return f"{decision_id}/alt/{position}"


def _decision_row(session_id: str, decision: Any) -> dict[str, Any]:
    return {
        "id": decision.id,
        "session_id": session_id,
        "props": {
            "session_id": session_id,
            "text": decision.text,
            "rationale": decision.rationale,
            "impact": decision.impact,
            "category": decision.category,
            **_at(decision.at),
            **_item_marks(decision),
        },
        "alternatives": [
            {"id": alternative_id(decision.id, i),
             "props": {"decision_id": decision.id, "text": text, "position": i}}
            for i, text in enumerate(decision.alternatives)
        ],
    }


def _entity_row(session_id: str, entity: Any) -> dict[str, Any]:
    return {
        "id": entity.id,
        "session_id": session_id,
        "props": {
            "session_id": session_id,
            "name": entity.name,
            "type": entity.type,
            "path": entity.path,
            "description": entity.description,
            **_at(entity.at),
            **_item_marks(entity),
        },
    }


def _blocker_row(blocker: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "session_id": blocker.session_id,
        "text": blocker.text,
        "category": blocker.category,
        "severity": blocker.severity,
        **_time("raised", blocker.at),
        **_item_marks(blocker),
    }
    if blocker.resolved_at is not None:
        props.update(
            status="resolved",
            **_time("resolved", blocker.resolved_at),
            solution=blocker.solution,
            resolved_in=blocker.resolved_in,
        )
    return {"id": blocker.id, "session_id": blocker.session_id, "props": props}


def _link(source: str, target: str) -> dict[str, Any]:
    return {"id": f"{source}>{target}", "from": source, "to": target}


# --- RELATES_TO: which recorded entities a text names ----------------------------------------


def _pattern(name: str) -> re.Pattern[str] | None:
    key = name.strip().casefold()
    if not key:
        return None
    # Whole words only: "Worker" does not name "RetryWorker".
    return re.compile(r"(?<!\w)" + re.escape(key) + r"(?!\w)")


def named_entities(text: str | None, entities: Iterable[Any], exclude: str | None = None) -> list[str]:
    """Ids of the entities whose name appears in ``text`` as a whole word, case-insensitively."""
    if not text:
        return []
    haystack = text.casefold()
    found = []
    for entity in entities:
        if entity.id == exclude:
            continue
        pattern = _pattern(entity.name)
        if pattern is not None and pattern.search(haystack):
            found.append(entity.id)
    return list(dict.fromkeys(found))


def _decision_text(decision: Any) -> str:
    return "\n".join(t for t in (decision.text, decision.rationale) if t)


def _names(text: str | None, entity: Any) -> bool:
    pattern = _pattern(entity.name)
    return bool(text) and pattern is not None and bool(pattern.search(str(text).casefold()))


# --- hooks: one event's statements -------------------------------------------------------------


def _item_marks(item: Any) -> dict[str, Any]:
    """Whether an item was detected in an update's text, and taken back; only when it was, so
    a node of an ordinary item carries no extra property."""
    marks: dict[str, Any] = {}
    if getattr(item, "detected", False):
        marks.update(detected=True, from_update=item.from_update)
    if getattr(item, "retracted_at", None) is not None:
        marks.update(retracted=True, retraction=item.retraction, **_time("retracted", item.retracted_at))
    return marks


def item_retracted(item: Any, kind: str) -> list[CypherQuery]:
    """Mark the item's node retracted (it stays in the graph, with its links)."""
    statement = RETRACTED.get(kind)
    if statement is None:
        return []
    props = {"retracted": True, "retraction": item.retraction, **_time("retracted", item.retracted_at)}
    return [_q(statement, [{"id": item.id, "props": props}])]


def _q(statement: str, rows: list[dict[str, Any]]) -> CypherQuery:
    return CypherQuery(statement=statement, parameters={"rows": rows})


def session_started(session: Any, seq: int | None = None) -> list[CypherQuery]:
    chain = [_chain_row(session)]
    return [
        _q(SESSION_START, [_start_row(session)]),
        _q(FOLLOWS_PREVIOUS, chain),
        _q(FOLLOWED_BY_NEXT, chain),
        _q(PROJECT_STATE, [_state_row(session, seq)]),
    ]


def goal_changed(session: Any) -> list[CypherQuery]:
    """The session node's goal (and the rest of what it was started with) set again."""
    return [_q(SESSION_START, [_start_row(session)])]


def progress_recorded(session: Any, update: Any) -> list[CypherQuery]:
    actions = [_q(PROGRESS, [_progress_row(session.id, update)])]
    if getattr(update, "commit", None) is not None:
        actions.append(_q(COMMIT, [_commit_row(session.id, update)]))
    return actions


def decision_recorded(session: Any, decision: Any) -> list[CypherQuery]:
    actions = [_q(DECISION, [_decision_row(session.id, decision)])]
    links = [_link(decision.id, eid) for eid in named_entities(_decision_text(decision), session.entities)]
    if links:
        actions.append(_q(DECISION_RELATES, links))
    return actions


def entity_recorded(session: Any, entity: Any) -> list[CypherQuery]:
    actions = [_q(ENTITY, [_entity_row(session.id, entity)])]
    # This entity's description names earlier ones; earlier descriptions may name this one.
    entity_links = [_link(entity.id, eid) for eid in named_entities(entity.description, session.entities, entity.id)]
    entity_links += [
        _link(other.id, entity.id) for other in session.entities
        if other.id != entity.id and _names(other.description, entity)
    ]
    decision_links = [
        _link(d.id, entity.id) for d in session.decisions if _names(_decision_text(d), entity)
    ]
    if entity_links:
        actions.append(_q(ENTITY_RELATES, _dedupe(entity_links)))
    if decision_links:
        actions.append(_q(DECISION_RELATES, _dedupe(decision_links)))
    return actions


def blocker_changed(blocker: Any, resolved: bool) -> list[CypherQuery]:
    row = _blocker_row(blocker)
    return [_q(BLOCKER_RESOLVED if resolved and blocker.resolved_at is not None else BLOCKER_RAISED, [row])]


def session_closed(session: Any, seq: int | None = None) -> list[CypherQuery]:
    return [
        _q(SESSION_CLOSE, [{"id": session.id, "project": session.project, "props": _close_props(session)}]),
        _q(PROJECT_STATE, [_state_row(session, seq)]),
    ]


# --- many sessions at once: export and replay ------------------------------------------------


def _position(state: dict[str, Any]) -> tuple[int, int]:
    """Which of two states is later: by the store's position; by time only for sessions that
    were not read from a store (built by hand), where there is none."""
    seq = state["props"]["as_of_seq"]
    return (0, state["props"]["as_of_ms"]) if seq is None else (1, seq)


def _dedupe(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per id, the last one winning, in first-seen order."""
    by_id: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_id[row["id"]] = row
    return list(by_id.values())


def session_rows(sessions: Sequence[Any]) -> dict[str, list[dict[str, Any]]]:
    """Every row for ``sessions``, by statement: the graph they add up to, whatever order."""
    rows: dict[str, list[dict[str, Any]]] = {statement: [] for statement in STATEMENTS}
    blockers: dict[str, Any] = {}
    states: dict[str, dict[str, Any]] = {}
    for session in sessions:
        rows[SESSION_START].append(_start_row(session))
        rows[FOLLOWS_PREVIOUS].append(_chain_row(session))
        rows[FOLLOWED_BY_NEXT].append(_chain_row(session))
        rows[PROGRESS] += [_progress_row(session.id, u) for u in session.updates]
        rows[COMMIT] += [_commit_row(session.id, u) for u in session.updates if getattr(u, "commit", None)]
        rows[DECISION] += [_decision_row(session.id, d) for d in session.decisions]
        rows[ENTITY] += [_entity_row(session.id, e) for e in session.entities]
        for d in session.decisions:
            rows[DECISION_RELATES] += [_link(d.id, eid) for eid in
                                       named_entities(_decision_text(d), session.entities)]
        for e in session.entities:
            rows[ENTITY_RELATES] += [_link(e.id, eid) for eid in
                                     named_entities(e.description, session.entities, e.id)]
        for blocker in (*session.blockers, *session.resolved_elsewhere):
            known = blockers.get(blocker.id)
            if known is None or (known.resolved_at is None and blocker.resolved_at is not None):
                blockers[blocker.id] = blocker
        if session.status == "closed":
            rows[SESSION_CLOSE].append({"id": session.id, "project": session.project,
                                        "props": _close_props(session)})
        state = _state_row(session)
        current = states.get(session.project)
        if current is None or _position(current) <= _position(state):
            states[session.project] = state
    for blocker in blockers.values():
        target = BLOCKER_RESOLVED if blocker.resolved_at is not None else BLOCKER_RAISED
        rows[target].append(_blocker_row(blocker))
    rows[PROJECT_STATE] = list(states.values())
    return {statement: _dedupe(found) for statement, found in rows.items()}


def batch_actions(sessions: Sequence[Any], batch_rows: int = BATCH_ROWS) -> list[CypherQuery]:
    """The statements that write ``sessions`` into the graph, ``batch_rows`` rows at a time."""
    out = []
    for statement, rows in session_rows(sessions).items():
        for start in range(0, len(rows), batch_rows):
            out.append(_q(statement, rows[start:start + batch_rows]))
    return out
