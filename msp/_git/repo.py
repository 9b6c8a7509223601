"""Running git: one function for every call, and the facts msp reads from a repository."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from msp.errors import MspError

#: A commit named the way the hook names it: hexadecimal digits only (an abbreviation too),
#: so nothing given on the command line can reach git as an option.
_HASH = re.compile(r"[0-9a-f]{4,64}")


class GitFailed(MspError):
    """git is missing, the folder is no repository, or a git command failed."""

    code = "GIT_ERROR"


@dataclass(frozen=True)
class CommitData:
    hash: str
    subject: str
    files: list[str] = field(default_factory=list)

    def as_input(self) -> dict[str, object]:
        return {"hash": self.hash, "subject": self.subject or None, "files": list(self.files)}


def run_git(folder: Path, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``git -C folder ARGS``, its output captured as text. A failure raises :class:`GitFailed`
    with git's own words (``check=False`` hands it back instead)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *args], input=input, capture_output=True, text=True,
            encoding="utf-8", errors="replace", check=False,
        )
    except FileNotFoundError:
        raise GitFailed("git is not installed (no `git` on PATH)", "install git, then run the command again") from None
    if check and done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}").splitlines()
        raise GitFailed(f"git {args[0]} failed: {' / '.join(said[:6])}", None)
    return done


def toplevel(folder: Path) -> Path:
    """The root of the work tree ``folder`` is in; a clear error outside any repository."""
    done = run_git(folder, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0 or not done.stdout.strip():
        raise GitFailed(
            f"{folder} is not inside a git repository",
            "run this in your repository's folder (or create one with `git init`)",
        )
    return Path(done.stdout.strip())


def hooks_dir(folder: Path) -> Path:
    """Where git looks for this repository's hooks (``core.hooksPath`` and worktrees honoured)."""
    toplevel(folder)
    done = run_git(folder, "rev-parse", "--git-path", "hooks")
    path = Path(done.stdout.strip())
    return path if path.is_absolute() else (folder / path).resolve()


def commit_data(folder: Path, rev: str) -> CommitData:
    """The commit's full hash, subject and changed files, read from git itself."""
    if not _HASH.fullmatch(rev):
        raise GitFailed(f"{rev[:80]!r} is not a commit hash", "give the commit's hexadecimal hash, e.g. from `git log`")
    toplevel(folder)
    done = run_git(folder, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    full = done.stdout.strip()
    if done.returncode != 0 or not full:
        raise GitFailed(f"no commit {rev} in this repository", "check the hash with `git log`")
    subject = run_git(folder, "log", "-1", "--format=%s", full).stdout.rstrip("\n")
    # --root lists a first commit's files; -m --first-parent a merge's, against what it merged into.
    listed = run_git(folder, "diff-tree", "--no-commit-id", "--name-only", "-r", "-z", "--root", "-m",
                     "--first-parent", full).stdout
    files = list(dict.fromkeys(name for name in listed.split("\0") if name))
    return CommitData(full, subject, files)


def head(folder: Path) -> str:
    return run_git(folder, "rev-parse", "--verify", "HEAD").stdout.strip()
