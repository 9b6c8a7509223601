"""Block Kit messages that always fit Slack's limits. Pure functions returning plain dicts.

Limits kept (Slack's documented maxima): 50 blocks per message, 3,000 characters of section
text, 2,000 per section field and at most 10 fields, 150 characters of header text, 10 context
elements. Whatever does not fit is cut visibly: a long text ends in ``…``, a long list ends in
``… and N more``. User text is escaped for mrkdwn (``&``, ``<``, ``>``), so it can't form links
or mentions such as ``<!channel>``; lengths are counted after escaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 300
#: The ``text`` fallback (notifications, clients without blocks). Slack accepts far more; a
#: notification does not need it.
FALLBACK_TEXT = 3000
ELLIPSIS = "…"
#: Room kept in every list section for a closing "… and N more <noun>" line.
_MORE_RESERVE = 64

Block = dict[str, Any]


def escape(text: str) -> str:
    """Make user text inert in mrkdwn: no links, mentions or channel pings."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(escaped: str, limit: int) -> str:
    """Cut escaped text to ``limit`` characters, never in the middle of an ``&...;`` entity."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(0, limit - len(ELLIPSIS))]
    amp = cut.rfind("&", max(0, len(cut) - 5))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + ELLIPSIS


def clip_plain(text: str, limit: int) -> str:
    """Plain text (headers) cut to ``limit`` characters with a visible ``…``."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def clip_mrkdwn(text: str, limit: int, *, one_line: bool = False) -> str:
    """User text escaped for mrkdwn and cut to ``limit`` characters (counted after escaping)."""
    if one_line:
        text = " ".join(text.split())
    return _cut(escape(text.strip()), limit)


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": clip_plain(text, HEADER_TEXT), "emoji": True}}


def context(parts: Sequence[str]) -> Block:
    """``parts`` are mrkdwn already escaped; at most 10 are kept, each cut to 300 characters."""
    elements = [{"type": "mrkdwn", "text": _cut(p, CONTEXT_TEXT)} for p in parts if p][:CONTEXT_ELEMENTS]
    return {"type": "context", "elements": elements}


def section(text: str) -> Block:
    """``text`` is mrkdwn already escaped; cut to 3,000 characters."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_TEXT)}}


def fields(pairs: Sequence[tuple[str, str]]) -> Block:
    """A section of up to 10 ``*label*\\nvalue`` fields (escaped mrkdwn), each cut to 2,000."""
    items = [{"type": "mrkdwn", "text": _cut(f"*{label}*\n{value}", FIELD_TEXT)} for label, value in pairs]
    return {"type": "section", "fields": items[:MAX_FIELDS]}


def divider() -> Block:
    return {"type": "divider"}


def list_sections(title: str, items: Sequence[str], noun: str, *, max_items: int, max_sections: int) -> list[Block]:
    """A titled list across at most ``max_sections`` sections.

    ``items`` are escaped mrkdwn lines. Items past ``max_items``, or past what fits in the
    sections, are counted in a closing ``… and N more <noun>`` line.
    """
    if not items:
        return []
    room = SECTION_TEXT - _MORE_RESERVE
    chunks: list[list[str]] = [[f"*{title}*"]]
    used = [len(chunks[0][0])]
    shown = 0
    for item in items[:max_items]:
        item = _cut(item, room - 1)
        if used[-1] + 1 + len(item) <= room:
            chunks[-1].append(item)
            used[-1] += 1 + len(item)
        elif len(chunks) < max_sections:
            chunks.append([item])
            used.append(len(item))
        else:
            break
        shown += 1
    hidden = len(items) - shown
    if hidden:
        chunks[-1].append(f"_{ELLIPSIS} and {hidden:,} more {noun}_")
    return [section("\n".join(lines)) for lines in chunks]


def fit(blocks: list[Block]) -> list[Block]:
    """At most 50 blocks; if more were built, the last kept one says how many were left out."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    return [*kept, context([f"{ELLIPSIS} and {len(blocks) - len(kept):,} more blocks"])]


def fallback(text: str) -> str:
    """The plain ``text`` of a message: escaped, one paragraph, cut to 3,000 characters."""
    return clip_mrkdwn(text, FALLBACK_TEXT)
