"""Identifiers that sort by time, read well, and don't collide across machines."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


#: Every 10-bit value as two characters: an id is 13 look-ups instead of 26 shifts.
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]


def new_event_id(now_ms: int | None = None) -> str:
    """A ULID-shaped id: 48 bits of milliseconds then 80 random bits, 26 characters."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10), "big")
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])


def new_session_id(at: datetime) -> str:
    """``YYYYMMDD-HHMMSS-xxxxxxxx``: readable, sorts by start time (UTC), 40 random bits per
    second, so even thousands of machines starting sessions in the same second don't collide."""
    stamp = at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{_b32(int.from_bytes(os.urandom(5), 'big'), 8)}"


def short_item_id(prefix: str) -> str:
    """Ids for decisions, entities and blockers: a letter and 8 random characters."""
    return f"{prefix}-{_b32(int.from_bytes(os.urandom(5), 'big'), 8)}"


def derived_event_id(ms: int, seed: str) -> str:
    """An event id shaped like :func:`new_event_id` whose 80 low bits come from ``seed``, not
    chance: the same moment of an imported history gets the same id on every run, so an import
    run twice finds its events already there."""
    import hashlib  # here, not at the top: only imports ask

    low = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:10], "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | low
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])


def derived_item_id(prefix: str, seed: str) -> str:
    """:func:`short_item_id`'s shape, its characters from ``seed``: stable across imports."""
    import hashlib

    return f"{prefix}-{_b32(int.from_bytes(hashlib.sha256(seed.encode('utf-8')).digest()[:5], 'big'), 8)}"
