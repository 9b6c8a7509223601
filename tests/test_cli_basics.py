from __future__ import annotations

from typing import Any


def test_a_whole_session_through_the_cli(msp_cli: Any) -> None:
    assert msp_cli("start", "--goal", "g", "--progress", "10").code == 0
    assert msp_cli("update", "did a thing", "40").code == 0
    r = msp_cli("end", "--summary", "done", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["progress_delta"] == 30
    assert data["session"]["status"] == "closed"
