"""Who records: the engineer from ``MSP_USER`` / ``MSP_HOST`` or the OS, checked before use."""

from __future__ import annotations

import getpass
import os
import pwd
import socket
import types

import pytest

from msp._model.identity import MAX_NAME, Engineer, current_engineer, label
from msp.errors import ConfigError


def test_the_os_names_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MSP_USER", raising=False)
    monkeypatch.delenv("MSP_HOST", raising=False)
    assert current_engineer() == Engineer(getpass.getuser(), socket.gethostname())


def test_the_variables_override_the_os(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSP_USER", "  alice ")
    monkeypatch.setenv("MSP_HOST", "ci-runner-7")
    assert current_engineer() == Engineer("alice", "ci-runner-7")
    assert current_engineer().label == "alice@ci-runner-7"
    monkeypatch.setenv("MSP_USER", "Zoë Müller")  # any printable name, not only ASCII
    assert current_engineer().user == "Zoë Müller"


def test_a_login_the_os_cannot_name_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_login() -> str:
        raise KeyError("getpwuid(): uid not found: 1234")

    monkeypatch.delenv("MSP_USER", raising=False)
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):  # what getpass.getuser() reads first
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", lambda _uid: no_login())
    monkeypatch.setattr(socket, "gethostname", lambda: "\x00")  # where there is no os.uname (Windows)
    if hasattr(os, "uname"):
        monkeypatch.setattr(os, "uname", lambda: types.SimpleNamespace(nodename="\x00"))
    assert current_engineer() == Engineer("unknown", "unknown")
    monkeypatch.delattr(os, "uname", raising=False)
    assert current_engineer() == Engineer("unknown", "unknown")


@pytest.mark.parametrize(("value", "problem"), [
    ("", "is empty"), ("\t", "is empty"), ("bob\nmallory", "unprintable"), ("a" * (MAX_NAME + 1), "at most"),
])
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, value: str, problem: str) -> None:
    monkeypatch.setenv("MSP_HOST", value)
    with pytest.raises(ConfigError) as caught:
        current_engineer()
    assert caught.value.message.startswith("MSP_HOST ") and problem in caught.value.message
    assert caught.value.hint is not None and "MSP_HOST" in caught.value.hint
    assert value not in caught.value.message or not value  # the bad value itself is not echoed


def test_a_session_without_a_user_is_everyones() -> None:
    alice = Engineer("alice", "a")
    assert alice.owns("alice") and alice.owns(None) and not alice.owns("bob")
    assert label("alice", "a") == "alice@a" and label("alice", None) == "alice" and label(None, "a") is None
