"""Base of the local stand-ins for real services (Linear, Slack): each records every request,
answers scripted failures first, and lists the requests the real service would refuse."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from msp.testing._http_server import Reply, Request


@dataclass
class Seen:
    """One request as the stand-in saw it, with what the real service would object to."""

    request: Request
    problems: list[str]
    status: int = 0
    at: float = 0.0


class RecordingService:
    """Subclasses call ``_start_recording()`` (e.g. in ``__post_init__``) and implement
    ``_answer(request, seen)``, appending to ``seen.problems`` what is wrong."""

    requests: list[Seen]

    def _start_recording(self) -> None:
        self.requests = []
        self._failures: deque[Any] = deque()
        self._lock = threading.Lock()

    def fail(self, *failures: Any) -> None:
        """Answer the next valid requests with these failures, in order."""
        self._failures.extend(failures)

    @property
    def invalid(self) -> list[Seen]:
        return [s for s in self.requests if s.problems]

    def __call__(self, request: Request) -> Reply:
        seen = Seen(request, [], at=time.monotonic())
        with self._lock:
            self.requests.append(seen)
            reply = self._answer(request, seen)
        seen.status = reply.status
        return reply

    def _answer(self, request: Request, seen: Seen) -> Reply:
        raise TypeError(f"{type(self).__name__} must implement _answer(request, seen)")
