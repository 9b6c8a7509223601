"""Signatures carry the time, so a receiver can refuse replays; the receiver is the one the docs
show (its code is read from docs/webhook-signatures.md and run here, so the two cannot drift)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from msp._executors import ExecutionContext
from msp._executors.http import signature

DOC = Path(__file__).resolve().parents[3] / "docs" / "webhook-signatures.md"
SECRET = "whsec-test-7f3a9c1e5b"
BODY = b'{"schema":"msp.webhook.v1","id":"e1","type":"progress_updated"}'
SENT_AT = 1_767_604_440


@pytest.fixture(scope="module")
def verify() -> Callable[..., bool]:
    (code,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace["verify"]  # type: ignore[no-any-return]


def _ctx(monkeypatch: pytest.MonkeyPatch, **config: Any) -> ExecutionContext:
    monkeypatch.setenv("TEST_SIGNING", SECRET)
    return ExecutionContext("webhook", {"signing_secret_env": "TEST_SIGNING", **config}, Path("."))


def test_the_documented_receiver_accepts_a_fresh_request(
        verify: Callable[..., bool], monkeypatch: pytest.MonkeyPatch) -> None:
    header = signature(_ctx(monkeypatch), BODY, now_s=SENT_AT)
    assert header is not None and header.startswith(f"t={SENT_AT},v1=")
    assert verify(SECRET.encode(), BODY, header, now=SENT_AT + 60)


def test_a_replay_outside_five_minutes_is_refused(verify: Callable[..., bool], monkeypatch: pytest.MonkeyPatch) -> None:
    header = signature(_ctx(monkeypatch), BODY, now_s=SENT_AT)
    assert header is not None
    assert verify(SECRET.encode(), BODY, header, now=SENT_AT + 300)
    assert not verify(SECRET.encode(), BODY, header, now=SENT_AT + 301)
    assert not verify(SECRET.encode(), BODY, header, now=SENT_AT - 301)


def test_the_time_cannot_be_moved_without_the_secret(
        verify: Callable[..., bool], monkeypatch: pytest.MonkeyPatch) -> None:
    header = signature(_ctx(monkeypatch), BODY, now_s=SENT_AT)
    assert header is not None
    moved = header.replace(f"t={SENT_AT}", f"t={SENT_AT + 3600}")
    assert not verify(SECRET.encode(), BODY, moved, now=SENT_AT + 3600)
    assert not verify(SECRET.encode(), BODY + b" ", header, now=SENT_AT)
    assert not verify(b"another-secret", BODY, header, now=SENT_AT)
    assert not verify(SECRET.encode(), BODY, "sha256=" + "0" * 64, now=SENT_AT)


def test_the_legacy_switch_keeps_the_old_header(monkeypatch: pytest.MonkeyPatch) -> None:
    header = signature(_ctx(monkeypatch, signature_format="legacy"), BODY, now_s=SENT_AT)
    assert header == "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


def test_no_secret_named_means_no_signature() -> None:
    assert signature(ExecutionContext("webhook", {}, Path(".")), BODY) is None
