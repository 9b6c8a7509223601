"""The public surface, locked: adding, renaming or removing a public name fails here first.

For each public module: ``__all__`` is exactly the list below, every name in it resolves, and
the module's namespace shows nothing public beyond it (submodules aside: they are reached by
their dotted names). Changing a list is a change of the plugin API: say so in the docs.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

PUBLIC: dict[str, list[str]] = {
    "msp": [
        "Action",
        "Blocker",
        "CypherQuery",
        "Decision",
        "Entity",
        "Event",
        "FileWrite",
        "Finding",
        "GraphQLRequest",
        "HttpRequest",
        "MspError",
        "PowerShellCall",
        "Session",
        "SessionManager",
        "Update",
        "__version__",
        "format_duration",
        "format_time",
        "hookimpl",
        "parse_time",
        "project",
        "session_duration",
    ],
    "msp.hooks": ["PROJECT", "hookimpl", "hookspec"],
    "msp.errors": [
        "ActionNotFound",
        "AmbiguousBlocker",
        "BlockerNotFound",
        "ConfigError",
        "DispatchBusy",
        "InvalidInput",
        "ItemNotFound",
        "MissingCredential",
        "MspError",
        "PluginError",
        "ProjectNotFound",
        "SessionAlreadyActive",
        "SessionNotActive",
        "SessionNotFound",
        "StoreBusy",
        "StoreError",
    ],
    "msp.executors": [
        "BaseExecutor",
        "ExecutionContext",
        "Executor",
        "ExecutorKind",
        "MissingCredential",
        "Outcome",
        "OutcomeStatus",
        "is_configured",
        "resolve_secret",
        "secret_names",
    ],
    "msp.testing": [
        "FAILURE_KINDS",
        "SCRIPT",
        "TEST_DISPATCH",
        "KindResult",
        "RecordingService",
        "Reply",
        "Request",
        "ScriptedServer",
        "Seen",
        "SessionRun",
        "assert_no_secret_in",
        "assert_no_secrets",
        "assert_valid_actions",
        "cli_json",
        "drain",
        "free_port",
        "outbox_rows",
        "plan",
        "run_failure_kinds",
        "run_session",
        "serve",
        "set_env",
        "write_project",
    ],
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_the_public_names_are_exactly_these(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(module.__all__) == sorted(PUBLIC[name])
    assert len(set(module.__all__)) == len(module.__all__), "a name is listed twice"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_resolves(name: str) -> None:
    module = importlib.import_module(name)
    for attr in module.__all__:
        assert getattr(module, attr) is not None, f"{name}.{attr}"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_nothing_public_beyond_all(name: str) -> None:
    module = importlib.import_module(name)
    extra = [attr for attr in dir(module)
             if not attr.startswith("_") and attr not in module.__all__
             and not isinstance(getattr(module, attr), ModuleType)]
    assert extra == [], f"{name} shows names outside __all__: {extra}"


def test_an_unknown_name_is_an_attribute_error() -> None:
    import msp
    import msp.testing

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        msp.nothing_here  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        msp.testing.nothing_here  # noqa: B018


def test_every_error_class_msp_raises_is_in_msp_errors() -> None:
    """The old homes of the errors keep working, and are the same classes."""
    import msp.errors
    from msp._dispatch.run import DispatchBusy
    from msp._secrets import MissingCredential
    from msp._store.sqlite import StoreBusy

    assert (DispatchBusy, MissingCredential, StoreBusy) == (
        msp.errors.DispatchBusy, msp.errors.MissingCredential, msp.errors.StoreBusy)
    for attr in msp.errors.__all__:
        cls = getattr(msp.errors, attr)
        assert issubclass(cls, msp.errors.MspError)
        assert cls is msp.errors.MspError or cls.code != msp.errors.MspError.code, f"{attr} needs a code of its own"
        assert attr in (msp.errors.__doc__ or ""), f"{attr} is missing from the documented tree"


def test_import_msp_and_its_plugin_stay_light() -> None:
    """``import msp`` and the pytest plugin (loaded by every test session) import no store,
    no pydantic, no HTTP client."""
    code = ("import sys, msp, msp.testing, msp.errors, msp.hooks; "
            "print(sorted(m for m in ('pydantic', 'httpx', 'sqlite3', 'msp._store', 'msp._plugins', "
            "'msp._session', 'msp.testing._failures', 'msp.testing._session') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


# --- the clock-free helpers ------------------------------------------------------------------

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _session(minutes_to_last: int, ended_after: int | None = None) -> object:
    from msp import Session

    return Session(id="s1", project="p", status="closed" if ended_after is not None else "active",
                   started_at=START, last_event_at=START + timedelta(minutes=minutes_to_last),
                   ended_at=None if ended_after is None else START + timedelta(minutes=ended_after),
                   start_progress=0, progress=10)


def test_session_duration_uses_the_sessions_own_times_never_the_clock() -> None:
    from msp import session_duration

    active = _session(25)
    # An active session with nothing given ends at its last recorded moment, not now (2026 is
    # long gone or far ahead whenever this runs: either way the clock would give another value).
    assert session_duration(active) == 25 * 60
    assert session_duration(active, until=START + timedelta(hours=2)) == 2 * 3600
    closed = _session(25, ended_after=40)
    assert session_duration(closed) == 40 * 60
    assert session_duration(closed, until=START + timedelta(hours=2)) == 40 * 60  # ended_at wins
    assert session_duration(active, until=START - timedelta(minutes=5)) == 0.0  # never negative
    assert active.duration_seconds() == 25 * 60  # type: ignore[attr-defined]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "under a minute"), (59.9, "under a minute"), (60, "1m"), (7 * 60 + 59, "7m"), (3600, "1h 00m"),
    (3900, "1h 05m"), (26 * 3600, "26h 00m"), (-5, "under a minute"),
])
def test_format_duration(seconds: float, text: str) -> None:
    from msp import format_duration

    assert format_duration(seconds) == text


def test_format_time_and_parse_time_round_trip() -> None:
    from msp import format_time, parse_time

    text = format_time(START + timedelta(microseconds=7))
    assert text == "2026-01-05T09:00:00.000007Z"
    assert parse_time(text) == START + timedelta(microseconds=7)


# --- msp.testing's secret checks -------------------------------------------------------------


def test_assert_no_secret_in_names_the_place_never_the_value(tmp_path: Path) -> None:
    from msp.testing import assert_no_secret_in

    secret = "sk-live-0123456789abcdef"
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "clean.log").write_text("nothing here\n")
    assert_no_secret_in([secret], "plain text", b"bytes", tmp_path)
    leaked = tmp_path / "logs" / "msp.log"
    leaked.write_text(f"token={secret}\n")
    with pytest.raises(AssertionError) as info:
        assert_no_secret_in([secret], tmp_path)
    assert str(leaked) in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value)
    with pytest.raises(AssertionError, match="text #2") as info:
        assert_no_secret_in([secret], "fine", f"Authorization: Bearer {secret}")
    assert secret not in str(info.value)
    assert_no_secret_in(["", secret[:0]], "empty secrets are never found")
