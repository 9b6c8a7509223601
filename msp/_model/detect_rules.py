"""What detection looks for (:class:`Rules`, the default phrases) and :func:`might_find`, the
pre-check that tells, without a regular expression, that a text cannot hold anything to detect.

Kept apart from :mod:`msp._model.detect` so that building the rules from config and checking an
ordinary update ("Mapped the charge flow") import neither that module nor ``re``: most updates
name no decision, blocker, code span or file, and their command pays nothing for detection.
"""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_DECISIONS: tuple[str, ...] = (
    "decided", "chose", "chosen", "going with", "went with", "will use", "we'll use", "opted for",
    "settled on", "let's go with", "decision:",
)
DEFAULT_BLOCKERS: tuple[str, ...] = (
    "blocked by", "blocked on", "waiting on", "waiting for", "stuck on", "blocker:",
)


class Rules(NamedTuple):
    """What to look for: the phrases of each kind (an empty tuple turns a kind off) and
    whether to look for entities."""

    decisions: tuple[str, ...] = DEFAULT_DECISIONS
    blockers: tuple[str, ...] = DEFAULT_BLOCKERS
    entities: bool = True


DEFAULT_RULES = Rules()


def _plain(text: str) -> str:
    """Lower case, one space between words, one kind of apostrophe: how phrases are compared."""
    return " ".join(text.casefold().replace("\u2019", "'").split())


def might_find(text: str, rules: Rules) -> bool:
    """False only when :func:`msp._model.detect.detect` is sure to find nothing in ``text``: no
    phrase of the rules appears in it (in any case or spacing), and, for entities, it has no
    code span and no dot before a letter (a path has an extension). A text that is not ASCII
    is always looked at: case rules beyond ASCII are the regular expressions' to apply."""
    if not text.isascii():
        return True
    if rules.entities and ("`" in text or _dot_before_letter(text)):
        return True
    phrases = [p for p in (*rules.decisions, *rules.blockers) if p and p.strip()]
    if not phrases:
        return False
    plain = _plain(text)
    return any(_plain(p) in plain for p in phrases)


def _dot_before_letter(text: str) -> bool:
    at = text.find(".")
    while at != -1:
        if text[at + 1:at + 2].isalpha():
            return True
        at = text.find(".", at + 1)
    return False
