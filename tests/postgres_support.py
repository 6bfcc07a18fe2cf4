"""A real PostgreSQL server for the journal's tests, started once per test session with the
machine's ``initdb``/``pg_ctl`` (the Debian ``postgresql`` package) as the user ``postgres``
(PostgreSQL refuses to run as root), listening on loopback and on a unix socket in a temporary
directory. Tests that need it are skipped, saying why, when the binaries or the user are absent.
Each test gets a database of its own (:func:`fresh_database`)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _as_postgres(*command: str) -> list[str]:
    if os.geteuid() != 0:
        return list(command)  # already not root: run as ourselves
    return ["runuser", "-u", "postgres", "--", *command]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Unavailable(Exception):
    """PostgreSQL cannot be started here; the message says why."""


@contextlib.contextmanager
def running_server() -> Iterator[str]:
    """A running server for the block, as the conninfo of its ``postgres`` database; raises
    :class:`Unavailable` when it cannot be started here."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise Unavailable(
            "PostgreSQL's initdb/pg_ctl are not installed (/usr/lib/postgresql/*/bin)"
        )
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable(
                "running as root and there is no user 'postgres' to run PostgreSQL as"
            ) from None
        if shutil.which("runuser") is None:
            raise Unavailable(
                "running as root and there is no runuser to run PostgreSQL as 'postgres'"
            )
    root = Path(tempfile.mkdtemp(prefix="toolvolley-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        for path in (root, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    port = _free_port()

    def run(*command: str) -> None:
        subprocess.run(_as_postgres(*command), check=True, capture_output=True)

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-N")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets}"
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise Unavailable(
            f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')[-500:]}"
        ) from None
    try:
        yield f"host={sockets} port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The conninfo of a running server (its ``postgres`` database), skipped saying why when
    it cannot be started."""
    with contextlib.ExitStack() as stack:
        try:
            conninfo = stack.enter_context(running_server())
        except Unavailable as exc:
            pytest.skip(str(exc))
        yield conninfo


def fresh_database(server: str) -> str:
    """The conninfo of a new, empty database on ``server``."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return server.replace("dbname=postgres", f"dbname={name}")
