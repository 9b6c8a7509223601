"""Slack's Block Kit rules, checked with slack_sdk's own models, plus the limits it does not check."""

from __future__ import annotations

import warnings
from typing import Any

from slack_sdk.models.blocks import Block

MAX_BLOCKS = 50
FIELD_TEXT = 2000
#: Slack truncates a message's top-level text past 40,000 characters.
TEXT_LIMIT = 40_000


def message_problems(message: dict[str, Any]) -> list[str]:
    """Every reason Slack would reject (or cut) this message; empty when it is good."""
    problems: list[str] = []
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append("no plain text fallback")
    elif len(text) > TEXT_LIMIT:
        problems.append(f"text is {len(text)} characters")
    blocks = message.get("blocks", [])
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks (most is {MAX_BLOCKS})")
    for i, raw in enumerate(blocks):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an unknown key is a warning in slack_sdk; here it fails
            try:
                parsed = Block.parse(raw)
                if parsed is None:
                    problems.append(f"block {i}: unknown type {raw.get('type')!r}")
                    continue
                parsed.validate_json()
            except Exception as exc:
                problems.append(f"block {i} ({raw.get('type')}): {exc}")
                continue
        for field in raw.get("fields") or []:
            if len(field.get("text", "")) > FIELD_TEXT:
                problems.append(f"block {i}: a field of {len(field['text'])} characters")
    return problems
