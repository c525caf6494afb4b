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
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from demo_harness.errors import HarnessError, tail
from demo_harness.ports import LOOPBACK, free_port, wait_until

SUPERUSER = "spanscope"
_ACCOUNTS_FOR_ROOT = ("postgres", "nobody")
_PORT_ATTEMPTS = 3
# Durability is worthless for a database that is deleted in a minute; these make
# initdb and the seeding several times faster.
_FAST_UNSAFE_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@dataclass(frozen=True)
class PostgresServer:
    """Where a running server accepts connections (trust authentication, no password)."""

    host: str
    port: int
    user: str
    dbname: str

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
    """Who the server processes run as: ``None`` ids mean "as the current user"."""

    uid: int | None
    gid: int | None
    home: str

    def popen_identity(self) -> dict[str, object]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _server_account() -> _Account:
    if os.geteuid() != 0:
        return _Account(None, None, os.path.expanduser("~"))
    for name in _ACCOUNTS_FOR_ROOT:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return _Account(entry.pw_uid, entry.pw_gid, entry.pw_dir)
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
    workdir = Path(tempfile.mkdtemp(prefix="spanscope-pg-"))
    try:
        if account.uid is not None:
            os.chown(workdir, account.uid, account.gid if account.gid is not None else -1)
        cluster = _Cluster(bindir, workdir, account)
        cluster.initdb()
        process = cluster.start()
        try:
            server = PostgresServer(LOOPBACK, cluster.port, SUPERUSER, dbname)
            cluster.createdb(dbname)
            yield server
        finally:
            _stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class _Cluster:
    def __init__(self, bindir: Path, workdir: Path, account: _Account) -> None:
        self.bindir = bindir
        self.workdir = workdir
        self.account = account
        self.data = workdir / "data"
        self.log_path = workdir / "postgres.log"
        self.port = 0
        # A minimal environment: inherited PG* variables must not redirect the tools.
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C",
            "HOME": account.home,
        }

    def _run(self, args: list[str], as_account: bool) -> None:
        identity = self.account.popen_identity() if as_account else {}
        done = subprocess.run(
            args,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **identity,  # type: ignore[call-overload]
        )
        if done.returncode != 0:
            raise HarnessError(
                f"`{' '.join(args)}` failed with exit code {done.returncode}:\n{tail(done.stdout + done.stderr)}",
                "check that the PostgreSQL binaries work and the temporary folder is writable",
            )

    def initdb(self) -> None:
        self._run(
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
            as_account=True,
        )

    def start(self) -> subprocess.Popen[bytes]:
        for _ in range(_PORT_ATTEMPTS):
            self.port = free_port()
            process = self._spawn()
            if wait_until(self._accepts_connections, partial(_is_running, process), 60):
                return process
            _stop(process)
            if "could not bind" not in self._log():
                break
        raise HarnessError(
            f"PostgreSQL did not start:\n{tail(self._log())}",
            f"the server's log was {self.log_path} (deleted with the temporary folder)",
        )

    def _spawn(self) -> subprocess.Popen[bytes]:
        settings = [f"-c{setting}" for setting in _FAST_UNSAFE_SETTINGS]
        args = [
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
        with self.log_path.open("ab") as log:
            return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
                args,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self.account.popen_identity(),
            )

    def _accepts_connections(self) -> bool:
        ready = subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", LOOPBACK, "-p", str(self.port)],
            env=self.env,
            check=False,
        )
        return ready.returncode == 0

    def createdb(self, dbname: str) -> None:
        self._run(
            [
                str(self.bindir / "createdb"),
                "-h",
                LOOPBACK,
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                dbname,
            ],
            as_account=False,
        )

    def _log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _is_running(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT is PostgreSQL's "fast shutdown": disconnect clients, stop cleanly."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
