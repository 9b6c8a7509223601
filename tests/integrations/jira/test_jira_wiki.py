"""Wiki markup on Jira Server / Data Center: user text is escaped, and cannot break the markup.

The checks parse the rendered body with a grammar of the only lines the renderer may produce.
User text is allowed to contain just three kinds of token: an escaped markup character
(``\\*``), the backslash entity ``&#92;`` and the line break `` \\\\ ``; an unescaped markup
character or a bare backslash anywhere in user text makes the line fail to parse.
"""

from __future__ import annotations

import re
from typing import Any

import msp_jira
import pytest
from jira_sessions import DATACENTER, HOSTILE_TEXTS, config, hostile_session, session, sessions_to_check
from msp_jira._summary import clean
from msp_jira._wiki import SPECIAL, escape

from msp._plugins.host import build_host

_SPECIAL = re.escape("".join(sorted(SPECIAL)))
#: Escaped user text: escaped specials, the backslash entity, line breaks, or plain characters.
T = rf"(?:\\[{_SPECIAL}]|&\#92;| \\\\ |[^{_SPECIAL}\\\n])*"
LABELLED = rf"\*{T}:\* {T}"
LINE = re.compile(
    "|".join([
        "",                                              # blank line between blocks
        rf"h3\. {T}",                                    # title
        r"h4\. (?:Updates|Decisions|Blockers)",         # section headings (fixed text)
        LABELLED,                                        # *Label:* value
        rf"\* (?:\*\\\[{T}\\\]\* )?{T}(?: \\\\ {LABELLED})*",  # list item with details
        rf"_{T}_",                                       # notes in italics
    ])
)


def unescape(text: str) -> str:
    """Undo :func:`escape` (used to prove nothing is lost)."""
    out = text.replace(" \\\\ ", "\n").replace("&#92;", "\x00BACKSLASH\x00")
    out = re.sub(rf"\\([{_SPECIAL}])", r"\1", out)
    return out.replace("\x00BACKSLASH\x00", "\\")


def body_of(sess: Any, cfg: dict[str, Any] | None = None) -> str:
    host = build_host({"jira": cfg or DATACENTER}, extra={"jira": msp_jira})
    (comment,) = msp_jira.msp_session_close(session=sess, event=None, config=host.integrations["jira"].config)
    body = comment.json_body["body"]
    assert isinstance(body, str)
    return body


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_escape_round_trips(text: str) -> None:
    escaped = escape(clean(text))
    assert "\n" not in escaped
    assert re.fullmatch(T, escaped), "escaped text holds an unescaped markup character"
    assert unescape(escaped) == clean(text)


@pytest.mark.parametrize("text,shown", [
    ("{noformat}", "\\{noformat\\}"),
    ("{code:java}x{code}", "\\{code:java\\}x\\{code\\}"),
    ("[link|x]", "\\[link\\|x\\]"),
    ("*bold*", "\\*bold\\*"),
    ("snake_case_name", "snake\\_case\\_name"),
    ("a | b", "a \\| b"),
    ("C:\\temp\\*", "C:&#92;temp&#92;\\*"),
    ("line one\nh1. line two", "line one \\\\ h1. line two"),
])
def test_escape_examples(text: str, shown: str) -> None:
    assert escape(text) == shown


@pytest.mark.parametrize("name", sorted(sessions_to_check()))
def test_every_line_of_every_body_parses(name: str) -> None:
    body = body_of(sessions_to_check()[name])
    for number, line in enumerate(body.split("\n"), 1):
        assert LINE.fullmatch(line), f"{name}: line {number} breaks the markup: {line[:200]!r}"


def test_the_grammar_catches_broken_markup() -> None:
    """The line check is not a rubber stamp: raw user text would fail it."""
    for raw in ("* {noformat}raw", "*Goal:* [link|x]", "* a *bold* word", "h3. x_y", "* back\\slash"):
        assert not LINE.fullmatch(raw), raw


def test_hostile_text_survives_in_full() -> None:
    body = unescape(body_of(hostile_session(), config(DATACENTER, max_item_chars=10_000)))
    for text in HOSTILE_TEXTS[:-1]:  # the 10 KB one is trimmed by the size budget
        for line in clean(text).strip().split("\n"):
            assert line.strip() in body, line


def test_no_line_of_user_text_can_start_a_wiki_line() -> None:
    body = body_of(session(updates=["first\nh1. heading?\n* list?\n||table||\n----\nbq. quote"]))
    (item,) = [line for line in body.split("\n") if "first" in line]
    assert item.startswith("* ")
    assert not any(line.startswith(("h1.", "* list", "||", "----", "bq.")) for line in body.split("\n"))
