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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from demo_harness.db_server import DatabaseAddress, ServerInstance, temporary_server
from demo_harness.errors import HarnessError
from demo_harness.ports import LOOPBACK, is_listening

USER = "spanscope"
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
class MariadbServer(DatabaseAddress):
    """Where a running server accepts connections (no grant tables, no password)."""

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
    with temporary_server(partial(_Instance, binaries), "spanscope-mariadb-", dbname) as instance:
        yield MariadbServer(LOOPBACK, instance.port, USER, dbname)


class _Instance(ServerInstance):
    product = "MariaDB"
    log_name = "mariadb.log"
    port_taken = "Address already in use"
    stop_signal = signal.SIGTERM  # mariadbd's normal shutdown

    def __init__(self, binaries: MariadbBinaries, workdir: Path) -> None:
        super().__init__(workdir, {"PATH": _SEARCH_PATH, "LC_ALL": "C", "HOME": str(workdir)})
        self.binaries = binaries
        self.socket = workdir / "mariadb.sock"
        # --user=root only matters (and is only accepted quietly) when we are root.
        self.user_option = ["--user=root"] if os.geteuid() == 0 else []

    def initialize(self) -> None:
        self.run_tool(
            [
                str(self.binaries.install_db),
                "--no-defaults",  # must come first: ignore /etc/mysql/*.cnf
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *self.user_option,
            ]
        )

    def server_command(self) -> list[str]:
        return [
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

    def accepts_connections(self) -> bool:
        # The socket appears once the server is ready; the client uses it.
        return is_listening(self.port) and self.socket.exists()

    def create_database(self, dbname: str) -> None:
        self.client(f"CREATE DATABASE `{dbname}` CHARACTER SET utf8mb4")

    def client(self, sql: str) -> None:
        self.run_tool(
            [
                str(self.binaries.client),
                "--no-defaults",
                f"--socket={self.socket}",
                f"--user={USER}",
                "--execute",
                sql,
            ]
        )
