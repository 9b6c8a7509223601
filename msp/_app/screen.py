"""Text bound for a terminal: stored text is shown, never obeyed.

Anything recorded (an update, a goal, an integration's error) may hold terminal control
sequences: ``ESC [ 2 J`` clears the screen, ``ESC ] 52`` writes the clipboard, ``ESC ] 8`` makes
a link that lies about its target. Every front-end passes the human-readable text it prints
through :func:`for_terminal`, the one place that decides what reaches a screen:

- newline and tab are kept (multi-line updates and summaries keep their shape, and the
  layouts use them);
- every other C0 control (U+0000-U+001F, carriage return included: it lets a line overwrite
  what was printed before it), DEL (U+007F) and every C1 control (U+0080-U+009F, 8-bit CSI and
  OSC among them) is shown as ``\\xNN``;
- a lone surrogate (not text, but a Python string can hold one) is shown as ``\\udXXX``.

Backslashes themselves are left alone so Windows paths stay readable; the escaped form is for
eyes, not for parsing. Machine-readable output keeps text exact: ``--json`` documents, files
written with ``--output``, notes and the MCP ``structuredContent``. Their JSON text comes from
:func:`json_text`, which encodes the same characters as ``\\u`` escapes, so even a JSON document
printed to a terminal cannot drive it and still decodes to exactly what was stored.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 but newline and tab, DEL, C1, and lone surrogates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# What json.dumps(ensure_ascii=False) leaves raw that a terminal may act on.
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def for_terminal(text: str) -> str:
    """``text`` with every control character but newline and tab shown as an escape."""
    return _UNSAFE.sub(_escape, text)


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """``data`` as JSON that is safe to print and decodes to exactly ``data``.

    Non-ASCII text stays readable (``ensure_ascii=False``); C0 controls are escaped by JSON
    itself, and DEL, C1 controls and the two Unicode line separators as ``\\uXXXX`` here.
    """
    raw = json.dumps(data, ensure_ascii=False, indent=indent, default=str)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", raw)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with its noun in the right number: "1 decision", "2 decisions", "0 entities"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
