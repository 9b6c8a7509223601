"""Decisions, blockers and entities noticed in the text of an update.

Pure and rule-based: :func:`detect` reads one text with one :class:`Rules` and returns what it
found, never raising, reading nothing else. The session manager records each find as its own
event beside the update (``msp update``); ``benchmarks/detection.py`` measures the default
rules' precision and recall on a labelled set of update texts.

How a text is read:

- Code spans, quoted text and URLs are *masked*: a phrase inside them is a name or a message
  (``"waiting on lock"``, ```blocked_by```), not something the writer says.
- The rest is cut into sentences and clauses (``;``, ``but``, a dash, a colon after two or
  more words). A decision or blocker is one clause holding one of its kind's phrases, matched
  as whole words, unless the clause says otherwise: a question, a negation or hedge before
  the phrase (``not``, ``haven't``, ``if``, ``should``, ``to be``...), or, for a blocker, a word
  saying it is over (``unblocked``, ``fixed``, ``no longer``...). A phrase of intent or a
  state (``going with``, ``will use``, ``stuck on``, any ``-ing`` form) counts only when the
  writer is its subject: at the start of the clause, or after *I*, *we*, *let's* and the like.
  A phrase ending in ``:`` is a label (``Decision: ...``) and counts only at a clause's start.
- Entities are file paths with a known extension, and code spans that name a module
  (dotted), a class (CamelCase), a service (``billing-service``), or anything an identifier
  followed by one of those words (```ledger` module``).

The phrases are the project's (``[detect]`` in config); the shape rules are not configurable.
Everything is compiled once per set of phrases, on first use: importing this module costs
nothing on the hot path of a command that does not detect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import pairwise
from typing import Literal

# The rules and the cheap pre-check live apart, so a command builds them without this module.
from msp._model.detect_rules import DEFAULT_BLOCKERS, DEFAULT_DECISIONS, DEFAULT_RULES, Rules, might_find

__all__ = ["DEFAULT_BLOCKERS", "DEFAULT_DECISIONS", "DEFAULT_RULES", "Found", "Rules", "detect", "might_find"]

Kind = Literal["decision", "blocker", "entity"]

#: The longest text searched: an update is at most 65,536 characters (MAX_TEXT_CHARS); the
#: bound keeps the cost linear and small whatever is passed in.
MAX_CHARS = 65_536
#: At most this many items of one kind from one text: a pasted log is not forty decisions.
MAX_PER_KIND = 20




@dataclass(frozen=True, slots=True)
class Found:
    """One detected item. ``start``/``end`` locate it in the text read: for a decision or a
    blocker ``text`` is exactly ``source[start:end]`` (the clause); for an entity ``text`` is
    its name, found within that span."""

    kind: Kind
    text: str
    start: int
    end: int
    #: The phrase that matched (lower case), or the entity rule: ``path`` or ``code``.
    trigger: str
    #: A decision's reason, when the clause goes on with "because ..." (not part of ``text``).
    rationale: str | None = None
    #: An entity's type: file, module, class or service.
    entity_type: str | None = None
    #: A file entity's path, as written.
    path: str | None = field(default=None)


# --- words that change what a clause says --------------------------------------------------------

_NEGATIONS = frozenset({
    "not", "never", "no", "nobody", "nothing", "none", "neither", "nor", "without", "if", "whether", "unless",
    "once", "when",
    "who", "which", "whoever", "maybe", "might", "may", "should", "could", "would", "perhaps", "possibly",
    "undecided", "unsure", "tbd", "pending", "open", "until", "before", "while", "instead", "avoid", "stop",
    "lest", "hardly", "barely", "shouldn't", "wouldn't", "couldn't",
})
_OVER = frozenset({
    "unblocked", "fixed", "resolved", "solved", "finally", "anymore", "workaround", "cleared",
})
#: Right after a phrase, these say nothing was decided or blocks ("chose none", "blocked by:
#: nothing"), or that a choice was a mistake ("chose wrong").
_EMPTY_OBJECT = frozenset({"nothing", "none", "no", "wrong", "yet", "anything"})
_NOTHING = frozenset({"nothing", "none"})
#: Before a blocker phrase, these make it part of a description ("requests blocked by CORS",
#: "what is blocked by what"), not something that blocks the writer.
_EMBEDDING = frozenset({"for", "about", "of", "from", "what", "how", "why", "where", "whose"})
#: A decision phrase after "the/this/a <noun>" reports what a thing did ("the importer decided
#: the file was binary"), unless the noun is people.
_DETERMINERS = frozenset({"the", "this", "that", "a", "an", "its", "their"})
_PEOPLE = frozenset({
    "team", "teams", "group", "committee", "pm", "pms", "lead", "leads", "management", "board", "org",
    "company", "architects", "architect", "manager", "customer", "client", "owner", "owners", "meeting",
    "review", "council", "panel", "director", "cto", "ceo",
})
#: Idioms that hold a phrase but no decision or blocker.
_IDIOMS_ARGS = (r"going\s+with\s+the\s+flow|waiting\s+(?:on|for)\s+(?:a\s+)?coffee", re.I)
#: Conditions: anywhere before the phrase in its clause ("If CI passes, going with X").
_CONDITIONS = frozenset({"if", "unless", "whether", "once", "when", "whenever"})
_OVER_PAIRS = (("no", "longer"), ("used", "to"), ("now", "unblocked"))
#: Words between a subject and a phrase of intent or state that leave the subject as it is.
_FILLER = frozenset({
    "am", "are", "is", "'m", "'re", "was", "were", "been", "have", "has", "'ve", "still", "now", "currently",
    "just", "also", "really", "all", "both", "so", "then", "today", "again", "basically", "officially",
    "definitely", "finally", "ultimately", "actually", "mostly", "likely", "morning", "afternoon", "evening",
    "tonight", "yesterday", "day", "week",
})
_FIRST_PERSON = frozenset({
    "i", "we", "i'm", "we're", "i've", "we've", "i'll", "we'll", "let's", "lets", "team", "us", "me", "im",
    "i'd", "we'd",
    # the writer's own work, waiting or stuck: "PR still waiting on CI", "Build stuck on npm install"
    "pr", "mr", "ticket", "deploy", "deployment", "release", "build", "branch", "story", "task", "patch",
    "rollout", "hotfix",
})
#: Phrases of intent starting with these need an explicit subject ("Will use this session to...").
_NEEDS_EXPLICIT = frozenset({"will", "shall"})
#: A phrase starting with one of these (or with an -ing form) needs the writer as its subject.
_INTENT_STARTS = frozenset({"going", "will", "shall", "gonna", "stuck", "waiting"})

_WORD_ARGS = (r"[A-Za-z0-9_]+(?:['\u2019][A-Za-z]+)?")
_SENTENCE_END_ARGS = (r"(?<=[.!?])[\"')\]]*\s+|\n+")
_CLAUSE_CUT_ARGS = (
    r";\s*|\s+(?:but|though|although|however|whereas)\s+|\s+[\u2014\u2013]\s+|\s+-{1,2}\s+|,\s+(?:and|so)\s+",
    re.I,
)
_COLON_ARGS = (r":\s+")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "incl.", "cf.")
_MASKS_ARGS = (
    r"`[^`\n]*`"  # code spans
    r"|(?:https?|ftp|file)://\S+|www\.\S+"  # URLs
    r"|\"[^\"\n]{0,300}\""  # double quotes
    r"|\u201c[^\u201d\n]{0,300}\u201d"  # typographic double quotes
    r"|(?<![\w'\u2019])['\u2018][^'\u2018\u2019\n]{1,300}['\u2019](?![\w'\u2019])"  # single quotes, not apostrophes
)
_BECAUSE_ARGS = (r"\s*,?\s+(?:because|since|as it|so that)\s+", re.I)

_EXTENSIONS = (
    "py|pyi|ts|tsx|js|jsx|mjs|cjs|go|rs|java|kt|kts|rb|php|cs|cpp|cc|hpp|swift|scala|sql|sh|bash|zsh|ps1|psm1|"
    "psd1|yaml|yml|toml|json|jsonl|md|rst|txt|ini|cfg|conf|xml|html|css|scss|tf|tfvars|proto|graphql|gql|lock|"
    "vue|svelte|dart|ex|exs|erl|hs|lua|ipynb|gradle|mk|cmake|csv|env|pem|dockerfile|c|h"
)
_PATH_ARGS = (
    r"(?<![\w/.@:\-])((?:\.{1,2}/|~/|/)?(?:[\w.][\w.\-]*/)*[\w][\w.\-]*\.(?:" + _EXTENSIONS + r"))(?![\w/\-]|\.\w)"
)
_FILE_ONLY_ARGS = (r"^(?:\.{1,2}/|~/|/)?(?:[\w][\w.\-]*/)*[\w][\w.\-]*\.(?:" + _EXTENSIONS + r")$")
_CODE_SPAN_ARGS = (r"`([^`\n]{1,200})`")
_TYPE_WORD_ARGS = (
    r"\s+(module|package|library|lib|service|microservice|svc|server|worker|daemon|class|model|component|"
    r"crate|gem|endpoint|api)\b", re.I,
)
_TYPE_OF_WORD = {
    "module": "module", "package": "module", "library": "module", "lib": "module", "crate": "module",
    "gem": "module", "service": "service", "microservice": "service", "svc": "service", "server": "service",
    "worker": "service", "daemon": "service", "endpoint": "service", "api": "service", "class": "class",
    "model": "class", "component": "class",
}
_DOTTED_ARGS = (r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
_CAMEL_ARGS = (r"^_?[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+$|^_?[A-Z]{2,}[a-z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)*$")
_SERVICE_ARGS = (
    r"^[a-z0-9]+(?:[-_][a-z0-9]+)*[-_](?:service|svc|api|server|worker|gateway|daemon|proxy|queue|consumer|"
    r"producer)$"
)
_IDENTIFIER_ARGS = (r"^[A-Za-z_][\w.\-]*$")
_NOT_NAMES = frozenset({"self", "this", "cls", "true", "false", "none", "null", "nil", "undefined"})
#: "Node.js" and friends: technologies named like files.
_TECH_JS_ARGS = (r"^[A-Z][A-Za-z0-9]*\.js$|^(?:node|vue|next|nuxt|express|d3|three|chart|ember)\.js$", re.I)


def _make(args: str | tuple[str, int]) -> re.Pattern[str]:
    return re.compile(args) if isinstance(args, str) else re.compile(*args)


class _Shapes:
    """The shape rules' patterns, each compiled on first use: a text without a code span or a
    dot never compiles the entity patterns, and importing this module compiles nothing."""

    @cached_property
    def word(self) -> re.Pattern[str]:
        return _make(_WORD_ARGS)

    @cached_property
    def sentence_end(self) -> re.Pattern[str]:
        return _make(_SENTENCE_END_ARGS)

    @cached_property
    def clause_cut(self) -> re.Pattern[str]:
        return _make(_CLAUSE_CUT_ARGS)

    @cached_property
    def colon(self) -> re.Pattern[str]:
        return _make(_COLON_ARGS)

    @cached_property
    def masks(self) -> re.Pattern[str]:
        return _make(_MASKS_ARGS)

    @cached_property
    def because(self) -> re.Pattern[str]:
        return _make(_BECAUSE_ARGS)

    @cached_property
    def path(self) -> re.Pattern[str]:
        return _make(_PATH_ARGS)

    @cached_property
    def file_only(self) -> re.Pattern[str]:
        return _make(_FILE_ONLY_ARGS)

    @cached_property
    def code_span(self) -> re.Pattern[str]:
        return _make(_CODE_SPAN_ARGS)

    @cached_property
    def type_word(self) -> re.Pattern[str]:
        return _make(_TYPE_WORD_ARGS)

    @cached_property
    def dotted(self) -> re.Pattern[str]:
        return _make(_DOTTED_ARGS)

    @cached_property
    def camel(self) -> re.Pattern[str]:
        return _make(_CAMEL_ARGS)

    @cached_property
    def service(self) -> re.Pattern[str]:
        return _make(_SERVICE_ARGS)

    @cached_property
    def identifier(self) -> re.Pattern[str]:
        return _make(_IDENTIFIER_ARGS)

    @cached_property
    def tech_js(self) -> re.Pattern[str]:
        return _make(_TECH_JS_ARGS)

    @cached_property
    def idioms(self) -> re.Pattern[str]:
        return _make(_IDIOMS_ARGS)


_RX = _Shapes()


@dataclass(frozen=True, slots=True)
class _Phrase:
    text: str
    needs_subject: bool
    label: bool
    explicit: bool
    blocked: bool
    past: bool


@dataclass(frozen=True, slots=True)
class _Compiled:
    pattern: re.Pattern[str] | None
    phrases: dict[str, _Phrase]


@lru_cache(maxsize=16)
def _compile(phrases: tuple[str, ...]) -> _Compiled:
    """One alternation for a kind's phrases, longest first, whole words, any spacing."""
    cleaned = sorted({" ".join(p.casefold().split()) for p in phrases if p and p.strip()}, key=len, reverse=True)
    if not cleaned:
        return _Compiled(None, {})
    table: dict[str, _Phrase] = {}
    parts: list[str] = []
    for phrase in cleaned:
        first = phrase.split()[0].replace("\u2019", "'")
        label = phrase.endswith(":")
        needs = not label and (first in _INTENT_STARTS or first.endswith("ing"))
        table[_key(phrase)] = _Phrase(phrase, needs, label, first in _NEEDS_EXPLICIT, first.startswith("blocked"),
                                      first.endswith(("ed", "chose", "chosen", "went")))
        words = [re.sub("['\u2019]", "['\u2019]", re.escape(w)) for w in phrase.split()]
        body = r"\s+".join(words)
        tail = "" if label else r"(?![\w\-])"
        parts.append(body + tail)
    pattern = re.compile(r"(?<![\w\-'\u2019])(?:" + "|".join(parts) + ")", re.I)
    return _Compiled(pattern, table)


def _key(phrase: str) -> str:
    return " ".join(phrase.casefold().replace("\u2019", "'").split())


def detect(text: str, rules: Rules = DEFAULT_RULES) -> list[Found]:
    """What ``text`` says was decided, what blocks, and which entities it names, in the order
    they appear (decisions and blockers first, then entities). Never raises on any string."""
    if not isinstance(text, str) or not text.strip():
        return []
    text = text[:MAX_CHARS]
    masked = _mask(text)
    found: list[Found] = []
    decisions = _compile(tuple(rules.decisions))
    blockers = _compile(tuple(rules.blockers))
    if decisions.pattern is not None or blockers.pattern is not None:
        counts = {"decision": 0, "blocker": 0}
        for s_start, s_end in _sentences(masked):
            sentence = masked[s_start:s_end]
            question = sentence.rstrip().rstrip("\"')]").endswith("?")
            clauses = _clauses(masked, s_start, s_end)
            told = -1  # the clause an item of the one before took in
            for index, (c_start, c_end) in enumerate(clauses):
                if index == told:
                    continue
                for kind, compiled in (("decision", decisions), ("blocker", blockers)):
                    if compiled.pattern is None or question or counts[kind] >= MAX_PER_KIND:
                        continue
                    item = None
                    if masked[c_end:c_end + 1] == ":" and index + 1 < len(clauses):
                        # A clause ending in a colon is told more by the next ("Blocked on infra:
                        # need a new bucket"): the item spans both.
                        item = _clause_item(text, masked, c_start, clauses[index + 1][1], kind, compiled)  # type: ignore[arg-type]
                        told = index + 1 if item is not None else told
                    if item is None:
                        item = _clause_item(text, masked, c_start, c_end, kind, compiled)  # type: ignore[arg-type]
                    if item is not None:
                        found.append(item)
                        counts[kind] += 1
                        break  # one clause is one item: a decision or a blocker, not both
    if rules.entities:
        found += _entities(text, masked)
    return found


# --- sentences and clauses ------------------------------------------------------------------


_MAYBE_MASKED = frozenset("`\"'\u2018\u201c")


def _mask(text: str) -> str:
    """``text`` with code spans, quotes and URLs blanked out (same length, so offsets hold)."""
    if not _MAYBE_MASKED.intersection(text) and "://" not in text and "www." not in text:
        return text  # nothing to mask: the pattern need not even be compiled
    return _RX.masks.sub(lambda m: "\x01" * len(m.group(0)), text)


def _sentences(masked: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _RX.sentence_end.finditer(masked):
        before = masked[start:m.start()].casefold()
        if "\n" not in m.group(0) and before.endswith(_ABBREVIATIONS):
            continue  # "e.g. Redis" goes on
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    if start < len(masked):
        spans.append((start, len(masked)))
    return spans


def _clauses(masked: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    at = start
    for m in _RX.clause_cut.finditer(masked, start, end):
        spans.append((at, m.start()))
        at = m.end()
    spans.append((at, end))
    out: list[tuple[int, int]] = []
    for a, b in spans:
        # A colon ends a clause when two or more words come before it: "No luck today: stuck on
        # X" is two clauses; "Decision: use X" is one (a label).
        cut = a
        for m in _RX.colon.finditer(masked, a, b):
            if len(_RX.word.findall(masked, cut, m.start())) >= 2:
                out.append((cut, m.start()))
                cut = m.end()
        out.append((cut, b))
    return [(a, b) for a, b in (_trim(masked, a, b) for a, b in out) if b > a]


def _trim(masked: str, a: int, b: int) -> tuple[int, int]:
    while a < b and (masked[a].isspace() or masked[a] in "-*>#•,"):
        a += 1
    while b > a and (masked[b - 1].isspace() or masked[b - 1] in ",;:"):
        b -= 1
    return a, b


def _words(masked: str, a: int, b: int) -> list[str]:
    return [w.casefold().replace("\u2019", "'") for w in _RX.word.findall(masked, a, b)]


def _clause_item(text: str, masked: str, a: int, b: int, kind: Kind, compiled: _Compiled) -> Found | None:
    assert compiled.pattern is not None
    for m in compiled.pattern.finditer(masked, a, b):
        phrase = compiled.phrases.get(_key(m.group(0)))
        if phrase is None:
            continue
        before = _words(masked, a, m.start())
        if phrase.label and (before or not _words(masked, m.end(), b)):
            continue  # a label opens its clause, and labels something
        # Negations and a word saying a blocker is over count in the phrase's own part of the
        # clause (up to a comma before it); conditions anywhere before it.
        part = masked.rfind(",", a, m.start()) + 1 or a
        near = _words(masked, max(a, part), m.start())
        if _negated(near) or any(w in _CONDITIONS for w in before) or (before[-1:] in (["be"], ["being"])):
            continue
        if phrase.needs_subject and not _writer_is_subject(near, explicit=phrase.explicit):
            continue
        if kind == "blocker" and phrase.blocked and any(w in _EMBEDDING for w in near):
            continue
        if kind == "decision" and phrase.past and _a_thing_did_it(near):
            continue
        if _RX.idioms.match(masked, m.start()):
            continue
        if kind == "blocker" and _says_over(near + _words(masked, m.end(), b)):
            continue
        after = _words(masked, m.end(), min(b, m.end() + 40))
        if not after:
            continue  # nothing decided or blocking is named
        if after[:1] and (after[0] in (_NOTHING if phrase.label else _EMPTY_OBJECT) or after[:2] == ["the", "wrong"]):
            continue
        if kind == "blocker" and phrase.needs_subject and not before and {"is", "was"} & set(after[:6]):
            continue  # "Waiting for the build is the slowest part": the waiting is the subject
        return _item(text, a, b, kind, phrase.text, m.end())
    return None


def _negated(before: list[str]) -> bool:
    return any(w in _NEGATIONS or w.endswith("n't") for w in before)


def _says_over(words: list[str]) -> bool:
    if any(w in _OVER for w in words):
        return True
    pairs = set(pairwise(words))
    return any(p in pairs for p in _OVER_PAIRS)


def _writer_is_subject(before: list[str], explicit: bool = False) -> bool:
    rest = [w for w in before if w not in _FILLER]
    if not rest:
        return not explicit
    return rest[-1] in _FIRST_PERSON


def _a_thing_did_it(before: list[str]) -> bool:
    return len(before) >= 2 and before[-2] in _DETERMINERS and before[-1] not in _PEOPLE


def _item(text: str, a: int, b: int, kind: Kind, trigger: str, phrase_end: int) -> Found:
    rationale = None
    if kind == "decision":
        # A reason follows what was decided: "because" before the phrase is not one.
        local = _mask(text[a:b])
        m = _RX.because.search(local, phrase_end - a)
        if m is not None and _RX.word.search(local, phrase_end - a, m.start()):
            reason = text[a + m.end():b].strip().rstrip(".") or None
            rationale = reason
            b = a + m.start()
            a, b = _trim(text, a, b)
    end = b
    # Closing punctuation, however spaced ("... e.g. ."), so the item read alone ends the same.
    while end > a and (text[end - 1] in ".!" or text[end - 1].isspace()):
        end -= 1
    a, end = _trim(text, a, end)
    if end <= a:
        a, end = _trim(text, a, b)
    return Found(kind, text[a:end], a, end, trigger, rationale=rationale)


# --- entities ----------------------------------------------------------------------------


def _entities(text: str, masked: str) -> list[Found]:
    found: list[Found] = []
    seen: set[str] = set()

    def add(item: Found) -> None:
        if item.text not in seen and len(found) < MAX_PER_KIND:
            seen.add(item.text)
            found.append(item)

    if "`" in text:
        for m in _RX.code_span.finditer(text):
            item = _code_entity(text, m)
            if item is not None:
                add(item)
    if "." not in text:
        return found  # a path has an extension
    # Paths written outside code spans (inside them they were seen above).
    code_blanked = _RX.code_span.sub(lambda m: "\x01" * len(m.group(0)), text)
    urls_blanked = re.sub(r"(?:https?|ftp|file)://\S+|www\.\S+", lambda m: "\x01" * len(m.group(0)), code_blanked)
    for m in _RX.path.finditer(urls_blanked):
        name = m.group(1)
        if _RX.tech_js.match(name) and "/" not in name:
            continue
        add(Found("entity", name, m.start(1), m.end(1), "path", entity_type="file", path=name))
    return found


def _code_entity(text: str, m: re.Match[str]) -> Found | None:
    content = m.group(1)
    if content != content.strip() or not content:
        return None
    start, end = m.start(), m.end()
    if _RX.file_only.match(content) and not _RX.tech_js.match(content):
        return Found("entity", content, start, end, "code", entity_type="file", path=content)
    if not _RX.identifier.match(content) or content.casefold() in _NOT_NAMES:
        return None
    word = _RX.type_word.match(text, end)
    typed = _TYPE_OF_WORD[word.group(1).casefold()] if word is not None else None
    if _RX.service.match(content):
        kind = "service"
    elif _RX.dotted.match(content) and content.split(".")[0].casefold() not in _NOT_NAMES:
        kind = typed or "module"
    elif _RX.camel.match(content):
        kind = typed or "class"
    elif typed is not None and not content.isupper() and not content[0].isdigit():
        kind = typed
    else:
        return None
    if word is not None:
        end = word.end()
    return Found("entity", content, start, end, "code", entity_type=kind)
