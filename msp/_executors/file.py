"""The ``file`` executor: writes a file inside an integration's root folder, atomically.

Where: the root is the config value named by ``FileWrite.root_from`` (``root`` by default; the
obsidian integration uses ``vault``), with ``~`` expanded; a relative root is taken relative to
the project's root folder. ``path`` is relative to it. Absolute paths, ``..``, backslashes and
anything that resolves outside the root (a symlink inside the root pointing out, at any depth,
including the file itself) are refused with an Outcome of ``dead``: retrying would not help.
A symlink that stays inside the root is followed, so the file it points at is written.

A missing root folder inside the project's folder (``root = "notes"``) is created. One
elsewhere (``~/Notes``, ``/Volumes/USB/vault``, ``../vault``) is not: the outcome is ``wait``,
not ``dead``, because a vault on an unmounted drive or a not-yet-synced cloud folder comes back,
and creating it would scatter files on the mount point or fork the synced folder. The action
stays pending until the folder exists; the summary says which folder is missing. Folders
*inside* the root are created as needed.

How: the path is resolved once (following symlinks that stay inside the root); then the root
is opened and each real folder below it opened from its parent's handle with ``O_NOFOLLOW``
(created there when missing), and everything after (read, temporary file, rename) names files
relative to that open folder. A folder swapped for a symlink during the write is refused, or the
write lands in the folder that was opened (still inside the root): no swap can redirect it out.
The new content goes to a temporary file in the target's folder (a dot-file, so Obsidian
ignores it), is fsynced, and renamed over the target with ``os.replace``; then the folder is
fsynced. A reader sees the old file or the new one, never half of either. The file's
permissions are kept; a new file gets the usual ``0666 & ~umask``. Writers of one folder are
serialised, across threads and processes (a ``filelock`` per folder, kept in msp's per-user
cache folder), and a file changed by someone else between our read and our rename (an editor
saving) is read again and the change redone, so their edit is kept.

Modes:

``create``
    Write the file only if it does not exist; an existing file is left exactly as it is and the
    outcome is ``done`` ("exists").
``replace``
    The whole file becomes ``content``.
``append``
    ``content`` is added at the end. Not idempotent: delivering the same action twice appends
    twice. Prefer ``section`` for anything that is re-sent.
``section``
    Only the managed block ``section`` is replaced; every other byte of the file stays as it
    is. A block is the lines from ``%% msp:begin <id> %%`` to ``%% msp:end <id> %%`` (Obsidian
    comments, so they are invisible in reading view). A block that is not in the file yet is
    appended at the end, after a blank line; a missing file is created holding just the block.
    Ids of the form ``group:key`` are kept in key order within their group: a new one goes
    before the first block of its group with a greater key, else right after the group's last
    block; a block named just ``group`` comes first in its group. So blocks written by
    different sessions, or superseded writes delivered later, end in the same layout.
    The reserved id ``frontmatter`` manages the file's YAML frontmatter instead, property by
    property: the top-level keys in ``content`` replace the same keys where they stand, new keys
    are added at the end of the frontmatter, and every other property, comment and its order is
    kept. A file without frontmatter gets one at the top.
``section_append``
    ``content`` is added at the end of the managed block ``section`` (placed, when missing, as
    ``section`` places it); every other byte stays. A block that already holds ``content`` as
    whole lines is left as it is, so a write delivered again (its outcome lost in a crash) does
    not add it twice: give each appended piece something unique (the obsidian integration ends
    each update's line with its id). For something that grows without rewriting it each time, a
    session's list of updates, say: the cost of the action stays the size of what is added.
    Not for ``frontmatter``.

A file whose markers are broken (a begin without an end, a block twice) is never guessed at: the
outcome is ``dead`` and names the file, so nothing the user wrote is lost. Writing content equal
to what is there is ``done`` without touching the file (its modification time stays), so the
same state written twice leaves byte-identical files and no sync churn.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from msp._executors import BaseExecutor, ExecutionContext, Outcome, unreachable

FRONTMATTER = "frontmatter"
SECTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")
_MARKER = re.compile(r"^[ \t]*%%[ \t]*msp:(begin|end)[ \t]+(\S+)[ \t]*%%[ \t]*\r?\n?$")
_FENCE = re.compile(r"^(---|\.\.\.)[ \t]*\r?\n?$")
#: How often a write is redone when the file changed under it before giving up (retry).
_MAX_REDO = 5


def begin_marker(section: str) -> str:
    return f"%% msp:begin {section} %%"


def end_marker(section: str) -> str:
    return f"%% msp:end {section} %%"


class Refused(Exception):
    """The action can never succeed as it is (Outcome ``dead``)."""


class NotYet(Exception):
    """The action cannot be tried yet (Outcome ``wait``)."""


# --- pure text edits ---------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    """Lines with their endings; only ``\\n`` ends a line (as in Markdown files)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _marker(line: str) -> tuple[str, str] | None:
    m = _MARKER.match(line)
    return (m.group(1), m.group(2)) if m else None


def _normalise_body(content: str, nl: str) -> str:
    body = content.replace("\r\n", "\n")
    if body and not body.endswith("\n"):
        body += "\n"
    return body.replace("\n", nl)


def apply_section(text: str, section: str, content: str) -> str:
    """``text`` with managed block ``section`` set to ``content``; nothing else changes."""
    if not SECTION_ID.match(section):
        raise Refused(f"section id {section!r} is not valid (letters, digits and ._:/@+- only)")
    if any(_marker(line) for line in _lines(content)):
        raise Refused("content contains an msp managed-block marker line; it would break the file's blocks")
    if section == FRONTMATTER:
        return merge_frontmatter(text, content)
    nl = _newline_of(text)
    block = begin_marker(section) + nl + _normalise_body(content, nl) + end_marker(section) + nl
    lines = _lines(text)
    begins = [i for i, line in enumerate(lines) if _marker(line) == ("begin", section)]
    ends = [i for i, line in enumerate(lines) if _marker(line) == ("end", section)]
    if not begins and not ends:
        return _insert_block(text, lines, section, block, nl)
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise Refused(
            f"the managed block {section!r} is damaged ({len(begins)} begin and {len(ends)} end markers); "
            f"fix the lines '{begin_marker(section)}' / '{end_marker(section)}' by hand, then retry the action"
        )
    return "".join(lines[: begins[0]]) + block + "".join(lines[ends[0] + 1 :])


def append_to_section(text: str, section: str, content: str) -> str:
    """``text`` with ``content`` added at the end of managed block ``section``, unless the block
    already holds it as whole lines; nothing else changes."""
    if section == FRONTMATTER:
        raise Refused("mode 'section_append' cannot add to the frontmatter; use mode 'section'")
    nl = _newline_of(text)
    addition = _normalise_body(content, nl)
    if not addition:
        return text
    lines = _lines(text)
    begins = [i for i, line in enumerate(lines) if _marker(line) == ("begin", section)]
    if len(begins) != 1:
        return apply_section(text, section, content)  # missing (or damaged: refused there)
    ends = [i for i, line in enumerate(lines) if _marker(line) == ("end", section)]
    if len(ends) != 1 or ends[0] < begins[0]:
        return apply_section(text, section, content)  # refuses, naming the damage
    if any(_marker(line) for line in _lines(addition)):
        raise Refused("content contains an msp managed-block marker line; it would break the file's blocks")
    body = "".join(lines[begins[0] + 1 : ends[0]])
    if body and not body.endswith("\n"):
        body += nl
    if (nl + addition) in (nl + body):
        return text
    return "".join(lines[: begins[0] + 1]) + body + addition + "".join(lines[ends[0] :])


def _blocks(lines: list[str]) -> list[tuple[str, int, int]]:
    """Well-formed blocks as (id, begin line, end line), in file order."""
    opened: dict[str, list[int]] = {}
    closed: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        found = _marker(line)
        if found:
            (opened if found[0] == "begin" else closed).setdefault(found[1], []).append(i)
    out = []
    for ident, starts in opened.items():
        stops = closed.get(ident, [])
        if len(starts) == 1 and len(stops) == 1 and starts[0] < stops[0]:
            out.append((ident, starts[0], stops[0]))
    return sorted(out, key=lambda b: b[1])


def _insert_block(text: str, lines: list[str], section: str, block: str, nl: str) -> str:
    """Place a block that is not in the file yet. An id ``group:key`` joins the blocks of its
    group in key order, after the block named just ``group`` if there is one (whatever order the
    writes arrive in, the file ends up the same); a plain id goes before the blocks of the group
    it names, else at the end of the file, after a blank line."""
    group, colon, key = section.partition(":")
    if not colon:
        members = [b for b in _blocks(lines) if b[0].startswith(group + ":")]
        if members:
            at = members[0][1]
            return "".join(lines[:at]) + block + nl + "".join(lines[at:])
    else:
        siblings = [b for b in _blocks(lines) if b[0].partition(":")[0] == group]
        later = [b for b in siblings if ":" in b[0] and b[0].partition(":")[2] > key]
        if later:
            at = later[0][1]
            return "".join(lines[:at]) + block + nl + "".join(lines[at:])
        if siblings:
            at = siblings[-1][2] + 1
            head = "".join(lines[:at])
            if not head.endswith("\n"):
                head += nl
            return head + nl + block + "".join(lines[at:])
    if not text:
        return block
    sep = "" if text.endswith(nl + nl) or text == nl else (nl if text.endswith("\n") else nl + nl)
    return text + sep + block


#: A top-level ``key:`` line of YAML: a quoted key, or a plain one (not a comment, not a list item).
_KEY_LINE = re.compile(
    r"""^(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#\-'"?][^\n]*?|-[^\s\n][^\n]*?)"""
    r"""[ \t]*:(?:[ \t]|\r?\n|$)"""
)


def _key_of(line: str) -> str | None:
    m = _KEY_LINE.match(line)
    if not m:
        return None
    key = m.group("key")
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'":
        key = key[1:-1]
    return key


def _entries(lines: list[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Split frontmatter lines into a preamble and (key, lines) entries; continuation lines
    (indented, list items, comments, blanks) belong to the entry above them."""
    preamble: list[str] = []
    entries: list[tuple[str, list[str]]] = []
    for line in lines:
        key = _key_of(line)
        if key is not None:
            entries.append((key, [line]))
        elif entries:
            entries[-1][1].append(line)
        else:
            preamble.append(line)
    return preamble, entries


def merge_frontmatter(text: str, content: str) -> str:
    """Set the top-level properties in ``content`` in ``text``'s YAML frontmatter, keeping all
    others where they are."""
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    rest = text[len(bom) :]
    nl = _newline_of(text)
    new_lines = _lines(_normalise_body(content, nl))
    if any(_FENCE.match(line) for line in new_lines):
        raise Refused("frontmatter content must not contain a '---' or '...' line")
    pre, new_entries = _entries(new_lines)
    if any(line.strip() for line in pre):
        raise Refused("frontmatter content must start with a 'key:' line")
    lines = _lines(rest)
    close = None
    if lines and lines[0].rstrip("\r\n").rstrip() == "---":
        close = next((i for i in range(1, len(lines)) if _FENCE.match(lines[i])), None)
    if close is None:
        return bom + "---" + nl + "".join(new_lines) + "---" + nl + rest
    old_pre, old_entries = _entries(lines[1:close])
    fresh = dict(new_entries)
    merged: list[str] = list(old_pre)
    done: set[str] = set()
    for key, entry in old_entries:
        if key in fresh and key not in done:
            merged += fresh[key]
            done.add(key)
        elif key not in fresh:
            merged += entry
        # a duplicate of a key msp writes is dropped: YAML would reject the file otherwise
    if merged and not merged[-1].endswith("\n"):
        merged[-1] += nl
    for key, entry in new_entries:
        if key not in done:
            merged += entry
            done.add(key)
    return bom + lines[0] + "".join(merged) + "".join(lines[close:])


def render(existing: str | None, mode: str, content: str, section: str | None) -> str | None:
    """The file's new text, or ``None`` to leave it alone (``create`` of an existing file)."""
    if mode == "create":
        return None if existing is not None else content
    if mode == "replace":
        return content
    if mode == "append":
        return (existing or "") + content
    if mode == "section":
        if not section:
            raise Refused("mode 'section' needs a section id")
        return apply_section(existing or "", section, content)
    if mode == "section_append":
        if not section:
            raise Refused("mode 'section_append' needs a section id")
        return append_to_section(existing or "", section, content)
    raise Refused(f"unknown mode {mode!r}")


# --- where ---------------------------------------------------------------------------------


def relative_parts(path: str) -> list[str]:
    """The components of a root-relative path; refuses anything that could leave the root."""
    if "\x00" in path:
        raise Refused("path contains a NUL character")
    if "\\" in path:
        raise Refused(f"path {path!r} contains a backslash; use '/' between folders")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise Refused(f"path {path!r} is absolute; it must be relative to the root folder")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise Refused(f"path {path!r} contains '..'; it must stay inside the root folder")
    if not parts:
        raise Refused(f"path {path!r} names no file")
    return parts


def resolve_root(root_from: str, config: Mapping[str, Any], project_root: Path) -> Path:
    raw = config.get(root_from)
    if raw is None or raw == "":
        raise Refused(f"the integration's config has no {root_from!r} (the folder files are written under); set it")
    if not isinstance(raw, str | os.PathLike):
        raise Refused(f"config key {root_from!r} must be a folder path, got {type(raw).__name__}")
    root = Path(os.path.expanduser(os.fspath(raw)))
    if not root.is_absolute():
        root = project_root / root
    if not root.exists():
        if not _inside_project(root, project_root):
            raise NotYet(
                f"folder {root} ({root_from}) does not exist; create it or fix the config, the write waits"
            )
        root.mkdir(parents=True, exist_ok=True)
    if not root.is_dir():
        raise Refused(f"{root} ({root_from}) is not a folder")
    return root.resolve(strict=True)


def _inside_project(root: Path, project_root: Path) -> bool:
    """Whether ``root`` lies inside the project's folder (following symlinks), where msp may
    create it."""
    try:
        real_project = project_root.resolve(strict=True)
        real_root = Path(os.path.normpath(root)).resolve()
    except (OSError, RuntimeError):
        return False
    return real_root != real_project and real_root.is_relative_to(real_project)


def contained(real_root: Path, parts: list[str]) -> Path:
    """The real path of ``parts`` under ``real_root``, following symlinks; refuses one that
    leaves the root."""
    try:
        resolved = real_root.joinpath(*parts).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise Refused(f"path {'/'.join(parts)!r} cannot be resolved: {exc}") from None
    if resolved == real_root or not resolved.is_relative_to(real_root):
        raise Refused(
            f"path {'/'.join(parts)!r} resolves outside the root folder (a symlink points out); not followed"
        )
    return resolved


# --- how -----------------------------------------------------------------------------------

def _folder_lock_path(folder: Path) -> Path:
    """Where the lock for writes into ``folder`` lives: msp's per-user cache folder, named after
    the folder. Not inside the folder: that is the user's (a vault, a synced folder), and one
    per user rather than per project, since two projects may well write into one vault."""
    import hashlib

    import platformdirs

    digest = hashlib.sha256(os.fsencode(folder)).hexdigest()[:32]
    return Path(platformdirs.user_cache_dir("msp")) / "locks" / f"folder-{digest}.lock"


@contextlib.contextmanager
def _folder_lock(folder: Path, timeout_s: float) -> Iterator[None]:
    """One writer per folder, among threads and processes alike (``filelock``: one lock file
    opened anew per write, so two threads of one process exclude each other as two processes do)."""
    from filelock import FileLock, Timeout

    path = _folder_lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=max(timeout_s, 0.1), poll_interval=0.01)
    except Timeout:
        raise TimeoutError(f"folder {folder} stayed locked by another write for {timeout_s:.0f}s") from None
    try:
        yield
    finally:
        lock.release()


#: Whether this platform can resolve names relative to an open folder (``openat`` and friends).
#: Where it cannot (Windows), names are joined to the folder's path, checked as before.
_AT = {os.open, os.mkdir, os.stat, os.unlink, os.link} <= os.supports_dir_fd
_O_DIR = getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _checkpoint(stage: str, folder: Path) -> None:
    """A seam for tests: called after the path was resolved (``resolved``) and right before the
    file is written (``writing``), the two moments a folder swapped for a symlink could once
    redirect a write. Does nothing."""


class _Folder:
    """A folder inside the root, held open: every name below is looked up relative to this
    handle, never through the path again, so a folder renamed or swapped for a symlink after it
    was opened cannot redirect what is read or written (``path`` is for messages and the lock)."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    def __enter__(self) -> _Folder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _at(self, name: str) -> tuple[str | Path, dict[str, Any]]:
        if self.fd is None:
            return self.path / name, {}
        return name, {"dir_fd": self.fd}

    def open(self, name: str, flags: int, mode: int = 0o777) -> int:
        where, at = self._at(name)
        return os.open(where, flags, mode, **at)

    def stat(self, name: str) -> os.stat_result:
        where, at = self._at(name)
        return os.stat(where, follow_symlinks=False, **at)

    def unlink(self, name: str) -> None:
        where, at = self._at(name)
        os.unlink(where, **at)

    def link(self, src: str, dst: str) -> None:
        if self.fd is None:
            os.link(self.path / src, self.path / dst)
        else:
            os.link(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd, follow_symlinks=False)

    def replace(self, src: str, dst: str) -> None:
        if self.fd is None:
            os.replace(self.path / src, self.path / dst)
        else:
            os.replace(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def fsync(self) -> None:
        if os.name != "posix":
            return
        fd = self.fd if self.fd is not None else os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError:
            pass  # some file systems cannot fsync a folder; the rename itself is still atomic
        finally:
            if fd != self.fd:
                os.close(fd)


def _open_folder(real_root: Path, names: list[str]) -> _Folder:
    """The folder ``real_root/names...``, opened one component at a time from a handle on the
    root, each step refusing a symlink (``O_NOFOLLOW``) and anything not a folder
    (``O_DIRECTORY``); missing folders are created on the way, relative to their parent's handle.
    ``names`` come from resolving the path (symlinks inside the root already followed), so a
    symlink met here was swapped in since: the write is refused rather than followed."""
    path = real_root.joinpath(*names)
    if not _AT:
        if not path.exists():
            path.mkdir(parents=True, exist_ok=True)
        if names and contained(real_root, names) != path:
            raise Refused(f"folder {'/'.join(names)!r} changed to point elsewhere while writing")
        return _Folder(path, None)
    fd = _open_dir(real_root, None, real_root)
    try:
        for i, name in enumerate(names):
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o777, dir_fd=fd)
            step = _open_dir(name, fd, real_root.joinpath(*names[: i + 1]))
            os.close(fd)
            fd = step
    except BaseException:
        os.close(fd)
        raise
    return _Folder(path, fd)


def _open_dir(name: str | Path, dir_fd: int | None, shown: Path) -> int:
    try:
        return os.open(name, os.O_RDONLY | _O_DIR, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):  # EMLINK: FreeBSD's ELOOP here
            raise Refused(
                f"{shown} is not a folder (a file, or a symlink swapped in while writing); not followed"
            ) from None
        raise


def _stamp(folder: _Folder, name: str) -> tuple[int, int, int] | None:
    try:
        st = folder.stat(name)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _read(folder: _Folder, name: str) -> str | None:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = folder.open(name, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused(f"{name} became a symlink; not followed") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        data = fh.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"{folder.path / name} is not UTF-8 text; msp will not rewrite it") from None


def _write_atomic(folder: _Folder, name: str, data: bytes, expect: tuple[int, int, int] | None) -> str:
    """Write ``data`` to ``name`` in ``folder`` through a temporary file, if the target still is
    what was read (``expect``: its stamp, or None for "does not exist"). Returns ``written``, or
    ``changed`` when someone else wrote or created it first (nothing is written then)."""
    tmp = f".msp-{secrets.token_hex(8)}.tmp"
    flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
             | getattr(os, "O_CLOEXEC", 0))
    fd = folder.open(tmp, flags, 0o666)
    try:
        try:
            with contextlib.suppress(FileNotFoundError):
                mode = folder.stat(name).st_mode & 0o7777
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if _stamp(folder, name) != expect:
            return "changed"
        if expect is None:
            try:
                folder.link(tmp, name)  # fails rather than overwrite a file created meanwhile
            except FileExistsError:
                return "changed"
            except OSError:  # no hard links here: the folder lock keeps check-then-rename safe
                if _stamp(folder, name) is not None:
                    return "changed"
                folder.replace(tmp, name)
        else:
            folder.replace(tmp, name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            folder.unlink(tmp)
    folder.fsync()
    return "written"


class FileExecutor(BaseExecutor):
    """Delivers ``file`` actions; see the module docstring for the rules."""

    def __init__(self) -> None:
        pass

    async def execute(self, action: Any, ctx: ExecutionContext) -> Outcome:
        return await asyncio.to_thread(self.execute_sync, action, ctx)

    def execute_sync(self, action: Any, ctx: ExecutionContext) -> Outcome:
        """The same as :meth:`execute`, in the calling thread."""
        if isinstance(action, dict):
            from msp._model.actions import action_from_dict

            action = action_from_dict(action)
        if getattr(action, "kind", None) != "file":
            return Outcome("dead", f"the file executor cannot deliver a {getattr(action, 'kind', '?')!r} action")
        try:
            return self._write(action, ctx)
        except Refused as exc:
            return Outcome("dead", str(exc))
        except NotYet as exc:
            return Outcome("wait", str(exc))
        except TimeoutError as exc:
            return Outcome("retry", str(exc))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            where = exc.filename or action.path
            if exc.errno in (errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.EINVAL, errno.ELOOP):
                return Outcome("dead", f"cannot write {where}: {reason}")
            # A vault on a network share that is out of reach (host down, stale handle) is
            # offline, not failing: retried until the age limit, not max_attempts.
            return Outcome("retry", f"cannot write {where}: {reason}", offline=unreachable(exc))

    def _write(self, action: Any, ctx: ExecutionContext) -> Outcome:
        parts = relative_parts(action.path)
        real_root = resolve_root(action.root_from, ctx.config, ctx.project_root)
        # Symlinks that stay inside the root are followed here, once; from then on the real
        # components are opened one by one from a handle on the root, refusing any symlink.
        target = contained(real_root, parts)
        real = list(target.relative_to(real_root).parts)
        rel, name = "/".join(real), real[-1]
        _checkpoint("resolved", target.parent)
        with _open_folder(real_root, real[:-1]) as folder, _folder_lock(folder.path, ctx.timeout_s):
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISDIR(folder.stat(name).st_mode):
                    raise Refused(f"{rel} is a folder, not a file")
            for _ in range(_MAX_REDO):
                before = _stamp(folder, name)
                existing = _read(folder, name)
                if existing is None and before is not None:
                    before = None  # removed between the two calls
                try:
                    text = render(existing, action.mode, action.content, action.section)
                except Refused as exc:
                    raise Refused(f"{rel}: {exc}") from None
                what = action.mode + (f" [{action.section}]" if action.mode in ("section", "section_append") else "")
                if text is None:
                    return Outcome("done", f"{rel}: exists, left as it is")
                if text == existing:
                    return Outcome("done", f"{rel}: unchanged ({what})")
                _checkpoint("writing", folder.path)
                if _write_atomic(folder, name, text.encode("utf-8"), before) == "written":
                    return Outcome("done", f"{rel}: written ({what}, {len(text.encode('utf-8'))} bytes)")
                # changed under us (an editor saved, another writer created it): read again
        return Outcome("retry", f"{rel} kept changing while msp wrote it; will try again")
