"""A throwaway MariaDB server from the distribution's binaries (Debian: package `mariadb-server`).

``mariadb-install-db`` into a temporary folder, ``mariadbd`` on a free loopback
port with its socket in that folder, one database created, everything removed
afterwards. No grant tables: any user connects without a password -- tolerable
only because the server listens on loopback and lives for one test session.
Under root the server runs as root (``--user=root``), which MariaDB allows
when asked explicitly.
"""

from __future__ import annotations

import os
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
from demo_harness.ports import LOOPBACK, free_port, is_listening, wait_until

USER = "spanscope"
_PORT_ATTEMPTS = 3
_SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", "/usr/bin:/bin"), "/usr/sbin", "/usr/local/sbin"]
)
# Durability is worthless for a database deleted in a minute; these make the
# seeding several times faster.
_FAST_UNSAFE_SETTINGS = (
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--skip-log-bin",
    "--innodb-buffer-pool-size=64M",
)


@dataclass(frozen=True)
class MariadbServer:
    """Where a running server accepts connections (no grant tables, no password)."""

    host: str
    port: int
    user: str
    dbname: str

    @property
    def name(self) -> str:
        return "mysql"

    def environment(self) -> dict[str, str]:
        return {
            "SPANSCOPE_DEMO_DB": "mysql",
            "SPANSCOPE_DEMO_MYSQL_HOST": self.host,
            "SPANSCOPE_DEMO_MYSQL_PORT": str(self.port),
            "SPANSCOPE_DEMO_MYSQL_USER": self.user,
            "SPANSCOPE_DEMO_MYSQL_DATABASE": self.dbname,
        }


@dataclass(frozen=True)
class MariadbBinaries:
    server: Path  # mariadbd
    install_db: Path  # mariadb-install-db
    client: Path  # mariadb


def find_mariadb() -> MariadbBinaries | None:
    """``mariadbd``, ``mariadb-install-db`` and ``mariadb`` on PATH or in Debian's sbin."""
    found = [shutil.which(name, path=_SEARCH_PATH) for name in _NAMES]
    if any(path is None for path in found):
        return None
    server, install_db, client = (Path(path) for path in found if path is not None)
    return MariadbBinaries(server, install_db, client)


_NAMES = ("mariadbd", "mariadb-install-db", "mariadb")


@contextmanager
def temporary_mariadb(
    binaries: MariadbBinaries | None = None, dbname: str = "books"
) -> Iterator[MariadbServer]:
    """Yield a running, empty server with database ``dbname``; stop and delete it afterwards."""
    binaries = binaries or find_mariadb()
    if binaries is None:
        raise HarnessError(
            "no MariaDB server binaries found (mariadbd, mariadb-install-db, mariadb)",
            "install them, e.g. `apt-get install mariadb-server`",
        )
    workdir = Path(tempfile.mkdtemp(prefix="spanscope-mariadb-"))
    try:
        instance = _Instance(binaries, workdir)
        instance.install_db()
        process = instance.start()
        try:
            instance.client(f"CREATE DATABASE `{dbname}` CHARACTER SET utf8mb4")
            yield MariadbServer(LOOPBACK, instance.port, USER, dbname)
        finally:
            _stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class _Instance:
    def __init__(self, binaries: MariadbBinaries, workdir: Path) -> None:
        self.binaries = binaries
        self.workdir = workdir
        self.data = workdir / "data"
        self.socket = workdir / "mariadb.sock"
        self.log_path = workdir / "mariadb.log"
        self.port = 0
        # --user=root only matters (and is only accepted quietly) when we are root.
        self.user_option = ["--user=root"] if os.geteuid() == 0 else []
        self.env = {"PATH": _SEARCH_PATH, "LC_ALL": "C", "HOME": str(workdir)}

    def _run(self, args: list[str]) -> None:
        done = subprocess.run(
            args,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise HarnessError(
                f"`{' '.join(args)}` failed with exit code {done.returncode}:\n{tail(done.stdout + done.stderr)}",
                "check that the MariaDB binaries work and the temporary folder is writable",
            )

    def install_db(self) -> None:
        self._run(
            [
                str(self.binaries.install_db),
                "--no-defaults",  # must come first: ignore /etc/mysql/*.cnf
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *self.user_option,
            ]
        )

    def start(self) -> subprocess.Popen[bytes]:
        for _ in range(_PORT_ATTEMPTS):
            self.port = free_port()
            process = self._spawn()
            if wait_until(self._ready, partial(_is_running, process), 60):
                return process
            _stop(process)
            if "Address already in use" not in self._log():
                break
        raise HarnessError(
            f"MariaDB did not start:\n{tail(self._log())}",
            f"the server's log was {self.log_path} (deleted with the temporary folder)",
        )

    def _spawn(self) -> subprocess.Popen[bytes]:
        args = [
            str(self.binaries.server),
            "--no-defaults",
            f"--datadir={self.data}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            f"--bind-address={LOOPBACK}",
            f"--pid-file={self.workdir / 'mariadb.pid'}",
            f"--tmpdir={self.workdir}",
            "--skip-grant-tables",
            "--skip-name-resolve",
            *_FAST_UNSAFE_SETTINGS,
            *self.user_option,
        ]
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                args,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _ready(self) -> bool:
        # The socket appears once the server is ready; the client uses it.
        return is_listening(self.port) and self.socket.exists()

    def client(self, sql: str) -> None:
        self._run(
            [
                str(self.binaries.client),
                "--no-defaults",
                f"--socket={self.socket}",
                f"--user={USER}",
                "--execute",
                sql,
            ]
        )

    def _log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _is_running(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM is mariadbd's normal shutdown."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
