"""A newer write to a file supersedes the older writes still waiting that it overwrites, on every
backend: whole-file replaces supersede every waiting write of the file, a managed block's
replacement the earlier ones of that block and appends to it; merges, appends and creates
supersede nothing, nor does anything supersede an action being delivered or delivered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from msp._store.interface import STATUSES, Store
from msp._store.outbox_rules import file_target, now_ms, supersedes
from tests.store.backends import Backend, planned

T = now_ms() + 3_600_000


@pytest.fixture
def box(backend: Backend) -> Iterator[Store]:
    store = backend.open(backend.spec("supersede"))
    yield store
    store.close()


def _file(path: str, mode: str, section: str | None = None, root: str = "vault") -> dict[str, Any]:
    return {"kind": "file", "path": path, "root_from": root, "content": f"{mode} {section}", "mode": mode,
            "section": section}


def _add(store: Store, key: str, payload: dict[str, Any], **kw: Any) -> int:
    with store.write() as tx:
        tx.outbox.add_actions([planned(key, kind="file", payload=payload, **kw)])
        return tx.outbox.by_keys([key])[0].id


def _statuses(store: Store) -> dict[str, str]:
    with store.read() as tx:
        return {a.idempotency_key: a.status for a in tx.outbox.select(STATUSES, limit=1000)}


def test_a_newer_block_write_supersedes_the_waiting_writes_of_that_block(box: Store) -> None:
    _add(box, "head1", _file("n.md", "section", "head"))
    _add(box, "list1", _file("n.md", "section", "list"))
    _add(box, "add1", _file("n.md", "section_append", "list"))
    _add(box, "fm1", _file("n.md", "section", "frontmatter"))
    _add(box, "other", _file("other.md", "section", "head"))
    _add(box, "elsewhere", _file("n.md", "section", "head", root="root"))
    _add(box, "theirs", _file("n.md", "section", "head"), integration="another")
    newer = _add(box, "head2", _file("n.md", "section", "head"))
    _add(box, "fm2", _file("n.md", "section", "frontmatter"))
    _add(box, "add2", _file("n.md", "section_append", "list"))
    assert _statuses(box) == {
        "head1": "superseded", "list1": "pending", "add1": "pending", "fm1": "pending", "other": "pending",
        "elsewhere": "pending", "theirs": "pending", "head2": "pending", "fm2": "pending", "add2": "pending",
    }
    with box.read() as tx:
        old = tx.outbox.by_keys(["head1"])[0]
    assert old.result is not None and f"#{newer}" in old.result
    _add(box, "list2", _file("n.md", "section", "list"))
    assert {k: v for k, v in _statuses(box).items() if k.startswith(("list", "add"))} == {
        "list1": "superseded", "add1": "superseded", "add2": "superseded", "list2": "pending"}


def test_a_whole_file_replace_supersedes_every_waiting_write_of_the_file(box: Store) -> None:
    for key, mode, section in [("c", "create", None), ("a", "append", None), ("s", "section", "x"),
                               ("sa", "section_append", "y"), ("fm", "section", "frontmatter")]:
        _add(box, key, _file("dir/n.md", mode, section))
    _add(box, "prefix", _file("dir/n.md.bak", "replace"))  # a path that starts the same is another file
    _add(box, "whole", _file("dir/n.md", "replace"))
    statuses = _statuses(box)
    assert {k: statuses[k] for k in ("c", "a", "s", "sa", "fm")} == dict.fromkeys(("c", "a", "s", "sa", "fm"),
                                                                                  "superseded")
    assert statuses["prefix"] == "pending" and statuses["whole"] == "pending"


def test_only_waiting_actions_are_superseded(box: Store) -> None:
    _add(box, "held", _file("n.md", "section", "x"), held=True)
    _add(box, "flying", _file("n.md", "section", "x"))
    with box.write() as tx:
        (run,) = tx.outbox.claim("hook", "me", T, T + 60_000, 10)
    assert [a.idempotency_key for a in run] == ["flying"]
    _add(box, "newer", _file("n.md", "section", "x"))
    statuses = _statuses(box)
    assert (statuses["held"], statuses["flying"], statuses["newer"]) == ("superseded", "in_flight", "pending")
    # The same key planned again (a replay) is not added, so it supersedes nothing.
    _add(box, "later", _file("n.md", "section", "x"))
    with box.write() as tx:
        assert tx.outbox.add_actions([planned("newer", kind="file", payload=_file("n.md", "section", "x"))]) == 0
    assert _statuses(box)["later"] == "pending"


def test_a_superseded_action_does_not_hold_back_its_lane(box: Store) -> None:
    _add(box, "first", _file("n.md", "section", "x"))
    _add(box, "http", {"key": "http"})
    _add(box, "second", _file("n.md", "section", "x"))
    with box.write() as tx:
        runs = tx.outbox.claim("hook", "me", T, T + 60_000, 10)
    assert [[a.idempotency_key for a in run] for run in runs] == [["http"]]


def test_the_rule_in_words() -> None:
    assert file_target("http", {"path": "n.md"}) is None
    assert supersedes("file", _file("n.md", "append")) is None
    assert supersedes("file", _file("n.md", "create")) is None
    assert supersedes("file", _file("n.md", "section_append", "x")) is None
    assert supersedes("file", _file("n.md", "section", "frontmatter")) is None
    key, whole = supersedes("file", _file("n.md", "replace")) or ("", False)
    assert whole and file_target("file", _file("n.md", "section", "x")).startswith(key)  # type: ignore[union-attr]
    assert not file_target("file", _file("n.md.bak", "replace")).startswith(key)  # type: ignore[union-attr]
    assert supersedes("file", _file("n.md", "section", "x")) == (file_target("file", _file("n.md", "section_append",
                                                                                           "x")), False)
