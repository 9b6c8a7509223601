"""Sessions and configs shared by the jira tests: ordinary, hostile and huge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from msp import Blocker, Decision, Session, Update

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TOKEN = "jira-SECRET-token-0451-do-not-print"  # the value the tests put in the environment
TOKEN_ENV = "MSP_TEST_JIRA_TOKEN"

CLOUD = {
    "deployment": "cloud",
    "base_url": "https://acme.atlassian.net",
    "username": "dev@acme.example",
    "token_env": TOKEN_ENV,
}
DATACENTER = {
    "deployment": "datacenter",
    "base_url": "https://jira.acme.example/jira",
    "token_env": TOKEN_ENV,
}

TEN_KB = ("Ünïcødé ✓ 🚀 " * 800)[:10_240]
HOSTILE_TEXTS = [
    "{code}print('x'){code} and {noformat}raw{noformat} and {quote}q{quote}",
    "*bold* _italic_ -strike- +under+ ^sup^ ~sub~ ??cite?? {{mono}}",
    "[link|http://evil.example] [~admin] !image.png! !http://x/y.png|thumbnail!",
    "| a | b |\n|| h1 || h2 ||\nh1. not a heading\nbq. not a quote\n* not a list\n# not numbered\n----",
    "back\\slash \\\\ double \\* escaped-looking \\{code\\} trailing\\",
    "unicode: 日本語 العربية עברית e\u0301 zero\u200bwidth 🙂👩‍💻 \U0001f680",
    "controls:\x07\x1b[31m red\x7f end\r\nwindows line\rmac line\ttab",  # (NUL is refused at input)
    "\n\nleading and trailing newlines\n\n",
    "&#92; &amp; <b>html</b> <script>alert(1)</script> $(rm -rf /) '; DROP TABLE x; --",
    TEN_KB,
]


def session(
    *,
    updates: list[str] | None = None,
    decisions: list[tuple[str, str | None]] | None = None,
    blockers: list[tuple[str, str | None]] | None = None,
    issue: str | None = "PAY-42",
    goal: str | None = "Ship the retry worker",
    summary: str | None = "Retry worker behind a flag",
    minutes: float = 95,
    ended: bool = True,
    project: str = "payments",
) -> Session:
    """A closed session built directly (no store), items one minute apart."""
    at = START
    ups = []
    for i, text in enumerate(updates if updates is not None else ["Mapped the charge flow", "Worker retries"]):
        ups.append(Update(id=f"u{i}", at=at + timedelta(minutes=i), text=text, progress=min(100, 20 + i),
                          tags=["research"] if i == 0 else []))
    decs = [
        Decision(id=f"d{i}", at=at, text=text, rationale=why, alternatives=["Retry in memory"], impact="high")
        for i, (text, why) in enumerate(decisions if decisions is not None
                                        else [("Use an outbox table", "A crash must not lose a charge")])
    ]
    blks = [
        Blocker(id=f"b{i}", at=at, text=text, severity="medium", session_id="s1",
                resolved_at=at + timedelta(minutes=5) if solution else None, solution=solution)
        for i, (text, solution) in enumerate(blockers if blockers is not None
                                             else [("Sandbox rejects test cards", "Support enabled them"),
                                                   ("Waiting on the security review", None)])
    ]
    end = START + timedelta(minutes=minutes)
    return Session(
        id="s1", project=project, status="closed" if ended else "active", goal=goal, issue=issue,
        started_at=START, ended_at=end if ended else None, last_event_at=end, start_progress=10,
        progress=70, summary=summary, close_reason="ended" if ended else None,
        updates=ups, decisions=decs, blockers=blks,
    )


def hostile_session(issue: str | None = "PAY-42") -> Session:
    return session(
        updates=HOSTILE_TEXTS,
        decisions=[(t, t) for t in HOSTILE_TEXTS],
        blockers=[(t, t if i % 2 else None) for i, t in enumerate(HOSTILE_TEXTS)],
        goal=HOSTILE_TEXTS[0],
        summary=HOSTILE_TEXTS[1],
        project="proj {code} *x* [a|b]",
        issue=issue,
    )


def sessions_to_check() -> dict[str, Session]:
    """Every shape of session the body-validity tests go through."""
    return {
        "ordinary": session(),
        "hostile": hostile_session(),
        "empty": session(updates=[], decisions=[], blockers=[], goal=None, summary=None),
        "no-updates": session(updates=[]),
        "thousand-updates-10kb": session(updates=[f"{i}: {TEN_KB}" for i in range(1000)],
                                         decisions=[(TEN_KB, TEN_KB)] * 30),
        "short": session(minutes=0.2),
        "open": session(ended=False, minutes=12),
    }


def config(base: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**base, **extra}
