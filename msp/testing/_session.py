"""A scripted session run through one integration in a temporary store, and the schema check
for the actions it plans. Heavy modules (the store, the plugin host) load on first use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from msp._session.script import SCRIPT as SCRIPT  # the kit re-exports it


@dataclass
class SessionRun:
    """The outcome of a scripted session: the actions planned per hook name (``msp_update``,
    ...), the integrations' warnings, integrations that failed to load (``"name: error"``), the
    session's id and the store file."""

    actions: dict[str, list[Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    session_id: str = ""
    store_path: Path | None = None

    @property
    def all_actions(self) -> list[Any]:
        return [a for group in self.actions.values() for a in group]


_HOOK_OF = {
    "start": "msp_session_start", "update": "msp_update", "decide": "msp_decision",
    "entity": "msp_entity", "block": "msp_blocker", "resolve": "msp_blocker", "goal": "msp_goal_changed",
    "end": "msp_session_close",
}


#: The (user, host) a scripted session belongs to.
ENGINEER = ("dev", "workstation")


def run_session(
    plugin: object,
    tmp_dir: Path,
    config: Mapping[str, Any] | None = None,
    name: str | None = None,
    script: list[tuple[str, dict[str, Any]]] | None = None,
) -> SessionRun:
    """Run ``script`` (default :data:`SCRIPT`) through one integration plugin, in a new store
    under ``tmp_dir``, with a clock that moves 7 minutes a step from 2026-01-05 09:00 UTC, as
    the engineer :data:`ENGINEER` (the same on every machine, so are the actions)."""
    from msp._model.identity import Engineer
    from msp._plugins.host import build_host
    from msp._session.manager import SessionManager
    from msp._store import open_store

    integration = name or str(getattr(plugin, "name", "under_test"))
    host = build_host({integration: dict(config or {})}, extra={integration: plugin})
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    ticks = iter(start + timedelta(minutes=7 * i) for i in range(10_000))
    store = open_store(tmp_dir / "msp.db", synchronous="normal")
    manager = SessionManager(store, host, default_project="demo-project", source="api",
                             clock=lambda: next(ticks), engineer=Engineer(*ENGINEER))
    run = SessionRun(broken=[f"{b.name}: {b.error}" for b in host.broken], store_path=tmp_dir / "msp.db")
    try:
        for step, data in script or SCRIPT:
            recorded = getattr(manager, step)(data)
            run.session_id = recorded.event.session_id
            run.actions.setdefault(_HOOK_OF[step], []).extend(recorded.planned.objects)
            run.warnings += recorded.warnings
    finally:
        store.close()
    return run


def assert_valid_actions(actions: list[Any], kinds: Mapping[str, type[Any]] | None = None) -> None:
    """Every action must validate against the JSON Schema that ``msp schema actions`` prints.

    ``kinds`` adds action models a plugin registers (``{"todo": TodoAction}``); a plugin's
    own action *objects* bring their model with them, so usually nothing needs passing.
    """
    import jsonschema

    from msp._model.actions import BUILTIN_ACTIONS, actions_json_schema

    table: dict[str, type[Any]] = {**BUILTIN_ACTIONS, **(kinds or {})}
    for action in actions:
        if not isinstance(action, dict):
            table.setdefault(action.kind, type(action))
    schema = actions_json_schema(table)
    for action in actions:
        data = action if isinstance(action, dict) else action.model_dump(mode="json", by_alias=True)
        jsonschema.validate(data, schema)
        assert data.get("integration"), "the host stamps every action with its integration"
        assert data.get("idempotency_key"), "the host stamps every action with an idempotency key"
