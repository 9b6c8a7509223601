"""Test kit for integration authors, loaded by pytest through the ``pytest11`` entry point.

Fixtures:

``msp_run_session``
    ``run(plugin, config=None, name=None) -> SessionRun``: runs the scripted session (start,
    two updates, a decision, an entity, a blocker raised and resolved, close) through one
    integration in a temporary store and hands back the planned actions per hook.

Helpers:

``assert_valid_actions(actions)``
    Checks every action against the published JSON Schema of actions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from msp._model.actions import actions_json_schema
from msp._plugins.host import build_host
from msp._session.manager import SessionManager
from msp._store import open_store

#: What the scripted session records, in order; tests may compare against it.
SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("start", {"project": "demo-project", "goal": "Ship the retry worker", "progress": 10, "issue": "ENG-123"}),
    ("update", {"text": "Mapped the charge flow", "progress": 20, "tags": ["research"]}),
    ("decide", {"text": "Use an outbox table", "rationale": "A crash must not lose a charge",
                "alternatives": ["Retry in memory", "A message broker"], "impact": "high",
                "category": "architecture"}),
    ("entity", {"name": "RetryWorker", "type": "service", "path": "src/retry/worker.py",
                "description": "Claims due retries"}),
    ("block", {"text": "Sandbox API rejects test cards", "category": "external", "severity": "medium"}),
    ("update", {"text": "Worker retries with backoff", "progress": 60, "tags": []}),
    ("resolve", {"blocker": "Sandbox", "solution": "Support enabled test cards"}),
    ("end", {"summary": "Retry worker behind a flag", "progress": 70}),
]


@dataclass
class SessionRun:
    """The outcome of a scripted session."""

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
    "entity": "msp_entity", "block": "msp_blocker", "resolve": "msp_blocker", "end": "msp_session_close",
}


def run_session(
    plugin: object,
    tmp_dir: Path,
    config: Mapping[str, Any] | None = None,
    name: str | None = None,
    script: list[tuple[str, dict[str, Any]]] | None = None,
) -> SessionRun:
    """Run ``script`` (default :data:`SCRIPT`) through one integration plugin."""
    integration = name or str(getattr(plugin, "name", "under_test"))
    host = build_host({integration: dict(config or {})}, extra={integration: plugin})
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    ticks = iter(start + timedelta(minutes=7 * i) for i in range(10_000))
    store = open_store(tmp_dir / "msp.db", synchronous="normal")
    manager = SessionManager(store, host, default_project="demo-project", source="api",
                             clock=lambda: next(ticks))
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


def assert_valid_actions(actions: list[Any]) -> None:
    """Every action must validate against the JSON Schema that ``msp schema actions`` prints."""
    import jsonschema

    schema = actions_json_schema()
    for action in actions:
        data = action if isinstance(action, dict) else action.model_dump(mode="json", by_alias=True)
        jsonschema.validate(data, schema)
        assert data.get("integration"), "the host stamps every action with its integration"
        assert data.get("idempotency_key"), "the host stamps every action with an idempotency key"


@pytest.fixture
def msp_run_session(tmp_path: Path) -> Iterator[Callable[..., SessionRun]]:
    counter = iter(range(10_000))

    def run(plugin: object, config: Mapping[str, Any] | None = None, name: str | None = None,
            script: list[tuple[str, dict[str, Any]]] | None = None) -> SessionRun:
        folder = tmp_path / f"msp-run-{next(counter)}"
        folder.mkdir()
        return run_session(plugin, folder, config, name, script)

    yield run
