"""The embedded graph server's idle watcher: ``python -m msp_neo4j._idle DATA_DIR``.

Started, detached, next to each embedded ``redis-server`` (msp_neo4j._server). It wakes now and
then, and stops the server once nothing has used it for the configured ``idle_stop_minutes``
(the ``last-used`` stamp msp touches on every use, the limit the last user's config recorded);
it ends as soon as the server is gone, however that happened. A limit of 0 never stops the server,
so the watcher just ends. msp commands still stop an idle server they come across, so a watcher
that was killed costs nothing but a later stop.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def watch(data_dir: Path, *, poll_s: float | None = None) -> str:
    """Watch until the server stops; returns why the watch ended."""
    from msp_neo4j import _server

    while True:
        limit = _server.idle_limit(data_dir)
        if limit <= 0:
            return "no idle limit"
        if _server.status(data_dir) is None:
            return "the server is gone"
        idle = _server.idle_minutes(data_dir)
        if idle is not None and idle >= limit:
            _server.stop_if_idle(data_dir, limit)
            return f"stopped after {idle:.1f} idle minute(s)"
        # Often enough to stop within a tenth of the limit (at least every half second, at most
        # every minute), rarely enough to cost nothing.
        time.sleep(poll_s if poll_s is not None else min(60.0, max(0.5, limit * 6.0)))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m msp_neo4j._idle DATA_DIR", file=sys.stderr)
        return 2
    watch(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
