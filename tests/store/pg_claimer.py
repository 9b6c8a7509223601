"""A claiming worker process for the PostgreSQL claim tests.

    python pg_claimer.py URL OWNER INTEGRATION GO_FILE

Claims runs of actions of INTEGRATION through the store interface until none is left, marks
each done, and prints one JSON line per claimed action: its id, key, and whether every earlier
action of its lane (given in its payload as ``before``) was already done when the claim
committed. Exits 0 when the integration has nothing pending or in flight.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from msp._store import open_store
from msp._store.interface import Update


def main() -> int:
    url, owner, integration, go = sys.argv[1:5]
    store = open_store(url, synchronous="normal")
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.005)
    idle = 0
    while idle < 3:
        now = int(time.time() * 1000)
        with store.write() as tx:
            runs = tx.outbox.claim(integration, owner, now, now + 60_000, lanes=2, run_max=2)
        claimed = [a for run in runs for a in run]
        if not claimed:
            with store.read() as tx:
                left = tx.outbox.counts_by_integration().get(integration, {})
            idle = idle + 1 if not left.get("pending") and not left.get("in_flight") else 0
            time.sleep(0.01)
            continue
        with store.read() as tx:
            for a in claimed:
                before = tx.outbox.by_keys(a.payload["before"])
                in_order = all(b.status == "done" or b.id in {c.id for c in claimed if c.id < a.id}
                               for b in before)
                print(json.dumps({"id": a.id, "key": a.idempotency_key, "in_order": in_order}), flush=True)
        with store.write() as tx:
            tx.outbox.apply([Update(a.id, "done", result=owner) for a in claimed], int(time.time() * 1000))
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
