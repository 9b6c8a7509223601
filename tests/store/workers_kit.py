"""Shared by the worker tests and the worker benchmark: a project on a team store whose
``webhook`` integration posts to a loopback receiver, actions queued straight into its outbox
(many lanes), worker processes started the way an operator starts them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from msp._model.actions import HttpRequest, action_to_dict, stamp
from msp._store import open_store
from msp._store.interface import PlannedAction
from msp.testing import write_project

MSP_BIN = str(Path(sys.executable).with_name("msp"))
URL_ENV = "MSP_TEAM_STORE_URL"


def team_project(root: Path, store_url: str, hook_url: str, *, section: dict[str, Any] | None = None,
                 dispatch: dict[str, Any] | None = None) -> Path:
    """A project folder using the team store at ``store_url`` (named by ``[store] url_env``),
    with the webhook integration posting to ``hook_url`` (unless ``section`` says otherwise)."""
    write_project(root, "webhook", section if section is not None else {"url": hook_url},
                  dispatch={"mode": "manual", **(dispatch or {})})
    config = root / ".msp" / "config.toml"
    text = config.read_text()
    assert "[store]\n" in text
    config.write_text(text.replace("[store]\n", f'[store]\nurl_env = "{URL_ENV}"\n', 1))
    return root


def queue_lanes(store_url: str, sessions: int, per_session: int, integration: str = "webhook") -> list[str]:
    """Queue ``sessions * per_session`` webhook posts, interleaved across sessions as engineers
    record them; each body says its lane and place. Returns the keys in queue order."""
    planned = []
    for n in range(per_session):
        for s in range(sessions):
            key = f"w-{s:03d}-{n:05d}"
            action = stamp(HttpRequest(method="POST", path="", url_from="url", json_body={"lane": s, "n": n}),
                           integration, key)
            planned.append(PlannedAction(key, f"event-{s}-{n}", integration, 0, "http", f"session-{s:03d}",
                                         action_to_dict(action)))
    store = open_store(store_url, synchronous="normal")
    try:
        for start in range(0, len(planned), 1000):
            with store.write() as tx:
                tx.add_actions(planned[start:start + 1000])
    finally:
        store.close()
    return [p.idempotency_key for p in planned]


def start_worker(root: Path, store_url: str, host: str, *extra: str, env: dict[str, str] | None = None,
                 stderr: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    """``msp dispatch --worker`` in ``root``, as machine ``host`` (``MSP_HOST``)."""
    full = {**os.environ, URL_ENV: store_url, "MSP_DIR": str(root / ".msp"), "MSP_HOST": host, **(env or {})}
    return subprocess.Popen([MSP_BIN, "dispatch", "--worker", *extra], cwd=root, env=full,
                            stdout=subprocess.PIPE, stderr=stderr, text=True)
