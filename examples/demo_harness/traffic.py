"""Real HTTP requests against the demo server, timed from the client side."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


@dataclass(frozen=True)
class Response:
    path: str
    status: int
    seconds: float
    body: bytes


def get(base_url: str, path: str, timeout_s: float = 120) -> Response:
    """One GET; HTTP error statuses are returned, not raised (a 500 is a result to look at)."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(base_url + path, timeout=timeout_s) as reply:
            status, body = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return Response(path, status, time.perf_counter() - started, body)


def send_requests(base_url: str, plan: Iterable[tuple[str, int]]) -> list[Response]:
    """Send ``count`` sequential GETs to each ``path`` of the plan, in order."""
    return [get(base_url, path) for path, count in plan for _ in range(count)]


def send_concurrently(
    base_url: str, paths: Sequence[str], concurrency: int, timeout_s: float = 120
) -> list[Response]:
    """GET every path of ``paths`` with at most ``concurrency`` requests in flight at once."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(lambda path: get(base_url, path, timeout_s), paths))
