"""The log file's cap and rotation, with several real processes writing at once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from msp._logging import Log, configure

WRITER = """
import sys
from pathlib import Path
from msp._logging import Log
logs, who, n, cap, backups = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
log = Log(logs, "info", max_bytes=cap, backups=backups)
sys.stdin.readline()  # all writers start together
for seq in range(n):
    log.log("info", "dispatch", writer=who, seq=seq, detail="x" * (seq % 97))
"""


@pytest.fixture(autouse=True)
def _fresh_log() -> Iterator[None]:
    yield
    configure(None, "warning")


def _write_concurrently(logs: Path, writers: int, n: int, cap: int, backups: int) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(logs), f"w{w}", str(n), str(cap), str(backups)],
                              stdin=subprocess.PIPE, text=True) for w in range(writers)]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        assert proc.wait(120) == 0


def _files_oldest_first(logs: Path) -> list[Path]:
    rotated = sorted(logs.glob("msp.jsonl.[0-9]*"), key=lambda p: int(p.suffix[1:]), reverse=True)
    return [*rotated, logs / "msp.jsonl"]


def _records(files: list[Path]) -> list[dict[str, Any]]:
    out = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n"), path
        out += [json.loads(line) for line in text.splitlines()]  # a torn line would not parse
    return out


def test_several_processes_rotate_without_losing_or_tearing_a_line(tmp_path: Path) -> None:
    logs, cap = tmp_path / "logs", 4096
    _write_concurrently(logs, writers=4, n=150, cap=cap, backups=200)  # room to keep everything
    files = _files_oldest_first(logs)
    assert len(files) > 5, "the cap made it rotate several times"
    assert all(f.stat().st_size <= cap for f in files)
    records = _records(files)
    assert len(records) == 4 * 150
    for w in range(4):
        seqs = [r["seq"] for r in records if r["writer"] == f"w{w}"]
        assert seqs == list(range(150)), "every line once, oldest file first, in each writer's order"


def test_rotated_files_are_bounded_and_what_is_kept_is_the_latest(tmp_path: Path) -> None:
    logs, cap = tmp_path / "logs", 2048
    _write_concurrently(logs, writers=3, n=200, cap=cap, backups=2)
    names = sorted(p.name for p in logs.glob("msp.jsonl*") if not p.name.endswith(".lock"))
    assert names == ["msp.jsonl", "msp.jsonl.1", "msp.jsonl.2"]
    files = _files_oldest_first(logs)
    assert all(f.stat().st_size <= cap for f in files)
    records = _records(files)
    assert 0 < len(records) < 3 * 200
    for w in range(3):
        seqs = [r["seq"] for r in records if r["writer"] == f"w{w}"]
        # only the oldest lines are dropped: each writer's kept lines run unbroken to its last one
        assert seqs == list(range(200 - len(seqs), 200))


def test_a_line_longer_than_the_cap_is_cut_to_fit(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    log = Log(logs, "info", max_bytes=2048, backups=1)
    log.log("info", "before")
    log.log("info", "é" * 5000, field="y" * 5000)
    log.log("info", "after")
    files = _files_oldest_first(logs)
    assert all(f.stat().st_size <= 2048 for f in files)
    records = _records(files)
    assert [r["event"][:6] for r in records] == ["before", "éééééé", "after"]
    assert records[1]["truncated_bytes"] > 2048 and records[1]["level"] == "info"


def test_the_log_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("POSIX permission bits")
    logs = tmp_path / "logs"
    Log(logs, "info").log("info", "hello")
    assert (logs / "msp.jsonl").stat().st_mode & 0o077 == 0
