"""The detector (msp/_model/detect.py): what it finds and what it leaves alone, its properties
on any text (Hypothesis), the `[detect]` config, and `msp update` / `msp retract` end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msp._model.detect import DEFAULT_BLOCKERS, DEFAULT_DECISIONS, DEFAULT_RULES, Rules, detect, might_find


def _kinds(text: str, rules: Rules = DEFAULT_RULES) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in detect(text, rules)]


@pytest.mark.parametrize("text, expected", [
    ("Decided to shard by tenant.", [("decision", "Decided to shard by tenant")]),
    ("We chose Postgres over Mongo", [("decision", "We chose Postgres over Mongo")]),
    ("Going with the retry queue for now", [("decision", "Going with the retry queue for now")]),
    ("We will use httpx for the client", [("decision", "We will use httpx for the client")]),
    ("Blocked by the flaky e2e suite", [("blocker", "Blocked by the flaky e2e suite")]),
    ("Fixed lint; still waiting on review from Sam", [("blocker", "still waiting on review from Sam")]),
    ("I'm stuck on the OAuth redirect", [("blocker", "I'm stuck on the OAuth redirect")]),
    ("Decision: ship behind a flag", [("decision", "Decision: ship behind a flag")]),
])
def test_it_finds_what_an_update_says(text: str, expected: list[tuple[str, str]]) -> None:
    assert _kinds(text) == expected


@pytest.mark.parametrize("text", [
    "updated the decisions page",
    "triaged the blocked-accounts report",
    "Haven't decided on the queue yet",
    "Should we go with Redis?",
    "If CI passes, going with the new runner",
    "The progress bar gets stuck on 99%",
    "added a spinner while waiting for the response",
    "fixed the 'waiting on lock' log message",
    "renamed the `blocked_by` column",
    "Was blocked by the VPN until IT fixed it",
    "users who chose annual billing see the wrong total",
    "The cache will use more memory after this",
    "Read https://example.com/why-we-decided-to-use-x",
    "Still to be decided: the retry window",
])
def test_it_leaves_hard_negatives_alone(text: str) -> None:
    assert [k for k, _ in _kinds(text) if k != "entity"] == []


def test_the_reason_after_because_is_the_rationale() -> None:
    (found,) = detect("Decided to use SQLite because it is embedded.")
    assert (found.text, found.rationale) == ("Decided to use SQLite", "it is embedded")


def test_entities_are_paths_and_code_spans_naming_modules_classes_services() -> None:
    text = ("Refactored `msp._session.manager`, `SessionManager` and the `ledger` module; `billing-service` "
            "now reads config/app.toml. Not entities: `foo()`, `MAX_RETRIES`, `git rebase -i`, Node.js, "
            "https://example.com/a/b.py, and/or")
    found = {(f.text, f.entity_type) for f in detect(text) if f.kind == "entity"}
    assert found == {("msp._session.manager", "module"), ("SessionManager", "class"), ("ledger", "module"),
                     ("billing-service", "service"), ("config/app.toml", "file")}


def test_rules_turn_kinds_off_and_take_other_words() -> None:
    text = "Decided to drop v1; blocked by legal; see app/main.py"
    assert _kinds(text, Rules(decisions=(), blockers=(), entities=False)) == []
    assert _kinds(text, Rules(decisions=("decided",), blockers=(), entities=False)) == [
        ("decision", "Decided to drop v1")]
    assert _kinds(text, Rules(decisions=(), blockers=("blocked by",), entities=True)) == [
        ("blocker", "blocked by legal"), ("entity", "app/main.py")]
    assert _kinds("We agreed on a freeze", Rules(decisions=("agreed on",), blockers=(), entities=False)) == [
        ("decision", "We agreed on a freeze")]


# --- properties on any text -----------------------------------------------------------------

WORDS = st.sampled_from([
    "decided", "chose", "going with", "will use", "blocked by", "waiting on", "stuck on", "Decision:",
    "we", "I'm", "not", "if", "the", "`SessionManager`", "src/app.py", "because", "?", ".", ";", ",", "\n",
    "'", '"', "`", "-", "—", "e.g.", "https://x.io/a", "é", "\x00", " ", "but", "still", "yet",
])
TEXTS = st.one_of(st.text(max_size=300), st.lists(WORDS, max_size=40).map(" ".join))


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_it_never_raises_and_spans_lie_inside_the_text(text: str) -> None:
    for f in detect(text):
        assert 0 <= f.start < f.end <= len(text)
        if f.kind == "entity":
            assert f.text in text[f.start:f.end]
        else:
            assert f.text == text[f.start:f.end] and f.text.strip() == f.text and f.text


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_it_is_deterministic(text: str) -> None:
    assert detect(text) == detect(text)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_it_finds_each_item_again_in_its_own_text(text: str) -> None:
    """Idempotent over its own output: an item's span, read alone, yields that item again."""
    for f in detect(text):
        again = [(g.kind, g.text) for g in detect(text[f.start:f.end])]
        assert (f.kind, f.text) in again


@settings(max_examples=100, deadline=None)
@given(TEXTS)
def test_no_rules_find_nothing(text: str) -> None:
    assert detect(text, Rules(decisions=(), blockers=(), entities=False)) == []


# --- config --------------------------------------------------------------------------------


def test_detect_config_defaults_and_clear_errors(tmp_path: Path) -> None:
    from msp._config import MspConfig, _load_config
    from msp._model.detect import DEFAULT_BLOCKERS, DEFAULT_DECISIONS
    from msp.errors import ConfigError

    config = MspConfig()
    assert config.detect.enabled and tuple(config.detect.decisions) == DEFAULT_DECISIONS
    assert tuple(config.detect.blockers) == DEFAULT_BLOCKERS
    msp_dir = tmp_path / ".msp"
    msp_dir.mkdir()
    (msp_dir / "config.toml").write_text('[detect]\ndecisions = ["decided", "  "]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"detect\.decisions.*empty"):
        _load_config(msp_dir, tmp_path / "none.toml", {})
    (msp_dir / "config.toml").write_text('[detect]\nblockers = "blocked by"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"detect\.blockers"):
        _load_config(msp_dir, tmp_path / "none.toml", {})
    (msp_dir / "config.toml").write_text('[detect]\nenabled = false\n', encoding="utf-8")
    assert _load_config(msp_dir, tmp_path / "none.toml", {}).detect.enabled is False


# --- end to end ------------------------------------------------------------------------------


def _json(msp_cli: Any, *args: str) -> dict[str, Any]:
    result = msp_cli(*args, "--json")
    assert result.code == 0, result.err
    return dict(json.loads(result.out))


def test_msp_update_prints_what_it_detected_and_retract_takes_it_back(project_dir: Path, msp_cli: Any) -> None:
    msp_cli("start", "--goal", "detect")
    shown = msp_cli("update", "Going with the outbox. Waiting on legal for the window.", "20")
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert lines[0] == "Recorded update at 20%"
    assert lines[1].startswith("  detected decision d-") and lines[1].endswith(": Going with the outbox")
    assert lines[2].startswith("  detected blocker b-") and "Waiting on legal for the window" in lines[2]
    blocker = lines[2].split()[2].rstrip(":")
    quiet = _json(msp_cli, "update", "Decided it; blocked by x", "--no-detect")
    assert quiet["detected"] == []
    took = msp_cli("retract", blocker, "--reason", "legal answered")
    assert took.code == 0 and took.out.strip() == f"Retracted blocker {blocker}"
    context = _json(msp_cli, "context", "--format", "json")["context"]
    assert context["open_blockers"] == [] and [d["text"] for d in context["decisions"]] == ["Going with the outbox"]
    shown = msp_cli("show", context["sessions"][0]["id"])
    assert f"{blocker}: Waiting on legal for the window (open) [detected] [retracted]" in shown.out
    missing = msp_cli("retract", "nothing-like-it")
    assert missing.code == 1 and "ITEM_NOT_FOUND" not in missing.out and "no decision" in missing.err


def test_detection_off_in_the_projects_config(project_dir: Path, msp_cli: Any) -> None:
    config = project_dir / ".msp" / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[detect]\nenabled = false\n", encoding="utf-8")
    msp_cli("start")
    assert _json(msp_cli, "update", "Decided to stop; blocked by x")["detected"] == []


# --- the pre-check that spares most updates the detector ------------------------------------

_PIECES = st.sampled_from([
    *DEFAULT_DECISIONS, *DEFAULT_BLOCKERS, "Decided", "GOING  WITH", "waiting\ton", "we\u2019ll use", "stuck\non",
    "the", "worker", "flow.", "src/app.py", "`LedgerService`", "e.g.", "v1.2", "blocked-accounts", "decisions",
    "report", ":", ";", ",", "?", "'", "\"", "-", "\u00e9t\u00e9", "x.Y", "..", " ",
])


@given(st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=12).map(" ".join))
@settings(max_examples=400, deadline=None)
def test_the_pre_check_never_hides_a_find(text: str) -> None:
    """Whenever the detector finds something, the pre-check said to look: skipping the
    detector on its word loses nothing."""
    for rules in (DEFAULT_RULES, Rules(entities=False), Rules(decisions=("settled on",), blockers=())):
        if detect(text, rules):
            assert might_find(text, rules), text


def test_the_pre_check_spares_plain_updates() -> None:
    assert not might_find("Mapped the charge flow, 40% there.", DEFAULT_RULES)
    assert not might_find("updated the docs", Rules(decisions=(), blockers=(), entities=False))
    assert might_find("Decided  to go with Postgres", DEFAULT_RULES)
    assert might_find("see src/retry/worker.py", DEFAULT_RULES)
    assert might_find("the `Ledger` class", DEFAULT_RULES)
    assert might_find("d\u00e9cid\u00e9 rien", DEFAULT_RULES)  # not ASCII: always looked at
