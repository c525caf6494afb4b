"""The demo as a real server process: `opentelemetry-instrument python manage.py runserver`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from demo_harness.errors import HarnessError, tail
from demo_harness.launchers import DEFAULT_LAUNCHER, Launcher
from demo_harness.ports import LOOPBACK, free_port, is_listening, wait_until
from demo_harness.project import DEMO_PROJECT_DIR
from demo_harness.tools import console_script

_PORT_TAKEN = "That port is already in use"
_PORT_ATTEMPTS = 3


@dataclass(frozen=True)
class ServerExit:
    returncode: int
    killed: bool  # True when SIGTERM was not enough and the server had to be killed
    log: str


class InstrumentedServer:
    """Start, wait for, and stop one server wrapped by ``opentelemetry-instrument``.

    By default ``runserver --noreload``: one process, so SIGTERM reaches the
    process that holds the spans. ``launcher`` picks another server
    (:data:`demo_harness.launchers.LAUNCHERS`: gunicorn, uvicorn, the
    autoreloader). ``instrument=False`` runs the same server without the
    wrapper (a baseline to compare against).
    """

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *,
        instrument: bool = True,
        startup_timeout_s: float = 90,
        stop_timeout_s: float = 30,
        launcher: Launcher = DEFAULT_LAUNCHER,
    ) -> None:
        self.env = dict(env)
        self.launcher = launcher
        self.log_path = log_path
        self.instrument = instrument
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.port = 0
        self.pid = 0  # the main process (gunicorn's master, the autoreloader's parent)
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    def command(self, port: int) -> list[str]:
        wrapper = [console_script("opentelemetry-instrument")] if self.instrument else []
        return [*wrapper, *self.launcher.command(port)]

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # The free port can be taken between choosing and binding it: try a few.
        for _ in range(_PORT_ATTEMPTS):
            if self._try_start(free_port()):
                return
            if _PORT_TAKEN not in self.read_log():
                break
        raise HarnessError(
            f"the demo server did not start:\n{tail(self.read_log())}",
            f"read the whole log in {self.log_path}",
        )

    def _try_start(self, port: int) -> bool:
        self._close_log()
        self._log = self.log_path.open("wb")
        self.port = port
        self._process = subprocess.Popen(
            self.command(port),
            cwd=DEMO_PROJECT_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C in the caller's terminal must not reach the
            # server behind our back; stop() decides how it ends.
            start_new_session=True,
        )
        process = self._process
        self.pid = process.pid
        if wait_until(
            lambda: is_listening(port),
            lambda: process.poll() is None,
            self.startup_timeout_s,
        ):
            return True
        self._force_stop()
        return False

    def stop(self) -> ServerExit:
        """SIGTERM (the launcher's stop signal), then wait; SIGKILL only if it does not exit in time."""
        process = self._process
        if process is None:
            raise HarnessError("the demo server was never started", "call start() first")
        killed = False
        deadline = time.monotonic() + self.stop_timeout_s
        if process.poll() is None:
            if self.launcher.signal_group:
                os.killpg(process.pid, self.launcher.stop_signal)
            else:
                process.send_signal(self.launcher.stop_signal)
            try:
                process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                killed = True
                process.kill()
                process.wait()
        # Children (workers, the autoreloader's server) must be gone too: they hold spans.
        if not _wait_for_group_exit(process.pid, deadline):
            killed = True
            _kill_group(process.pid)
        self._process = None
        self._close_log()
        return ServerExit(returncode=process.returncode, killed=killed, log=self.read_log())

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _force_stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._process is not None:
            _kill_group(self._process.pid)
        self._process = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> InstrumentedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Normal paths call stop() themselves to look at the result; this only
        # makes sure no server outlives an error.
        if self._process is not None:
            self.stop()


def _group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process is in the group.

    Read from /proc rather than ``killpg(pgid, 0)``: an orphaned child that exited
    stays a zombie until init reaps it, and it must not count as running.
    """
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def _wait_for_group_exit(pgid: int, deadline: float) -> bool:
    """Wait until no process of the server's group (its own session) is left."""
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _wait_for_group_exit(pgid, time.monotonic() + 5)
