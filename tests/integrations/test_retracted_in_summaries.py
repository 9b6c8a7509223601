"""A decision or blocker taken back (`msp retract`) is not part of what a session did: the close
summaries posted to Slack, Linear and Jira leave it out, and keep the ones that stand."""

from __future__ import annotations

import json
from pathlib import Path

from msp_jira._summary import _raw_sections
from msp_linear._render import close_comment
from msp_slack._messages import session_summary

from msp import SessionManager
from msp._store.sqlite import SqliteStore


def _closed_session(tmp_path: Path) -> object:
    store = SqliteStore(tmp_path / "msp.db")
    manager = SessionManager(store, None, default_project="p")
    manager.start({"goal": "summaries"})
    manager.decide({"text": "Keep the outbox table"})
    wrong = manager.decide({"text": "Mistyped decision XYZZY"}).event.data["id"]
    blocker = manager.block({"text": "Phantom blocker QUUX"}).event.data["id"]
    manager.retract({"item": wrong, "reason": "typo"})
    manager.retract({"item": blocker})
    session_id = manager.end({"summary": "done"}).event.session_id
    with store.read() as tx:
        session = tx.load_session(session_id)
    store.close()
    return session


def test_close_summaries_leave_retracted_items_out(tmp_path: Path) -> None:
    session = _closed_session(tmp_path)
    slack = json.dumps(session_summary(session, max_items=10, item_chars=200))  # type: ignore[arg-type]
    linear = close_comment(session, max_items=10, item_chars=200)  # type: ignore[arg-type]
    jira = json.dumps([[r.text for r in rows] for _title, rows in _raw_sections(session)])
    for text in (slack, linear, jira):
        assert "Keep the outbox table" in text
        assert "XYZZY" not in text and "QUUX" not in text
    assert "Decisions (1)" in linear
