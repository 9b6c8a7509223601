"""File and folder names that are safe on every OS and in Obsidian, whatever the input.

Rules (see README "File names"):

* Obsidian's forbidden characters ``* " \\ / < > : | ? # ^ [ ]``, plus ``%`` (``%%`` starts an
  Obsidian comment), control characters, line separators and lone surrogates become a space;
  runs of white space become one space.
* Leading dots and spaces (a dot-file is hidden from Obsidian) and trailing dots and spaces
  (Windows drops them) are removed; an empty result is ``untitled``.
* Windows' reserved device names (``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM1``-``COM9``,
  ``LPT1``-``LPT9`` and the superscript-digit forms, also followed by an extension) get a
  leading ``_``.
* A name is kept to ``max_bytes`` bytes of UTF-8 (well under the usual 255-byte limit, leaving
  room for the folder path on Windows), cut between characters.
* Whenever any of that changed the name, `` ~`` and 8 hex digits of the SHA-256 of the original
  are appended, so two names that sanitise to the same text still get different files, and the
  same name always gets the same file.

A sanitised name never contains ``/`` and is never ``.`` or ``..``, so joining sanitised parts
cannot leave the vault; the ``file`` executor checks containment again at write time.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

FORBIDDEN = frozenset('*"\\/<>:|?#^[]%')
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\ufeff")
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"123456789", "\u00b9", "\u00b2", "\u00b3"]]
)
_HASH_LEN = 8
_SUFFIX_BYTES = 2 + _HASH_LEN  # " ~" + hash


def _replace_char(ch: str) -> bool:
    return (
        ch in FORBIDDEN
        or ch in _BIDI_CONTROLS
        or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp")
    )


def _clean(text: str) -> str:
    name = unicodedata.normalize("NFC", text)
    name = "".join(" " if _replace_char(ch) else ch for ch in name)
    name = re.sub(r"\s+", " ", name)
    name = name.strip(" .")
    if not name:
        return "untitled"
    stem = name.split(".", 1)[0].rstrip(" ").upper()
    if stem in _RESERVED:
        name = "_" + name
    return name


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` that fits in ``max_bytes`` bytes of UTF-8, not ending in
    a joiner or a combining mark left without what it joined."""
    out: list[str] = []
    used = 0
    for ch in text:
        size = len(ch.encode("utf-8", "surrogatepass"))
        if used + size > max_bytes:
            break
        out.append(ch)
        used += size
    cut = "".join(out)
    if len(cut) < len(text):
        while cut and (cut[-1] in "\u200d\ufe0e\ufe0f" or unicodedata.category(cut[-1]).startswith("M")):
            cut = cut[:-1]
    return cut


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]


@lru_cache(maxsize=4096)
def safe_name(text: str, max_bytes: int = 100) -> str:
    """A file or folder name (without extension) for ``text``; see the module docstring."""
    if max_bytes < _SUFFIX_BYTES + 8:
        raise ValueError("max_bytes is too small for a name and its hash suffix")
    name = _clean(text)
    if name == text and len(name.encode("utf-8")) <= max_bytes:
        return name
    name = truncate_utf8(name, max_bytes - _SUFFIX_BYTES).rstrip(" .") or "untitled"
    return f"{name} ~{short_hash(text)}"


@lru_cache(maxsize=4096)
def clean_name(text: str, max_bytes: int = 100) -> str:
    """Like :func:`safe_name` without the hash suffix, for names made unique by an id appended
    afterwards (ADR notes)."""
    return truncate_utf8(_clean(text), max_bytes).rstrip(" .") or "untitled"


def folder_parts(path: str) -> list[str]:
    """A configured folder (``msp/sessions``) as safe components; ``..``, empty and ``.`` parts
    are dropped (the config schema rejects ``..`` and absolute paths before this)."""
    parts = []
    for raw in re.split(r"[/\\]", path):
        if raw.strip(" .") == "":
            continue
        parts.append(safe_name(raw))
    return parts


_TAG_BAD = re.compile(r"[^\w/-]+")


def safe_tag(text: str) -> str | None:
    """An Obsidian tag (letters, digits, ``_``, ``-``, ``/``; not only digits), or None."""
    tag = unicodedata.normalize("NFC", text).strip().lstrip("#")
    tag = _TAG_BAD.sub("-", tag)
    tag = re.sub(r"-{2,}", "-", tag)
    tag = re.sub(r"-*/[-/]*", "/", tag).strip("-/")
    if not tag or tag.replace("/", "").isdigit():
        return None
    return tag[:100]
