"""Static look at a PowerShell integration module: its functions, their ``param()`` blocks,
what it exports, and syntax that needs PowerShell 7.

Used when the integration loads (which hooks are served, how each function's parameters are
bound, which mandatory parameter nothing can bind) and by ``msp integrations doctor``. It reads
the file's text only; nothing is executed.

The scan first *masks* the source: comments (``#``, ``<# #>``, so comment-based help too) and
the contents of every string (single, double with ``$( )`` subexpressions that may hold more
strings, and both here-string forms) become spaces, keeping offsets and line breaks. Braces,
brackets and parentheses in what is left are code, so function bodies and ``param()`` blocks
are found by matching them; attribute arguments, defaults that call functions
(``(Get-MSPConfig).obsidian.vaultPath``) and splatting (``@params``) need nothing special.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
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
FUNCTION_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z][A-Za-z0-9]*$"

_FUNCTION = re.compile(
    r"^[ \t]*(?:function|filter)[ \t]+(?:global:|script:|private:|local:)?"
    r"([A-Za-z][A-Za-z0-9]*-[A-Za-z][A-Za-z0-9]*)\b",
    re.IGNORECASE | re.MULTILINE,
)
_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")", "]", "}"}


def function_name(moment: str, prefix: str) -> str:
    verb, suffix = HOOK_FUNCTIONS[moment]
    return f"{verb}-{prefix}{suffix}"


# --- masking -----------------------------------------------------------------------------------


class _Masker:
    def __init__(self, source: str) -> None:
        self.src = source
        self.out = list(source)

    def blank(self, start: int, end: int) -> None:
        for k in range(start, min(end, len(self.src))):
            if self.out[k] not in "\r\n":
                self.out[k] = " "

    def _comment_allowed(self, i: int) -> bool:
        # `#` starts a comment at the start of a token, not inside a bare word (a#b).
        return i == 0 or self.src[i - 1] in " \t\r\n;({[|,=&"

    def code(self, i: int, in_subexpression: bool = False) -> int:
        """Scan code from ``i``; inside ``$( )`` of a string, stop after its closing paren."""
        src, n, depth = self.src, len(self.src), 0
        while i < n:
            c = src[i]
            if c == "`":
                i += 2
            elif c == "<" and src.startswith("<#", i):
                end = src.find("#>", i + 2)
                end = n if end < 0 else end + 2
                self.blank(i, end)
                i = end
            elif c == "#" and self._comment_allowed(i):
                end = src.find("\n", i)
                end = n if end < 0 else end
                self.blank(i, end)
                i = end
            elif c == "@" and src[i + 1:i + 2] in ('"', "'") and _here_opener(src, i):
                i = self.here_string(i)
            elif c == "'":
                i = self.single(i)
            elif c == '"':
                i = self.double(i)
            elif c == "$" and src.startswith("${", i):
                end = src.find("}", i)
                i = n if end < 0 else end + 1
            elif c == "(":
                depth += 1
                i += 1
            elif c == ")":
                if in_subexpression and depth == 0:
                    return i + 1
                depth -= 1
                i += 1
            else:
                i += 1
        return n

    def single(self, i: int) -> int:
        src, n, j = self.src, len(self.src), i + 1
        while j < n:
            if src[j] == "'":
                if src[j + 1:j + 2] == "'":
                    j += 2
                    continue
                break
            j += 1
        self.blank(i + 1, j)
        return j + 1

    def double(self, i: int) -> int:
        src, n, j = self.src, len(self.src), i + 1
        while j < n:
            c = src[j]
            if c == "`":
                j += 2
            elif c == '"':
                if src[j + 1:j + 2] == '"':
                    j += 2
                    continue
                break
            elif c == "$" and src.startswith("$(", j):
                j = self.code(j + 2, in_subexpression=True)
            else:
                j += 1
        self.blank(i + 1, j)
        return j + 1

    def here_string(self, i: int) -> int:
        quote = self.src[i + 1]
        start = self.src.find("\n", i)
        match = re.compile(r"\n" + re.escape(quote) + "@").search(self.src, start)
        end = len(self.src) if match is None else match.start() + 1
        self.blank(i + 2, end)
        return end + 2


def _here_opener(src: str, i: int) -> bool:
    """``@"`` / ``@'`` opens a here-string only when nothing but blanks follow on its line."""
    end = src.find("\n", i)
    rest = src[i + 2:] if end < 0 else src[i + 2:end]
    return rest.strip() == ""


def mask(source: str) -> str:
    """The source with comments and string contents blanked (same length, same line breaks)."""
    m = _Masker(source)
    m.code(0)
    return "".join(m.out)


def _match(masked: str, open_at: int) -> int:
    """Index of the bracket closing the one at ``open_at`` (in masked text), or -1."""
    stack: list[str] = []
    for k in range(open_at, len(masked)):
        c = masked[k]
        if c in _OPEN:
            stack.append(_OPEN[c])
        elif c in _CLOSE:
            if not stack or stack.pop() != c:
                return -1
            if not stack:
                return k
    return -1


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


# --- parameters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter of a function's ``param()`` block."""

    name: str
    type: str | None = None  # the last type literal before it: "hashtable", "string[]"...
    mandatory: bool = False
    default: str | None = None  # the default's source text

    @property
    def category(self) -> str:
        """What kind of value it takes: table, text, number, bool, list, any."""
        t = (self.type or "").lower().removeprefix("system.")
        if not t or t in ("object", "psobject", "psobject[]", "management.automation.psobject"):
            return "any"
        if t.endswith("[]") or t in ("array", "collections.arraylist"):
            return "list"
        if t in ("hashtable", "collections.hashtable", "ordered", "collections.idictionary",
                 "collections.specialized.ordereddictionary", "pscustomobject"):
            return "table"
        if t in ("string", "char"):
            return "text"
        if t in ("int", "int32", "int64", "long", "double", "decimal", "float", "single", "byte", "uint32",
                 "int16"):
            return "number"
        if t in ("bool", "boolean", "switch", "management.automation.switchparameter"):
            return "bool"
        return "other"


_MANDATORY = re.compile(r"\bMandatory\b(\s*=\s*\$(true|false|1|0))?", re.IGNORECASE)


def _split_top(masked: str, start: int, end: int) -> list[tuple[int, int]]:
    """Ranges of ``masked[start:end]`` split at commas outside brackets."""
    parts, depth, begin = [], 0, start
    for k in range(start, end):
        c = masked[k]
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif c == "," and depth == 0:
            parts.append((begin, k))
            begin = k + 1
    parts.append((begin, end))
    return [(a, b) for a, b in parts if masked[a:b].strip()]


def _parse_param(source: str, masked: str, start: int, end: int) -> Param | None:
    k, type_name, mandatory = start, None, False
    while k < end:
        c = masked[k]
        if c == "[":
            close = _match(masked, k)
            if close < 0 or close > end:
                return None
            inner = masked[k + 1:close].strip()
            paren = inner.find("(")
            if paren >= 0:  # an attribute: [Parameter(Mandatory)], [ValidateSet(...)]
                if inner[:paren].strip().lower() in ("parameter", "system.management.automation.parameter"):
                    found = _MANDATORY.search(inner)
                    if found and (found.group(2) or "true").lower() in ("true", "1"):
                        mandatory = True
            else:
                type_name = source[k + 1:close].strip()
            k = close + 1
        elif c == "$":
            found = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)").match(masked, k)
            if found is None:
                return None
            rest_at = found.end()
            default = None
            eq = masked.find("=", rest_at, end)
            if eq >= 0 and masked[rest_at:eq].strip() == "":
                default = source[eq + 1:end].strip() or None
            return Param(found.group(1), type_name, mandatory, default)
        else:
            k += 1
    return None


def _params(source: str, masked: str, open_at: int) -> list[Param]:
    close = _match(masked, open_at)
    if close < 0:
        return []
    out = []
    for a, b in _split_top(masked, open_at + 1, close):
        param = _parse_param(source, masked, a, b)
        if param is not None:
            out.append(param)
    return out


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    line: int
    params: tuple[Param, ...] = ()
    has_param_block: bool = False
    builds_query: bool = False  # a `query = ...` key in its body: it returns query text it built

    def param(self, name: str) -> Param | None:
        lowered = name.lower()
        return next((p for p in self.params if p.name.lower() == lowered), None)


_QUERY_KEY = re.compile(r"(?im)^[ \t]*query[ \t]*=")


def _function(source: str, masked: str, name: str, after: int) -> FunctionInfo:
    line = _line(source, after)
    k = after
    while k < len(masked) and masked[k] in " \t\r\n":
        k += 1
    header: list[Param] | None = None
    if k < len(masked) and masked[k] == "(":  # function Name($a, $b) { ... }
        header = _params(source, masked, k)
        k = _match(masked, k) + 1
        while k < len(masked) and masked[k] in " \t\r\n":
            k += 1
    if k >= len(masked) or masked[k] != "{":
        return FunctionInfo(name, line, tuple(header or ()), header is not None)
    body_end = _match(masked, k)
    body_end = len(masked) if body_end < 0 else body_end
    builds_query = _QUERY_KEY.search(masked, k, body_end) is not None
    if header is not None:
        return FunctionInfo(name, line, tuple(header), True, builds_query)
    # [CmdletBinding()], [OutputType()] ... then param( at the top of the body
    j = k + 1
    while j < body_end:
        c = masked[j]
        if c in " \t\r\n":
            j += 1
        elif c == "[":
            close = _match(masked, j)
            if close < 0:
                break
            j = close + 1
        else:
            break
    found = re.compile(r"param\s*\(", re.IGNORECASE).match(masked, j)
    if found is None:
        return FunctionInfo(name, line, (), False, builds_query)
    return FunctionInfo(name, line, tuple(_params(source, masked, found.end() - 1)), True, builds_query)


# --- what the module exports, and PowerShell 7 syntax ------------------------------------------------

_EXPORT = re.compile(r"Export-ModuleMember\b", re.IGNORECASE)


def _exports(source: str, masked: str) -> list[str] | None:
    """Patterns given to ``Export-ModuleMember -Function``; None when the module never calls it
    (then every function is exported)."""
    patterns: list[str] | None = None
    for call in _EXPORT.finditer(masked):
        patterns = patterns or []
        # The statement runs to a line break that does not follow a comma or a backtick.
        end = call.end()
        while end < len(masked):
            nl = masked.find("\n", end)
            if nl < 0:
                end = len(masked)
                break
            before = masked[end:nl].rstrip()
            if before.endswith(",") or before.endswith("`"):
                end = nl + 1
                continue
            end = nl
            break
        statement = source[call.end():end]
        found = re.search(r"-Function\w*\s+(.*?)(?=\s-[A-Za-z]|$)", statement, re.IGNORECASE | re.DOTALL)
        if found is None:
            continue
        for item in re.split(r"[,\s`]+", found.group(1)):
            item = item.strip().strip("'\"").strip("@()")
            if item:
                patterns.append(item)
    return patterns


_PS7: list[tuple[str, re.Pattern[str]]] = [
    ("the null-coalescing operator ??", re.compile(r"\?\?=?")),
    ("a null-conditional member access ?. or ?[", re.compile(r"\}\?[.\[]")),
    ("a pipeline chain operator && or ||", re.compile(r"&&|\|\|")),
    ("ForEach-Object -Parallel", re.compile(r"ForEach-Object\b[^\n|]*-Parallel\b", re.IGNORECASE)),
    ("the ternary operator ? :", re.compile(r"(?m)(?<=[^\s|{(])[ \t]+\?[ \t]+[^\n]*?[ \t]:[ \t]")),
]


def ps7_syntax(masked: str, source: str) -> list[tuple[str, int]]:
    """PowerShell 7-only constructs in code (not comments or strings): (what, line), in order."""
    found = []
    for what, pattern in _PS7:
        hit = pattern.search(masked)
        if hit is not None:
            found.append((what, _line(source, hit.start())))
    return sorted(found, key=lambda item: item[1])


# --- the scan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModuleScan:
    path: Path
    functions: frozenset[str]
    info: dict[str, FunctionInfo] = field(default_factory=dict)  # lower name -> info
    export_patterns: tuple[str, ...] | None = None
    ps7: tuple[tuple[str, int], ...] = ()

    def has(self, name: str) -> bool:
        # PowerShell resolves command names case-insensitively.
        return name.lower() in self.info or any(f.lower() == name.lower() for f in self.functions)

    def function(self, name: str) -> FunctionInfo | None:
        return self.info.get(name.lower())

    def exported(self, name: str) -> bool:
        if self.export_patterns is None:
            return True
        return any(fnmatch.fnmatchcase(name.lower(), p.lower()) for p in self.export_patterns)

    def hooks(self, prefix: str) -> dict[str, str | None]:
        """moment -> the conventionally named function that serves it, or None."""
        out: dict[str, str | None] = {}
        for moment in HOOK_FUNCTIONS:
            info = self.function(function_name(moment, prefix))
            out[moment] = info.name if info is not None else None
        return out


def defined_functions(source: str) -> set[str]:
    """Names of the functions a script defines at the start of a line (comments, strings ignored)."""
    return {m.group(1) for m in _FUNCTION.finditer(mask(source))}


def scan_source(source: str, path: Path) -> ModuleScan:
    masked = mask(source)
    info: dict[str, FunctionInfo] = {}
    for m in _FUNCTION.finditer(masked):
        fn = _function(source, masked, m.group(1), m.end())
        info.setdefault(fn.name.lower(), fn)
    exports = _exports(source, masked)
    return ModuleScan(path, frozenset(f.name for f in info.values()), info,
                      tuple(exports) if exports is not None else None, tuple(ps7_syntax(masked, source)))


def scan_module(path: Path) -> ModuleScan:
    """Read ``path`` and scan it. Raises OSError when it cannot be read."""
    return scan_source(path.read_text(encoding="utf-8-sig", errors="replace"), path)
