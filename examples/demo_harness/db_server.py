"""What every throwaway database server of the harness does, whatever the product.

A data folder initialised in a temporary folder, the server started on a free
loopback port (again on another port when something took the first one between
picking and binding), a wait until it accepts connections, one database
created; on the way out the server stopped with its own shutdown signal and the
folder deleted. :mod:`demo_harness.postgres` and :mod:`demo_harness.mariadb`
only say which binaries do each step.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from demo_harness.errors import HarnessError, tail
from demo_harness.ports import free_port, wait_until

_PORT_ATTEMPTS = 3
_START_TIMEOUT_S = 60
_TOOL_TIMEOUT_S = 120
_STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class DatabaseAddress:
    """Where a running server accepts connections, and which database to use."""

    host: str
    port: int
    user: str
    dbname: str


@dataclass(frozen=True)
class Identity:
    """Who a server process runs as: ``None`` ids mean "as the current user"."""

    uid: int | None = None
    gid: int | None = None

    @property
    def extra_groups(self) -> list[int] | None:
        # Switching user drops the caller's supplementary groups; staying keeps them.
        return None if self.uid is None else []


CURRENT_USER = Identity()


class ServerInstance(ABC):
    """One server's data folder, log and port inside ``workdir``.

    Subclasses name the product's binaries for each step; starting, retrying on a
    taken port, reporting failures and stopping are the same for all of them.
    """

    product: ClassVar[str]  # for messages: "PostgreSQL", "MariaDB"
    log_name: ClassVar[str]  # the server's log file inside workdir
    port_taken: ClassVar[str]  # what the log says when the port was taken meanwhile
    stop_signal: ClassVar[signal.Signals]  # the product's clean, prompt shutdown

    def __init__(
        self, workdir: Path, env: Mapping[str, str], identity: Identity = CURRENT_USER
    ) -> None:
        self.workdir = workdir
        self.env = dict(env)
        self.identity = identity  # who the server (and its initialisation) runs as
        self.data = workdir / "data"
        self.log_path = workdir / self.log_name
        self.port = 0

    @abstractmethod
    def initialize(self) -> None:
        """Create the data folder (``initdb``, ``mariadb-install-db``)."""

    @abstractmethod
    def server_command(self) -> list[str]:
        """The command that runs the server in the foreground on ``self.port``."""

    @abstractmethod
    def accepts_connections(self) -> bool:
        """True once a client can connect."""

    @abstractmethod
    def create_database(self, dbname: str) -> None:
        """Create the empty database ``dbname`` on the running server."""

    def run_tool(self, args: list[str], identity: Identity = CURRENT_USER) -> None:
        """Run one of the product's command-line tools; HarnessError with its output on failure."""
        done = subprocess.run(
            args,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT_S,
            check=False,
            user=identity.uid,
            group=identity.gid,
            extra_groups=identity.extra_groups,
        )
        if done.returncode != 0:
            raise HarnessError(
                f"`{' '.join(args)}` failed with exit code {done.returncode}:\n{tail(done.stdout + done.stderr)}",
                f"check that the {self.product} binaries work and the temporary folder is writable",
            )

    def start(self) -> subprocess.Popen[bytes]:
        for _ in range(_PORT_ATTEMPTS):
            self.port = free_port()
            process = self._spawn()
            if wait_until(self.accepts_connections, _running(process), _START_TIMEOUT_S):
                return process
            self.stop(process)
            if self.port_taken not in self.read_log():
                break
        raise HarnessError(
            f"{self.product} did not start:\n{tail(self.read_log())}",
            f"the server's log was {self.log_path} (deleted with the temporary folder)",
        )

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                self.server_command(),
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=self.identity.uid,
                group=self.identity.gid,
                extra_groups=self.identity.extra_groups,
            )

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """The product's own shutdown signal; a kill only when it hangs."""
        if process.poll() is not None:
            return
        process.send_signal(self.stop_signal)
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _running(process: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: process.poll() is None


@contextmanager
def temporary_server(
    instance: Callable[[Path], ServerInstance], prefix: str, dbname: str
) -> Iterator[ServerInstance]:
    """Yield a running server (made by ``instance`` for a fresh temporary folder) with ``dbname``.

    The server is stopped and the folder deleted afterwards, also when a step fails.
    """
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        server = instance(workdir)
        server.initialize()
        process = server.start()
        try:
            server.create_database(dbname)
            yield server
        finally:
            server.stop(process)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
