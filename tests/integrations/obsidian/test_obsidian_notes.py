"""The obsidian integration's pure parts: names, dates, escaping, config, and the hooks' actions."""

from __future__ import annotations

import random
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msp_obsidian
import pytest
import yaml
from msp_obsidian import _markdown as md
from msp_obsidian._dates import check_format, format_date
from msp_obsidian._names import FORBIDDEN, safe_name, safe_tag

from msp import FileWrite
from msp._executors.file import relative_parts
from msp._plugins.host import build_host, config_errors
from msp.testing import assert_valid_actions

RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def check_safe(name: str, max_bytes: int = 100) -> None:
    assert name and name not in (".", "..")
    assert not set(name) & FORBIDDEN, name
    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in name), name
    assert len(name.encode("utf-8")) <= max_bytes, name
    assert name == name.strip(" .") and not name.startswith(".")
    assert name.split(".")[0].rstrip().upper() not in RESERVED, name


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["RetryWorker", "payments service", "Café", "rocket 🚀", "v1.2 notes", "日本語"])
def test_ordinary_names_are_kept_as_they_are(name: str) -> None:
    assert safe_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["../../x", "/etc/passwd", "CON", "con.txt", "Nul", "COM1", "lpt9.md", "COM\u00b9", "a:b*c?", 'q"uote',
     "x" * 300, "é" * 200, "👩‍👩‍👧‍👦" * 30, "[[evil]]|#^", "%% msp:end x %%", ".hidden", "..", ".", "",
     " ", "trailing...", "tab\tand\nnewline", "C:\\Windows", "bidi\u202eevil", "nul\x00byte", "sep\u2028line",
     "lone\ud800surrogate"],
)
def test_hostile_names_become_safe_distinct_and_stable(name: str) -> None:
    out = safe_name(name)
    check_safe(out)
    assert out == safe_name(name)
    assert re.search(r" ~[0-9a-f]{8}$", out), "a changed name carries the hash of the original"


def test_names_that_sanitise_alike_get_different_files() -> None:
    names = ["a:b*c?", "a?b*c:", "a*b:c?", "a b c", "a|b|c"]
    assert len({safe_name(n) for n in names}) == len(names)
    long_a, long_b = "x" * 300, "x" * 299 + "y"
    assert safe_name(long_a) != safe_name(long_b)


def test_truncation_keeps_whole_characters() -> None:
    out = safe_name("👩‍👩‍👧‍👦" * 30)
    stem = out.rsplit(" ~", 1)[0]
    assert stem and not stem.endswith("\u200d")
    out.encode("utf-8")  # no broken surrogates or partial characters


def test_random_names_are_always_safe() -> None:
    rng = random.Random(5)
    alphabet = list(FORBIDDEN) + list("abcXYZ .-_~é日👩\u200d\u0301\t\n\x00\x7f\u202e") + ["CON", "LPT1", ".."]
    seen: dict[str, str] = {}
    for _ in range(2000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        out = safe_name(name, 60)
        check_safe(out, 60)
        assert seen.setdefault(out, name) == name, f"{name!r} and {seen[out]!r} share {out!r}"


def test_tags() -> None:
    assert safe_tag("research") == "research"
    assert safe_tag("#Needs Review") == "Needs-Review"
    assert safe_tag("a//b") == "a/b"
    assert safe_tag("2026") is None and safe_tag("###") is None
    assert safe_tag("c++ / rust") == "c/rust"
    assert safe_tag("Année 2") == "Année-2"


# --- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "day", "expected"),
    [
        ("YYYY-MM-DD", "2026-01-05", "2026-01-05"),
        ("YYYY/MM/YYYY-MM-DD", "2026-01-05", "2026/01/2026-01-05"),
        ("dddd, MMMM Do YYYY", "2026-01-01", "Thursday, January 1st 2026"),
        ("ddd D MMM YY", "2026-03-22", "Sun 22 Mar 26"),
        ("Do", "2026-01-11", "11th"),
        ("Do", "2026-01-22", "22nd"),
        ("Do", "2026-01-23", "23rd"),
        ("[Week] GGGG-[W]WW E", "2021-01-03", "Week 2020-W53 7"),
        ("GGGG-[W]WW", "2024-12-30", "2025-W01"),
        ("gggg-[w]ww d", "2021-01-03", "2021-w02 0"),
        ("gggg-ww", "2024-12-31", "2025-01"),
        ("gggg-ww", "2022-01-01", "2022-01"),
        ("DDDD Q M D", "2026-12-31", "365 4 12 31"),
        ("YYYYMMDD-HHmm A", "2026-01-05", "20260105-0000 AM"),
    ],
)
def test_moment_formats(fmt: str, day: str, expected: str) -> None:
    assert format_date(datetime.fromisoformat(day), fmt) == expected


@pytest.mark.parametrize("fmt", ["X", "YYYY-MM-DD x", "Y", "", "   "])
def test_formats_that_cannot_be_rendered_are_refused(fmt: str) -> None:
    with pytest.raises(ValueError):
        check_format(fmt)


def test_bad_timezone_or_format_disables_the_integration_with_a_clear_reason(tmp_path: Path) -> None:
    host = build_host({"obsidian": {"vault": str(tmp_path), "timezone": "Mars/Olympus"}})
    assert "obsidian" not in host.integrations
    assert "Mars/Olympus" in host.broken[0].error and "IANA" in host.broken[0].error
    host = build_host({"obsidian": {"vault": str(tmp_path), "daily_format": "YYYY-X"}})
    assert "daily_format" in host.broken[0].error


# --- config ----------------------------------------------------------------------------------


def test_loaded_through_its_entry_point(tmp_path: Path) -> None:
    host = build_host({"obsidian": {"vault": str(tmp_path)}})
    assert not host.broken
    integration = host.integrations["obsidian"]
    assert integration.plugin is msp_obsidian
    assert integration.config["daily_format"] == "YYYY-MM-DD"  # defaults merged under the user's keys
    assert set(host.hooks_of("obsidian")) >= {"msp_session_start", "msp_update", "msp_decision", "msp_entity",
                                              "msp_blocker", "msp_session_close", "msp_export"}


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({}, "'vault' is a required property"),
        ({"vault": "v", "colour": "red"}, "unknown key(s) colour"),
        ({"vault": "v", "sessions_folder": 3}, "sessions_folder"),
        ({"vault": "v", "chart": "pie"}, "chart"),
        ({"vault": "v", "tags": "msp"}, "tags"),
        ({"vault": "v", "daily_notes": "yes"}, "daily_notes"),
    ],
)
def test_config_errors_name_the_key(config: dict[str, Any], problem: str) -> None:
    errors = config_errors(msp_obsidian.config_schema, {**msp_obsidian.defaults, **config}, "integrations.obsidian")
    assert errors and any(problem in e for e in errors), errors


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("sessions_folder", "../outside", "remove the '..'"),
        ("daily_folder", "a/../../b", "remove the '..'"),
        ("entities_folder", "a\\..\\b", "remove the '..'"),
        ("adr_folder", "/etc", "relative to it"),
        ("projects_folder", "C:\\x", "relative to it"),
        ("projects_folder", "~/x", "relative to it"),
    ],
)
def test_folders_outside_the_vault_are_refused_in_words(tmp_path: Path, key: str, value: str, problem: str) -> None:
    host = build_host({"obsidian": {"vault": str(tmp_path), key: value}})
    assert "obsidian" not in host.integrations
    error = host.broken[0].error
    assert key in error and problem in error and repr(value) in error


def test_the_defaults_and_a_full_config_are_valid() -> None:
    schema = msp_obsidian.config_schema
    assert config_errors(schema, {**msp_obsidian.defaults, "vault": "~/Notes"}, "x") == []
    full = {**msp_obsidian.defaults, "vault": "v", "daily_folder": "Journal/Daily", "timezone": "Europe/Berlin",
            "daily_format": "YYYY/MM/YYYY-MM-DD", "chart": "xychart", "tags": ["work", "msp"], "daily_notes": False}
    assert config_errors(schema, full, "x") == []
    assert schema["additionalProperties"] is False


# --- the hooks -------------------------------------------------------------------------------


def test_hooks_return_valid_file_actions_and_touch_nothing(msp_run_session: Any, tmp_path: Path) -> None:
    vault = tmp_path / "never-created"
    run = msp_run_session(msp_obsidian, {"vault": str(vault)})
    assert not run.broken and not run.warnings
    actions = run.all_actions
    assert_valid_actions(actions)
    assert not vault.exists()
    for a in actions:
        assert isinstance(a, FileWrite)
        assert a.root_from == "vault" and a.mode in ("section", "section_append") and a.section
        # Only an update's line is appended; everything else replaces a managed block.
        assert (a.mode == "section_append") == (a.section == "session:1-updates" and a in run.actions["msp_update"])
        assert a.path.endswith(".md")
        relative_parts(a.path)  # would raise for an absolute path or '..'
    hooks = run.actions
    assert {a.path for a in hooks["msp_decision"]} > {a.path for a in hooks["msp_update"]}  # + the ADR note
    assert any("/decisions/" in a.path for a in hooks["msp_session_close"])
    assert any("/entities/" in a.path for a in hooks["msp_session_close"])


def test_daily_notes_can_be_turned_off(msp_run_session: Any, tmp_path: Path) -> None:
    run = msp_run_session(msp_obsidian, {"vault": str(tmp_path), "daily_notes": False})
    paths = {a.path for a in run.all_actions}
    assert all(p.startswith("msp/") for p in paths)
    assert not any("**Day:**" in a.content for a in run.all_actions)


def test_chart_options(msp_run_session: Any, tmp_path: Path) -> None:
    def body(chart: str) -> str:
        run = msp_run_session(msp_obsidian, {"vault": str(tmp_path), "chart": chart})
        return str(next(a.content for a in run.actions["msp_session_close"] if a.section == "session"))

    flow = body("flowchart")
    assert "```mermaid\nflowchart LR\n" in flow
    assert 'p1 -->|+40| p2["09:35 · 60%"]' in flow and 'p2 -->|+10| p3["09:49 · 70%"]' in flow
    xy = body("xychart")
    assert 'x-axis ["09:00", "09:07", "09:35", "09:49"]' in xy and "line [10, 20, 60, 70]" in xy
    assert "mermaid" not in body("none")


def test_the_chart_is_capped(msp_run_session: Any, tmp_path: Path) -> None:
    script = [("start", {"progress": 0})] + [("update", {"text": f"step {i}", "progress": i % 101}) for i in range(60)]
    run = msp_run_session(msp_obsidian, {"vault": str(tmp_path)}, script=script)
    content = next(a.content for a in run.actions["msp_update"][::-1] if a.section == "session")
    nodes = re.findall(r'p\d+\["', content)
    assert len(nodes) == msp_obsidian._notes.MAX_CHART_POINTS


def test_a_changed_goal_rewrites_the_session_note_head(msp_run_session: Any, tmp_path: Path) -> None:
    script = [("start", {"goal": "Ship it", "progress": 30}), ("goal", {"goal": "Ship it behind a flag"})]
    run = msp_run_session(msp_obsidian, {"vault": str(tmp_path)}, script=script)
    writes = run.actions["msp_goal_changed"]
    assert_valid_actions(writes)
    head = next(a.content for a in writes if a.section == "session")
    assert "Ship it behind a flag" in head and "Ship it\n" not in head
    assert any(a.path.endswith(".md") and "Ship it behind a flag" in a.content and a.section != "session"
               for a in writes)  # the project's (or the day's) line shows it too


def test_next_steps_come_from_open_blockers_tagged_updates_and_the_goal(msp_run_session: Any, tmp_path: Path) -> None:
    script = [
        ("start", {"goal": "Ship it", "progress": 30}),
        ("update", {"text": "Write the migration", "tags": ["next"]}),
        ("update", {"text": "Unrelated", "tags": ["misc"]}),
        ("block", {"text": "CI is red"}),
        ("end", {}),
    ]
    run = msp_run_session(msp_obsidian, {"vault": str(tmp_path)}, script=script)
    content = next(a.content for a in run.actions["msp_session_close"] if a.section == "session:2-items")
    steps = content.split("## Next steps\n\n", 1)[1].splitlines()
    assert steps == ["- [ ] Resolve: CI is red", "- [ ] Write the migration", "- [ ] Continue from 30%: Ship it"]


def test_export_renders_the_session_notes(msp_run_session: Any, tmp_path: Path) -> None:
    from msp._model.models import Session

    run = msp_run_session(msp_obsidian, {"vault": str(tmp_path)})
    assert run.store_path is not None
    from msp._store.sqlite import SqliteStore

    store = SqliteStore(run.store_path, synchronous="normal")
    try:
        with store.read() as tx:
            session: Session = tx.load_session(run.session_id)
    finally:
        store.close()
    out = msp_obsidian.msp_export(sessions=[session], config={"vault": "v"})
    assert out.startswith("---\n") and "# demo-project" in out
    fm = yaml.safe_load(out.split("---\n")[1])
    assert fm["session_id"] == run.session_id


# --- escaping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["[[link]]", "\\[[link]]", "![[embed.png]]", "100%% done", "%% msp:end session %%", "$x$ costs $5",
     "<!-- hide the rest", "```\ncode fence\n```", "~~~python", "a\r\nb\rc\u2028d"],
)
def test_user_text_cannot_make_links_comments_or_fences(text: str) -> None:
    out = md.text(text, "  ")
    assert not re.search(r"(?<!\\)\[\[", out)
    assert "%%" not in out
    assert not re.search(r"(?<!\\)\$", out)
    assert not re.search(r"(?<!\\)<", out)
    assert not re.search(r"^\s*(```|~~~)", out, re.M)
    assert all(line.startswith("  ") for line in out.split("\n")[1:])


@pytest.mark.parametrize(
    "value",
    ['plain', 'with "quotes" and \\ backslash', "tab\tnew\nline\r", "nul\x00 bell\x07 del\x7f nel\x85",
     "line\u2028sep\u2029par", "bom\ufeff", "emoji 👩‍👩‍👧 é", "- looks: like yaml", "# comment?", "null",
     "123", "yes", "2026-01-05", "{a: 1}", "[list]"],
)
def test_yaml_strings_round_trip(value: str) -> None:
    loaded = yaml.safe_load(f"k: {md.yaml_string(value)}\n")["k"]
    assert loaded == value


def test_yaml_strings_never_hold_a_wikilink() -> None:
    assert yaml.safe_load(f"k: {md.yaml_string('see [[Note]] and [[[x]]]')}\n")["k"] == "see [ [Note] ] and [ [ [x] ] ]"


def test_frontmatter_emitter() -> None:
    text = md.frontmatter({
        "s": "x", "i": 3, "b": True, "n": None, "t": datetime(2026, 1, 5, 9, 0, tzinfo=UTC), "l": ["a", 1], "e": [],
    })
    data = yaml.safe_load(text)
    assert data == {"s": "x", "i": 3, "b": True, "n": None, "t": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
                    "l": ["a", 1], "e": []}
    assert "t: 2026-01-05T09:00:00Z\n" in text


def test_demo_summary_lists_the_notes(tmp_path: Path) -> None:
    (tmp_path / "msp" / "projects").mkdir(parents=True)
    (tmp_path / "msp" / "projects" / "p.md").write_text("x")
    (tmp_path / "2026-01-05.md").write_text("x")
    out = msp_obsidian.demo_summary(tmp_path)
    assert "(2 notes)" in out and "p.md" in out and "2026-01-05.md" in out and "graph view" in out


def test_the_notes_name_the_sessions_engineer(msp_run_session: Any, tmp_path: Path) -> None:
    """A team store holds many engineers' sessions: the session note and the project's list say
    whose each one is."""
    run = msp_run_session(msp_obsidian, {"vault": str(tmp_path)})
    close = run.actions["msp_session_close"]
    head = next(a.content for a in close if a.section == "session")
    assert "**Engineer:** dev@workstation" in head
    front = next(a.content for a in close if a.section == "frontmatter" and "/sessions/" in a.path)
    meta = yaml.safe_load(front.strip().strip("-"))
    assert (meta["user"], meta["host"]) == ("dev", "workstation")
    listing = next(a.content for a in close if a.path.endswith(".md") and "/projects/" in a.path
                   and a.section.startswith("session"))
    assert "· dev@workstation" in listing
