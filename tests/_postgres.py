"""A throwaway PostgreSQL server for the tests marked `postgres` (the shared journal).

`initdb` + `pg_ctl` (Debian's `postgresql` package; `scripts/test` installs it) in a fresh
temporary folder, listening on a free port on 127.0.0.1 only (its unix socket in that
folder), password authentication (scram-sha-256) so the gateway's `journal.password`
path is the one tested. One server per test process (session); every test gets its own
database, `CREATE DATABASE ... TEMPLATE`, so tests never see each other's rows.

initdb refuses to run as root: as root the server runs as the `postgres` user (which the
Debian package creates) through `runuser`. Without the binaries, or when the server does
not start, the tests are skipped, unless CI or UTLEGG_REQUIRE_POSTGRES=1 is set: then
they fail, so CI can never pass without having run them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USER = "gateway"
PASSWORD = "test-only-Pa55:word@/"  # characters that would break a URL if not kept out
TEMPLATE = "journal_template"


def required() -> bool:
    """True when a missing server must fail the run (CI), not skip the tests."""
    return bool(os.environ.get("CI")) or os.environ.get("UTLEGG_REQUIRE_POSTGRES") == "1"


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (CI) the tests that need the server."""
    if required():
        pytest.fail(f"PostgreSQL tests must run here (CI / UTLEGG_REQUIRE_POSTGRES): {reason}")
    pytest.skip(f"no PostgreSQL server for the tests: {reason}")


def find_bindir() -> Path | None:
    """The folder with initdb and pg_ctl: PATH first, then Debian's versioned folders."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for candidate in sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    ):
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: where it listens and how to reach a database on it."""

    bindir: Path
    root: Path
    port: int = 0
    as_user: list[str] = field(default_factory=list)
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        """A journal.url for `database` (no password: that goes in journal.password)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def admin_conninfo(self, database: str = "postgres") -> str:
        return (
            f"host=127.0.0.1 port={self.port} dbname={database} user={USER} password='"
            + PASSWORD.replace("\\", "\\\\").replace("'", "\\'")
            + "'"
        )

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_user, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )

    def start(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        init = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            "--pwfile",
            str(pwfile),
            "--auth",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
        last = ""
        for _ in range(3):  # the free port may be taken between looking and binding
            self.port = _free_port()
            options = (
                f"-p {self.port} -c listen_addresses=127.0.0.1"
                f" -c unix_socket_directories={self.root}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            started = self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.root / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
                timeout=90,
            )
            if started.returncode == 0:
                self._create_template()
                return
            log = self.root / "server.log"
            last = (log.read_text(errors="replace") if log.exists() else "") + started.stderr
        raise RuntimeError(f"pg_ctl start failed: {last.strip()[-2000:]}")

    def _create_template(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")

    def create_database(self) -> str:
        """A fresh, empty database; its name."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_conninfo(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.data.joinpath("postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")


def _unprivileged() -> tuple[list[str], int | None]:
    """How to run initdb/pg_ctl: as ourselves, or (root) as `postgres` via runuser."""
    if os.geteuid() != 0:
        return [], None
    try:
        uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        raise RuntimeError(
            "running as root and there is no `postgres` user to run the server as "
            "(apt-get install postgresql creates it)"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root and `runuser` (util-linux) is missing")
    return [runuser, "-u", "postgres", "--"], uid


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """Start a server in a temporary folder; stop it and remove the folder afterwards.

    RuntimeError (with the reason) when it cannot start."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "initdb/pg_ctl not found (PATH, /usr/lib/postgresql/*/bin): apt-get install postgresql"
        )
    as_user, uid = _unprivileged()
    # Not under pytest's tmp folder: as root that is private to root (0700).
    root = Path(tempfile.mkdtemp(prefix="utlegg-pg-"))
    server = PostgresServer(bindir, root, as_user=as_user)
    try:
        if uid is not None:
            os.chown(root, uid, -1)
        server.start()
        yield server
    finally:
        server.stop()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                shutil.rmtree(root)
                break
            except OSError:
                time.sleep(0.2)
