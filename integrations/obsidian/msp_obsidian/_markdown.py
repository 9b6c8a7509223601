"""Markdown and YAML for notes, with user text made inert.

User text (updates, decisions, names...) is shown as typed but can't change a note's structure:
``[`` and ``]`` are escaped (no wikilink to a note that doesn't exist), ``%`` too (``%%`` would
start an Obsidian comment and could forge msp's block markers), ``$`` (no accidental maths),
``<`` (no HTML comments swallowing the rest), ``\\`` itself, and a line opening a code fence.
Ordinary Markdown emphasis, inline code and ``#tags`` keep working.

Frontmatter values are written by a small emitter: strings always double-quoted with YAML
escapes (and ``[[`` broken up, see :func:`yaml_string`), ints and booleans plain, times as
unquoted ISO-8601 timestamps, lists in block style.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

_ESCAPE = re.compile(r"([\\\[\]%$<])")
_FENCE_START = re.compile(r"^(\s*)(`{3,}|~{3,})")


def _lines_of(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n").split("\n")


def escape_line(line: str) -> str:
    out = _ESCAPE.sub(r"\\\1", line.rstrip())
    return _FENCE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), out)


def text(value: str, indent: str = "") -> str:
    """User text as inert Markdown; continuation lines get ``indent`` (to stay in a list item
    or a callout)."""
    lines = [escape_line(line) for line in _lines_of(value.strip("\n"))]
    return ("\n" + indent).join(lines).rstrip() if lines else ""


def one_line(value: str, max_chars: int = 200) -> str:
    """User text squeezed onto one line and shortened, escaped."""
    flat = " ".join(value.split())
    if len(flat) > max_chars:
        flat = flat[: max_chars - 1].rstrip() + "…"
    return escape_line(flat)


def alias(value: str, max_chars: int = 80) -> str:
    """Display text for a wikilink: one line, without ``[ ] |`` or ``%%``."""
    flat = " ".join(re.sub(r"[\[\]|]", " ", value).split())
    flat = re.sub(r"%{2,}", "%", flat)
    if len(flat) > max_chars:
        flat = flat[: max_chars - 1].rstrip() + "…"
    return flat or "untitled"


def link(target: str, shown: str | None = None) -> str:
    """A wikilink to a vault path without ``.md``; the path's parts are already safe names."""
    return f"[[{target}|{alias(shown)}]]" if shown else f"[[{target}]]"


# --- YAML -------------------------------------------------------------------------------

_YAML_SAFE = re.compile(r"[\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_YAML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}


def _yaml_char(ch: str) -> str:
    if ch in _YAML_ESCAPES:
        return _YAML_ESCAPES[ch]
    if _YAML_SAFE.fullmatch(ch) and ch not in "\ufeff\u2028\u2029" and unicodedata.category(ch) != "Cs":
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def yaml_string(value: str) -> str:
    """A double-quoted YAML string. ``[[``/``]]`` become ``[ [``/``] ]``: Obsidian reads a
    wikilink in a property as a link, and user text must not link to notes that don't exist."""
    value = re.sub(r"\](?=\])", "] ", re.sub(r"\[(?=\[)", "[ ", value))
    return '"' + "".join(_yaml_char(ch) for ch in value) + '"'


def iso_time(at: datetime) -> str:
    """ISO-8601 to the second with the offset (``Z`` for UTC): a YAML timestamp."""
    out = at.isoformat(timespec="seconds")
    return out[:-6] + "Z" if out.endswith("+00:00") else out


def yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return iso_time(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    return yaml_string(str(value))


def frontmatter(props: Mapping[str, Any]) -> str:
    """Top-level properties as YAML lines (no ``---`` fences): what the executor's
    ``frontmatter`` section merges into a note."""
    out = []
    for key, value in props.items():
        if isinstance(value, Sequence) and not isinstance(value, str):
            if not value:
                out.append(f"{key}: []")
            else:
                out.append(f"{key}:")
                out += [f"  - {yaml_scalar(item)}" for item in value]
        else:
            out.append(f"{key}: {yaml_scalar(value)}")
    return "\n".join(out) + "\n"
