"""The webhook integration through every failure kind of the shared harness."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from msp.testing import FAILURE_KINDS, Request, run_failure_kinds

SIGNING = "whsec-test-7f3a9c1e5b"
HEADER_SECRET = "hdr-secret-2b8d4f6a"


def test_webhook_passes_every_failure_kind(tmp_path: Path) -> None:
    seen: list[Request] = []

    def check(req: Request) -> None:
        seen.append(req)
        stamp, _, given = (req.header("X-MSP-Signature") or "").partition(",v1=")
        assert stamp.startswith("t=") and stamp[2:].isdigit()
        signed = stamp[2:].encode() + b"." + req.body
        assert given == hmac.new(SIGNING.encode(), signed, hashlib.sha256).hexdigest()
        assert req.header("X-Api-Key") == HEADER_SECRET
        assert req.json()["schema"] == "msp.webhook.v1"

    results = run_failure_kinds(
        tmp_path,
        integration="webhook",
        config=lambda url: {
            "url": url + "/hook",
            "signing_secret_env": "TEST_WEBHOOK_SIGNING",
            "secret_headers": {"X-Api-Key": "TEST_WEBHOOK_HEADER"},
        },
        secrets={"TEST_WEBHOOK_SIGNING": SIGNING, "TEST_WEBHOOK_HEADER": HEADER_SECRET},
        check_request=check,
    )
    assert set(results) == set(FAILURE_KINDS)
    assert seen, "the server saw the requests"
    assert all(r.path == "/hook" for r in seen)
