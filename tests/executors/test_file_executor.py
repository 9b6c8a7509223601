"""The file executor on real files: modes, managed blocks, atomicity, and the root it never leaves."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from msp._executors import ExecutionContext, Outcome
from msp._executors import file as file_mod
from msp._executors.file import FileExecutor, apply_section, merge_frontmatter
from msp._model.actions import FileWrite, action_to_dict

posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX symlinks and permissions")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "proj" / "root"
    r.mkdir(parents=True)
    return r


def ctx_for(root: Path, key: str = "root") -> ExecutionContext:
    return ExecutionContext("notes", {key: str(root)}, root.parent)


def write(root: Path, path: str, content: str = "x\n", mode: str = "replace", section: str | None = None,
          ctx: ExecutionContext | None = None) -> Outcome:
    action = FileWrite(path=path, content=content, mode=mode, section=section)
    return asyncio.run(FileExecutor().execute(action, ctx or ctx_for(root)))


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- modes ---------------------------------------------------------------------------------


def test_replace_creates_folders_and_writes_exact_bytes(root: Path) -> None:
    out = write(root, "a/b/c.md", "héllo\r\nworld")
    assert out.status == "done", out.summary
    assert (root / "a/b/c.md").read_bytes() == "héllo\r\nworld".encode()
    assert write(root, "a/b/c.md", "second").status == "done"
    assert (root / "a/b/c.md").read_text() == "second"


def test_create_never_overwrites(root: Path) -> None:
    assert write(root, "n.md", "first", mode="create").status == "done"
    out = write(root, "n.md", "second", mode="create")
    assert out.status == "done" and "exists" in out.summary
    assert (root / "n.md").read_text() == "first"


def test_append_adds_at_the_end(root: Path) -> None:
    write(root, "log.md", "one\n", mode="append")
    write(root, "log.md", "two\n", mode="append")
    assert (root / "log.md").read_text() == "one\ntwo\n"


def test_same_content_again_leaves_the_file_untouched(root: Path) -> None:
    write(root, "s.md", "body", mode="section", section="a")
    before = os.stat(root / "s.md")
    out = write(root, "s.md", "body", mode="section", section="a")
    assert out.status == "done" and "unchanged" in out.summary
    after = os.stat(root / "s.md")
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_no_temporary_files_are_left_behind(root: Path) -> None:
    for i in range(5):
        write(root, "t.md", f"v{i}", mode="section", section="s")
    assert sorted(p.name for p in root.iterdir()) == ["t.md"]


def test_dict_actions_and_wrong_kinds(root: Path) -> None:
    data = action_to_dict(FileWrite(path="d.md", content="from a dict"))
    assert asyncio.run(FileExecutor().execute(data, ctx_for(root))).status == "done"
    assert (root / "d.md").read_text() == "from a dict"
    out = asyncio.run(FileExecutor().execute({"kind": "graphql", "document": "{ a }"}, ctx_for(root)))
    assert out.status == "dead" and "graphql" in out.summary


# --- managed blocks ------------------------------------------------------------------------


def test_section_replaces_only_its_block(root: Path) -> None:
    write(root, "n.md", "first A\n", mode="section", section="a")
    write(root, "n.md", "first B\n", mode="section", section="b")
    note = root / "n.md"
    text = note.read_text()
    user = "User intro, typed in Obsidian.\n\n" + text.replace(
        "%% msp:end a %%\n", "%% msp:end a %%\nA line the user put between blocks\n"
    ) + "\nTrailing user notes without a final newline"
    note.write_text(user)
    write(root, "n.md", "second A\nwith two lines\n", mode="section", section="a")
    new = note.read_text()
    expected = user.replace("first A\n", "second A\nwith two lines\n")
    assert new == expected


def test_section_append_adds_inside_its_block_and_keeps_every_other_byte(root: Path) -> None:
    write(root, "n.md", "head\n", mode="section", section="a")
    write(root, "n.md", "- one\n", mode="section_append", section="list")  # a missing block is placed
    note = root / "n.md"
    user = "Intro by hand.\n\n" + note.read_text() + "\nAfter the blocks, by hand."
    note.write_text(user)
    assert write(root, "n.md", "- two", mode="section_append", section="list").status == "done"
    assert write(root, "n.md", "- three\n", mode="section_append", section="list").status == "done"
    assert note.read_text() == user.replace("- one\n", "- one\n- two\n- three\n")


def test_section_append_delivered_again_adds_nothing(root: Path) -> None:
    write(root, "n.md", "- one\n- two\n", mode="section_append", section="list")
    before = os.stat(root / "n.md")
    for again in ("- one\n", "- two\n", "- one\n- two\n"):
        out = write(root, "n.md", again, mode="section_append", section="list")
        assert out.status == "done" and "unchanged" in out.summary
    assert (root / "n.md").read_text() == "%% msp:begin list %%\n- one\n- two\n%% msp:end list %%\n"
    assert os.stat(root / "n.md").st_mtime_ns == before.st_mtime_ns
    # a line that merely contains an earlier one is new
    write(root, "n.md", "- one more\n", mode="section_append", section="list")
    assert (root / "n.md").read_text().count("- one") == 2


def test_section_append_refuses_what_section_refuses(root: Path) -> None:
    (root / "bad.md").write_text("%% msp:begin list %%\n- one\n")
    assert write(root, "bad.md", "- two\n", mode="section_append", section="list").status == "dead"
    assert (root / "bad.md").read_text() == "%% msp:begin list %%\n- one\n"
    assert write(root, "n.md", "%% msp:end list %%\n", mode="section_append", section="list").status == "dead"
    assert write(root, "n.md", "k: v\n", mode="section_append", section="frontmatter").status == "dead"
    assert write(root, "n.md", "x\n", mode="section_append").status == "dead"


def test_a_block_named_after_a_group_heads_it_whatever_order_they_arrive_in() -> None:
    orders = [["note", "note:1", "note:2"], ["note:2", "note:1", "note"], ["note:1", "note", "note:2"]]
    texts = set()
    for order in orders:
        text = "Mine.\n"
        for ident in order:
            text = apply_section(text, ident, ident + "\n")
        texts.add(text)
    (text,) = texts
    assert [line for line in text.splitlines() if "msp:begin" in line] == [
        "%% msp:begin note %%", "%% msp:begin note:1 %%", "%% msp:begin note:2 %%"]
    assert text.startswith("Mine.\n")


def test_section_block_is_appended_after_a_blank_line(root: Path) -> None:
    (root / "n.md").write_text("# My note\nno newline at end")
    write(root, "n.md", "msp text", mode="section", section="x")
    assert (root / "n.md").read_text() == (
        "# My note\nno newline at end\n\n%% msp:begin x %%\nmsp text\n%% msp:end x %%\n"
    )


def test_grouped_blocks_end_in_key_order_whatever_order_they_arrive_in() -> None:
    base = "# Day\n\n%% msp:begin header %%\nh\n%% msp:end header %%\n"
    keys = ["20260105-1", "20260105-3", "20260105-2"]
    results = set()
    for order in ([0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]):
        text = base
        for i in order:
            text = apply_section(text, f"session:{keys[i]}", f"block {keys[i]}\n")
        results.add(text)
    assert len(results) == 1
    text = results.pop()
    assert text.startswith(base)
    positions = [text.index(f"%% msp:begin session:{k} %%") for k in sorted(keys)]
    assert positions == sorted(positions)


def test_a_new_grouped_block_joins_its_group_before_the_users_text() -> None:
    text = apply_section("# Day\n", "session:2", "two\n") + "\nuser text after\n"
    text = apply_section(text, "session:3", "three\n")
    text = apply_section(text, "session:1", "one\n")
    assert text == (
        "# Day\n\n"
        "%% msp:begin session:1 %%\none\n%% msp:end session:1 %%\n\n"
        "%% msp:begin session:2 %%\ntwo\n%% msp:end session:2 %%\n\n"
        "%% msp:begin session:3 %%\nthree\n%% msp:end session:3 %%\n"
        "\nuser text after\n"
    )


def test_damaged_blocks_are_never_guessed_at(root: Path) -> None:
    note = root / "n.md"
    note.write_text("%% msp:begin x %%\nold\n(user removed the end marker)\n")
    before = note.read_bytes()
    out = write(root, "n.md", "new", mode="section", section="x")
    assert out.status == "dead" and "damaged" in out.summary and out.summary.startswith("n.md: ")
    assert note.read_bytes() == before
    note.write_text("%% msp:begin x %%\na\n%% msp:end x %%\n%% msp:begin x %%\nb\n%% msp:end x %%\n")
    assert write(root, "n.md", "new", mode="section", section="x").status == "dead"


def test_content_cannot_forge_markers(root: Path) -> None:
    write(root, "n.md", "ok", mode="section", section="a")
    out = write(root, "n.md", "text\n%% msp:end a %%\ninjected\n", mode="section", section="a")
    assert out.status == "dead" and "marker" in out.summary
    assert "injected" not in (root / "n.md").read_text()
    assert write(root, "n.md", "x", mode="section", section="bad id").status == "dead"
    assert write(root, "n.md", "x", mode="section", section=None).status == "dead"


def test_crlf_files_keep_their_line_endings() -> None:
    text = "user line\r\n"
    out = apply_section(text, "a", "one\ntwo\n")
    assert out == "user line\r\n\r\n%% msp:begin a %%\r\none\r\ntwo\r\n%% msp:end a %%\r\n"
    again = apply_section(out, "a", "three\n")
    assert again == "user line\r\n\r\n%% msp:begin a %%\r\nthree\r\n%% msp:end a %%\r\n"


def test_frontmatter_is_merged_property_by_property() -> None:
    user = (
        "---\n"
        "# a user comment\n"
        "aliases:\n  - Mine\n"
        "status: \"active\"\n"
        "cssclasses: [wide]\n"
        "progress_end: 10\n"
        "---\n"
        "Body the user wrote.\n"
    )
    out = merge_frontmatter(user, 'status: "closed"\nprogress_end: 70\ntags:\n  - msp\n')
    assert out == (
        "---\n"
        "# a user comment\n"
        "aliases:\n  - Mine\n"
        "status: \"closed\"\n"
        "cssclasses: [wide]\n"
        "progress_end: 70\n"
        "tags:\n  - msp\n"
        "---\n"
        "Body the user wrote.\n"
    )
    assert merge_frontmatter(out, 'status: "closed"\nprogress_end: 70\ntags:\n  - msp\n') == out


def test_frontmatter_is_added_to_a_note_without_one_keeping_a_bom() -> None:
    assert merge_frontmatter("\ufeffbody\n", "a: 1\n") == "\ufeff---\na: 1\n---\nbody\n"
    assert merge_frontmatter("", "a: 1\n") == "---\na: 1\n---\n"


def test_frontmatter_content_is_checked(root: Path) -> None:
    assert write(root, "f.md", "a: 1\n---\nb: 2\n", mode="section", section="frontmatter").status == "dead"
    assert write(root, "f.md", "  indented first\n", mode="section", section="frontmatter").status == "dead"


def test_frontmatter_and_body_blocks_through_the_executor(root: Path) -> None:
    assert write(root, "s.md", "a: 1\n", mode="section", section="frontmatter").status == "done"
    assert write(root, "s.md", "# Body\n", mode="section", section="body").status == "done"
    assert (root / "s.md").read_text() == "---\na: 1\n---\n\n%% msp:begin body %%\n# Body\n%% msp:end body %%\n"


def test_non_utf8_files_are_left_alone(root: Path) -> None:
    (root / "bin.md").write_bytes(b"\xff\xfe\x00binary")
    out = write(root, "bin.md", "x", mode="section", section="a")
    assert out.status == "dead" and "UTF-8" in out.summary
    assert (root / "bin.md").read_bytes() == b"\xff\xfe\x00binary"


# --- the root ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../escape.md", "a/../../escape.md", "a/..", "C:/Windows/x.md", "c:x.md",
     "a\\..\\b.md", "nul\x00.md", ".", "/", "a//..//b"],
)
def test_paths_that_could_leave_the_root_are_dead(root: Path, path: str) -> None:
    before = files_under(root.parent.parent)
    out = write(root, path, "pwned")
    assert out.status == "dead", out
    assert out.summary
    assert files_under(root.parent.parent) == before


@posix_only
def test_a_symlinked_folder_pointing_out_is_not_followed(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "notes").symlink_to(outside, target_is_directory=True)
    out = write(root, "notes/x.md", "pwned")
    assert out.status == "dead" and "outside the root" in out.summary
    out = write(root, "notes/deeper/x.md", "pwned")
    assert out.status == "dead"
    assert list(outside.iterdir()) == []


@posix_only
def test_a_symlinked_file_pointing_out_is_not_followed(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("keep me")
    (root / "note.md").symlink_to(secret)
    for mode in ("replace", "append", "section", "create"):
        out = write(root, "note.md", "pwned", mode=mode, section="a")
        assert out.status in ("dead", "done"), out
        assert secret.read_text() == "keep me"
    assert write(root, "note.md", "pwned").status == "dead"
    assert (root / "note.md").is_symlink()


@posix_only
def test_a_symlink_inside_the_root_is_followed_and_kept(root: Path) -> None:
    (root / "real.md").write_text("old")
    (root / "alias.md").symlink_to(root / "real.md")
    assert write(root, "alias.md", "new").status == "done"
    assert (root / "alias.md").is_symlink()
    assert (root / "real.md").read_text() == "new"


@posix_only
def test_a_symlink_loop_is_dead(root: Path) -> None:
    (root / "loop").symlink_to(root / "loop")
    assert write(root, "loop/x.md", "x").status == "dead"


def test_a_missing_root_outside_the_project_waits_and_is_not_created(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    missing = tmp_path / "not-mounted" / "vault"
    ctx = ExecutionContext("notes", {"vault": str(missing)}, tmp_path / "proj")
    action = FileWrite(path="a.md", content="x", root_from="vault")
    out = asyncio.run(FileExecutor().execute(action, ctx))
    assert out.status == "wait" and str(missing) in out.summary
    assert not missing.exists()
    missing.mkdir(parents=True)
    assert asyncio.run(FileExecutor().execute(action, ctx)).status == "done"
    assert (missing / "a.md").read_text() == "x"


@pytest.mark.parametrize("raw", ["notes", "out/notes", "{proj}/abs-notes"])
def test_a_missing_root_inside_the_project_is_created(tmp_path: Path, raw: str) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    value = raw.format(proj=proj)
    action = FileWrite(path="a.md", content="x", root_from="vault")
    out = FileExecutor().execute_sync(action, ExecutionContext("n", {"vault": value}, proj))
    assert out.status == "done", out
    assert (proj / value / "a.md").read_text() == "x"


@pytest.mark.parametrize("raw", ["../sibling", "notes/../../sibling", "/nonexistent-msp-root/x"])
def test_a_missing_root_that_leaves_the_project_is_not_created(tmp_path: Path, raw: str) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    action = FileWrite(path="a.md", content="x", root_from="vault")
    out = FileExecutor().execute_sync(action, ExecutionContext("n", {"vault": raw}, proj))
    assert out.status == "wait", out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"] and list(proj.iterdir()) == []


@posix_only
def test_a_missing_root_behind_a_symlink_out_of_the_project_is_not_created(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (proj / "link").symlink_to(elsewhere, target_is_directory=True)
    action = FileWrite(path="a.md", content="x", root_from="vault")
    out = FileExecutor().execute_sync(action, ExecutionContext("n", {"vault": "link/vault"}, proj))
    assert out.status == "wait", out
    assert list(elsewhere.iterdir()) == []


def test_root_config_problems_are_dead(tmp_path: Path) -> None:
    action = FileWrite(path="a.md", content="x", root_from="vault")
    run = FileExecutor().execute_sync
    assert run(action, ExecutionContext("n", {}, tmp_path)).status == "dead"
    assert run(action, ExecutionContext("n", {"vault": 3}, tmp_path)).status == "dead"
    (tmp_path / "file").write_text("not a folder")
    assert run(action, ExecutionContext("n", {"vault": "file"}, tmp_path)).status == "dead"


def test_relative_and_home_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "proj" / "vault").mkdir(parents=True)
    action = FileWrite(path="rel.md", content="x", root_from="vault")
    out = FileExecutor().execute_sync(action, ExecutionContext("n", {"vault": "vault"}, tmp_path / "proj"))
    assert out.status == "done" and (tmp_path / "proj" / "vault" / "rel.md").exists()
    home = tmp_path / "home"
    (home / "Notes").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    out = FileExecutor().execute_sync(action, ExecutionContext("n", {"vault": "~/Notes"}, tmp_path / "proj"))
    assert out.status == "done" and (home / "Notes" / "rel.md").exists()


def test_a_folder_in_the_way_is_dead(root: Path) -> None:
    (root / "dir.md").mkdir()
    assert write(root, "dir.md", "x").status == "dead"


# --- atomicity and concurrency -------------------------------------------------------------


@posix_only
def test_permissions_are_kept(root: Path) -> None:
    write(root, "p.md", "one")
    os.chmod(root / "p.md", 0o640)
    write(root, "p.md", "two")
    assert stat.S_IMODE(os.stat(root / "p.md").st_mode) == 0o640


def test_a_failed_rename_leaves_the_old_file_whole(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(root, "a.md", "old content\n")

    def broken_replace(src: Any, dst: Any, **at: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    out = write(root, "a.md", "new content\n")
    assert out.status == "retry" and "No space" in out.summary
    assert (root / "a.md").read_text() == "old content\n"
    assert sorted(p.name for p in root.iterdir()) == ["a.md"]


def test_an_edit_saved_while_msp_writes_is_kept(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    note = root / "n.md"
    write(root, "n.md", "v1", mode="section", section="a")
    real_read = file_mod._read
    calls = {"n": 0}

    def read_then_user_saves(folder: Any, name: str) -> str | None:
        text = real_read(folder, name)
        calls["n"] += 1
        if calls["n"] == 1:  # the user's editor saves right after msp read the file
            path = folder.path / name
            with open(path, "a", encoding="utf-8") as fh:
                fh.write("typed by the user meanwhile\n")
            os.utime(path, ns=(0, 1))  # a different mtime even on coarse clocks
        return text

    monkeypatch.setattr(file_mod, "_read", read_then_user_saves)
    assert write(root, "n.md", "v2", mode="section", section="a").status == "done"
    assert calls["n"] >= 2
    text = note.read_text()
    assert "typed by the user meanwhile" in text and "v2" in text and "v1" not in text


def test_concurrent_writers_in_one_process_lose_no_block(root: Path) -> None:
    async def many() -> list[Outcome]:
        ex = FileExecutor()
        ctx = ctx_for(root)
        jobs = [ex.execute(FileWrite(path="shared.md", content=f"block {i}\n", mode="section", section=f"s{i}"), ctx)
                for i in range(24)]
        return await asyncio.gather(*jobs)

    assert all(o.status == "done" for o in asyncio.run(many()))
    text = (root / "shared.md").read_text()
    assert all(f"%% msp:begin s{i} %%\nblock {i}\n%% msp:end s{i} %%" in text for i in range(24))


def _writer_process(root: str, who: int, n: int) -> None:
    ex = FileExecutor()
    ctx = ExecutionContext("notes", {"root": root}, Path(root).parent)
    for i in range(n):
        action = FileWrite(path="shared.md", content=f"{who}-{i}\n", mode="section", section=f"p{who}-{i}")
        out = ex.execute_sync(action, ctx)
        assert out.status == "done", out


def test_concurrent_writer_processes_lose_no_block(root: Path) -> None:
    procs = [multiprocessing.get_context("spawn").Process(target=_writer_process, args=(str(root), w, 15))
             for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    text = (root / "shared.md").read_text()
    for w in range(3):
        for i in range(15):
            assert f"%% msp:begin p{w}-{i} %%\n{w}-{i}\n%% msp:end p{w}-{i} %%" in text


HOLD_FOLDER = """
import sys
from pathlib import Path
from msp._executors.file import _folder_lock
with _folder_lock(Path(sys.argv[1]), 30):
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_a_folder_locked_by_another_process_makes_the_write_a_retry(root: Path) -> None:
    import subprocess

    folder = root.resolve()
    proc = subprocess.Popen([sys.executable, "-c", HOLD_FOLDER, str(folder)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        ctx = ExecutionContext("notes", {"root": str(root)}, root.parent, timeout_s=0.3)
        out = write(root, "blocked.md", ctx=ctx)
        assert out.status == "retry" and "stayed locked by another write" in out.summary
        assert not (root / "blocked.md").exists()
    finally:
        proc.kill()
        proc.wait()
    assert write(root, "blocked.md").status == "done"
