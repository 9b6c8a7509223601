"""The stored session projection, whatever the backend: what a session row's ``state`` holds
and how an appended event changes it, as each kind declares in :mod:`msp._model.events`.

A backend reads and writes the text; the meaning lives here once. ``state`` is JSON:
``{"fields": the folded fields, times as text, "counts": the length of each list}``. Every
time field of a session is named ``*_at`` (started_at, ended_at).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from msp._model.events import COLLECTIONS, KINDS, Collection
from msp._model.models import Event, Session, Update, format_time, parse_time
from msp._model.projection import SessionFolder

#: The session row's columns that mirror a folded field of the same name (for listings and indexes).
ROW_COLUMNS = ("project", "status", "started_at", "ended_at", "start_progress", "progress", "goal", "issue",
               "user", "host")
#: The fields an event must set to open a session row (``session_started`` does).
OPENING = frozenset({"project", "status", "started_at", "start_progress", "progress"})
#: The update types, and the item types a hook's session holds whole (all but updates).
UPDATE_TYPES = [name for name, kind in KINDS.items() if kind.joins == "updates"]
OTHER_ITEM_TYPES = [
    name for name, kind in KINDS.items()
    if (kind.joins is not None and kind.joins != "updates") or kind.resolves is not None or kind.fold is not None
]
UPDATE_VIEW: Callable[[Event], Any] = KINDS[UPDATE_TYPES[0]].view or (lambda e: None)


def column_value(value: Any) -> Any:
    """A folded field as the state and the row's columns hold it (times as text)."""
    return format_time(value) if isinstance(value, datetime) else value


def changed_fields(event: Event) -> dict[str, Any]:
    """The fields ``event`` sets, as stored."""
    kind = KINDS.get(event.type)
    return {k: column_value(v) for k, v in kind.sets(event).items()} if kind is not None else {}


def joins(event: Event) -> Collection | None:
    """The list the event's item joins (its count grows by one), None for none."""
    kind = KINDS.get(event.type)
    return kind.joins if kind is not None else None


def opening_state(changed: dict[str, Any], joined: Collection | None) -> dict[str, Any] | None:
    """The state of a new session row, None when the event does not open one."""
    if not changed.keys() >= OPENING:
        return None
    state: dict[str, Any] = {"fields": {}, "counts": dict.fromkeys(COLLECTIONS, 0)}
    apply_to_state(state, changed, joined)
    return state


def folded_state(folder: SessionFolder) -> dict[str, Any]:
    """The state of a session folded from its events (a row from before the projection)."""
    return {"fields": {k: column_value(v) for k, v in folder.fields.items()},
            "counts": {name: len(getattr(folder, name)) for name in COLLECTIONS}}


def apply_to_state(state: dict[str, Any], changed: dict[str, Any], joined: Collection | None) -> None:
    """Fold one event's stored fields and list into ``state`` (kept as text: no time parsed)."""
    state["fields"].update(changed)
    if joined is not None:
        state["counts"][joined] = state["counts"].get(joined, 0) + 1


def encode_state(state: dict[str, Any]) -> str:
    return json.dumps(state, ensure_ascii=False, sort_keys=True)


def decode_state(text: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The folded fields (times parsed) and the list counts of a ``state`` column."""
    data = json.loads(text)
    fields = {k: parse_time(v) if k.endswith("_at") and isinstance(v, str) else v for k, v in data["fields"].items()}
    return fields, dict(data["counts"])


def hook_view(folder: SessionFolder, state: str, last_at: str, last_seq: int, started_seq: int | None,
              latest_updates: Sequence[Event]) -> Session:
    """The hook's session: ``folder`` folds the session's items but its updates, ``state`` is
    the row's projection, ``latest_updates`` the newest updates, newest first."""
    fields, counts = decode_state(state)
    folder.fields = fields
    folder.last_at = parse_time(last_at)
    folder.last_seq = last_seq
    folder.started_seq = started_seq
    folder.updates = [cast(Update, UPDATE_VIEW(e)) for e in reversed(latest_updates)]
    folder.earlier_updates = counts.get("updates", 0) - len(folder.updates)
    return folder.view()


def list_counts(counts_json: str | None) -> dict[str, int]:
    """The list counts of a state's ``counts`` object (as JSON text), every list named (0 when
    absent)."""
    return _named_counts(json.loads(counts_json) if counts_json else {})


#: Compiled by re on first use (a report's), not at import: every command imports this module.
_COUNTS_FIRST = r'\{\s*"counts"\s*:\s*'
_DECODER = json.JSONDecoder()


def state_counts(state: str) -> dict[str, int]:
    """The list counts of a whole ``state`` column. :func:`encode_state` sorts its keys (and a
    backend's in-place JSON edits keep their order), so ``counts`` comes first: only that object
    is decoded, not the folded fields (goal, summary) after it; a state written otherwise is
    decoded whole."""
    first = re.match(_COUNTS_FIRST, state)
    if first is not None:
        counts, _ = _DECODER.raw_decode(state, first.end())
    else:
        counts = json.loads(state).get("counts", {})
    return _named_counts(counts)


def _named_counts(found: dict[str, Any]) -> dict[str, int]:
    return {name: int(found.get(name, 0)) for name in COLLECTIONS}


def folded_counts(folder: SessionFolder) -> dict[str, int]:
    """The list counts of a session folded from its events (a row from before the projection)."""
    return {name: len(getattr(folder, name)) for name in COLLECTIONS}


# --- a report's window (msp/_report), as both backends filter it ------------------------------

#: The conditions of each report read, by what they bound: ``{}`` stands for the backend's
#: placeholder. Columns and SQL come from here only; the values go as parameters.
_WINDOW_CONDITIONS = {
    # last_at, not ended_at: a closed session's last event is its close or later.
    "sessions": {"project": "project = {}", "until": "started_at < {}",
                 "since": "(last_at >= {} OR status = 'active')"},
    "blockers": {"project": "b.project = {}", "until": "r.at < {}", "since": "(x.seq IS NULL OR x.at >= {})"},
}


def window_where(read: str, mark: str, since: datetime | None, until: datetime | None,
                 project: str | None) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (empty when unbounded) and its parameters of a report read
    (``sessions`` or ``blockers``), with ``mark`` the backend's placeholder (``?``, ``%s``)."""
    conditions = _WINDOW_CONDITIONS[read]
    given = (("project", project), ("until", format_time(until) if until else None),
             ("since", format_time(since) if since else None))
    clauses = [conditions[name].format(mark) for name, value in given if value is not None]
    params = [value for _name, value in given if value is not None]
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


# --- a session read back, whatever the backend -----------------------------------------------


class _Folding(Protocol):
    def session_events(self, session_id: str) -> list[Event]: ...
    def _fold(self, session_id: str, events: list[Event]) -> SessionFolder: ...


class SessionLoads:
    """``load_session`` and ``load_folder`` of a backend's transaction, over its own
    ``session_events`` and ``_fold`` (the SQL differs; the reading does not)."""

    def load_session(self: _Folding, session_id: str, upto_seq: int | None = None) -> Session:
        return SessionLoads.load_folder(self, session_id, upto_seq).view()

    def load_folder(self: _Folding, session_id: str, upto_seq: int | None = None) -> SessionFolder:
        """The fold of a session's events, ready to take more (see SessionFolder)."""
        events = self.session_events(session_id)
        if upto_seq is not None:
            events = [e for e in events if e.seq is not None and e.seq <= upto_seq]
        if not events:
            raise KeyError(session_id)
        return self._fold(session_id, events)
