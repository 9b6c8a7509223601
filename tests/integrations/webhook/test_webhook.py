"""The webhook integration's actions: one JSON document per event, one action per URL."""

from __future__ import annotations

from typing import Any

import msp_webhook
import pytest

from msp._plugins.host import build_host
from msp.testing import assert_valid_actions

CONFIG = {"url": "https://hooks.example.com/msp"}


def test_every_event_becomes_one_post_with_the_documented_document(msp_run_session: Any) -> None:
    run = msp_run_session(msp_webhook, CONFIG)
    assert not run.broken and not run.warnings
    assert_valid_actions(run.all_actions)
    types = []
    for hook, actions in run.actions.items():
        assert len(actions) == (2 if hook in ("msp_blocker", "msp_update") else 1), hook
        for action in actions:
            assert (action.kind, action.method, action.path, action.url_from) == ("http", "POST", "", "url")
            doc = action.json_body
            assert set(doc) == {"schema", "id", "seq", "type", "time", "session_id", "project", "source", "item",
                                "session"}
            assert doc["schema"] == "msp.webhook.v1" and doc["session_id"] == run.session_id
            assert doc["project"] == "demo-project" and doc["time"].endswith("Z")
            assert action.headers["X-MSP-Event"] == doc["type"]
            types.append(doc["type"])
    assert sorted(set(types)) == sorted(msp_webhook.EVENT_TYPES)
    decision = run.actions["msp_decision"][0].json_body["item"]
    assert decision["text"] == "Use an outbox table" and decision["alternatives"] == ["Retry in memory",
                                                                                     "A message broker"]
    blockers = [a.json_body["item"] for a in run.actions["msp_blocker"]]
    assert [b["resolved"] for b in blockers] == [False, True]
    assert blockers[1]["solution"] == "Support enabled test cards"
    closed = run.actions["msp_session_close"][0].json_body["item"]
    assert closed["summary"] == "Retry worker behind a flag" and closed["counts"]["decisions"] == 1


def test_documents_carry_the_store_position_receivers_order_by(tmp_path: Any) -> None:
    """``seq`` follows the recording order strictly, even for events stamped in one millisecond,
    where ``time`` cannot tell them apart."""
    from datetime import UTC, datetime, timedelta

    from msp._session.manager import SessionManager
    from msp._store.sqlite import SqliteStore

    ticks = iter(range(1000))
    base = datetime(2026, 1, 5, 9, 0, 0, 961_000, tzinfo=UTC)
    store = SqliteStore(tmp_path / "msp.db")
    try:
        host = build_host({"webhook": CONFIG}, extra={"webhook": msp_webhook})
        manager = SessionManager(store, host, default_project="p", source="api",
                                 clock=lambda: base + timedelta(microseconds=next(ticks)))
        manager.start({"goal": "g", "progress": 10})
        manager.update({"text": "a", "progress": 70})
        manager.update({"text": "b", "progress": 80})
        manager.end({"summary": "done"})
        with store.read() as tx:
            docs = [row.payload["json"] for row in tx.outbox.select(["pending"], "webhook")]
    finally:
        store.close()
    assert len({d["time"][:23] for d in docs}) == 1  # one millisecond
    seqs = [d["seq"] for d in docs]
    assert all(isinstance(n, int) for n in seqs) and seqs == sorted(set(seqs))
    assert [d["type"] for d in docs] == ["session_started", "progress_updated", "progress_updated", "session_closed"]


def test_the_event_id_is_stable_and_distinct_per_event(msp_run_session: Any) -> None:
    run = msp_run_session(msp_webhook, CONFIG)
    ids = [a.json_body["id"] for a in run.all_actions]
    assert len(ids) == len(set(ids))
    keys = [a.idempotency_key for a in run.all_actions]
    assert len(keys) == len(set(keys))


def test_several_urls_each_get_their_own_action(msp_run_session: Any) -> None:
    config = {"url_env": "HOOK_MAIN", "urls": ["https://a.example/x", {"url_env": "HOOK_B"}]}
    run = msp_run_session(msp_webhook, config)
    start = run.actions["msp_session_start"]
    assert [a.url_from for a in start] == ["url", "urls.0", "urls.1"]
    assert len({a.idempotency_key for a in start}) == 3
    assert all(a.json_body == start[0].json_body for a in start)


def test_events_filter_and_extra_headers(msp_run_session: Any) -> None:
    config = {**CONFIG, "events": ["decision_recorded"], "headers": {"X-Team": "platform"}}
    run = msp_run_session(msp_webhook, config)
    assert [a.json_body["type"] for a in run.all_actions] == ["decision_recorded"]
    assert run.all_actions[0].headers == {"X-Team": "platform", "X-MSP-Event": "decision_recorded"}


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ({}, "no destination: set url"),
        ({"url": "ftp://example.com/x"}, "integrations.webhook.url"),
        ({"url": "https://x.example", "signing_secret": "plain-text-secret"}, "unknown key(s) signing_secret"),
        ({"urls": []}, "urls"),
        ({"url": "https://x.example", "events": ["lunch"]}, "lunch"),
    ],
)
def test_bad_config_is_rejected_with_the_key_named(section: dict[str, Any], says: str) -> None:
    host = build_host({"webhook": section}, extra={"webhook": msp_webhook})
    assert not host.integrations
    (broken,) = host.broken
    assert broken.name == "webhook" and says in broken.error


def test_loaded_through_its_entry_point() -> None:
    host = build_host({"webhook": dict(CONFIG)})
    assert "webhook" in host.integrations and not host.broken
    assert host.integrations["webhook"].source == "msp_webhook"
