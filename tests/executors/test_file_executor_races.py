"""A folder of the root swapped for a symlink pointing out while the file executor writes.

Once the path was resolved, a racing writer could replace a folder by a symlink out of the root
and the write followed it (about 1 in 45,000 writes). The executor now opens each folder from a
handle on the root, refusing symlinks, and names files relative to the open folder: the seam
``_checkpoint`` makes the swap happen exactly at the two moments that mattered, and a bounded
stress run races a swapping thread against many writes.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from msp._executors import ExecutionContext
from msp._executors import file as file_mod
from msp._executors.file import FileExecutor
from msp._model.actions import FileWrite

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs POSIX symlinks")


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def _swap(folder: Path, outside: Path) -> Path:
    """Move ``folder`` aside and put a symlink to ``outside`` where it was."""
    moved = folder.with_name(folder.name + "-moved")
    os.rename(folder, moved)
    os.symlink(outside, folder, target_is_directory=True)
    return moved


@pytest.mark.parametrize("stage", ["resolved", "writing"])
@pytest.mark.parametrize(("path", "swapped"), [("notes/x.md", "notes"), ("a/b/x.md", "a"), ("a/b/x.md", "a/b")])
@pytest.mark.parametrize("mode", ["replace", "create", "section", "append"])
def test_a_folder_swapped_for_a_symlink_mid_write_never_redirects_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str, path: str, swapped: str, mode: str
) -> None:
    root = tmp_path / "proj" / "vault"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / Path(path).relative_to(swapped).parent).mkdir(parents=True, exist_ok=True)
    (root / path).parent.mkdir(parents=True)
    if mode != "create":
        (root / path).write_text("old\n")
    moved: list[Path] = []

    def swap_now(at: str, folder: Path) -> None:
        if at == stage and not moved:
            moved.append(_swap(root / swapped, outside))

    monkeypatch.setattr(file_mod, "_checkpoint", swap_now)
    action = FileWrite(path=path, content="new\n", mode=mode, section="s", root_from="vault")
    out = FileExecutor().execute_sync(action, ExecutionContext("obsidian", {"vault": str(root)}, root.parent))

    assert moved, "the seam was not reached"
    assert [f for f in _files(outside) if not (outside / f).is_dir()] == []
    if stage == "resolved":
        # The walk from the root meets the symlink: refused, nothing written anywhere.
        assert out.status == "dead" and "not followed" in out.summary, out
    else:
        # The folder was already open: the write lands in it, under its new name, inside the root.
        assert out.status == "done", out
        landed = moved[0] / Path(path).relative_to(swapped)
        assert "new" in landed.read_text()
    assert not [p for p in root.rglob(".msp-*.tmp")]


def test_a_racing_writer_swapping_a_folder_never_gets_a_file_outside(tmp_path: Path) -> None:
    """A thread swaps a folder of the vault for a symlink out and back, as fast as it can, while
    the executor writes into that folder: bounded in writes and time, nothing lands outside."""
    root = tmp_path / "proj" / "vault"
    sub = root / "sub"
    sub.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    aside = root / "sub-aside"
    stop = threading.Event()
    swaps = [0]

    def swapper() -> None:
        while not stop.is_set():
            try:
                os.rename(sub, aside)
                os.symlink(outside, sub, target_is_directory=True)
                swaps[0] += 1
                os.unlink(sub)
                os.rename(aside, sub)
            except OSError:
                # The executor created "sub" again in the gap: put things back and go on.
                for p in (sub,):
                    if p.is_symlink():
                        os.unlink(p)
                if aside.exists() and not sub.exists():
                    os.rename(aside, sub)

    ctx = ExecutionContext("obsidian", {"vault": str(root)}, root.parent, timeout_s=5)
    executor = FileExecutor()
    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + 20
    try:
        for i in range(600):
            if time.monotonic() > deadline:
                break
            action = FileWrite(path=f"sub/n{i % 7}.md", content=f"{i}\n", mode="section", section="s",
                               root_from="vault")
            out = executor.execute_sync(action, ctx)
            statuses[out.status] = statuses.get(out.status, 0) + 1
    finally:
        stop.set()
        thread.join(10)
    assert swaps[0] > 0 and statuses.get("done", 0) > 0, (swaps, statuses)
    assert _files(outside) == [], statuses
