"""The contracts and scripts in ``../shared/fixtures``, read in place and never copied here.

A plain clone has no ``../shared``. Then a test that needs a fixture is skipped, naming the
missing file and where it is looked for; under ``CI=true`` the same absence fails the test, so
CI can never pass by skipping the contract checks. ``SHARED_FIXTURES_DIR`` points elsewhere
(not an ``MSP_`` name, which the suite clears; the suite's own test of this rule uses it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    return Path(os.environ.get("SHARED_FIXTURES_DIR") or REPO.parent / "shared")


def shared_file(*parts: str) -> Path:
    """The fixture file at ``shared/fixtures/<parts>``; skips (or, under CI, fails) the calling
    test when it is not there."""
    path = shared_dir().joinpath("fixtures", *parts)
    if path.is_file():
        return path
    reason = (f"needs the shared fixture {path} (a plain clone has no ../shared; "
              "put the project's shared/ folder beside the checkout to run it)")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)
