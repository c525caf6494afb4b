"""How the demo is served: a registry of real server commands (runserver, gunicorn, uvicorn).

Each launcher names the server command for a port and how a process manager
stops it. ``opentelemetry-instrument`` is put in front by
:class:`~demo_harness.server.InstrumentedServer`, exactly as a user would type it.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass

from demo_harness.ports import LOOPBACK
from demo_harness.tools import console_script

WSGI_APP = "django_books_demo.wsgi:application"
ASGI_APP = "django_books_demo.asgi:application"


@dataclass(frozen=True)
class Launcher:
    """One way of serving the demo.

    ``stop_signal`` goes to the server's main process, or with ``signal_group``
    to its whole process group, as a terminal's Ctrl-C does. Pre-fork servers
    (gunicorn) are stopped through their master alone, which stops its workers.

    runserver's autoreloader is stopped the way a process manager stops it:
    SIGTERM to the reloader parent alone. Plain Django would SIGKILL the serving
    child then and lose its last spans; spanscope's instrumentation makes the
    parent forward the signal and wait (``spanscope.instrument.autoreload``), and
    this launcher is what proves it.
    """

    name: str
    command: Callable[[int], list[str]]
    signal_group: bool = False
    stop_signal: signal.Signals = signal.SIGTERM
    workers: int = 1  # processes that serve requests (and so may write trace files)
    main_serves: bool = True  # False: the main process only supervises (master, reloader)


def _runserver(port: int) -> list[str]:
    return [sys.executable, "manage.py", "runserver", "--noreload", f"{LOOPBACK}:{port}"]


def _runserver_autoreload(port: int) -> list[str]:
    # The parent only watches files; it re-runs itself as a child (RUN_MAIN=true) that serves.
    return [sys.executable, "manage.py", "runserver", f"{LOOPBACK}:{port}"]


def _gunicorn(*options: str) -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        return [
            console_script("gunicorn"),
            "--bind",
            f"{LOOPBACK}:{port}",
            "--graceful-timeout",
            "20",
            *options,
            WSGI_APP,
        ]

    return command


def _uvicorn(port: int) -> list[str]:
    return [
        console_script("uvicorn"),
        ASGI_APP,
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--no-access-log",
    ]


LAUNCHERS: dict[str, Launcher] = {
    launcher.name: launcher
    for launcher in (
        Launcher("runserver", _runserver),
        Launcher(
            "runserver-autoreload",
            _runserver_autoreload,
            main_serves=False,
        ),
        Launcher("gunicorn-sync", _gunicorn("--workers", "4"), workers=4, main_serves=False),
        Launcher(
            "gunicorn-threads",
            _gunicorn("--workers", "2", "--threads", "4"),
            workers=2,
            main_serves=False,
        ),
        Launcher("uvicorn", _uvicorn),
    )
}

DEFAULT_LAUNCHER = LAUNCHERS["runserver"]
