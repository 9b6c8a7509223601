"""A writer process for the store's concurrency and crash tests.

    python writer.py STORE COUNT [--sync normal|full] [--tag TAG] [--go FILE]

Records COUNT updates on the project's active session through the real session manager and
the store at STORE (opened with ``open_store``, whatever its backend), and prints each event's
id on its own line (flushed) only after its transaction has committed: a printed id is an
acknowledged write. Exits 0 when all are recorded; any
exception leaves a traceback on stderr and a non-zero exit, so the test sees it.

With ``--go FILE`` it prints ``ready`` and waits (up to a minute) for FILE to exist before the
first write, so a test can release several writers at the same moment.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from msp._session.manager import SessionManager
from msp._store import open_store


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("store", help="a SQLite path or a postgresql:// URL")
    parser.add_argument("count", type=int)
    parser.add_argument("--sync", default="normal", choices=["normal", "full"])
    parser.add_argument("--tag", default="w")
    parser.add_argument("--go", type=Path)
    args = parser.parse_args()

    store = open_store(args.store, synchronous=args.sync)
    manager = SessionManager(store, None, default_project="proj", source="api")
    out = sys.stdout
    if args.go is not None:
        out.write("ready\n")
        out.flush()
        give_up = time.monotonic() + 60
        while not args.go.exists():
            if time.monotonic() > give_up:
                return 3
            time.sleep(0.005)
    for i in range(args.count):
        rec = manager.update({"text": f"{args.tag} update {i}", "tags": [args.tag]})
        out.write(rec.event.id + "\n")
        out.flush()
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
