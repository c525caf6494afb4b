"""Real servers, real concurrency: every request traced exactly once, by the process that served it.

Each server runs under the real ``opentelemetry-instrument`` with nothing
configured but ``DJANGO_SETTINGS_MODULE`` and ``SPANSCOPE_TRACES_DIR``, gets
concurrent HTTP requests on loopback, and is stopped the way its users stop it
(SIGTERM, to runserver's autoreloader parent too). The files are then read twice:
line by line (what was written, duplicates included) and by the analyzer.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from demo_harness import InstrumentedServer, Response, ServerExit
from demo_harness.launchers import LAUNCHERS
from demo_harness.traffic import send_concurrently
from e2e_demo import TracesOnDisk

pytestmark = pytest.mark.e2e

REQUESTS_PER_ROUTE = 16
CONCURRENCY = 8
# Queries each view runs per request (SQLite opens its connection without a query).
QUERIES_PER_REQUEST = {
    "books/fixed/": 1,  # one select_related query
    "books/async/": 7,  # acount() + the first 5 books + one author lookup per book
}
ROUTES = sorted(QUERIES_PER_REQUEST)
SERVERS = ["runserver", "runserver-autoreload", "gunicorn-sync", "gunicorn-threads", "uvicorn"]
# 4 sync workers each serve one request at a time: 8 requests in flight must spread
# over at least two of them, and each one that served writes its own file.
MIN_WRITING_PROCESSES = {"gunicorn-sync": 2}
FILE_PID = re.compile(r"-(\d+)\.jsonl$")


@dataclass
class ServedRun(TracesOnDisk):
    server: str
    main_pid: int
    responses: list[Response]
    server_exit: ServerExit
    traces_dir: Path

    def file_pids(self) -> list[int]:
        pids = []
        for path in self.files.files:
            match = FILE_PID.search(path.name)
            assert match, f"unexpected trace file name {path.name}"
            pids.append(int(match.group(1)))
        return pids


@pytest.fixture(scope="module", params=SERVERS)
def served(
    request: pytest.FixtureRequest,
    sqlite_demo_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> ServedRun:
    name: str = request.param
    workdir = tmp_path_factory.mktemp(name)
    traces = workdir / "traces"
    env = {**sqlite_demo_env, "SPANSCOPE_TRACES_DIR": str(traces)}
    server = InstrumentedServer(env, workdir / "server.log", launcher=LAUNCHERS[name])
    paths = [route for _ in range(REQUESTS_PER_ROUTE) for route in ROUTES]
    with server:
        responses = send_concurrently(server.base_url, paths, CONCURRENCY)
        server_exit = server.stop()
    return ServedRun(name, server.pid, responses, server_exit, traces)


def test_server_answers_every_concurrent_request_with_200(served: ServedRun) -> None:
    assert Counter(r.status for r in served.responses) == {200: len(served.responses)}


def test_server_exits_on_its_stop_signal_without_being_killed(served: ServedRun) -> None:
    assert not served.server_exit.killed, served.server_exit.log[-3000:]


def test_every_line_of_every_trace_file_parses(served: ServedRun) -> None:
    assert served.files.files, (
        f"no trace file written; server log:\n{served.server_exit.log[-3000:]}"
    )
    assert served.files.bad_lines == []


def test_no_span_is_written_twice(served: ServedRun) -> None:
    ids = Counter((s.trace_id, s.span_id) for s in served.files.spans)
    assert [key for key, count in ids.items() if count > 1] == []


@pytest.mark.parametrize("route", ROUTES)
def test_every_request_is_one_trace_with_one_server_span(served: ServedRun, route: str) -> None:
    requests = served.files.server_spans(route)
    assert len(requests) == REQUESTS_PER_ROUTE
    assert len({s.trace_id for s in requests}) == REQUESTS_PER_ROUTE
    for request in requests:
        assert len([s for s in served.files.in_trace(request.trace_id) if s.is_server]) == 1


@pytest.mark.parametrize("route", ROUTES)
def test_every_query_is_a_child_of_its_request_span(served: ServedRun, route: str) -> None:
    expected = QUERIES_PER_REQUEST[route]
    for request in served.files.server_spans(route):
        db_spans = [s for s in served.files.in_trace(request.trace_id) if s.is_db]
        assert len(db_spans) == expected
        assert {s.parent_span_id for s in db_spans} == {request.span_id}


def test_db_span_total_is_queries_per_request_times_requests(served: ServedRun) -> None:
    # Outside requests only start-up queries may appear (runserver checks for
    # unapplied migrations): those are root spans of their own traces.
    request_traces = {s.trace_id for s in served.files.server_spans()}
    in_requests = [s for s in served.files.spans if s.is_db and s.trace_id in request_traces]
    outside = [s for s in served.files.spans if s.is_db and s.trace_id not in request_traces]
    assert len(in_requests) == sum(QUERIES_PER_REQUEST.values()) * REQUESTS_PER_ROUTE
    assert all(s.parent_span_id == "" for s in outside)


def test_each_file_is_written_by_one_serving_process(served: ServedRun) -> None:
    pids = served.file_pids()
    assert len(pids) == len(set(pids))  # no rotation here: one file per process
    if not LAUNCHERS[served.server].main_serves:
        # gunicorn's master and the autoreloader's parent never serve: no file of theirs.
        assert served.main_pid not in pids
    assert MIN_WRITING_PROCESSES.get(served.server, 1) <= len(pids)
    assert len(pids) <= LAUNCHERS[served.server].workers


def test_analyzer_sees_every_span_and_every_request(served: ServedRun) -> None:
    report = served.report
    assert report["input"]["skipped_records"] == 0
    assert report["input"]["spans"] == len(served.files.spans)
    requests = {row["endpoint"]: row["requests"] for row in report["endpoints"]}
    assert requests == {f"GET {route}": REQUESTS_PER_ROUTE for route in ROUTES}
