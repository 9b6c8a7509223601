"""Who records: the engineer (user and host) a session belongs to.

A session belongs to the engineer who started it. "One active session" holds per engineer and
project, and ``msp update``, ``decide``, ... record into the calling engineer's active session,
so many engineers on many machines can share one team store. The engineer is the OS login name
and the machine's host name, unless ``MSP_USER`` / ``MSP_HOST`` say otherwise (containers, where
the login is ``root`` everywhere, and tests simulating several machines).

Sessions recorded before sessions had an engineer have none (``user`` is None): such a session
belongs to whoever asks, as it did when a store held one engineer's work.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from msp.errors import ConfigError

USER_ENV = "MSP_USER"
HOST_ENV = "MSP_HOST"
#: The longest user or host name accepted: room for any login or FQDN, short enough for a line.
MAX_NAME = 128
#: What a user or host is called when the OS has no name for it (some containers).
UNKNOWN = "unknown"


class Engineer(NamedTuple):
    user: str
    host: str

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}"

    def owns(self, user: str | None) -> bool:
        """Whether a session of ``user`` is this engineer's (a session with no user is anyone's)."""
        return user is None or user == self.user


def label(user: str | None, host: str | None) -> str | None:
    """``user@host`` for a session's engineer, None for a session recorded before engineers."""
    if user is None:
        return None
    return f"{user}@{host}" if host else user


def check_name(value: str, variable: str) -> str:
    """``value`` as a user or host name, or a :class:`ConfigError` naming ``variable``."""
    name = value.strip()
    problem = None
    if not name:
        problem = "is empty"
    elif len(name) > MAX_NAME:
        problem = f"is {len(name):,} characters long (at most {MAX_NAME})"
    elif not name.isprintable():
        problem = "holds a control or other unprintable character"
    if problem is not None:
        raise ConfigError(
            f"{variable} {problem}",
            f"set {variable} to a short printable name (e.g. {variable}=alice), or unset it to use "
            f"the {'login name' if variable == USER_ENV else 'machine name'}",
        )
    return name


def current_engineer() -> Engineer:
    """The engineer this process records as: ``MSP_USER`` / ``MSP_HOST``, else the OS's names."""
    raw_user = os.environ.get(USER_ENV)
    raw_host = os.environ.get(HOST_ENV)
    user = check_name(raw_user, USER_ENV) if raw_user is not None else _login()
    host = check_name(raw_host, HOST_ENV) if raw_host is not None else _hostname()
    return Engineer(user, host)


def _login() -> str:
    # What getpass.getuser() reads, in its order, without importing getpass (and termios with
    # it): a share of every recording command's start-up.
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        name = os.environ.get(variable)
        if name:
            return _tidy(name)
    try:
        import pwd

        return _tidy(pwd.getpwuid(os.getuid()).pw_name)
    except Exception:  # no passwd entry in some containers, no pwd on Windows
        return UNKNOWN


def _hostname() -> str:
    # os.uname() is what socket.gethostname() reads on POSIX, without importing socket (a
    # millisecond of every recording command); Windows has no uname.
    try:
        if hasattr(os, "uname"):
            return _tidy(os.uname().nodename)
        import socket

        return _tidy(socket.gethostname())
    except OSError:
        return UNKNOWN


def _tidy(name: str) -> str:
    """An OS-given name as a stored one: never empty, unprintable or unbounded."""
    cleaned = "".join(ch for ch in name.strip() if ch.isprintable())[:MAX_NAME]
    return cleaned or UNKNOWN
