"""The scripted session: one of every moment, in order. The author kit (``msp.testing``) runs
it through a Python integration, ``msp integrations test`` through any integration; both read it
from here, so the two always script the same session."""

from __future__ import annotations

from typing import Any

#: What the scripted session records, in order: (session manager method, its input).
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
