"""One recorded session: start the instrumented server, send the planned traffic, SIGTERM it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from demo_harness.server import InstrumentedServer, ServerExit
from demo_harness.traffic import Response, send_requests

Plan = Sequence[tuple[str, int]]  # (path without leading slash, number of GETs)


def demo_plan(requests: int, home_requests: int = 3) -> Plan:
    """``/`` first (it doubles as warm-up: imports, first connection), then both books views."""
    return [("", home_requests), ("books/", requests), ("books/fixed/", requests)]


@dataclass(frozen=True)
class Recording:
    responses: list[Response]
    server_exit: ServerExit
    log_path: Path


def record_traffic(
    env: Mapping[str, str],
    log_path: Path,
    plan: Plan,
    progress: Callable[[str], None] = lambda _message: None,
) -> Recording:
    """Serve ``plan`` from a fresh instrumented server and stop it the way a process manager does."""
    server = InstrumentedServer(env, log_path)
    progress("starting: opentelemetry-instrument python manage.py runserver --noreload")
    with server:
        progress(f"server ready at {server.base_url}; sending requests")
        responses = send_requests(server.base_url, plan)
        progress("stopping the server with SIGTERM")
        server_exit = server.stop()
    return Recording(responses, server_exit, log_path)
