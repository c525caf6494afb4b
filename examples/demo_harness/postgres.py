"""A throwaway PostgreSQL server from the distribution's binaries (Debian: package `postgresql`).

``initdb`` into a temporary folder, ``postgres`` on a free loopback port with its
socket in that folder, one database created, everything removed afterwards.
PostgreSQL refuses to run as root, so under root both run as an unprivileged
account (``postgres``, which Debian's package creates, else ``nobody``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from demo_harness.db_server import (
    CURRENT_USER,
    DatabaseAddress,
    Identity,
    ServerInstance,
    temporary_server,
)
from demo_harness.errors import HarnessError
from demo_harness.ports import LOOPBACK

SUPERUSER = "spanscope"
_ACCOUNTS_FOR_ROOT = ("postgres", "nobody")
# Durability is worthless for a database that is deleted in a minute; these make
# initdb and the seeding several times faster.
_FAST_UNSAFE_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@dataclass(frozen=True)
class PostgresServer(DatabaseAddress):
    """Where a running server accepts connections (trust authentication, no password)."""

    @property
    def name(self) -> str:
        return "postgres"

    @property
    def conninfo(self) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={self.dbname}"

    def environment(self) -> dict[str, str]:
        return {
            "SPANSCOPE_DEMO_DB": "postgres",
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.dbname,
        }


def find_postgres_bindir() -> Path | None:
    """The folder holding ``initdb``/``postgres``: on PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        return Path(on_path).resolve().parent
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda found: _version_key(Path(found).parent.parent.name),
    )
    return Path(debian[-1]).parent if debian else None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


@dataclass(frozen=True)
class _Account:
    """Who the server processes run as, and the home folder they get."""

    identity: Identity
    home: str


def _server_account() -> _Account:
    if os.geteuid() != 0:
        return _Account(CURRENT_USER, os.path.expanduser("~"))
    for name in _ACCOUNTS_FOR_ROOT:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return _Account(Identity(entry.pw_uid, entry.pw_gid), entry.pw_dir)
    raise HarnessError(
        "PostgreSQL cannot run as root and there is no 'postgres' or 'nobody' account",
        "install Debian's postgresql package (it creates the account) or run as a normal user",
    )


@contextmanager
def temporary_postgres(
    bindir: Path | None = None, dbname: str = "books"
) -> Iterator[PostgresServer]:
    """Yield a running, empty server with database ``dbname``; stop and delete it afterwards."""
    bindir = bindir or find_postgres_bindir()
    if bindir is None:
        raise HarnessError(
            "no PostgreSQL server binaries found (initdb not on PATH nor in /usr/lib/postgresql/*/bin)",
            "install them, e.g. `apt-get install postgresql`",
        )
    account = _server_account()
    with temporary_server(partial(_Cluster, bindir, account), "spanscope-pg-", dbname) as cluster:
        yield PostgresServer(LOOPBACK, cluster.port, SUPERUSER, dbname)


class _Cluster(ServerInstance):
    product = "PostgreSQL"
    log_name = "postgres.log"
    port_taken = "could not bind"
    stop_signal = signal.SIGINT  # "fast shutdown": disconnect clients, stop cleanly

    def __init__(self, bindir: Path, account: _Account, workdir: Path) -> None:
        # A minimal environment: inherited PG* variables must not redirect the tools.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": account.home}
        super().__init__(workdir, env, account.identity)
        self.bindir = bindir

    def initialize(self) -> None:
        uid, gid = self.identity.uid, self.identity.gid
        if uid is not None:
            os.chown(self.workdir, uid, gid if gid is not None else -1)
        self.run_tool(
            [
                str(self.bindir / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            self.identity,
        )

    def server_command(self) -> list[str]:
        settings = [f"-c{setting}" for setting in _FAST_UNSAFE_SETTINGS]
        return [
            str(self.bindir / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.workdir),
            f"-clisten_addresses={LOOPBACK}",
            *settings,
        ]

    def accepts_connections(self) -> bool:
        ready = subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", LOOPBACK, "-p", str(self.port)],
            env=self.env,
            check=False,
        )
        return ready.returncode == 0

    def create_database(self, dbname: str) -> None:
        # As the current user: createdb is only a client of the running server.
        self.run_tool(
            [
                str(self.bindir / "createdb"),
                "-h",
                LOOPBACK,
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                dbname,
            ]
        )
