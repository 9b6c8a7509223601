"""A hostile receiver cannot crash a drain or cost another integration its results (issue 12,
point 1).

One integration's server answers 429 with an impossible ``Retry-After`` (``inf``, ``1e16``,
``-5``, garbage, a date in year 9999); another integration's actions, in the same drain, are
delivered exactly once, and the next drain runs normally. Loopback only, a few requests each.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from msp._config import DispatchConfig
from msp._dispatch.drain import Dispatcher, DrainOptions, IntegrationInfo
from msp._model.actions import HttpRequest, action_to_dict, stamp
from msp._store.outbox_rules import MAX_DELAY_S, now_ms
from msp.testing import Reply, ScriptedServer, cli_json, outbox_rows, plan, set_env, write_project
from tests.dispatch.conftest import FAST

HOSTILE = ["inf", "1e16", "10000000000000000", "-5", "nan", "99999999999999999999999999",
           "Fri, 31 Dec 9999 23:59:59 GMT", "soon"]
AGE_HOURS = 72.0


def _http(integration: str) -> Any:
    def payload(n: int) -> dict[str, Any]:
        return action_to_dict(stamp(HttpRequest(path=f"/a/{n}", json_body={"n": n}), integration, f"k-{n}"))

    return payload


@pytest.mark.parametrize("retry_after", HOSTILE)
def test_a_hostile_retry_after_costs_other_integrations_nothing(outbox: Any, retry_after: str) -> None:
    with ScriptedServer(Reply(429, headers={"Retry-After": retry_after}, body="slow down")) as evil, \
            ScriptedServer(Reply(200, json={"ok": True})) as good:
        bad_ids = outbox.add("evil", n=2, payload=_http("evil"))
        good_ids = [i for s in ("s1", "s2", "s3") for i in outbox.add("good", session=s, n=2, payload=_http("good"))]
        infos = {"evil": IntegrationInfo("evil", {"base_url": evil.url}),
                 "good": IntegrationInfo("good", {"base_url": good.url})}
        before = now_ms()
        first = outbox.drain({}, integrations=infos, wait=False, max_age_hours=AGE_HOURS)
        assert first.done == len(good_ids) and first.retried == 1
        assert [outbox.row(i)["status"] for i in good_ids] == ["done"] * len(good_ids)
        bad = outbox.row(bad_ids[0])
        assert bad["status"] == "pending" and bad["attempts"] == 1 and bad["last_status"] == 429
        # Clamped to the cap (the age limit), or ignored for the backoff (seconds at most).
        assert before <= bad["next_attempt_ms"] <= now_ms() + AGE_HOURS * 3_600_000
        # The next drain works, and sends nothing twice.
        second = outbox.drain({}, integrations=infos, wait=False, max_age_hours=AGE_HOURS)
        assert second.stopped == "idle"
        outbox.db.execute("UPDATE actions SET next_attempt_ms = 0 WHERE integration = 'evil'")
        evil.default = Reply(200, json={"ok": True})
        third = outbox.drain({}, integrations=infos, wait=False, max_age_hours=AGE_HOURS)
        assert third.done == 2
        keys = [r.header("Idempotency-Key") for r in good.requests]
        assert sorted(keys) == sorted(set(keys)) and len(keys) == len(good_ids), "each delivered exactly once"
        print(f"\n[hostile Retry-After {retry_after!r}] next attempt in "
              f"{(bad['next_attempt_ms'] - before) / 1000:.3f} s; good actions delivered {len(keys)}/{len(good_ids)}")


def test_a_wait_drain_under_a_huge_retry_after_stops_instead_of_sleeping_forever(outbox: Any) -> None:
    """``--wait`` (settle) with a 429 asking for 10^16 s: the delay and the pause are clamped to
    the cap, the drain ends with the action pending, and no clock arithmetic overflows. (``1e16``
    is not delta-seconds at all: it is ignored, and the backoff decides.)"""
    with ScriptedServer(Reply(429, headers={"Retry-After": "10000000000000000"})) as evil:
        (a,) = outbox.add("evil", payload=_http("evil"))
        infos = {"evil": IntegrationInfo("evil", {"base_url": evil.url})}
        dispatcher = Dispatcher(outbox.store, infos, DispatchConfig(**FAST), outbox.path.parent)
        started = time.monotonic()
        report = asyncio.run(dispatcher.run(DrainOptions(wait=True, linger_s=1.0, deadline=time.monotonic() + 20)))
        assert time.monotonic() - started < 15
        assert report.stopped == "idle" and report.remaining == {"pending": 1}, (report, outbox.row(a))
        row = outbox.row(a)
        assert 3_600_000 < row["next_attempt_ms"] - now_ms() <= min(MAX_DELAY_S * 1000, 72 * 3_600_000)
        assert report.waits and report.waits[0]["integration"] == "evil" and "429" in report.waits[0]["why"]


def test_msp_dispatch_survives_retry_after_inf_and_1e16(tmp_path: Path) -> None:
    """The attack as reported: `msp dispatch` while Linear's endpoint answers 429 with
    `Retry-After: inf`, then `1e16`, then normally, and a webhook shares every drain. No crash,
    nothing lost, nothing posted twice."""
    posted: list[str] = []

    def answer(request: Any) -> Reply:
        posted.append(request.header("Idempotency-Key") or "")
        return Reply(200, json={"ok": True})

    with ScriptedServer(answer) as good, ScriptedServer(Reply(429, headers={"Retry-After": "inf"})) as evil, \
            set_env(HOSTILE_LINEAR_KEY="lin_api_hostile_test_key"):
        root = write_project(tmp_path / "p", "webhook", {"url": good.url + "/hook"})
        cfg = root / ".msp" / "config.toml"
        cfg.write_text(cfg.read_text() + (
            f'\n[integrations.linear]\nendpoint = "{evil.url}/graphql"\ntoken_env = "HOSTILE_LINEAR_KEY"\n'
            'active_issue = "ENG-1"\n[integrations.linear.progress_comments]\nevery_n_updates = 1\n'))

        def record(manager: Any) -> None:
            manager.start({"goal": "hostile"})
            for i in range(3):
                manager.update({"text": f"step {i}", "progress": 10 * (i + 1)})

        assert plan(root, "webhook", None, record) == 4
        runs = []
        for hostile in ("inf", "1e16", None):
            if hostile is None:
                evil.default = Reply(200, json={"data": {"commentCreate": {"success": True}}})
                db = sqlite3.connect(root / ".msp" / "msp.db")
                db.execute("UPDATE actions SET next_attempt_ms = 0 WHERE integration = 'linear'")
                db.commit()
                db.close()
            else:
                evil.default = Reply(429, headers={"Retry-After": hostile})
            code, out = cli_json(root, "dispatch", "--json")
            assert code == 0, out
            runs.append(json.loads(out))
    rows = outbox_rows(root)
    assert len(posted) == len(set(posted)) == 4, posted
    assert [r["status"] for r in rows] == ["done"] * len(rows) and len(rows) == 7
    # One 429 in each of the first two drains (the lane stops there), then the three comments.
    assert len(evil.requests) == 5
    print(f"\n[msp dispatch vs Retry-After inf/1e16] drains: {[(r['done'], r['retried']) for r in runs]}; "
          f"webhook posts {len(posted)} (distinct {len(set(posted))})")
