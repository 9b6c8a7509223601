"""The report's fixed colours, and which project gets which.

Ten colours, distinct on screen and in print (the well-known "Tableau 10" set). A project's
colour follows from its name: each takes the colour its name hashes to (SHA-256, so the same on
every machine and run), or, when a project earlier in name order holds that one, the next free
colour. The same projects always get the same colours, and a new project seldom moves another's.
Past ten projects colours repeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
#: The colour of the blockers chart, outside the projects' palette.
BLOCKERS = "#8c1c13"
#: Axes, grid lines and text.
INK = "#333333"
GRID = "#dddddd"


def _preferred(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()[:4], "big") % len(PALETTE)


def colours(projects: Iterable[str]) -> dict[str, str]:
    """A colour for each project (see the module docstring)."""
    taken: set[int] = set()
    out: dict[str, str] = {}
    for name in sorted(set(projects)):
        index = _preferred(name)
        if len(taken) < len(PALETTE):
            while index in taken:
                index = (index + 1) % len(PALETTE)
        taken.add(index)
        out[name] = PALETTE[index]
    return out
