"""Static look at a PowerShell integration module: which hook functions it defines.

Used at plan time (no action is planned for a function the module lacks) and by
``msp integrations doctor``. It reads the file's text only; nothing is executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

#: msp moment -> (PowerShell verb, noun suffix); the function is ``<Verb>-<Prefix><suffix>``.
HOOK_FUNCTIONS: dict[str, tuple[str, str]] = {
    "initialize": ("Initialize", "Integration"),
    "session_start": ("New", "Session"),
    "update": ("Update", "Progress"),
    "decision": ("Add", "Decision"),
    "entity": ("Add", "Entity"),
    "blocker": ("Add", "Blocker"),
    "session_close": ("Close", "Session"),
    "export": ("Export", "Context"),
}

PREFIX_PATTERN = r"^[A-Za-z][A-Za-z0-9]*$"

_BLOCK_COMMENT = re.compile(r"<#.*?#>", re.DOTALL)
_FUNCTION = re.compile(
    r"^[ \t]*(?:function|filter)[ \t]+(?:global:|script:|private:)?([A-Za-z][A-Za-z0-9]*-[A-Za-z][A-Za-z0-9]*)\b",
    re.IGNORECASE | re.MULTILINE,
)


def function_name(moment: str, prefix: str) -> str:
    verb, suffix = HOOK_FUNCTIONS[moment]
    return f"{verb}-{prefix}{suffix}"


def defined_functions(source: str) -> set[str]:
    """Names of the functions a script defines at the start of a line (block comments ignored)."""
    text = _BLOCK_COMMENT.sub("", source)
    names = set()
    for match in _FUNCTION.finditer(text):
        names.add(match.group(1))
    return names


@dataclass(frozen=True)
class ModuleScan:
    path: Path
    functions: frozenset[str]

    def has(self, name: str) -> bool:
        # PowerShell resolves command names case-insensitively.
        lowered = name.lower()
        return any(f.lower() == lowered for f in self.functions)

    def hooks(self, prefix: str) -> dict[str, str | None]:
        """moment -> the function that serves it, or None when the module lacks it."""
        out: dict[str, str | None] = {}
        for moment in HOOK_FUNCTIONS:
            name = function_name(moment, prefix)
            out[moment] = name if self.has(name) else None
        return out


def scan_module(path: Path) -> ModuleScan:
    """Read ``path`` and list its functions. Raises OSError when it cannot be read."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    return ModuleScan(path, frozenset(defined_functions(text)))
