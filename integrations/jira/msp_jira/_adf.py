"""Render a :class:`Summary` as an Atlassian Document Format document (Jira Cloud, REST v3).

ADF is JSON, so user text needs no escaping: it only ever goes into ``text`` nodes, never into
markup. What ADF does demand is structure: text nodes are never empty, a line break inside a
text is a ``hardBreak`` node, and a bullet list has at least one item (an empty section is
left out rather than rendered as an empty list).
"""

from __future__ import annotations

from typing import Any

from ._summary import Detail, Item, Summary

Node = dict[str, Any]


def text_nodes(text: str, marks: list[str] | None = None) -> list[Node]:
    """Inline nodes for ``text``: text runs separated by hard breaks; nothing for ""."""
    out: list[Node] = []
    for i, line in enumerate(text.split("\n")):
        if i:
            out.append({"type": "hardBreak"})
        if line:
            node: Node = {"type": "text", "text": line}
            if marks:
                node["marks"] = [{"type": m} for m in marks]
            out.append(node)
    return out


def paragraph(*inline: list[Node]) -> Node:
    content = [node for part in inline for node in part]
    return {"type": "paragraph", "content": content}


def heading(text: str, level: int) -> Node:
    return {"type": "heading", "attrs": {"level": level}, "content": text_nodes(text)}


def _labelled(detail: Detail) -> list[Node]:
    return [*text_nodes(f"{detail.label}: ", ["strong"]), *text_nodes(detail.text)]


def _list_item(item: Item) -> Node:
    lead = text_nodes(f"[{item.tag}] ", ["strong"]) if item.tag else []
    blocks = [paragraph(lead, text_nodes(item.text))]
    blocks += [paragraph(_labelled(d)) for d in item.details]
    return {"type": "listItem", "content": blocks}


def render(summary: Summary) -> Node:
    """The ADF ``doc`` for a summary."""
    content: list[Node] = [heading(summary.title, 3)]
    facts: list[Node] = []
    for i, fact in enumerate(summary.facts):
        if i:
            facts.append({"type": "hardBreak"})
        facts += _labelled(fact)
    content.append(paragraph(facts))
    if summary.empty_note:
        content.append(paragraph(text_nodes(summary.empty_note, ["em"])))
    for section in summary.sections:
        content.append(heading(section.title, 4))
        content.append({"type": "bulletList", "content": [_list_item(item) for item in section.items]})
        if section.more:
            content.append(paragraph(text_nodes(section.more_text, ["em"])))
    content.append(paragraph(text_nodes(summary.footer, ["em"])))
    return {"type": "doc", "version": 1, "content": content}


def plain_text(doc: Node) -> str:
    """The text of an ADF document (for size checks and tests)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(str(node.get("text", "")))
            elif node.get("type") == "hardBreak":
                parts.append("\n")
            for child in node.get("content", []) or []:
                walk(child)
            if node.get("type") in ("paragraph", "heading"):
                parts.append("\n")

    walk(doc)
    return "".join(parts)
