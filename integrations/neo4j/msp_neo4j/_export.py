"""``msp export --integration neo4j``: sessions as a Cypher script for Neo4j Browser.

The script is the same statements the integration sends, batched with ``UNWIND``, each preceded
by a ``:param`` line that defines its rows. The statements never contain data; the values live
in the ``:param`` lines, written as Cypher literals by :func:`cypher_literal` (strings escaped,
map keys quoted with backticks when they are not plain names). Paste it into Neo4j Browser with
"Enable multi statement query editor" switched on, or feed it to ``cypher-shell``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from ._graph import BATCH_ROWS, batch_actions

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ROWS = re.compile(r"\$rows\b")
_SAFE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}\Z")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _key(name: str) -> str:
    if _IDENT.match(name):
        return name
    return "`" + name.replace("`", "``") + "`"


def cypher_literal(value: Any, *, top: bool = False) -> str:
    """A Cypher literal for a parameter value (as ``:param name => <literal>`` expects).

    A map at the top is wrapped in parentheses, as Neo4j Browser requires.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no Cypher literal")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cypher_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        body = "{" + ", ".join(f"{_key(str(k))}: {cypher_literal(v)}" for k, v in value.items()) + "}"
        return f"({body})" if top else body
    raise TypeError(f"{type(value).__name__} values cannot be exported as Cypher parameters")


def render_script(sessions: Sequence[Any], batch_rows: int = BATCH_ROWS) -> str:
    """The Cypher script for ``sessions``: ``:param`` lines and statements, ``;``-separated."""
    actions = batch_actions(sessions, batch_rows)
    ids = [s.id for s in sessions if _SAFE_ID.match(str(s.id))]
    lines = [
        f"// msp knowledge graph export: {len(sessions)} session(s), {len(actions)} statement(s).",
        "// Neo4j Browser: switch on 'Enable multi statement query editor' in the settings, paste, run.",
        "// cypher-shell: cypher-shell -f this-file.cypher",
        "// Each statement's data is in the :param line before it; the statements hold no values.",
        "// Safe to run twice: every statement MERGEs on msp's own ids.",
    ]
    if ids:
        lines.append("// Sessions: " + ", ".join(ids))
    lines.append("")
    for n, action in enumerate(actions, 1):
        name = f"rows_{n}"
        lines.append(f":param {name} => {cypher_literal(action.parameters['rows'], top=True)};")
        lines.append(_ROWS.sub(f"${name}", action.statement) + ";")
        lines.append("")
    return "\n".join(lines)


def parse_script(script: str) -> list[tuple[str, str, str]]:
    """Split a script written by :func:`render_script` into (param name, literal, statement).

    For tests and tools that replay an export: each ``:param`` line is one line, and each
    statement runs from the next line to the line that ends with ``;``.
    """
    out: list[tuple[str, str, str]] = []
    lines = script.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(":param "):
            name, _, literal = line[len(":param "):].partition(" => ")
            i += 1
            body = []
            while i < len(lines):
                body.append(lines[i])
                if lines[i].endswith(";"):
                    break
                i += 1
            statement = "\n".join(body)
            out.append((name, literal.removesuffix(";"), statement.removesuffix(";")))
        i += 1
    return out
